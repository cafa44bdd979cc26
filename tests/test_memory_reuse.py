"""compute_scope keeps freed memory for the next batch (no page faults) and hands it back after."""
import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, resource
    import numpy as np
    from rnnlab import runtime

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

    def batch():  # the sizes an LSTM(128) batch of 64 x 100 steps allocates and frees
        arrays = []
        for shape in [(64, 100, 512)] * 3 + [(64, 100, 128)] * 4 + [(6400, 128)]:
            a = np.empty(shape, np.float32)
            a.fill(1.0)
            arrays.append(a)
        arrays.clear()

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    with runtime.compute_scope(0):
        batch()
        f0 = faults()
        for _ in range(10):
            batch()
        n_faults = faults() - f0
        with runtime.compute_scope(0):      # a nested scope (an evaluate inside a callback)
            batch()
        f0 = faults()
        for _ in range(10):
            batch()
        n_faults_after_nested = faults() - f0
        inside = rss_mb()
    after = rss_mb()
    batch()                                 # outside any scope: glibc trims again
    print(json.dumps({"faults": n_faults, "faults_after_nested": n_faults_after_nested,
                      "inside": inside, "after": after, "outside": rss_mb()}))
""")


def run(env_value):
    import os
    env = dict(os.environ, RNNLAB_MALLOC_TUNING=env_value)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_freed_memory_is_reused_then_returned():
    tuned, plain = run("1"), run("0")
    # 10 batches of ~45 MB: with glibc's defaults every batch faults its pages back in
    assert plain["faults"] > 10_000
    assert tuned["faults"] < plain["faults"] / 20
    assert tuned["faults_after_nested"] < plain["faults"] / 20   # the outer scope still keeps it
    # the kept memory is handed back when the loop ends, and later frees are trimmed as usual
    assert tuned["inside"] - tuned["after"] > 20
    assert tuned["outside"] - tuned["after"] < 20

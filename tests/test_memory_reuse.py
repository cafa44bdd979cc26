"""compute_scope keeps freed memory for the next batch (no page faults) and hands it back after."""
import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, resource
    import numpy as np
    from rnnlab import kernels

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

    with kernels.compute_scope(0):
        batch()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            batch()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        inside = rss_mb()
    print(json.dumps({"faults": faults, "inside": inside, "after": rss_mb()}))
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
    # the kept memory is handed back when the loop ends
    assert tuned["inside"] - tuned["after"] > 20

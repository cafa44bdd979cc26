"""Each measurement in its own process: a benchmark script re-runs itself with worker arguments,
and the worker prints one ``RESULT {json}`` line (peak memory and timings stay its own)."""
from __future__ import annotations

import json
import subprocess
import sys


def report(result: dict) -> None:
    """What a worker prints last: its result for :func:`run_worker`."""
    print("RESULT " + json.dumps(result), flush=True)


def run_worker(script, args, env=None, timeout=3600, python=None) -> dict:
    """Run ``script`` with ``args`` in a fresh interpreter (``python``, default this one) and
    return the dict its worker reported; RuntimeError with its output if it reported none."""
    out = subprocess.run([python or sys.executable, script] + list(args), capture_output=True,
                         text=True, env=env, timeout=timeout)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker {args} failed:\n{out.stdout}\n{out.stderr}")

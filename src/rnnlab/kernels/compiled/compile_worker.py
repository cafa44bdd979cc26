"""The compiling process of background compilation (:mod:`rnnlab.kernels.compiled.lazy`).

Numba compiles mostly in Python, so a compiling thread would take the interpreter lock from the
training that runs meanwhile.  A second process compiles instead, on the other core: it runs each
job (a kernel and copies of its arguments) once, which compiles the kernel and writes it to Numba's
on-disk cache, and answers; the training process then loads it from the cache.

The two talk over the child's stdin and stdout: a job is a length-prefixed pickle written by the
parent (its own objects, over its own pipe), the answer a line ("ok" or "error ...").  The child
runs with the parent's ``sys.path`` and environment (the same ``NUMBA_CACHE_DIR``), stderr
silenced; it stops at the end of its input, so an exiting parent leaves it to finish the job at
hand.  If it cannot be started or dies, :meth:`CompilingProcess.compile` returns False and the
parent compiles the job itself.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from contextlib import nullcontext

from rnnlab.runtime import compute_scope

_HEADER = struct.Struct("<Q")


class CompilingProcess:
    """The child process, started on the first job."""

    def __init__(self):
        self._proc = None
        self._failed = False
        self._lock = threading.Lock()

    def _start(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        return subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def compile(self, job, split: int = 0) -> bool:
        """Have the child run ``job`` = (kernel, args, kwargs), inside a
        :func:`~rnnlab.runtime.compute_scope` if ``split`` (the parent's
        :func:`~rnnlab.runtime.split_threads`) is not 0, so that it takes the parent's code paths;
        True once it has."""
        with self._lock:
            if self._failed:
                return False
            try:
                if self._proc is None:
                    self._proc = self._start()
                data = pickle.dumps((job, split), protocol=pickle.HIGHEST_PROTOCOL)
                self._proc.stdin.write(_HEADER.pack(len(data)) + data)
                self._proc.stdin.flush()
                answer = self._proc.stdout.readline()
            except (OSError, pickle.PicklingError, AttributeError, TypeError):
                answer = b""
            if not answer:                   # could not start, died, or the job cannot travel
                self._failed = True
                self._kill()
            return answer.startswith(b"ok")

    def close(self) -> None:
        """End the child's input: it finishes the job at hand, then exits."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def _kill(self):
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()


def serve(stdin=None, stdout=None) -> None:
    """The child's loop: read jobs until the end of input, run each, answer each."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        (fn, args, kwargs), split = pickle.loads(stdin.read(_HEADER.unpack(head)[0]))
        try:
            with compute_scope(1) if split else nullcontext():
                fn(*args, **kwargs)
        except Exception as e:              # noqa: BLE001 - reported to the parent
            stdout.write(f"error {type(e).__name__}\n".encode())
        else:
            stdout.write(b"ok\n")
        stdout.flush()


if __name__ == "__main__":
    serve()

"""Compile in the background: :class:`LazyOps`, the compiled kernels once they are ready and the
reference kernels until then (``rnnlab.config.compile_mode() == "background"``).

Numba compiles a kernel on its first call, and a model's kernels take 5-30 s on a 2-core machine
the first time (afterwards they load from the on-disk cache in tenths of a second).  LazyOps
keeps a first fit from waiting for that.  Each call is first tried on the compiled kernels with
compiling forbidden (:func:`cached_only`: what is in memory or in the cache runs).  If something
would have to be compiled, the call runs on the reference kernels and a job (the kernel and
copies of its arguments; a forward kernel together with its backward, :class:`Pair`) is queued
for a worker thread.  The worker has a second process compile it
(:mod:`~rnnlab.kernels.compiled.compile_worker`: Numba compiles mostly in Python, and a thread
would take the interpreter lock from the training), then loads it from the cache.  Calls of that
kind (:func:`_key`: the kernel, its arrays' dtypes and shapes, the thread split) run on the
reference until then.  A forward pass's cache is tagged with the kernels that made it, so that
its backward always matches it (:class:`Tagged`).

While the worker is busy, a call of a kernel that never ran compiled is queued without a try
(a try could wait for Numba's compiler lock).  With everything in the cache nothing is queued and
every call is compiled: results are :class:`CompiledOps`'s, bit for bit.  At exit the queue is
dropped; the kernel being loaded here is finished first (a thread stopped inside LLVM could
crash the interpreter's shutdown), and the compiling process finishes its job and exits.  Only
with a Numba threading layer that takes parallel regions from two threads at once (OpenMP or
TBB): with the workqueue layer :func:`make_ops` gives plain :class:`CompiledOps`.
"""
from __future__ import annotations

import atexit
import importlib
import os
import queue
import threading
import time
from typing import NamedTuple

import numba
import numpy as np
from numba.core import event

from rnnlab import config
from rnnlab.kernels.compiled.compile_worker import CompilingProcess
from rnnlab.kernels.compiled.ops import CompiledOps
from rnnlab.kernels.ops import ReferenceOps
from rnnlab.runtime import split_threads


class NotCompiled(RuntimeError):
    """A kernel was called inside :func:`cached_only` and is not in Numba's cache."""


_local = threading.local()


class _Refuse(event.Listener):
    """Stops a compilation started on a thread that is inside :func:`cached_only` (Numba fires
    "numba:compile" only after its cache had nothing for the signature)."""

    def on_start(self, ev):
        if getattr(_local, "cached_only", False):
            raise NotCompiled(f"{ev.data['dispatcher'].py_func.__qualname__} is not compiled")

    def on_end(self, ev):
        pass


event.register("numba:compile", _Refuse())


class cached_only:
    """Within this block, on this thread, a kernel that Numba would have to compile raises
    :class:`NotCompiled` before it runs (kernels in memory or in the on-disk cache run)."""

    def __enter__(self):
        self._old = getattr(_local, "cached_only", False)
        _local.cached_only = True
        return self

    def __exit__(self, *exc):
        _local.cached_only = self._old
        return False


class Tagged(NamedTuple):
    """A forward pass's cache with what its backward needs: the compiled forward and backward
    that made it (backward None: the reference made it), the kernel's name and arguments."""
    forward: object
    backward: object
    name: str
    args: tuple
    kwargs: dict
    cache: object


def _sig(value):
    """What of an argument decides which compiled code a call runs: an array's dtype and shape
    (the kernels choose serial or parallel, per-sample or GEMM code by size), else its type
    (tuples, lists and dicts item by item)."""
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape
    if isinstance(value, (tuple, list)):
        return tuple(_sig(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _sig(v)) for k, v in sorted(value.items()))
    return type(value).__name__


def _key(name, args, kwargs):
    """A kind of call: the kernel, its arguments' :func:`_sig` and the thread split in force."""
    return name, _sig(args), _sig(kwargs), split_threads()


def _copy(value):
    """Copies of the arrays in ``value`` (for the worker: the caller goes on changing its own)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _ones_like(value):
    return tuple(np.ones_like(v) for v in value)


class Pair(NamedTuple):
    """A run of a forward kernel followed by its backward on the forward's outputs (the
    gradients all ones): compiles both.  A module-level class, so that a job pickles for the
    compiling process."""
    forward: object
    backward: object

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        if len(out) == 3:                    # a recurrent cell: (outputs, finals, cache)
            outputs, finals, cache = out
            self.backward(np.ones_like(outputs), _ones_like(finals), cache)
        else:                                # conv1d: (z, cache)
            z, cache = out
            self.backward(np.ones_like(z), cache)
        return out


_CELLS = ("simple_rnn", "lstm", "gru")
#: the forward kernels, with their backward
PAIRS = {**{f"{c}_forward": f"{c}_backward" for c in _CELLS}, "conv1d_forward": "conv1d_backward"}
#: kernels that write into arguments: their worker runs take copies, which they do anyway
SINGLES = ("matmul", "embedding_gather", "embedding_scatter_add", "adam_update")


class LazyOps(CompiledOps):
    """:class:`CompiledOps` whose kernels missing from the cache are compiled in the background
    (a worker thread hands them to a compiling process) while the reference kernels stand in
    (see the module's docstring)."""

    kind = "fast"

    def __init__(self, start_worker: bool = True):
        self._reference = ReferenceOps()
        self._compiled = CompiledOps()
        self._ready: set = set()           # kernels that ran compiled
        self._pending: set = set()         # kinds queued or compiling
        self._done: set = set()            # kinds the worker compiled
        self._blocking: set = set()        # kinds compiled on the caller's thread from now on
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0                     # jobs queued or running
        self._lock = threading.Lock()
        self._stop = False
        self._worker = None
        self._start_worker = start_worker
        self._process = CompilingProcess()
        self._local = threading.Lock()      # held while the worker compiles or loads here
        atexit.register(self.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget_worker)

    def _forget_worker(self):
        """In a child made by ``fork``: the worker thread and the compiling process stayed with
        the parent, so their queue is dropped (its kinds are queued again when called) and the
        child starts its own when it needs one."""
        self._lock = threading.Lock()
        self._local = threading.Lock()
        self._jobs = queue.SimpleQueue()
        self._pending.clear()
        self._busy = 0
        self._worker = None
        self._process = CompilingProcess()

    # ------------------------------------------------------------------ choosing
    def _call(self, label, make_key, compiled, reference, job):
        """``compiled()`` if it runs from what is compiled (in memory or cached), else
        ``reference()`` with ``job`` = (kernel, args, kwargs), which compiles it, queued for the
        worker (on copies of the arrays); ``make_key()`` gives the call's kind (:func:`_key`),
        computed only when something is queued or missing (the steady state pays no key).

        While the worker is busy, a kind that is queued is not tried, nor one of a kernel
        (``label``) that never ran compiled: the try would wait for Numba's compiler lock, which
        the worker holds.  A kind the worker compiled that still needs compiling here (another
        variant of the same arrays) is compiled here from then on."""
        key = None
        if self._busy:
            key = make_key()
            if key in self._blocking:
                return compiled()
            if key in self._pending or label not in self._ready:
                if key not in self._pending:
                    self._submit(key, job)
                return reference()
        old = getattr(_local, "cached_only", False)     # cached_only(), inlined: every call
        _local.cached_only = True
        try:
            result = compiled()
        except NotCompiled:
            _local.cached_only = old
            key = make_key() if key is None else key
            if key in self._done or key in self._blocking:
                self._blocking.add(key)
                return compiled()
            self._submit(key, job)
            return reference()
        finally:
            _local.cached_only = old
        self._ready.add(label)
        return result

    def _submit(self, key, job):
        fn, args, kwargs = job
        job = (fn, _copy(args), _copy(kwargs))
        with self._lock:
            if self._stop:
                return
            self._pending.add(key)
            self._busy += 1
            self._jobs.put((key, job))
            if self._worker is None and self._start_worker:
                self._worker = threading.Thread(target=self._work, name="rnnlab-compile",
                                                daemon=True)
                self._worker.start()

    def _work(self):
        while True:
            item = self._jobs.get()
            if item is None:
                return
            self._run(*item)

    def _run(self, key, job):
        """Compile ``job`` in the compiling process (:mod:`.compile_worker`), then run it here,
        which loads the machine code from the cache (or, if that process failed, compiles it
        here)."""
        ok = False
        try:
            if self._start_worker and not self._stop:
                self._process.compile(job, key[-1])
            with self._local:
                if not self._stop:
                    fn, args, kwargs = job
                    fn(*args, **kwargs)
                    ok = True
        except Exception:                   # noqa: BLE001 - the caller's own call shows it
            self._blocking.add(key)
        finally:
            with self._lock:
                if ok:
                    self._done.add(key)
                self._pending.discard(key)
                self._busy -= 1

    def drain(self) -> None:
        """Run the queued compilations on this thread (an Ops made without a worker)."""
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is None:
                return
            self._run(*item)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or compiling; True if so (False after ``timeout``
        seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._busy:
            if self._worker is None:
                self.drain()
            elif deadline is not None and time.monotonic() >= deadline:
                return False
            else:
                time.sleep(0.01)
        return True

    def pending(self) -> int:
        """How many kinds of calls are queued or compiling."""
        return self._busy

    def close(self) -> None:
        """Drop the queue; wait for a kernel being compiled or loaded in this process (a thread
        stopped inside LLVM could crash the interpreter's shutdown); let the compiling process
        finish its kernel (it writes it to the cache) and exit."""
        with self._lock:
            self._stop = True
            self._jobs.put(None)
        with self._local:
            pass
        self._process.close()

    # ------------------------------------------------------------------ the kernels
    def _single(self, name, args, kwargs):
        fast = getattr(self._compiled, name)
        return self._call(name, lambda: _key(name, args, kwargs), lambda: fast(*args, **kwargs),
                          lambda: getattr(self._reference, name)(*args, **kwargs),
                          (fast, args, kwargs))

    def _forward(self, name, forward, backward, ref_forward, args, kwargs):
        """A forward kernel; its cache is :class:`Tagged` with the pair that must take it."""
        def fast():
            out = forward(*args, **kwargs)
            return (*out[:-1], Tagged(forward, backward, name, args, kwargs, out[-1]))

        def ref():
            out = ref_forward(*args, **kwargs)
            return (*out[:-1], Tagged(ref_forward, None, name, args, kwargs, out[-1]))

        return self._call(name, lambda: _key(name, args, kwargs), fast, ref,
                          (Pair(forward, backward), args, kwargs))

    def _backward(self, ref_backward, grads, tagged):
        """The backward of the pair that made ``tagged``.  A compiled forward whose backward is
        not compiled yet: the reference runs forward and backward again for the gradients."""
        forward, backward, name, args, kwargs, cache = tagged
        if backward is None:
            return ref_backward(*grads, cache)

        def again():
            return ref_backward(*grads, self._reference_forward(name)(*args, **kwargs)[-1])

        return self._call(("backward", name), lambda: ("backward", *_key(name, args, kwargs)),
                          lambda: backward(*grads, cache), again,
                          (Pair(forward, backward), args, kwargs))

    def _reference_forward(self, name):
        cell = name[:-len("_forward")]
        found = self._reference.sequence_kernel(cell) if cell in _CELLS else None
        return found[0] if found else getattr(self._reference, name)

    def sequence_kernel(self, name: str):
        """The compiled pair of ``name`` when it is one of rnnlab's cells, each call choosing as
        :meth:`_call` does; a user's cell's compiled kernel is compiled when first called."""
        found = self._compiled.sequence_kernel(name)
        if name not in _CELLS:
            return found
        ref_forward, ref_backward = self._reference.sequence_kernel(name)
        forward, backward = found
        key = f"{name}_forward"

        def lazy_forward(*args, **kwargs):
            return self._forward(key, forward, backward, ref_forward, args, kwargs)

        def lazy_backward(*args):
            *grads, tagged = args
            return self._backward(ref_backward, grads, tagged)

        return lazy_forward, lazy_backward


def _method(name):
    if name in PAIRS:
        back = PAIRS[name]

        def forward(self, *args, **kwargs):
            return self._forward(name, getattr(self._compiled, name),
                                 getattr(self._compiled, back), getattr(self._reference, name),
                                 args, kwargs)
        forward.__doc__ = f"``{name}``: compiled once ready (the result's cache is tagged)."
        return forward
    if name in PAIRS.values():
        def backward(self, *args):
            *grads, tagged = args
            return self._backward(getattr(self._reference, name), grads, tagged)
        backward.__doc__ = f"``{name}`` on the kernels of the forward pass that made the cache."
        return backward

    def single(self, *args, **kwargs):
        return self._single(name, args, kwargs)
    single.__doc__ = f"``{name}``: compiled once ready, else the reference."
    return single


for _name in (*PAIRS, *PAIRS.values(), *SINGLES):
    setattr(LazyOps, _name, _method(_name))


def _loads(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _threading_layer_is_safe() -> bool:
    """Whether parallel regions may start from two threads at once: OpenMP or TBB loads (Numba
    prefers them; an extension found but not loadable, e.g. without libgomp, leaves Numba the
    workqueue layer) and the workqueue layer has not been asked for."""
    if str(numba.config.THREADING_LAYER).lower() == "workqueue":
        return False
    return any(_loads(f"numba.np.ufunc.{pool}") for pool in ("omppool", "tbbpool"))


def make_ops() -> CompiledOps:
    """The compiled Ops of ``rnnlab.config.compile_mode()``: :class:`LazyOps` for "background"
    (where the threading layer allows), else :class:`CompiledOps`."""
    if config.compile_mode() == "background" and _threading_layer_is_safe():
        return LazyOps()
    return CompiledOps()


__all__ = ["LazyOps", "NotCompiled", "Tagged", "cached_only", "make_ops"]

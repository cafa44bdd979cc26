"""Global numeric settings: the float type, the random generator, the kernel choice and when the
compiled kernels are compiled.

Keras keeps these as process-wide state (``keras.config.floatx``, ``keras.utils.set_random_seed``);
rnnlab does the same so that the lecture's code runs unchanged.  Every random draw in the library
(initial weights, dropout masks, shuffling) goes through :func:`rng`, so one seed reproduces a run.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os

import numpy as np

from rnnlab import checks

_FLOATX = "float32"
_SEED: int | None = None
_RNG = np.random.default_rng()
# The compiled kernels when Numba is installed (found without importing it, which is slow).
_KERNELS = "fast" if importlib.util.find_spec("numba") is not None else "reference"
_VALID_FLOATX = ("float32", "float64")
_VALID_KERNELS = ("reference", "fast")
_VALID_COMPILE_MODES = ("background", "blocking")


def _env_compile_mode() -> str:
    value = os.environ.get("RNNLAB_COMPILE_MODE", "background")
    if value not in _VALID_COMPILE_MODES:
        raise ValueError(f"RNNLAB_COMPILE_MODE={value!r}: expected one of {_VALID_COMPILE_MODES}")
    return value


_COMPILE_MODE = _env_compile_mode()


def floatx() -> str:
    """The default float type of weights and activations ("float32" unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: "float32" (Keras's default) or "float64" (for gradient checks).
    """
    global _FLOATX
    if value not in _VALID_FLOATX:
        raise ValueError(f"Unknown floatx {value!r}: expected one of {_VALID_FLOATX}")
    _FLOATX = value


def set_random_seed(seed: int) -> None:
    """Reseed the generator behind every random draw in rnnlab (weights, dropout, shuffling)."""
    global _SEED, _RNG
    _SEED = checks.non_negative_int(seed, "seed")
    _RNG = np.random.default_rng(_SEED)


def get_random_seed() -> int | None:
    """The last seed passed to :func:`set_random_seed` (None if never set)."""
    return _SEED


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a block with the random generator reseeded to ``seed`` (None: unchanged), then put
    the previous seed and generator back (e.g. one scikit-learn trial's ``random_state``)."""
    global _SEED, _RNG
    if seed is None:
        yield
        return
    old = (_SEED, _RNG)
    set_random_seed(seed)
    try:
        yield
    finally:
        _SEED, _RNG = old


def rng() -> np.random.Generator:
    """The process-wide generator; layers draw their initial weights from it at build time."""
    return _RNG


def make_rng(seed: int | None = None) -> np.random.Generator:
    """A generator for an explicit ``seed=`` argument, or the global one when seed is None."""
    return _RNG if seed is None else np.random.default_rng(seed)


def kernels() -> str:
    """Which implementation the layers run: "reference" (plain NumPy) or "fast" (compiled)."""
    return _KERNELS


def compile_mode() -> str:
    """When a compiled kernel missing from Numba's on-disk cache is compiled.

    "background" (the default, or ``$RNNLAB_COMPILE_MODE``): on a worker thread, while the calls
    that need it run on the reference kernels, so that the first fit after an install starts at
    once (see :mod:`rnnlab.kernels.compiled.lazy`).  Until every kernel a model uses is in the
    cache, a run mixes reference and compiled results, which agree to rounding but not bit for
    bit.  "blocking": compiled on first call, before that call returns; a seeded run then gives
    the same numbers from the very first run on.  Kernels already in the cache are used at once
    in both modes.
    """
    return _COMPILE_MODE


def set_compile_mode(value: str) -> None:
    """Choose "background" or "blocking" compilation (see :func:`compile_mode`)."""
    global _COMPILE_MODE
    if value not in _VALID_COMPILE_MODES:
        raise ValueError(f"Unknown compile mode {value!r}: expected one of "
                         f"{_VALID_COMPILE_MODES}")
    _COMPILE_MODE = value


def set_kernels(value: str) -> None:
    """Choose the plain-NumPy reference kernels or the compiled fast ones."""
    global _KERNELS
    if value not in _VALID_KERNELS:
        raise ValueError(f"Unknown kernels {value!r}: expected one of {_VALID_KERNELS}")
    _KERNELS = value

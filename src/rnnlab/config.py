"""Global numeric settings: the float type, the random generator and the kernel choice.

Keras keeps these as process-wide state (``keras.config.floatx``, ``keras.utils.set_random_seed``);
rnnlab does the same so that the lecture's code runs unchanged.  Every random draw in the library
(initial weights, dropout masks, shuffling) goes through :func:`rng`, so one seed reproduces a run.
"""
from __future__ import annotations

import contextlib
import importlib.util

import numpy as np

from rnnlab import checks

_FLOATX = "float32"
_SEED: int | None = None
_RNG = np.random.default_rng()
# The compiled kernels when Numba is installed (found without importing it, which is slow).
_KERNELS = "fast" if importlib.util.find_spec("numba") is not None else "reference"
_VALID_FLOATX = ("float32", "float64")
_VALID_KERNELS = ("reference", "fast")


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


def set_kernels(value: str) -> None:
    """Choose the plain-NumPy reference kernels or the compiled fast ones."""
    global _KERNELS
    if value not in _VALID_KERNELS:
        raise ValueError(f"Unknown kernels {value!r}: expected one of {_VALID_KERNELS}")
    _KERNELS = value

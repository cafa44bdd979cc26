"""Argument validation shared by every module: one spelling of each check and of its message.

Each helper returns the value in its canonical type or raises with a message that names the
argument and, through ``who``, the object it belongs to (``"Layer 'lstm' (LSTM)"``, ``"fit()"``):
``"Layer 'lstm' (LSTM) units must be an integer >= 1, got 0"``.  Booleans are never integers here
(``True`` is not a batch size), and NumPy integer and float scalars are accepted like Python ones.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def _prefix(who: str | None) -> str:
    return f"{who} " if who else ""


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bool and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(value, name: str, low: int | None = None, high: int | None = None,
            who: str | None = None, allow_none: bool = False):
    """``value`` as an int in [low, high] (either bound optional); None passes if ``allow_none``.

    ValueError otherwise, worded ``"<who> <name> must be an integer >= low, got ..."``."""
    if value is None and allow_none:
        return None
    ok = is_int(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        if low is not None and high is not None:
            bound = f"in [{low}, {high}]"
        elif low is not None:
            bound = {0: "non-negative", 1: "positive"}.get(low)
            bound = f"a {bound} integer" if bound else f"an integer >= {low}"
        elif high is not None:
            bound = f"an integer <= {high}"
        else:
            bound = "an integer"
        if not bound.startswith(("a ", "an ")):
            bound = f"an integer {bound}"
        extra = " or None" if allow_none else ""
        raise ValueError(f"{_prefix(who)}{name} must be {bound}{extra}, got {value!r}")
    return int(value)


def positive_int(value, name: str, who: str | None = None, allow_none: bool = False):
    """``value`` as an int >= 1 (see :func:`integer`)."""
    return integer(value, name, low=1, who=who, allow_none=allow_none)


def non_negative_int(value, name: str, who: str | None = None, allow_none: bool = False):
    """``value`` as an int >= 0 (see :func:`integer`)."""
    return integer(value, name, low=0, who=who, allow_none=allow_none)


def seed(value, who: str | None = None):
    """A random seed: a non-negative integer, or None."""
    return non_negative_int(value, "seed", who=who, allow_none=True)


def number(value, name: str, who: str | None = None, finite: bool = True) -> float:
    """``value`` as a float; TypeError for non-numbers (and bool), ValueError for NaN/inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_prefix(who)}{name} must be a number, got {value!r}")
    v = float(value)
    if finite and not math.isfinite(v):
        raise ValueError(f"{_prefix(who)}{name} must be a finite number, got {value!r}")
    return v


def positive_number(value, name: str, who: str | None = None) -> float:
    """``value`` as a finite float > 0."""
    v = number(value, name, who)
    if v <= 0:
        raise ValueError(f"{_prefix(who)}{name} must be a positive finite number, got {value!r}")
    return v


def rate(value, name: str, who: str | None = None) -> float:
    """A probability of dropping, in [0, 1)."""
    v = number(value, name, who)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{_prefix(who)}{name} must be in [0, 1), got {value!r}")
    return v


def flag(value, name: str, who: str | None = None) -> bool:
    """``value`` as a bool: True/False (NumPy's too); TypeError for anything else (a string
    "no" would otherwise count as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_prefix(who)}{name} must be True or False, got {value!r}")
    return bool(value)


def one_of(value, name: str, choices, who: str | None = None):
    """``value`` if it is one of ``choices``; ValueError listing them otherwise."""
    if value not in choices:
        raise ValueError(f"{_prefix(who)}{name} must be one of {list(choices)}, got {value!r}")
    return value


def format_shape(shape) -> str:
    """Keras's spelling of a shape: ``(None, 100, 1)``, ``(3,)``; lists of shapes in brackets."""
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    shape = tuple(shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + (
        ",)" if len(shape) == 1 else ")")

"""Weight constraints (Keras 3's names, defaults and formulas): projections applied to a weight
right after each optimizer update, as Keras's optimizer applies ``variable.constraint``.

With ``n = sqrt(Σ_axis w²)`` (kept as an axis of size 1) and Keras's ``ε = 1e-7``:

* ``MaxNorm(max_value=2, axis=0)``: ``w · clip(n, 0, max_value) / (ε + n)``;
* ``NonNeg()``: ``max(w, 0)``;
* ``UnitNorm(axis=0)``: ``w / (ε + n)``;
* ``MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)``:
  ``w · (rate · clip(n, min_value, max_value) + (1 - rate) · n) / (ε + n)``.

``axis=0`` constrains each column of a Dense kernel (the weights into one unit); an axis may be a
list of ints (e.g. ``[0, 1]`` for each filter of a Conv1D kernel).  A constraint is not
differentiated: it acts between steps, not in the forward pass.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.registry import Registry

_EPSILON = 1e-7          # keras.backend.epsilon()


def _axis(axis, who: str):
    """An int or a list/tuple of ints (stored as a list, JSON-able)."""
    if isinstance(axis, (list, tuple)):
        if not axis:
            raise ValueError(f"{who} axis must be an integer or a non-empty list of integers")
        return [checks.integer(a, "axis", who=who) for a in axis]
    return checks.integer(axis, "axis", who=who)


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (a new array of w's dtype)."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w

    def _norms(self, w, axis):
        try:
            return np.sqrt(np.sum(np.square(w), axis=tuple(np.atleast_1d(axis)), keepdims=True))
        except np.exceptions.AxisError:
            raise ValueError(f"{type(self).__name__} axis={axis} is out of range for a weight of "
                             f"shape {w.shape}") from None

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Each slice along ``axis`` (a unit's incoming weights for axis=0) has norm <= max_value."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = checks.number(max_value, "max_value", who="MaxNorm")
        if self.max_value < 0:
            raise ValueError(f"MaxNorm max_value must be >= 0, got {max_value!r}")
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, w):
        n = self._norms(w, self.axis)
        return (w * (np.clip(n, 0, self.max_value) / (_EPSILON + n))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become 0."""

    def __call__(self, w):
        return np.maximum(w, 0).astype(w.dtype, copy=False)


class UnitNorm(Constraint):
    """Each slice along ``axis`` is scaled to norm 1 (up to ε)."""

    def __init__(self, axis=0):
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        return (w / (_EPSILON + self._norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Each slice's norm moves (at ``rate``, 1 = at once) into [min_value, max_value]."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        who = "MinMaxNorm"
        self.min_value = checks.number(min_value, "min_value", who=who)
        self.max_value = checks.number(max_value, "max_value", who=who)
        self.rate = checks.number(rate, "rate", who=who)
        if not 0 <= self.min_value <= self.max_value:
            raise ValueError(f"{who} needs 0 <= min_value <= max_value, got min_value="
                             f"{min_value!r}, max_value={max_value!r}")
        if not 0 <= self.rate <= 1:
            raise ValueError(f"{who} rate must be in [0, 1], got {rate!r}")
        self.axis = _axis(axis, who)

    def __call__(self, w):
        n = self._norms(w, self.axis)
        desired = self.rate * np.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return (w * (desired / (_EPSILON + n))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

#: The constraint classes by name; Keras's snake-case names are aliases.
CONSTRAINTS = Registry("constraint", Constraint)
for _cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm):
    CONSTRAINTS.register(_cls)
for _name, _cls in {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
                    "min_max_norm": MinMaxNorm}.items():
    CONSTRAINTS.alias(_name, _cls)


def get(identifier):
    """None, a Constraint, a name ('max_norm', 'MaxNorm', ...), or a config written by
    :func:`serialize`."""
    if identifier is None:
        return None
    try:
        return CONSTRAINTS.get(identifier)
    except TypeError:
        raise TypeError(f"constraint must be None, a name or an rnnlab.constraints.Constraint, "
                        f"got {identifier!r}") from None


def serialize(constraint):
    return None if constraint is None else CONSTRAINTS.serialize(constraint)


def deserialize(spec):
    return get(spec)

"""Weight penalties added to the training loss: l1, l2, l1_l2 (Keras's names and defaults).

For ``R(w) = l1·Σ|w| + l2·Σw²`` the gradient is ``l1·sign(w) + 2·l2·w``.
"""
from __future__ import annotations

import numpy as np

from rnnlab.registry import Registry


class Regularizer:
    """``penalty(w)`` is the loss term, ``gradient(w)`` its derivative."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = float(l1), float(l2)
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError(f"regularization factors must be >= 0, got l1={l1}, l2={l2}")

    def __call__(self, w: np.ndarray) -> float:
        return self.penalty(w)

    def penalty(self, w: np.ndarray) -> float:
        out = 0.0
        if self.l1:
            out += self.l1 * float(np.abs(w).sum())
        if self.l2:
            out += self.l2 * float(np.square(w, dtype=np.float64).sum())
        return out

    def gradient(self, w: np.ndarray) -> np.ndarray:
        g = np.zeros_like(w)
        if self.l1:
            g += self.l1 * np.sign(w)
        if self.l2:
            g += 2.0 * self.l2 * w
        return g

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


def l1(l1: float = 0.01) -> Regularizer:  # noqa: E741 - Keras's name
    return Regularizer(l1=l1)


def l2(l2: float = 0.01) -> Regularizer:
    return Regularizer(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> Regularizer:  # noqa: E741
    return Regularizer(l1=l1, l2=l2)


L1, L2, L1L2 = l1, l2, l1_l2


#: The regularizer classes by name; Keras's 'l1', 'l2' and 'l1_l2' are aliases.
REGULARIZERS = Registry("regularizer", Regularizer)
REGULARIZERS.register(Regularizer)
for _name, _factory in {"l1": l1, "l2": l2, "l1_l2": l1_l2}.items():
    REGULARIZERS.alias(_name, _factory)


def get(identifier):
    """None, a Regularizer, a name ('l1', 'l2', 'l1_l2'), or a config written by
    :func:`serialize` (or the bare ``{"l1": ..., "l2": ...}`` of files written before it)."""
    if identifier is None:
        return None
    if isinstance(identifier, dict) and "class_name" not in identifier:
        return Regularizer(**identifier)
    try:
        return REGULARIZERS.get(identifier)
    except TypeError:
        raise TypeError(f"regularizer must be None, a name or a Regularizer, got "
                        f"{identifier!r}") from None


def serialize(reg):
    return None if reg is None else REGULARIZERS.serialize(reg)


def deserialize(spec):
    return get(spec)

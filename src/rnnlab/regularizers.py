"""Weight penalties added to the training loss: l1, l2, l1_l2 (Keras's names and defaults).

For ``R(w) = l1·Σ|w| + l2·Σw²`` the gradient is ``l1·sign(w) + 2·l2·w``.
"""
from __future__ import annotations

import numpy as np


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


def get(identifier):
    """None, a Regularizer, a name ('l1', 'l2', 'l1_l2'), or a saved config dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        table = {"l1": l1, "l2": l2, "l1_l2": l1_l2}
        if identifier not in table:
            raise ValueError(f"Unknown regularizer {identifier!r}: expected one of {sorted(table)}")
        return table[identifier]()
    if isinstance(identifier, dict):
        return Regularizer(**identifier)
    raise TypeError(f"regularizer must be None, a name or a Regularizer, got {identifier!r}")


def serialize(reg):
    return None if reg is None else reg.get_config()

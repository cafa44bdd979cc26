"""Optimizer updates as functions of arrays (the optimizers' bookkeeping stays in
:mod:`rnnlab.optimizers`).

Adam (Kingma & Ba, 2015, with Keras's ε placement), for a gradient g at step t::

    m ← m + (1-β1)(g - m)            (= β1 m + (1-β1) g)
    v ← v + (1-β2)(g² - v)           (= β2 v + (1-β2) g²)
    v̂ ← max(v̂, v)                    (AMSGrad only; v̂ replaces v below)
    p ← p - lr_t · m / (√v + ε),     lr_t = lr · √(1-β2ᵗ) / (1-β1ᵗ)

m and v are kept in the parameter's dtype; ``lr_t`` is a float64, so the step is computed in
float64 and rounded to the parameter's dtype before it is subtracted.  The compiled fused update
(:mod:`rnnlab.kernels.compiled.adam`) does the same arithmetic in one pass.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class AdamStep(NamedTuple):
    """One step's Adam hyperparameters; ``lr_t`` is a NumPy float64 (the step in float64)."""
    lr_t: np.float64
    beta_1: float
    beta_2: float
    epsilon: float


def adam_update(param, grad, slots, step: AdamStep, zero_grad: bool = False) -> bool:
    """Update ``param`` and its ``slots`` = ``(m, v)`` or, for AMSGrad, ``(m, v, v̂)`` in place.

    Returns whether ``grad`` was cleared (never here; the caller clears it when asked to)."""
    m, v = slots[0], slots[1]
    m += (1.0 - step.beta_1) * (grad - m)
    v += (1.0 - step.beta_2) * (grad * grad - v)
    if len(slots) > 2:
        np.maximum(slots[2], v, out=slots[2])
        v = slots[2]
    param -= (step.lr_t * m / (np.sqrt(v) + step.epsilon)).astype(param.dtype, copy=False)
    return False

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

Nadam and Adamax (Keras 3's updates), the decoupled weight decay and the weights' moving average
(``use_ema``) follow, in NumPy only.
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


class NadamStep(NamedTuple):
    """One step's Nadam quantities (Keras 3's schedule of the momentum, Dozat 2016), float64:
    ``u_t = β1 (1 - ½·0.96ᵗ)``, ``u_t1`` the same at t+1, ``prod_t = u_1···u_t``,
    ``prod_t1 = prod_t·u_t1``, and ``beta_2_power = β2ᵗ``."""
    lr: np.float64
    beta_1: float
    beta_2: float
    epsilon: float
    u_t: np.float64
    u_t1: np.float64
    prod_t: np.float64
    prod_t1: np.float64
    beta_2_power: np.float64


def nadam_update(param, grad, slots, step: NadamStep) -> bool:
    """Nadam as Keras 3 (``slots`` = (m, v))::

        m ← m + (1-β1)(g - m);  v ← v + (1-β2)(g² - v)
        m̂ = u_t1·m / (1 - prod_t1) + (1 - u_t)·g / (1 - prod_t);  v̂ = v / (1 - β2ᵗ)
        p ← p - lr·m̂ / (√v̂ + ε)

    (PyTorch's NAdam differs: ε inside its bias correction and its own momentum decay.)"""
    m, v = slots
    m += (1.0 - step.beta_1) * (grad - m)
    v += (1.0 - step.beta_2) * (grad * grad - v)
    m_hat = step.u_t1 * m / (1.0 - step.prod_t1) + (1.0 - step.u_t) * grad / (1.0 - step.prod_t)
    v_hat = v / (1.0 - step.beta_2_power)
    param -= (step.lr * m_hat / (np.sqrt(v_hat) + step.epsilon)).astype(param.dtype, copy=False)
    return False


class AdamaxStep(NamedTuple):
    """One step's Adamax quantities; ``lr_t = lr / (1 - β1ᵗ)`` is a float64."""
    lr_t: np.float64
    beta_1: float
    beta_2: float
    epsilon: float


def adamax_update(param, grad, slots, step: AdamaxStep) -> bool:
    """Adamax (Kingma & Ba, 2015, section 7; Keras 3's ε placement), ``slots`` = (m, u)::

        m ← m + (1-β1)(g - m);  u ← max(β2·u, |g|);  p ← p - lr/(1-β1ᵗ) · m / (u + ε)"""
    m, u = slots
    m += (1.0 - step.beta_1) * (grad - m)
    np.maximum(u * u.dtype.type(step.beta_2), np.abs(grad), out=u)
    param -= (step.lr_t * m / (u + step.epsilon)).astype(param.dtype, copy=False)
    return False


def decay_weights(param, factor: float) -> None:
    """Decoupled weight decay (Loshchilov & Hutter, 2019), as Keras 3 applies it before each
    update: ``p ← p·(1 - lr·wd)``, ``factor`` = 1 - lr·wd."""
    param *= param.dtype.type(factor)


def ema_update(average, param, momentum: float) -> None:
    """``average ← momentum·average + (1 - momentum)·param`` (Keras 3's ``use_ema``)."""
    t = average.dtype.type
    average *= t(momentum)
    average += t(1.0 - momentum) * param

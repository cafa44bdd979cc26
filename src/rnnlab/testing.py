"""Gradient checks for users' layers, cells and models: the lecture's "you are cordially invited
to do the same for dL/dw1", as a tool.

:func:`check_gradients` compares a hand-written backward pass with central finite differences in
float64.  With a fixed random R of the output's shape, the scalar ``L = Σ out ⊙ R`` has
``dL/d out = R``; the backward closure turns R into dL/dx and dL/dθ, and each is compared with
``(L(θ + ε) - L(θ - ε)) / 2ε`` entry by entry.  The relative error ``‖a - b‖ / (‖a‖ + ‖b‖)``
is ~1e-9 for a correct gradient and O(1) for a wrong one::

    from rnnlab.testing import check_gradients
    errors = check_gradients(MyCell(4), [x, h0])      # AssertionError if any error >= 1e-6

:func:`check_loss_gradient` does the same for a loss (a :class:`rnnlab.losses.Loss` subclass):
its gradient with respect to the prediction against differences of its value.
"""
from __future__ import annotations

import contextlib

import numpy as np

from rnnlab import config
from rnnlab import losses as _losses
from rnnlab.layers.base import Layer
from rnnlab.layers.recurrent import RNN, Cell


def rel_error(a, b) -> float:
    """``‖a - b‖ / (‖a‖ + ‖b‖)`` in float64 (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / denom)


def numeric_grad(f, arr, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``arr`` (which is
    modified in place and restored)."""
    g = np.zeros_like(arr, dtype=np.float64)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        fp = f()
        arr[i] = old - eps
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _reseed(layer, seed):
    if seed is not None and hasattr(layer, "_reseed_for_check"):
        layer._reseed_for_check(seed)


def _to_float64(layer) -> None:
    for k in list(layer.params):
        layer.params[k] = np.asarray(layer.params[k], dtype=np.float64)
        layer.grads[k] = np.zeros_like(layer.params[k])


@contextlib.contextmanager
def _float64():
    """Compute in float64 for the duration (finite differences need it)."""
    old = config.floatx()
    config.set_floatx("float64")
    try:
        yield
    finally:
        config.set_floatx(old)


def check_gradients(layer, x, *, training: bool = False, mask=None, eps: float = 1e-6,
                    tol: float = 1e-6, check_input: bool = True, seed: int | None = None,
                    rng=None) -> dict[str, float]:
    """Check ``layer``'s backward pass (a layer, a cell, or an RNN) against finite differences.

    ``x``: the layer's input (an array, or a list for several inputs; a cell takes ``x`` of shape
    (N, m) or ``[x, *states]``).  Float inputs and every weight are differentiated in float64
    (the weights are converted in place).  ``seed`` re-seeds dropout identically for every
    evaluation, so that ``training=True`` can be checked.  Returns the relative error of each
    gradient by name (``input0``, ``input1``, ..., then the weights); AssertionError naming the
    gradients whose error is not below ``tol``."""
    if not isinstance(layer, Layer):
        raise TypeError(f"check_gradients takes an rnnlab layer or cell, got {layer!r}")
    with _float64():
        return _check_gradients(layer, x, training=training, mask=mask, eps=eps, tol=tol,
                                check_input=check_input, seed=seed, rng=rng)


def _check_gradients(layer, x, *, training, mask, eps, tol, check_input, seed, rng):
    rng = rng or np.random.default_rng(1234)
    multi = isinstance(x, (list, tuple))
    xs = [np.array(v, dtype=np.float64) if np.issubdtype(np.asarray(v).dtype, np.floating)
          else np.asarray(v) for v in _as_list(x)]
    xin = xs if multi else xs[0]
    if not layer.built:
        shapes = [(None,) + v.shape[1:] for v in xs]
        layer.ensure_built(shapes if multi else shapes[0])
    _to_float64(layer)
    _reseed(layer, seed)
    out, backward = layer.forward(xin, training=training, mask=mask)
    Rs = [rng.normal(size=np.shape(o)) for o in _as_list(out)]
    layer.zero_grads()
    dx = backward(Rs if isinstance(out, (list, tuple)) else Rs[0])

    def loss():
        _reseed(layer, seed)
        o, _ = layer.forward(xin, training=training, mask=mask)
        return sum(float(np.sum(a * r)) for a, r in zip(_as_list(o), Rs))

    errors = {}
    if check_input:
        for i, (v, d) in enumerate(zip(xs, _as_list(dx))):
            if np.issubdtype(v.dtype, np.floating):
                errors[f"input{i}"] = rel_error(d, numeric_grad(loss, v, eps))
    for k in list(layer.params):
        errors[k] = rel_error(layer.grads[k], numeric_grad(loss, layer.params[k], eps))
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"{layer.name}: gradient mismatch (relative error) {bad}"
    return errors


def check_cell_over_time(cell: Cell, x, mask=None, go_backwards: bool = False,
                         **kwargs) -> dict[str, float]:
    """:func:`check_gradients` of ``RNN(cell, return_sequences=True, return_state=True)`` on a
    sequence ``x`` (N, T, m): the cell's backward chained through time (BPTT), with a mask."""
    layer = RNN(cell, return_sequences=True, return_state=True, go_backwards=go_backwards)
    return check_gradients(layer, x, mask=mask, **kwargs)


def check_model(model, xs, tol: float = 1e-6, eps: float = 1e-6, rng=None) -> dict[str, float]:
    """Finite-difference check of a whole model: ``L = Σ_k Σ out_k ⊙ R_k`` over its outputs
    against the model's backward pass (float inputs, and every weight of every layer, shared
    ones once)."""
    with _float64():
        return _check_model(model, xs, tol, eps, rng)


def _check_model(model, xs, tol, eps, rng):
    rng = rng or np.random.default_rng(99)
    xs = [np.array(x, dtype=np.float64) if np.issubdtype(np.asarray(x).dtype, np.floating)
          else np.asarray(x) for x in xs]
    layers = model._unique_layers()
    for layer in layers:
        _to_float64(layer)
    outs, backward = model._forward_batch(xs, training=False)
    Rs = [rng.normal(size=o.shape) for o in outs]
    dxs = backward(Rs)

    def loss():
        o, _ = model._forward_batch(xs, training=False)
        return sum(float(np.sum(a * r)) for a, r in zip(o, Rs))

    errors = {}
    for i, (x, d) in enumerate(zip(xs, dxs)):
        if np.issubdtype(x.dtype, np.floating):
            errors[f"input{i}"] = rel_error(d, numeric_grad(loss, x, eps))
    for layer in layers:
        for k in list(layer.params):
            errors[f"{layer.name}/{k}"] = rel_error(layer.grads[k],
                                                    numeric_grad(loss, layer.params[k], eps))
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"gradient mismatch (relative error) {bad}"
    return errors


def check_loss_gradient(loss, y_true, y_pred, sample_weight=None, *, eps: float = 1e-6,
                        tol: float = 1e-6) -> float:
    """Check a loss's gradient ``dL/dy_pred`` against central finite differences of its value,
    in float64: ``loss(y_true, y_pred, sample_weight)`` returns ``(L, dL/dy_pred)``, and each
    entry of y_pred is moved by ±eps.  Keep y_pred away from the loss's kinks (a clip's edge,
    |e| = δ of Huber), where differences are one-sided.  Returns the relative error;
    AssertionError naming the loss if it is not below ``tol``."""
    if not isinstance(loss, _losses.Loss):
        raise TypeError(f"check_loss_gradient takes an rnnlab Loss instance, got {loss!r}")
    p = np.array(y_pred, dtype=np.float64)
    if p.ndim < 2:
        raise ValueError(f"y_pred must have a batch axis and a last (feature) axis, got shape "
                         f"{p.shape}")
    y = np.asarray(y_true)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float64)
    _, grad = loss(y, p, sample_weight)
    num = numeric_grad(lambda: loss(y, p, sample_weight)[0], p, eps)
    err = rel_error(grad, num)
    assert err < tol, (f"{getattr(loss, 'name', type(loss).__name__)}: gradient mismatch "
                       f"(relative error {err:.3g})")
    return err

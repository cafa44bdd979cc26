"""Central finite-difference checks of layer backward passes, shared by the test modules.

``check_layer(layer, x)`` builds the scalar L = Σ out·R (R random, fixed) and compares the backward
closure's dL/dx and dL/dparam with (L(θ+ε) - L(θ-ε)) / 2ε, in float64.
"""
from __future__ import annotations

import numpy as np


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / denom)


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _loss(layer, x, Rs, training, mask, seed):
    if seed is not None and hasattr(layer, "_reseed_for_check"):
        layer._reseed_for_check(seed)
    out, _ = layer.forward(x, training=training, mask=mask)
    return sum(float(np.sum(o * r)) for o, r in zip(_as_list(out), Rs))


def numeric_grad(f, arr, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of arr (modified in place)."""
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


def check_layer(layer, x, training=False, mask=None, eps=1e-6, tol=1e-6, check_input=True,
                seed=None, rng=None):
    """Assert the layer's analytic gradients match finite differences; returns the errors found.

    ``x`` may be an array or a list of arrays (multi-input layers).  Integer inputs are not
    differentiated.  ``seed`` re-seeds stochastic layers (dropout) identically for every evaluation.
    """
    rng = rng or np.random.default_rng(1234)
    multi = isinstance(x, (list, tuple))
    xs = [np.array(v, dtype=np.float64) if np.issubdtype(np.asarray(v).dtype, np.floating)
          else np.asarray(v) for v in _as_list(x)]
    xin = xs if multi else xs[0]
    if not layer.built:
        layer.ensure_built([(None,) + v.shape[1:] for v in xs] if multi else (None,) + xs[0].shape[1:])
    for k in layer.params:
        layer.params[k] = layer.params[k].astype(np.float64)
        layer.grads[k] = np.zeros_like(layer.params[k])
    if seed is not None and hasattr(layer, "_reseed_for_check"):
        layer._reseed_for_check(seed)
    out, backward = layer.forward(xin, training=training, mask=mask)
    Rs = [rng.normal(size=np.shape(o)) for o in _as_list(out)]
    layer.zero_grads()
    dx = backward(Rs if isinstance(out, (list, tuple)) else Rs[0])
    errors = {}
    f = lambda: _loss(layer, xin, Rs, training, mask, seed)  # noqa: E731
    if check_input:
        for i, (v, d) in enumerate(zip(xs, _as_list(dx))):
            if not np.issubdtype(v.dtype, np.floating):
                continue
            num = numeric_grad(f, v, eps)
            errors[f"input{i}"] = rel_error(d, num)
    for k in layer.params:
        num = numeric_grad(f, layer.params[k], eps)
        errors[k] = rel_error(layer.grads[k], num)
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"{layer.name}: gradient mismatch (relative error) {bad}"
    return errors


def check_model(model, xs, tol=1e-6, eps=1e-6, rng=None):
    """Finite-difference check of a whole model: L = Σ_k Σ out_k·R_k over its outputs, against the
    model's backward (inputs that are float and every parameter of every layer, shared ones once)."""
    rng = rng or np.random.default_rng(99)
    xs = [np.array(x, dtype=np.float64) if np.issubdtype(np.asarray(x).dtype, np.floating)
          else np.asarray(x) for x in xs]
    layers = model._unique_layers()
    for layer in layers:
        for k in layer.params:
            layer.params[k] = layer.params[k].astype(np.float64)
            layer.grads[k] = np.zeros_like(layer.params[k])
    outs, backward = model._forward_batch(xs, training=False)
    Rs = [rng.normal(size=o.shape) for o in outs]
    dxs = backward(Rs)

    def f():
        o, _ = model._forward_batch(xs, training=False)
        return sum(float(np.sum(a * r)) for a, r in zip(o, Rs))

    errors = {}
    for i, (x, d) in enumerate(zip(xs, dxs)):
        if np.issubdtype(x.dtype, np.floating):
            errors[f"input{i}"] = rel_error(d, numeric_grad(f, x, eps))
    for layer in layers:
        for k in layer.params:
            errors[f"{layer.name}/{k}"] = rel_error(layer.grads[k], numeric_grad(f, layer.params[k], eps))
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"gradient mismatch (relative error) {bad}"
    return errors

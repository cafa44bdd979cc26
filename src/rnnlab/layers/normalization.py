"""LayerNormalization and BatchNormalization (Keras 3's arguments, defaults, weights and order).

Both compute ``y = γ · x̂ + β`` with ``x̂ = (x - μ) · r``, ``r = (v + ε)^(-1/2)``, where μ and v
are a mean and a (biased) variance over some axes; they differ in which axes and where μ, v come
from.  With ``g = dL/dy`` and ``h = g · γ`` (dL/dx̂), the shared part of the backward pass is
``dγ = Σ g · x̂`` and ``dβ = Σ g`` over every axis but the normalized one(s).
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.layers.base import Layer

_KERAS_EPSILON = 1e-7        # keras.backend.epsilon(): the masked moments' denominator guard


def _who(layer) -> str:
    return f"Layer {layer.name!r} ({type(layer).__name__})"


def _positive_axis(axis: int, ndim: int, who: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{who}: axis {axis} is out of bounds for inputs of rank {ndim}")
    return axis % ndim


class _Norm(Layer):
    """What both layers share: γ/β arguments, weights and the affine part."""

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                 **kwargs):
        super().__init__(**kwargs)
        self.epsilon = checks.positive_number(epsilon, "epsilon", who=_who(self))
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _init.get(beta_initializer)
        self.gamma_initializer = _init.get(gamma_initializer)
        self.beta_regularizer = _reg.get(beta_regularizer)
        self.gamma_regularizer = _reg.get(gamma_regularizer)
        self.beta_constraint = _con.get(beta_constraint)
        self.gamma_constraint = _con.get(gamma_constraint)

    def _affine_weights(self, shape) -> None:
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                            constraint=self.gamma_constraint)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                            constraint=self.beta_constraint)

    def _affine(self, xhat, bshape):
        """``γ·x̂ + β`` with γ, β reshaped to ``bshape`` (1 on the reduced axes)."""
        y = xhat * self.params["gamma"].reshape(bshape) if self.scale else xhat.copy()
        if self.center:
            y += self.params["beta"].reshape(bshape)
        return y

    def _affine_backward(self, g, xhat, bshape, reduce_axes):
        """Add dγ = Σ g·x̂, dβ = Σ g into the grads; return h = g·γ (dL/dx̂)."""
        if self.scale:
            dg = self.grads["gamma"]
            dg += (g * xhat).sum(axis=reduce_axes).reshape(dg.shape)
        if self.center:
            db = self.grads["beta"]
            db += g.sum(axis=reduce_axes).reshape(db.shape)
        return g * self.params["gamma"].reshape(bshape) if self.scale else g

    def _affine_config(self) -> dict:
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _init.serialize(self.beta_initializer),
                "gamma_initializer": _init.serialize(self.gamma_initializer),
                "beta_regularizer": _reg.serialize(self.beta_regularizer),
                "gamma_regularizer": _reg.serialize(self.gamma_regularizer),
                "beta_constraint": _con.serialize(self.beta_constraint),
                "gamma_constraint": _con.serialize(self.gamma_constraint)}


class LayerNormalization(_Norm):
    """Normalize each sample over ``axis`` (default the last; an int or a list of ints):
    μ, v are the mean and biased variance over those axes, per sample and position.

    Backward, with n the number of entries normalized together and means taken over the
    normalized axes: ``dx = r · (h - mean(h) - x̂ · mean(h · x̂))`` (the derivative of x̂ with
    respect to x through μ and v as well).  As Keras, a mask passes through unchanged and does
    not enter the statistics.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        who = _who(self)
        if rms_scaling:
            raise ValueError(f"{who}: rms_scaling=True is deprecated in Keras 3 (it scales by the "
                             "variance, not the root mean square) and rnnlab does not implement "
                             "it")
        if isinstance(axis, (list, tuple)):
            if not axis:
                raise ValueError(f"{who} axis must be an integer or a non-empty list of integers")
            self.axis = [checks.integer(a, "axis", who=who) for a in axis]
        else:
            self.axis = checks.integer(axis, "axis", who=who)
        self._axes: tuple[int, ...] = ()

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = tuple(sorted({_positive_axis(a, ndim, _who(self)) for a in axes}))
        if 0 in axes:
            raise ValueError(f"{_who(self)}: axis {self.axis} includes the batch axis")
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"{_who(self)} needs known sizes on the normalized axes, got input "
                             f"shape {tuple(input_shape)}")
        self._axes = axes
        self._affine_weights(tuple(int(input_shape[a]) for a in axes))
        self.built = True

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x, ndim=len(self.input_spec_shape or ()) or None)
        axes = self._axes
        bshape = [1] * x.ndim
        for a in axes:
            bshape[a] = x.shape[a]
        mu = x.mean(axis=axes, keepdims=True)
        xc = x - mu
        var = np.square(xc).mean(axis=axes, keepdims=True)
        r = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        xhat = xc * r
        y = self._affine(xhat, bshape)
        others = tuple(i for i in range(x.ndim) if i not in axes)

        def backward(dy):
            h = self._affine_backward(dy, xhat, bshape, others)
            return r * (h - h.mean(axis=axes, keepdims=True)
                        - xhat * (h * xhat).mean(axis=axes, keepdims=True))

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, **self._affine_config(), rms_scaling=False)
        return cfg


class BatchNormalization(_Norm):
    """Normalize each feature (``axis``, default the last) over the batch and every other axis.

    Training (``training=True`` and a trainable layer, as Keras): μ, v are the batch's mean and
    biased variance, and the non-trainable weights move towards them,
    ``moving = moving · momentum + batch · (1 - momentum)`` (Keras's convention; PyTorch's
    momentum is 1 - this one, and PyTorch keeps the unbiased variance).  Otherwise μ, v are the
    moving ones.  Weights in Keras's order: gamma, beta, moving_mean, moving_variance.

    A mask (the input's shape without its last axis, e.g. (N, T) from an Embedding with
    mask_zero) restricts the batch statistics to the kept entries, as Keras 3:
    with w the mask broadcast over the features, ``S = Σ w + 1e-7``, ``μ = Σ w·x / S``,
    ``v = Σ w·(x - μ)² / S``; the output is computed everywhere.

    Backward in training (sums over the reduced axes; without a mask w = 1, S = n)::

        dv = -½ r³ Σ h·(x - μ)
        dμ = -r Σ h - (2/S) dv Σ w·(x - μ)
        dx = r·h + (w/S)·dμ + (2/S)·dv·w·(x - μ)

    and at inference μ, v are the moving weights: ``dx = r·h``, and their (unused but exact)
    gradients ``-r Σ h`` and ``-½ r³ Σ h·(x - μ)``.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, synchronized=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        who = _who(self)
        if renorm:
            raise ValueError(f"{who}: renorm=True (batch renormalization) is not implemented in "
                             "rnnlab")
        if synchronized:
            raise ValueError(f"{who}: synchronized=True needs several devices (Keras: the "
                             "TensorFlow backend only); rnnlab runs on one CPU")
        self.axis = checks.integer(axis, "axis", who=who)
        self.momentum = checks.number(momentum, "momentum", who=who)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"{who} momentum must be in [0, 1], got {momentum!r}")
        self.moving_mean_initializer = _init.get(moving_mean_initializer)
        self.moving_variance_initializer = _init.get(moving_variance_initializer)
        self._axis = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if ndim < 2:
            raise ValueError(f"{_who(self)} expects inputs with a batch axis and a feature "
                             f"axis, got input shape {tuple(input_shape)}")
        axis = _positive_axis(self.axis, ndim, _who(self))
        if axis == 0 or input_shape[axis] is None:
            raise ValueError(f"{_who(self)} needs a known feature axis other than the batch "
                             f"axis, got axis={self.axis} for input shape {tuple(input_shape)}")
        self._axis = axis
        shape = (int(input_shape[axis]),)
        self._affine_weights(shape)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer,
                        trainable=False)
        self.built = True

    def _weights_mask(self, mask, x):
        """The mask as 0/1 weights broadcast to x (Keras expands it on the last axis)."""
        mask = np.asarray(mask)
        if mask.shape != x.shape[:-1]:
            raise ValueError(f"{_who(self)}: the mask must have the input's shape without its "
                             f"last axis, {x.shape[:-1]}, got {mask.shape}")
        return np.broadcast_to(mask.astype(bool)[..., None], x.shape).astype(x.dtype)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x, ndim=len(self.input_spec_shape or ()) or None)
        axis = self._axis
        if x.ndim <= axis or x.shape[axis] != self.params["moving_mean"].shape[0]:
            raise ValueError(f"{_who(self)} was built for {self.params['moving_mean'].shape[0]} "
                             f"features on axis {self.axis}, got input shape {x.shape}")
        red = tuple(i for i in range(x.ndim) if i != axis)
        bshape = [1] * x.ndim
        bshape[axis] = x.shape[axis]
        eps = x.dtype.type(self.epsilon)
        if not (training and self.trainable):
            mu = self.params["moving_mean"].astype(x.dtype).reshape(bshape)
            var = self.params["moving_variance"].astype(x.dtype).reshape(bshape)
            r = 1.0 / np.sqrt(var + eps)
            xhat = (x - mu) * r
            y = self._affine(xhat, bshape)

            def backward_inference(dy):
                h = self._affine_backward(dy, xhat, bshape, red)
                # the moving statistics are not trained, but their gradients are exact
                # (the model discards them): dμ = -r Σ h, dv = -½ r³ Σ h·(x - μ)
                hr = h * r
                self.grads["moving_mean"] -= hr.sum(axis=red)
                self.grads["moving_variance"] -= 0.5 * (hr * xhat * r).sum(axis=red)
                return hr

            return y, backward_inference

        w = None if mask is None else self._weights_mask(mask, x)
        if w is None:
            S = x.dtype.type(x.size // x.shape[axis])
            mu = x.mean(axis=red, keepdims=True)
            xc = x - mu
            var = np.square(xc).mean(axis=red, keepdims=True)
        else:
            S = w.sum(axis=red, keepdims=True) + x.dtype.type(_KERAS_EPSILON)
            mu = (w * x).sum(axis=red, keepdims=True) / S
            xc = x - mu
            var = (w * np.square(xc)).sum(axis=red, keepdims=True) / S
        m = x.dtype.type(self.momentum)
        for name, stat in (("moving_mean", mu), ("moving_variance", var)):
            moving = self.params[name]       # in place: Rollback and the saved arrays see it
            moving[...] = moving * m + stat.reshape(-1).astype(moving.dtype) * (1 - m)
        r = 1.0 / np.sqrt(var + eps)
        xhat = xc * r
        y = self._affine(xhat, bshape)

        def backward(dy):
            h = self._affine_backward(dy, xhat, bshape, red)
            dv = -0.5 * r ** 3 * (h * xc).sum(axis=red, keepdims=True)
            if w is None:
                dmu = -r * h.sum(axis=red, keepdims=True)          # Σ (x - μ) = 0
                return r * h + dmu / S + (2.0 / S) * dv * xc
            dmu = -r * h.sum(axis=red, keepdims=True) - (2.0 / S) * dv * (w * xc).sum(
                axis=red, keepdims=True)
            return r * h + (w / S) * dmu + (2.0 / S) * dv * w * xc

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, momentum=self.momentum, **self._affine_config(),
                   moving_mean_initializer=_init.serialize(self.moving_mean_initializer),
                   moving_variance_initializer=_init.serialize(self.moving_variance_initializer))
        return cfg

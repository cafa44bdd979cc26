"""Regularization layers: SpatialDropout1D, GaussianNoise, GaussianDropout and
ActivityRegularization (Keras 3's arguments and defaults).

The random ones act only with ``training=True`` and are the identity otherwise; their noise is
drawn from ``seed``'s own generator when given, else from rnnlab's global one.  Each multiplies
or shifts its input by noise that does not depend on it, so the backward pass applies the same
noise to the upstream gradient: ``y = x·k ⇒ dx = dy·k`` and ``y = x + e ⇒ dx = dy``.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import checks, config
from rnnlab import regularizers as _reg
from rnnlab.layers.base import Layer
from rnnlab.layers.core import Dropout


class _Noise(Layer):
    """A layer whose training-mode noise comes from ``seed`` (or the global generator)."""

    def _set_seed(self, seed):
        self.seed = checks.seed(seed, who=f"Layer {self.name!r} ({type(self).__name__})")
        self._rng = config.make_rng(self.seed) if self.seed is not None else None

    def _reseed_for_check(self, seed: int) -> None:
        """The same draws at every evaluation of a finite-difference check."""
        self._rng = np.random.default_rng(seed)

    def _generator(self):
        return self._rng or config.rng()


class SpatialDropout1D(_Noise, Dropout):
    """Dropout of whole feature maps: on an input (N, T, C) one keep/drop draw per sample and
    channel, shared by every step (noise shape (N, 1, C)); kept values are scaled by
    1/(1 - rate)."""

    def __init__(self, rate, seed=None, **kwargs):
        if "noise_shape" in kwargs:
            raise TypeError("SpatialDropout1D got unexpected keyword argument 'noise_shape': its "
                            "noise shape is always (batch, 1, channels) (as Keras 3)")
        Dropout.__init__(self, rate, seed=seed, **kwargs)
        self._set_seed(seed)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x, ndim=3)
        if not training or self.rate == 0.0:
            return x, lambda dy: dy
        shape = (x.shape[0], 1, x.shape[2])
        keep = (self._generator().random(shape) >= self.rate).astype(x.dtype)
        keep /= x.dtype.type(1.0 - self.rate)
        return x * keep, lambda dy: dy * keep

    def get_config(self):
        cfg = Layer.get_config(self)
        cfg.update(rate=self.rate, seed=self.seed)
        return cfg


class GaussianNoise(_Noise):
    """``y = x + e`` with e ~ N(0, stddev²) drawn anew at each training call (stddev in [0, 1],
    as Keras checks)."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        who = f"Layer {self.name!r} (GaussianNoise)"
        self.stddev = checks.number(stddev, "stddev", who=who)
        if not 0.0 <= self.stddev <= 1.0:
            raise ValueError(f"{who} stddev must be in [0, 1], got {stddev!r}")
        self._set_seed(seed)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        if not training or self.stddev == 0.0:
            return x, lambda dy: dy
        noise = self._generator().normal(0.0, self.stddev, size=x.shape).astype(x.dtype)
        return x + noise, lambda dy: dy

    def get_config(self):
        cfg = super().get_config()
        cfg.update(stddev=self.stddev, seed=self.seed)
        return cfg


class GaussianDropout(_Noise):
    """``y = x·k`` with k ~ N(1, rate / (1 - rate)) per entry at each training call (the same
    mean and variance as dropout's scaled keep mask)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = checks.rate(rate, "rate", who=f"Layer {self.name!r} (GaussianDropout)")
        self._set_seed(seed)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        if not training or self.rate == 0.0:
            return x, lambda dy: dy
        std = math.sqrt(self.rate / (1.0 - self.rate))
        k = self._generator().normal(1.0, std, size=x.shape).astype(x.dtype)
        return x * k, lambda dy: dy * k

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, seed=self.seed)
        return cfg


class ActivityRegularization(Layer):
    """The identity, with the activity penalty ``(l1·Σ|x| + l2·Σx²) / batch size`` added to the
    loss (Keras 3's ``activity_regularizer=L1L2(l1, l2)``; see Layer.regularize_activity)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):  # noqa: E741 - Keras's names
        who = "ActivityRegularization"
        if "activity_regularizer" in kwargs:
            raise TypeError(f"{who} makes its activity_regularizer from l1 and l2; give those "
                            "instead")
        l1 = checks.number(l1, "l1", who=who)
        l2 = checks.number(l2, "l2", who=who)
        super().__init__(activity_regularizer=_reg.Regularizer(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def forward(self, x, training=False, mask=None):
        return x, lambda dy: dy

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("activity_regularizer", None)
        cfg.update(l1=self.l1, l2=self.l2)
        return cfg

"""Reshaping layers: Reshape, RepeatVector, Permute, Cropping1D, ZeroPadding1D, and Masking.

Shapes given to the constructors exclude the batch axis (as in Keras).  These layers move values
around without arithmetic, so each backward pass is the inverse rearrangement of ``dy`` (a sum over
the copies for RepeatVector).  Except for Masking, which creates a mask, they drop any incoming
mask (Keras's layers without mask support do the same).
"""
from __future__ import annotations

import numpy as np

from rnnlab.checks import is_int as _is_int
from rnnlab.layers.base import Layer


def _pair(value, what: str) -> tuple[int, int]:
    """An int ``n`` (meaning ``(n, n)``) or a pair of non-negative ints."""
    pair = (value, value) if _is_int(value) else value
    if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(_is_int(v) and v >= 0
                                                                       for v in pair):
        raise ValueError(f"{what} must be a non-negative integer or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (batch axis kept); one entry may be -1 (inferred)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(target_shape, (list, tuple)) or not all(_is_int(d) for d in target_shape):
            raise TypeError(f"Reshape target_shape must be a tuple of integers, got "
                            f"{target_shape!r}")
        target = tuple(int(d) for d in target_shape)
        if any(d < 1 and d != -1 for d in target):
            raise ValueError(f"Reshape target_shape entries must be positive or -1, got {target}")
        if target.count(-1) > 1:
            raise ValueError(f"Reshape target_shape may contain at most one -1, got {target}")
        self.target_shape = target

    def _resolve(self, inner) -> tuple:
        """The output's non-batch shape for a non-batch input shape (entries may be None)."""
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if any(d is None for d in inner):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(inner))
        where = f"Layer {self.name!r} (Reshape)"
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"{where}: cannot reshape an input of shape {(None, *inner)} "
                                 f"({size} values per sample) to target_shape "
                                 f"{self.target_shape}: {size} is not a multiple of {known}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if size != known:
            raise ValueError(f"{where}: cannot reshape an input of shape {(None, *inner)} ({size} "
                             f"values per sample) to target_shape {self.target_shape} ({known} "
                             f"values)")
        return self.target_shape

    def build(self, input_shape):
        self._resolve(tuple(input_shape)[1:])
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape)[1:])

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x, min_ndim=1)
        shape = x.shape
        y = x.reshape((shape[0],) + self._resolve(shape[1:]))
        return y, lambda dy: np.asarray(dy).reshape(shape)

    def compute_mask(self, x, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg["target_shape"] = list(self.target_shape)
        return cfg


class RepeatVector(Layer):
    """Repeat a ``(N, d)`` input n times into ``(N, n, d)``; backward sums ``dy`` over axis 1."""

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n):
            raise TypeError(f"RepeatVector n must be an integer, got {n!r}")
        if n < 1:
            raise ValueError(f"RepeatVector n must be positive, got {n}")
        self.n = int(n)

    def _check_rank(self, shape):
        if len(shape) != 2:
            raise ValueError(f"Layer {self.name!r} (RepeatVector) expects inputs of rank 2 "
                             f"(batch, features), got shape {tuple(shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        self._check_rank(x.shape)
        y = np.repeat(x[:, None, :], self.n, axis=1)
        return y, lambda dy: np.asarray(dy).sum(axis=1)

    def compute_mask(self, x, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg["n"] = self.n
        return cfg


class Permute(Layer):
    """Permute the non-batch axes: ``dims`` is a permutation of ``1..k`` (1-indexed, as Keras).

    Backward applies the inverse permutation to ``dy``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or not all(_is_int(d) for d in dims):
            raise TypeError(f"Permute dims must be a tuple of integers, got {dims!r}")
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute dims must be a permutation of 1..{len(dims)} (the batch "
                             f"axis 0 stays first), got {dims}")
        self.dims = dims

    def _check_rank(self, shape):
        if len(shape) != len(self.dims) + 1:
            raise ValueError(f"Layer {self.name!r} (Permute) with dims {self.dims} expects inputs "
                             f"of rank {len(self.dims) + 1}, got shape {tuple(shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        self._check_rank(x.shape)
        perm = (0,) + self.dims
        inverse = tuple(np.argsort(perm))
        return x.transpose(perm), lambda dy: np.asarray(dy).transpose(inverse)

    def compute_mask(self, x, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg["dims"] = list(self.dims)
        return cfg


class Masking(Layer):
    """Mask the time steps whose features all equal ``mask_value`` (Keras's Masking).

    ``keep = any(x != mask_value, axis=-1)`` is the output mask, shape ``(N, T)``; the output is
    ``x · keep`` (masked steps become 0).  ``keep`` is piecewise constant, so ``dx = dy · keep``
    (what automatic differentiation of Keras's formula gives).  An incoming mask is ignored.
    """

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise TypeError(f"Masking mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def _keep(self, x):
        return np.any(x != self.mask_value, axis=-1, keepdims=True)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x, min_ndim=2)
        keep = self._keep(x).astype(x.dtype)
        return x * keep, lambda dy: dy * keep

    def compute_mask(self, x, mask=None):
        x = self._float_input(x, min_ndim=2)
        return self._keep(x)[..., 0]

    def get_config(self):
        cfg = super().get_config()
        cfg["mask_value"] = self.mask_value
        return cfg


class Cropping1D(Layer):
    """Drop ``cropping = (start, end)`` steps from the time axis of a ``(N, T, d)`` input.

    Backward pads ``dy`` with zeros where the steps were dropped.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair(cropping, "Cropping1D cropping")

    def _length(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Layer {self.name!r} (Cropping1D) expects inputs of rank 3 "
                             f"(batch, steps, features), got shape {tuple(shape)}")
        t = shape[1]
        if t is None:
            return None
        if sum(self.cropping) >= t:
            raise ValueError(f"Layer {self.name!r} (Cropping1D): cropping {self.cropping} leaves "
                             f"no steps of an input of shape {tuple(shape)}")
        return t - sum(self.cropping)

    def build(self, input_shape):
        self._length(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self._length(input_shape), input_shape[2])

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        length = self._length(x.shape)
        a = self.cropping[0]
        y = x[:, a:a + length]
        pads = ((0, 0), self.cropping, (0, 0))
        return y, lambda dy: np.pad(np.asarray(dy), pads)

    def compute_mask(self, x, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg["cropping"] = list(self.cropping)
        return cfg


class ZeroPadding1D(Layer):
    """Add ``padding = (start, end)`` zero steps to the time axis of a ``(N, T, d)`` input.

    Backward keeps the part of ``dy`` that belongs to the original steps.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair(padding, "ZeroPadding1D padding")

    def _check_rank(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Layer {self.name!r} (ZeroPadding1D) expects inputs of rank 3 "
                             f"(batch, steps, features), got shape {tuple(shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        t = input_shape[1]
        return (input_shape[0], None if t is None else t + sum(self.padding), input_shape[2])

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        self._check_rank(x.shape)
        a, t = self.padding[0], x.shape[1]
        y = np.pad(x, ((0, 0), self.padding, (0, 0)))
        return y, lambda dy: np.array(np.asarray(dy)[:, a:a + t])

    def compute_mask(self, x, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg["padding"] = list(self.padding)
        return cfg

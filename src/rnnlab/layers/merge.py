"""Merge layers: combine a list of inputs into one output (Keras's ``keras.layers`` merging layers).

A merge layer receives a *list* of arrays in ``forward(xs, training, mask)`` and its backward
closure returns a list of input gradients.  ``build`` and ``compute_output_shape`` take a list of
shapes (batch axis included, None where free).  Shapes are checked at build time and again on
every call; errors name the layer and the offending shapes.

Element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum) broadcast as Keras does:
non-batch axes are aligned from the right, a size-1 axis stretches, and an input of lower rank gets
size-1 axes inserted right after the batch axis.  Batch sizes must be equal.  Their output mask is
the logical AND of the input masks that are present (None when no input has one), as in
``tensorflow.keras``; the mask does not change the merged values.
"""
from __future__ import annotations

import numpy as np

from rnnlab.checks import format_shape as _fmt
from rnnlab.checks import is_int
from rnnlab.layers.base import Layer

#: ``tf.nn.l2_normalize``'s floor on the squared norm (used by Dot(normalize=True)).
L2_EPSILON = 1e-12


def _is_shape(s) -> bool:
    return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer))
                                                for d in s)


def _unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient of the broadcast output shape back onto an input of ``shape``.

    The input was viewed as ``(N, 1, ..., 1, *shape[1:])`` (size-1 axes after the batch axis up to
    the output's rank); every axis where that view has size 1 but the output does not is summed.
    """
    view = (shape[0],) + (1,) * (g.ndim - len(shape)) + tuple(shape[1:])
    axes = tuple(i for i in range(g.ndim) if view[i] == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.array(g.reshape(shape))  # a fresh, writable array: never alias dy or a sibling


class _Merge(Layer):
    """Base of the merge layers: input-count and shape validation, mask merging, config."""

    _min_inputs = 2
    _max_inputs: int | None = None
    _verb = "merged"

    def _where(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    def _count_text(self) -> str:
        if self._max_inputs == self._min_inputs:
            return f"exactly {self._min_inputs}"
        return f"at least {self._min_inputs}"

    def _check_count(self, n: int) -> None:
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            raise ValueError(f"{self._where()} should be called on a list of {self._count_text()} "
                             f"inputs, got {n}")

    def _shape_list(self, input_shape) -> list[tuple]:
        """Validate a list of shapes (for build / compute_output_shape)."""
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) == 0 \
                or _is_shape(input_shape):
            raise ValueError(f"{self._where()} should be called on a list of "
                             f"{self._count_text()} inputs, got a single input of shape "
                             f"{input_shape}")
        shapes = []
        for s in input_shape:
            if not _is_shape(s) or len(s) < 1:
                raise ValueError(f"{self._where()}: every input shape must be a tuple with a batch "
                                 f"axis, got {s!r} in {input_shape!r}")
            shapes.append(tuple(None if d is None else int(d) for d in s))
        self._check_count(len(shapes))
        return shapes

    def _inputs(self, xs) -> list[np.ndarray]:
        """Validate the list of input arrays of a call and cast them to the layer's float type."""
        if not isinstance(xs, (list, tuple)):
            shape = np.shape(xs)
            raise ValueError(f"{self._where()} should be called on a list of "
                             f"{self._count_text()} inputs, got a single array of shape {shape}")
        self._check_count(len(xs))
        return [self._float_input(x, min_ndim=1, what=f"input {i}") for i, x in enumerate(xs)]

    def build(self, input_shape):
        self._output_shape(self._shape_list(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._output_shape(self._shape_list(input_shape))

    def _output_shape(self, shapes: list[tuple]) -> tuple:
        raise NotImplementedError

    def _batch(self, shapes: list[tuple]):
        known = [s for s in shapes if s[0] is not None]
        for s in known[1:]:
            if s[0] != known[0][0]:
                raise ValueError(f"{self._where()}: inputs have shapes {_fmt(known[0])} and "
                                 f"{_fmt(s)}, whose batch sizes differ")
        return known[0][0] if known else None

    def _check_mask_list(self, xs, mask):
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"{self._where()}: the mask of a merge layer must be a list with one "
                             f"entry (array or None) per input, got {type(mask).__name__}")
        if isinstance(xs, (list, tuple)) and len(mask) != len(xs):
            raise ValueError(f"{self._where()}: got {len(xs)} inputs but {len(mask)} masks")

    def compute_mask(self, xs, mask=None):
        """Logical AND of the masks that are present; None when no input carries a mask."""
        if mask is None:
            return None
        self._check_mask_list(xs, mask)
        present = [np.asarray(m, dtype=bool) for m in mask if m is not None]
        if not present:
            return None
        out = present[0]
        for m in present[1:]:
            try:
                out = np.logical_and(out, m)
            except ValueError:
                raise ValueError(f"{self._where()}: input masks of shapes {out.shape} and "
                                 f"{m.shape} cannot be combined") from None
        return out


class _ElementwiseMerge(_Merge):
    """An element-wise merge with Keras's broadcasting (see the module docstring)."""

    def _output_shape(self, shapes):
        batch = self._batch(shapes)
        out = list(shapes[0][1:])
        for j, s in enumerate(shapes[1:], start=1):
            merged = self._pair(out, list(s[1:]))
            if merged is None:
                # Report the pair of original inputs that clash (else the accumulated shape).
                other = next((shapes[i] for i in range(j)
                              if self._pair(list(shapes[i][1:]), list(s[1:])) is None),
                             (batch,) + tuple(out))
                raise ValueError(f"{self._where()}: inputs have shapes {_fmt(other)} and "
                                 f"{_fmt(s)}, which cannot be {self._verb}")
            out = merged
        return (batch,) + tuple(out)

    @staticmethod
    def _pair(a: list, b: list):
        """Broadcast two non-batch shapes (right-aligned, size 1 stretches); None if they clash."""
        if len(a) < len(b):
            a, b = b, a
        out = list(a[:len(a) - len(b)])
        for i, j in zip(a[len(a) - len(b):], b):
            if i is None or j is None:
                out.append(j if i == 1 else i if j == 1 else None)
            elif i == 1 or j == 1 or i == j:
                out.append(max(i, j) if 1 in (i, j) else i)
            else:
                return None
        return out

    def _combine(self, xs: list[np.ndarray]):
        """Return ``(y, grads)`` where ``grads(dy)`` gives each input's gradient (output-shaped)."""
        raise NotImplementedError

    def forward(self, xs, training=False, mask=None):
        xs = self._inputs(xs)
        self._output_shape([x.shape for x in xs])
        rank = max(x.ndim for x in xs)
        views = [x.reshape((x.shape[0],) + (1,) * (rank - x.ndim) + x.shape[1:]) for x in xs]
        y, grads = self._combine(views)
        shapes = [x.shape for x in xs]

        def backward(dy):
            dy = np.broadcast_to(dy, y.shape)
            return [_unbroadcast(np.broadcast_to(g, y.shape), s) for g, s in zip(grads(dy), shapes)]

        return y, backward


class Add(_ElementwiseMerge):
    """``y = Σ x_i``; each input's gradient is ``dy`` (summed over broadcast axes)."""

    _verb = "added"

    def _combine(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y, lambda dy: [dy] * len(xs)


class Subtract(_ElementwiseMerge):
    """``y = x_0 - x_1`` (exactly two inputs); gradients ``dy`` and ``-dy``."""

    _min_inputs = 2
    _max_inputs = 2
    _verb = "subtracted"

    def _combine(self, xs):
        return xs[0] - xs[1], lambda dy: [dy, -dy]


class Multiply(_ElementwiseMerge):
    """``y = Π x_i``; ``dx_i = dy · Π_{j≠i} x_j`` (the product of the others, so zeros are safe)."""

    _verb = "multiplied"

    def _combine(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y * x

        def grads(dy):
            out = []
            for i in range(len(xs)):
                g = dy
                for j, x in enumerate(xs):
                    if j != i:
                        g = g * x
                out.append(g)
            return out

        return y, grads


class Average(_ElementwiseMerge):
    """``y = (1/k) Σ x_i``; each input's gradient is ``dy / k``."""

    _verb = "averaged"

    def _combine(self, xs):
        k = len(xs)
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        y = y / k
        return y, lambda dy: [dy / k] * k


class _Extremum(_ElementwiseMerge):
    """Element-wise max/min; the gradient goes to the winning input (the first one on ties, as
    Keras's chain ``maximum(maximum(x0, x1), x2)`` with TensorFlow's ``x >= y`` gradient rule)."""

    _verb = "compared element-wise"
    _pick = staticmethod(np.argmax)

    def _combine(self, xs):
        stacked = np.stack(np.broadcast_arrays(*xs))
        idx = self._pick(stacked, axis=0)
        y = np.take_along_axis(stacked, idx[None], axis=0)[0]
        return y, lambda dy: [np.where(idx == i, dy, 0.0).astype(y.dtype) for i in range(len(xs))]


class Maximum(_Extremum):
    """``y = max_i x_i`` element-wise; ``dx_i = dy`` where input i is the (first) maximum."""

    _pick = staticmethod(np.argmax)


class Minimum(_Extremum):
    """``y = min_i x_i`` element-wise; ``dx_i = dy`` where input i is the (first) minimum."""

    _pick = staticmethod(np.argmin)


class Concatenate(_Merge):
    """Join inputs along ``axis`` (an axis of the full shape, batch included; -1 is the last).

    All inputs share their rank and every size but the one along ``axis``.  The backward pass
    splits ``dy`` at the same boundaries.  The output mask follows Keras: each input's mask
    (all-True when absent) is broadcast to the input's shape, the masks are concatenated along
    ``axis`` and reduced with AND over the last axis — so concatenating features (axis -1) ANDs the
    masks, and concatenating time steps (axis 1) concatenates them.
    """

    _verb = "concatenated"

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if not is_int(axis):
            raise TypeError(f"Concatenate axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def _resolve_axis(self, rank: int) -> int:
        if not -rank <= self.axis < rank:
            raise ValueError(f"{self._where()}: axis {self.axis} is out of range for inputs of "
                             f"rank {rank}")
        return self.axis % rank

    def _output_shape(self, shapes):
        for s in shapes[1:]:
            if len(s) != len(shapes[0]):
                raise ValueError(f"{self._where()}: inputs have shapes {_fmt(shapes[0])} and "
                                 f"{_fmt(s)}, which cannot be concatenated along axis "
                                 f"{self.axis} (their ranks differ)")
        rank = len(shapes[0])
        ax = self._resolve_axis(rank)
        out = []
        for d in range(rank):
            if d == ax:
                sizes = [s[d] for s in shapes]
                out.append(None if None in sizes else sum(sizes))
                continue
            first = None
            for s in shapes:
                if s[d] is None:
                    continue
                if first is None:
                    first = s
                elif s[d] != first[d]:
                    raise ValueError(
                        f"{self._where()}: inputs have shapes {_fmt(first)} and {_fmt(s)}, which "
                        f"cannot be concatenated along axis {self.axis} (every other axis must "
                        f"match)")
            out.append(None if first is None else first[d])
        return tuple(out)

    def forward(self, xs, training=False, mask=None):
        xs = self._inputs(xs)
        self._output_shape([x.shape for x in xs])
        ax = self._resolve_axis(xs[0].ndim)
        y = np.concatenate(xs, axis=ax)
        bounds = np.cumsum([x.shape[ax] for x in xs])[:-1]
        return y, lambda dy: np.split(dy, bounds, axis=ax)

    def compute_mask(self, xs, mask=None):
        if mask is None:
            return None
        self._check_mask_list(xs, mask)
        if all(m is None for m in mask):
            return None
        xs = [np.asarray(x) for x in xs]
        ax = self._resolve_axis(xs[0].ndim)
        masks = []
        for i, (x, m) in enumerate(zip(xs, mask)):
            if m is None:
                masks.append(np.ones(x.shape, dtype=bool))
                continue
            m = np.asarray(m, dtype=bool)
            if m.ndim < x.ndim:
                if m.shape != x.shape[:m.ndim] or m.ndim != x.ndim - 1:
                    raise ValueError(f"{self._where()}: mask {i} of shape {m.shape} does not fit "
                                     f"input {i} of shape {x.shape}")
                m = np.broadcast_to(m[..., None], x.shape)
            masks.append(m)
        return np.concatenate(masks, axis=ax).all(axis=-1)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


def l2_normalize(x: np.ndarray, axis: int, epsilon: float = L2_EPSILON):
    """``n = x / sqrt(max(Σ x², ε))`` along ``axis`` (``tf.nn.l2_normalize``) and its backward.

    With ``s = Σ x²`` and ``r = s^(-1/2)``: where ``s >= ε``,
    ``∂n_i/∂x_j = r δ_ij - x_i x_j r³``, so ``dx = r (dn - n Σ(dn·n))``; where ``s < ε`` the
    scale is the constant ``ε^(-1/2)`` and ``dx = dn / sqrt(ε)``.  (TensorFlow's ``maximum``
    sends the gradient to ``s`` when ``s >= ε``.)
    """
    s = np.sum(x * x, axis=axis, keepdims=True)
    big = s >= epsilon
    denom = np.sqrt(np.maximum(s, epsilon))
    n = x / denom

    def backward(dn):
        proj = np.sum(dn * n, axis=axis, keepdims=True)
        return (dn - np.where(big, n * proj, 0.0)) / denom

    return n, backward


class Dot(_Merge):
    """Batch-wise dot product of two inputs along ``axes`` (Keras's ``batch_dot``).

    ``axes`` is an int (the same axis of both inputs) or a pair; axis 0 (batch) is not allowed.
    For each sample, the output is ``tensordot(x[n], y[n])`` over the chosen axes: shape ``x``'s
    remaining axes followed by ``y``'s, or ``(N, 1)`` when nothing remains.  With
    ``normalize=True`` both inputs are first L2-normalised along their axis (:func:`l2_normalize`),
    so two vectors give their cosine similarity.

    Backward: with ``x`` viewed as ``X (N, p, d)`` and ``y`` as ``Y (N, d, q)``, ``Z = X Y``,
    ``dX = dZ Yᵀ`` and ``dY = Xᵀ dZ``, then the normalisation's backward when enabled.
    """

    _min_inputs = 2
    _max_inputs = 2

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(is_int(a) for a in axes):
                raise ValueError(f"Dot axes must be an integer or a pair of integers, got {axes!r}")
            self.axes = (int(axes[0]), int(axes[1]))
        elif is_int(axes):
            self.axes = int(axes)
        else:
            raise TypeError(f"Dot axes must be an integer or a pair of integers, got {axes!r}")
        self.normalize = bool(normalize)

    def _resolve_axes(self, r1: int, r2: int) -> tuple[int, int]:
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        out = []
        for a, r, which in zip(pair, (r1, r2), ("first", "second")):
            if not -r <= a < r:
                raise ValueError(f"{self._where()}: axis {a} is out of range for the {which} "
                                 f"input of rank {r}")
            a %= r
            if a == 0:
                raise ValueError(f"{self._where()}: cannot take the dot product over the batch "
                                 f"axis 0 (axes={self.axes})")
            out.append(a)
        return out[0], out[1]

    def _output_shape(self, shapes):
        s1, s2 = shapes
        for s in shapes:
            if len(s) < 2:
                raise ValueError(f"{self._where()}: inputs must have rank >= 2 (batch axis and at "
                                 f"least one more), got shapes {_fmt(s1)} and {_fmt(s2)}")
        batch = self._batch(shapes)
        a1, a2 = self._resolve_axes(len(s1), len(s2))
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"{self._where()}: inputs have shapes {_fmt(s1)} and {_fmt(s2)}, "
                             f"which cannot be dotted along axes ({a1}, {a2}): sizes "
                             f"{s1[a1]} != {s2[a2]}")
        rest = tuple(d for i, d in enumerate(s1) if i not in (0, a1)) + \
            tuple(d for i, d in enumerate(s2) if i not in (0, a2))
        return (batch,) + (rest or (1,))

    def forward(self, xs, training=False, mask=None):
        xs = self._inputs(xs)
        x, y = xs
        out_shape = self._output_shape([x.shape, y.shape])
        a1, a2 = self._resolve_axes(x.ndim, y.ndim)
        back_x = back_y = None
        if self.normalize:
            x, back_x = l2_normalize(x, a1)
            y, back_y = l2_normalize(y, a2)
        xm = np.moveaxis(x, a1, -1)           # (N, P..., d)
        ym = np.moveaxis(y, a2, 1)            # (N, d, Q...)
        n, d = xm.shape[0], xm.shape[-1]
        p = int(np.prod(xm.shape[1:-1]))
        q = int(np.prod(ym.shape[2:]))
        X = xm.reshape(n, p, d)
        Y = ym.reshape(n, d, q)
        Z = X @ Y
        out = Z.reshape(out_shape)

        def backward(dout):
            dZ = np.asarray(dout).reshape(Z.shape)
            dX = (dZ @ Y.transpose(0, 2, 1)).reshape(xm.shape)
            dY = (X.transpose(0, 2, 1) @ dZ).reshape(ym.shape)
            dx = np.moveaxis(dX, -1, a1)
            dy = np.moveaxis(dY, 1, a2)
            if back_x is not None:
                dx, dy = back_x(dx), back_y(dy)
            return [dx, dy]

        return out, backward

    def compute_mask(self, xs, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axes=self.axes if isinstance(self.axes, int) else list(self.axes),
                   normalize=self.normalize)
        return cfg

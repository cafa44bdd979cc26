"""Losses with Keras's names, formulas and reduction, each returning its gradient.

A loss is reduced over the last axis of the prediction (Keras's per-sample loss), then averaged over
every remaining entry (samples, and time steps when the model outputs sequences), the weighted
entries summed and divided by their count ("sum_over_batch_size").  ``loss(y_true, y_pred, w)``
returns ``(value, dL/dy_pred)``.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.registry import Registry

EPSILON = 1e-7


def align_target(y_true: np.ndarray, y_pred_shape: tuple, sparse: bool = False, name: str = "loss"):
    """Bring targets to the prediction's shape, as tf.keras 2 did for the lecture's models.

    (N,) or (N, 1) targets against (N, 1) or (N, T, 1) predictions broadcast over time; sparse
    (integer class) targets take the prediction's shape without its last axis.
    """
    y = np.asarray(y_true)
    want = tuple(y_pred_shape[:-1]) if sparse else tuple(y_pred_shape)
    if y.shape == want:
        return y
    if sparse and y.shape == want + (1,):
        return y[..., 0]
    n = y_pred_shape[0]
    if y.ndim >= 1 and y.shape[0] == n:
        tail = y.shape[1:]
        squeezable = all(s == 1 for s in tail)
        if squeezable and (sparse or y_pred_shape[-1] == 1):
            return np.broadcast_to(y.reshape((n,) + (1,) * (len(want) - 1)), want)
        if not sparse and len(y_pred_shape) == 3 and tail == (y_pred_shape[-1],):
            return np.broadcast_to(y[:, None, :], want)  # one target per sample, over time
    raise ValueError(f"Targets of shape {y.shape} are not compatible with model output of shape "
                     f"{tuple(y_pred_shape)} for loss {name!r}")


class Loss:
    """Base of every loss: per-entry values and their gradient, reduced here once.

    A loss is written as a subclass with one method, ``_values_and_grad(y, p)``, where ``p`` is
    the prediction (N, ..., D) and ``y`` the target already brought to ``p``'s shape (integer
    class ids of shape p.shape[:-1] if the class sets ``sparse = True``).  It returns

    - ``values``: the loss of each entry, reduced over the last axis, shape ``p.shape[:-1]``;
    - ``grad``: ``d values / d p``, shape ``p.shape``: the derivative of each entry's value with
      respect to its own prediction row (entries do not interact, so this is all there is).

    The base multiplies by the sample weights and divides by the number of entries (Keras's
    "sum_over_batch_size"), for the value and the gradient alike.  ``check_targets`` may refuse
    targets before training starts; ``get_config`` returns the constructor's arguments, and
    ``@rnnlab.registry.register_serializable()`` makes the class savable with a model::

        @register_serializable()
        class Quartic(Loss):           # L = mean_d (p - y)^4;  dL/dp = 4 (p - y)^3 / D
            name = "quartic"

            def _values_and_grad(self, y, p):
                e = p - y
                return np.mean(e ** 4, axis=-1), 4.0 * e ** 3 / p.shape[-1]

        rnnlab.testing.check_loss_gradient(Quartic(), y, p)   # finite differences agree
        model.compile(optimizer="adam", loss=Quartic())

    A plain function ``f(y_true, y_pred)`` cannot be a loss here: training needs its gradient,
    which only the subclass gives.
    """

    name = "loss"
    sparse = False

    def __call__(self, y_true, y_pred, sample_weight=None):
        """``(value, dvalue/dy_pred)`` of the weighted mean over every entry."""
        y_true = align_target(y_true, y_pred.shape, self.sparse, self.name)
        values, grad = self._values_and_grad(y_true, y_pred)  # values: y_pred.shape[:-1]
        count = values.size
        if sample_weight is not None:   # (N,) per sample, or (N, T) per step of a sequence
            w = np.asarray(sample_weight, dtype=values.dtype)
            w = np.broadcast_to(w.reshape(w.shape + (1,) * (values.ndim - w.ndim)), values.shape)
            values = values * w
            grad = grad * w[..., None]
        return float(values.sum() / max(count, 1)), (grad / max(count, 1)).astype(y_pred.dtype,
                                                                               copy=False)

    def _values_and_grad(self, y, p):
        raise NotImplementedError(f"{type(self).__name__} must define _values_and_grad(y, p) "
                                  "returning (per-entry values, d values / d p)")

    def check_targets(self, y_true, y_pred_shape) -> None:
        """Refuse targets this loss has no meaning for, over the whole array, before training
        starts (so a bad label in a late batch cannot stop a fit half-way).  Shapes are checked
        by :func:`align_target`; finiteness and real dtypes by the training loop."""

    def get_config(self):
        return {}


class MeanSquaredError(Loss):
    """L = mean_d (y - p)²;  dL/dp = 2 (p - y) / D."""
    name = "mean_squared_error"

    def _values_and_grad(self, y, p):
        d = p - y
        return np.mean(d * d, axis=-1), 2.0 * d / p.shape[-1]


class MeanAbsoluteError(Loss):
    """L = mean_d |y - p|;  dL/dp = sign(p - y) / D."""
    name = "mean_absolute_error"

    def _values_and_grad(self, y, p):
        d = p - y
        return np.mean(np.abs(d), axis=-1), np.sign(d) / p.shape[-1]


class Huber(Loss):
    """½e² for |e| ≤ δ, δ(|e| - ½δ) beyond;  gradient clip(e, -δ, δ) / D."""
    name = "huber"

    def __init__(self, delta: float = 1.0):
        self.delta = float(delta)

    def _values_and_grad(self, y, p):
        e = p - y
        a = np.abs(e)
        quad = np.minimum(a, self.delta)
        values = 0.5 * quad * quad + self.delta * (a - quad)
        return np.mean(values, axis=-1), np.clip(e, -self.delta, self.delta) / p.shape[-1]

    def get_config(self):
        return {"delta": self.delta}


class BinaryCrossentropy(Loss):
    """L = -[y log p + (1 - y) log(1 - p)] with p clipped to [ε, 1 - ε] (Keras's ε = 1e-7).

    dL/dp = (p - y) / (p (1 - p)) inside the clip, 0 outside.  With ``from_logits`` p = σ(z) and
    dL/dz = σ(z) - y, computed stably.
    """
    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def _values_and_grad(self, y, p):
        y = y.astype(p.dtype)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        D = p.shape[-1]
        if self.from_logits:
            values = np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))
            sig = 0.5 * (1.0 + np.tanh(0.5 * p))
            return np.mean(values, axis=-1), (sig - y) / D
        pc = np.clip(p, EPSILON, 1.0 - EPSILON)
        qc = 1.0 - pc
        values = -(y * np.log(pc) + (1.0 - y) * np.log(qc))
        # inside the clip exactly where clipping left p unchanged (NaN: outside, as p >= ε is)
        grad = np.where(pc == p, (pc - y) / (pc * qc), 0.0)
        return (values[..., 0] if D == 1 else np.mean(values, axis=-1)), grad / D

    def check_targets(self, y_true, y_pred_shape):
        y = np.asarray(y_true)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"binary_crossentropy targets must be in [0, 1] (labels or "
                             f"probabilities), got values from {y.min()} to {y.max()}")

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """L = -Σ y log(p / Σp) (p clipped); with from_logits p = softmax(z), dL/dz = softmax(z)·Σy - y.
    """
    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def _values_and_grad(self, y, p):
        y = y.astype(p.dtype)
        if self.from_logits:
            z = p - p.max(axis=-1, keepdims=True)
            logsum = np.log(np.exp(z).sum(axis=-1, keepdims=True))
            logp = z - logsum
            sm = np.exp(logp)
            return -(y * logp).sum(-1), sm * y.sum(-1, keepdims=True) - y
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        qc = np.clip(q, EPSILON, 1.0 - EPSILON)
        values = -(y * np.log(qc)).sum(-1)
        inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
        dq = np.where(inside, -y / qc, 0.0)
        # q = p / s: dL/dp = (dq - Σ dq·q) / s
        grad = (dq - (dq * q).sum(-1, keepdims=True)) / s
        return values, grad

    def get_config(self):
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer class targets."""
    name = "sparse_categorical_crossentropy"
    sparse = True

    def check_targets(self, y_true, y_pred_shape):
        k = y_pred_shape[-1]
        yi = np.asarray(y_true)
        if not yi.size:
            return
        if not np.issubdtype(yi.dtype, np.integer) and not np.all(np.equal(np.mod(yi, 1), 0)):
            bad = yi[np.mod(yi, 1) != 0].flat[0]
            raise ValueError(f"sparse_categorical_crossentropy targets must be integer class "
                             f"ids, got the non-integer value {bad}")
        if yi.min() < 0 or yi.max() >= k:
            raise ValueError(f"sparse_categorical_crossentropy targets must be class ids in "
                             f"[0, {k}) for a model with {k} outputs, got values from "
                             f"{yi.min()} to {yi.max()}")

    def _values_and_grad(self, y, p):
        self.check_targets(y, p.shape)
        onehot = np.eye(p.shape[-1], dtype=p.dtype)[np.asarray(y).astype(np.int64)]
        return super()._values_and_grad(onehot, p)


class KLDivergence(Loss):
    """Kullback-Leibler divergence, Keras's clipping: with ỹ = clip(y, ε, 1), p̃ = clip(p, ε, 1),

        L = Σ_d ỹ log(ỹ / p̃);   dL/dp = -ỹ / p̃ where ε ≤ p ≤ 1 (the clip passes p), else 0.

    Summed (not averaged) over the last axis, as keras.losses.kl_divergence.
    """
    name = "kl_divergence"

    def _values_and_grad(self, y, p):
        yc = np.clip(y.astype(p.dtype), EPSILON, 1.0)
        pc = np.clip(p, EPSILON, 1.0)
        values = (yc * np.log(yc / pc)).sum(axis=-1)
        return values, np.where(pc == p, -yc / pc, 0.0)


class MeanSquaredLogarithmicError(Loss):
    """With a = log(max(p, ε) + 1) and b = log(max(y, ε) + 1) (Keras's floor ε = 1e-7),

        L = mean_d (a - b)²;   dL/dp = 2 (a - b) / (max(p, ε) + 1) / D where p ≥ ε, else 0.
    """
    name = "mean_squared_logarithmic_error"

    def _values_and_grad(self, y, p):
        pm = np.maximum(p, EPSILON)
        d = np.log(pm + 1.0) - np.log(np.maximum(y.astype(p.dtype), EPSILON) + 1.0)
        grad = np.where(p >= EPSILON, 2.0 * d / (pm + 1.0), 0.0) / p.shape[-1]
        return np.mean(d * d, axis=-1), grad


class Poisson(Loss):
    """L = mean_d (p - y log(p + ε));   dL/dp = (1 - y / (p + ε)) / D.

    For rates: predictions must stay above -ε (a softplus or exponential output), else the log
    is undefined and the value NaN, as in Keras.
    """
    name = "poisson"

    def _values_and_grad(self, y, p):
        y = y.astype(p.dtype)
        q = p + EPSILON
        return np.mean(p - y * np.log(q), axis=-1), (1.0 - y / q) / p.shape[-1]


class LogCosh(Loss):
    """With e = p - y:  log cosh e = e + softplus(-2e) - log 2 (Keras's stable form), so

        L = mean_d log cosh e;   dL/dp = (1 - 2 σ(-2e)) / D = tanh(e) / D.
    """
    name = "log_cosh"

    def _values_and_grad(self, y, p):
        e = p - y.astype(p.dtype)
        z = -2.0 * e
        softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
        return np.mean(e + softplus - np.log(2.0), axis=-1), np.tanh(e) / p.shape[-1]


class CosineSimilarity(Loss):
    """Negative cosine similarity over the last axis, Keras's normalisation x̂ = x / max(‖x‖, ε):

        L = -Σ_d ŷ p̂;   with u = ŷ and n = ‖p‖,
        dL/dp = -(u - (u·p̂) p̂) / n  for n ≥ ε,   -u / ε  below (there p̂ = p / ε is linear).

    L ranges from -1 (same direction) to 1 (opposite); 0 when either vector is zero.
    """
    name = "cosine_similarity"

    def __init__(self, axis: int = -1):
        self.axis = checks.integer(axis, "axis", who="CosineSimilarity")

    def _last_axis(self, ndim):
        if self.axis not in (-1, ndim - 1):
            raise ValueError(f"CosineSimilarity axis={self.axis} is not the last axis of a "
                             f"{ndim}-d prediction: rnnlab reduces losses over the last axis "
                             "(use axis=-1)")

    def check_targets(self, y_true, y_pred_shape):
        self._last_axis(len(y_pred_shape))

    def _values_and_grad(self, y, p):
        self._last_axis(p.ndim)
        y = y.astype(p.dtype)
        u = y / np.maximum(np.sqrt((y * y).sum(-1, keepdims=True)), EPSILON)
        n = np.sqrt((p * p).sum(-1, keepdims=True))
        big = n >= EPSILON
        scale = np.where(big, n, EPSILON)
        ph = p / scale
        values = -(u * ph).sum(-1)
        proj = np.where(big, (u * ph).sum(-1, keepdims=True) * ph, 0.0)
        return values, -(u - proj) / scale

    def get_config(self):
        return {"axis": self.axis}


#: Every loss class by name; Keras's lower-case names are aliases.
LOSSES = Registry("loss", Loss)
for _name, _cls in {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "poisson": Poisson, "log_cosh": LogCosh, "logcosh": LogCosh,
    "cosine_similarity": CosineSimilarity,
}.items():
    LOSSES.register(_cls)
    LOSSES.alias(_name, _cls)


_HOW = ("write it as a subclass of rnnlab.losses.Loss whose _values_and_grad(y, p) returns the "
        "per-entry values and their gradient d values / d p (see help(rnnlab.losses.Loss))")


def get(identifier) -> Loss:
    """A loss from an instance, a Keras name, or a config written by :func:`serialize`;
    ValueError naming an unknown name; TypeError for a plain function (training needs the
    gradient, which a :class:`Loss` subclass gives)."""
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        raise TypeError(f"loss={identifier.__name__} is a class: pass an instance, "
                        f"loss={identifier.__name__}()")
    if callable(identifier) and not isinstance(identifier, Loss):
        name = getattr(identifier, "__name__", type(identifier).__name__)
        raise TypeError(f"loss={name!r} is a plain function; rnnlab needs the loss's gradient "
                        f"too: {_HOW}")
    return LOSSES.get(identifier)


def serialize(loss: Loss) -> dict:
    return LOSSES.serialize(loss)


def deserialize(spec) -> Loss:
    return LOSSES.get(spec)

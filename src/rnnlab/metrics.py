"""Metrics with state, Keras 3's API and numbers: ``update_state(y_true, y_pred, sample_weight)``
adds a batch, ``result()`` reads the value over every batch since ``reset_state()``.

Nothing is averaged per batch: a mean metric keeps a weighted total and count, a confusion-matrix
metric (AUC, Precision, Recall, F1) keeps true/false positive/negative counts, and ``result()``
is computed from those sums, so a run over uneven batches gives the value over all the data, as
Keras's metrics do.  Thresholds, bucketing, clipping and the PR-AUC interpolation follow
``keras.metrics`` (Keras 3) to the line; the sums are kept in float64.

In ``compile(metrics=[...])`` a metric is a name (Keras's: "accuracy"/"acc" chosen binary,
categorical or sparse from the loss and output, "auc", "precision", "mae", ...), an instance, or
any function ``f(y_true, y_pred)`` returning per-sample values (wrapped in
:class:`MeanMetricWrapper`, named after the function).  The training loop resets each metric when
an epoch (or an evaluation) starts and logs ``result()`` after the loss, in compile order.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config
from rnnlab.losses import align_target
from rnnlab.registry import Registry

EPSILON = 1e-7
NEG_INF = -1e10
_MAX_COUNTS = 10 ** 6      # thresholds × labels of one AUC: a config cannot ask for gigabytes


def _divide_no_nan(a, b):
    """a / b, 0 where b == 0 (Keras's ops.divide_no_nan)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _float(x):
    """A 0-d result as a Python float, others as float64 arrays."""
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


def _array(x, what: str, dtype=None) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what} must be a numeric array, got dtype {arr.dtype}")
    return arr.astype(dtype) if dtype is not None else arr


def same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras's squeeze_or_expand_to_same_rank: drop (or, for a rank-1 partner, add) a trailing
    axis of size 1 so that two arrays whose ranks differ by one line up."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _weights_like(sample_weight, shape, who):
    """Sample weights broadcast to ``shape``: a scalar, one weight per sample (N,) or (N, 1),
    or any array that broadcasts once trailing axes of size 1 are added."""
    w = _array(sample_weight, f"{who} sample_weight", np.float64)
    while w.ndim > len(shape) and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{who} sample_weight of shape {np.shape(sample_weight)} does not "
                         f"broadcast to the predictions' shape {tuple(shape)}") from None


class Metric:
    """Base of every metric: ``update_state``, ``result``, ``reset_state`` (Keras 3's API).

    A subclass keeps its sums in attributes, sets them to zero in ``reset_state`` and computes
    ``result()`` from them.  ``sparse = True`` tells the training loop that the metric takes
    integer class targets (shape of the prediction without its last axis)."""

    sparse = False

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__} name must be a string, got {name!r}")
        self.name = name or _snake(type(self).__name__)

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError(self._missing('update_state'))

    def result(self):
        raise NotImplementedError(self._missing('result'))

    def reset_state(self) -> None:
        raise NotImplementedError(self._missing('reset_state'))

    def _missing(self, method: str) -> str:
        return (f"metric {self.name!r} ({type(self).__name__}) does not implement {method}: a "
                "Metric subclass defines update_state, result and reset_state (or wrap a "
                "function of (y_true, y_pred) in MeanMetricWrapper)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Add the batch and return the result so far (Keras's ``metric(y_true, y_pred)``)."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def _fit_targets(self, y_true, y_pred):
        """The targets the training loop passes: brought to the prediction's shape as the loss
        does (one label per sample broadcast over time steps)."""
        return align_target(y_true, y_pred.shape, self.sparse, self.name)

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _snake(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        nxt = name[i + 1] if i + 1 < len(name) else ""
        if c.isupper() and i and (name[i - 1].islower() or name[i - 1].isdigit()
                                  or (nxt and nxt.islower())):
            out.append("_")
        out.append(c.lower())
    return "".join(out)


# ------------------------------------------------------------------------------ means
class Mean(Metric):
    """The weighted mean of the values given to ``update_state(values, sample_weight)``.

    As Keras: values are reduced to one per sample (their mean over the axes the weight does not
    have), multiplied by the weight and summed into ``total``; the weights (or the number of
    samples) into ``count``; ``result() = total / count`` (0 when count is 0)."""

    def __init__(self, name="mean"):
        super().__init__(name)
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        values = _array(values, f"{self.name} values")
        if sample_weight is None:
            # Σ of the per-sample means = Σ values / entries per sample
            per_sample = values[:1].size if values.ndim >= 1 else 1
            self.total += float(values.sum()) / max(per_sample, 1)
            self.count += values.shape[0] if values.ndim >= 1 else 1
            return
        values = values.astype(np.float64)
        w = _array(sample_weight, f"{self.name} sample_weight", np.float64)
        values, w = same_rank(values, w)
        if values.ndim > w.ndim:
            values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
        try:
            w = np.broadcast_to(w, values.shape)
        except ValueError:
            raise ValueError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} "
                             f"does not broadcast to the values' shape {values.shape}") from None
        values = values * w
        if w.ndim > 1:
            w = w.mean(axis=tuple(range(1, w.ndim)))
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        self.total += float(values.sum())
        self.count += float(w.sum())

    def result(self):
        return _float(_divide_no_nan(self.total, self.count))


class MeanMetricWrapper(Mean):
    """The mean over samples of ``fn(y_true, y_pred, **kwargs)``: any function returning one
    value per sample (or per entry) becomes a metric, named after the function.  (A function
    that returns one number counts it as one sample, as in Keras: the result is then a mean of
    batch values, not the value over all the data.)"""

    def __init__(self, fn, name=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper fn must be callable, got {fn!r}")
        super().__init__(name or getattr(fn, "__name__", type(fn).__name__))
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def values(self, y_true, y_pred) -> np.ndarray:
        """The function's value of each entry (the prediction's shape without its last axis),
        targets brought to the prediction's shape as in training."""
        y_pred = np.asarray(y_pred)
        v = np.asarray(self._fn(self._fit_targets(y_true, y_pred), y_pred, **self._fn_kwargs))
        return v.mean(axis=-1) if v.ndim == y_pred.ndim else v

    def get_config(self):
        fn = self._fn
        name = getattr(fn, "_registered_name", None) or getattr(fn, "__name__", None)
        if not isinstance(name, str) or name == "<lambda>":
            raise ValueError(f"metric {self.name!r} wraps {fn!r}, which has no name to be "
                             "saved under: use a def function")
        return {"fn": name, "name": self.name, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("fn"), str):
            config["fn"] = metric_function(config["fn"])
        return cls(**config)


# ------------------------------------------------------------------------------ functions
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where (y_pred > threshold) equals y_true, element-wise (Keras 3: labels must be 0/1)."""
    y_pred = np.asarray(y_pred)
    y_true, y_pred = same_rank(np.asarray(y_true), y_pred)
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(config.floatx())


def categorical_accuracy(y_true, y_pred):
    """1 where the argmax of y_pred equals the argmax of the one-hot y_true."""
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(config.floatx())


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the argmax of y_pred equals the integer class in y_true."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    matches = (y_true.astype(y_pred.dtype) == np.argmax(y_pred, -1)).astype(config.floatx())
    return matches[..., 0] if matches.ndim > 1 and matches.shape[-1] == 1 else matches


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the true class (argmax of the one-hot y_true) is among y_pred's k largest
    (ties at the k-th value count as in, as tf.math.in_top_k)."""
    y_pred = np.asarray(y_pred)
    cls = np.argmax(y_true, -1)
    target = np.take_along_axis(y_pred, cls[..., None], -1)
    larger = (y_pred > target).sum(-1, keepdims=True)
    return (larger < k)[..., 0].astype(config.floatx())


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = same_rank(np.asarray(y_true), np.asarray(y_pred))
    return np.mean((y_pred - y_true) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = same_rank(np.asarray(y_true), np.asarray(y_pred))
    return np.mean(np.abs(y_pred - y_true), axis=-1)


#: metric functions by the name a saved MeanMetricWrapper refers to them
METRIC_FUNCTIONS = Registry("metric function")
for _fn in (binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
            top_k_categorical_accuracy, mean_squared_error, mean_absolute_error):
    METRIC_FUNCTIONS.register(_fn, name=_fn.__name__)


def metric_function(name: str):
    """The function a saved metric names: a built-in, or one given in ``custom_objects`` (to
    ``load_model``, or an enclosing ``custom_object_scope``)."""
    try:
        return METRIC_FUNCTIONS.get_class(name)
    except ValueError:
        raise ValueError(f"Unknown metric function {name!r}: pass it to load_model as "
                         f"custom_objects={{{name!r}: {name}}}") from None


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", threshold=0.5):
        threshold = checks.number(threshold, "threshold", who="BinaryAccuracy")
        super().__init__(binary_accuracy, name, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)

    def get_config(self):
        return {"name": self.name}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    sparse = True

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)

    def get_config(self):
        return {"name": self.name}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        k = checks.positive_int(k, "k", who="TopKCategoricalAccuracy")
        super().__init__(top_k_categorical_accuracy, name, k=k)
        self.k = k

    def get_config(self):
        return {"name": self.name, "k": self.k}


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name)

    def get_config(self):
        return {"name": self.name}


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name)

    def get_config(self):
        return {"name": self.name}


class RootMeanSquaredError(Mean):
    """√(weighted mean of (y_pred - y_true)² over every entry)."""

    def __init__(self, name="root_mean_squared_error"):
        super().__init__(name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = same_rank(_array(y_true, "y_true"), _array(y_pred, "y_pred"))
        super().update_state((y_pred - y_true) ** 2, sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


class _AutoAccuracy(MeanMetricWrapper):
    """"accuracy" when neither the loss nor the output decides: chosen per batch from shapes as
    Keras's compile does (binary for one output unit, sparse when y has a rank less or a last
    axis of 1, categorical otherwise)."""

    def __init__(self, name="accuracy"):
        super().__init__(self._pick, name)

    @staticmethod
    def _pick(y_true, y_pred):
        y, p = np.asarray(y_true), np.asarray(y_pred)
        if p.shape[-1] == 1:
            return binary_accuracy(align_target(y, p.shape), p)
        if y.shape == p.shape:
            return categorical_accuracy(y, p)
        return sparse_categorical_accuracy(align_target(y, p.shape, True), p)

    def _fit_targets(self, y_true, y_pred):
        return np.asarray(y_true)

    def get_config(self):
        return {"name": self.name}


# ------------------------------------------------------------------------------ confusion counts
def _thresholds(thresholds, default, who):
    """Keras's parse_init_thresholds: a number or a list of numbers in [0, 1]."""
    if thresholds is None:
        return [default]
    vals = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    if not vals:
        raise ValueError(f"{who} thresholds must not be empty")
    out = []
    for t in vals:
        t = checks.number(t, "thresholds", who=who)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"{who} thresholds must be in [0, 1], got {t!r}")
        out.append(t)
    return out


def _evenly_spread(thresholds) -> bool:
    """Keras's is_evenly_distributed_thresholds (then counts are made by bucketing)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))


def _top_k_filter(p, k):
    """Keep each row's k largest predictions, set the others to NEG_INF (Keras's _filter_top_k)."""
    idx = np.argsort(-p, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(p.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, p, np.asarray(NEG_INF, dtype=p.dtype))


def confusion_counts(y_true, y_pred, thresholds, *, top_k=None, class_id=None,
                     sample_weight=None, multi_label=False, label_weights=None,
                     evenly=False, who="metric"):
    """Weighted (tp, fp, tn, fn) at each threshold, as Keras's update_confusion_matrix_variables:
    a prediction is positive at threshold t when p > t; a label is positive when non-zero.

    Each count has shape (T,), or (T, labels) with ``multi_label``.  With ``evenly`` spread
    thresholds Keras counts by bucket, ceil(p (T - 1)) - 1 on p clipped to [0, 1] (the first
    bucket taking all when the end thresholds carry its ±ε), computed here the same way in the
    metric's float type."""
    dtype = np.dtype(config.floatx())
    y_true = _array(y_true, f"{who} y_true", dtype)
    y_pred = _array(y_pred, f"{who} y_pred", dtype)
    th = np.asarray(thresholds, dtype=np.float64)
    with_eps = bool(evenly and (th[0] < 0.0 or th[-1] > 1.0))
    y_pred, y_true = same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true of shape {y_true.shape} does not match y_pred of "
                         f"shape {y_pred.shape}")
    w = None
    if sample_weight is not None:
        w = _weights_like(sample_weight, y_pred.shape, who)
    if top_k is not None:
        y_pred = _top_k_filter(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(f"{who}: with class_id, y_pred must be 2-D (samples, classes), "
                             f"got shape {y_pred.shape}")
        if not -y_pred.shape[-1] <= class_id < y_pred.shape[-1]:
            raise ValueError(f"{who}: class_id={class_id} is out of range for "
                             f"{y_pred.shape[-1]} classes")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
        w = None if w is None else w[..., class_id, None]
    if multi_label and y_pred.ndim != 2:
        raise ValueError(f"{who}: multi_label needs 2-D predictions (samples, labels), got "
                         f"shape {y_pred.shape}")
    weights = np.ones(y_pred.shape) if w is None else w
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(label_weights, y_pred.shape)
    pos = y_true != 0
    if not multi_label:
        pos, y_pred, weights = pos.reshape(-1), y_pred.reshape(-1), weights.reshape(-1)
    true_w = np.where(pos, weights, 0.0)
    false_w = np.where(pos, 0.0, weights)
    n_th = len(th)
    if evenly:
        p = np.clip(y_pred, 0.0, 1.0)
        bucket = np.ceil(p * dtype.type(n_th - 1)) - 1
        if with_eps:
            bucket = np.maximum(bucket, 0)
        bucket = bucket.astype(np.int64)
        tp, fp = _bucket_counts(bucket, true_w, n_th), _bucket_counts(bucket, false_w, n_th)
    else:
        t = th.astype(dtype).reshape((n_th,) + (1,) * y_pred.ndim)
        above = y_pred[None] > t                             # (T, ...)
        tp = np.where(above, true_w[None], 0.0).sum(axis=1)
        fp = np.where(above, false_w[None], 0.0).sum(axis=1)
    fn = true_w.sum(axis=0) - tp
    tn = false_w.sum(axis=0) - fp
    return tp, fp, tn, fn


def _bucket_counts(bucket, w, n):
    """Σ of w over predictions in bucket ≥ i, for each i (reversed cumulative sum); bucket -1
    (p = 0 at thresholds that start at 0) counts nowhere."""
    if bucket.ndim == 1:
        ok = bucket >= 0
        sums = np.bincount(bucket[ok], weights=w[ok], minlength=n)[:n]
        return np.cumsum(sums[::-1])[::-1]
    labels = bucket.shape[1]
    ok = bucket >= 0
    flat = (bucket + n * np.arange(labels)[None, :])[ok]
    sums = np.bincount(flat, weights=w[ok], minlength=n * labels).reshape(labels, n).T
    return np.cumsum(sums[::-1], axis=0)[::-1]


class _ThresholdMetric(Metric):
    """Precision and Recall: counts at each threshold, the ratio of two of them."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None):
        who = type(self).__name__
        super().__init__(name)
        self.top_k = checks.positive_int(top_k, "top_k", who=who, allow_none=True)
        self.class_id = checks.integer(class_id, "class_id", who=who, allow_none=True)
        self.init_thresholds = thresholds
        default = 0.5 if self.top_k is None else NEG_INF
        self.thresholds = _thresholds(thresholds, default, who)
        self._evenly = _evenly_spread(self.thresholds)
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = confusion_counts(y_true, y_pred, self.thresholds, top_k=self.top_k,
                                         class_id=self.class_id, sample_weight=sample_weight,
                                         evenly=self._evenly, who=self.name)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn

    def _pick(self, r):
        return _float(r[0] if len(self.thresholds) == 1 else r)

    def get_config(self):
        thresholds = self.init_thresholds
        if isinstance(thresholds, np.ndarray):
            thresholds = thresholds.tolist()
        return {"name": self.name, "thresholds": thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """tp / (tp + fp) at each threshold (0.5 by default; with ``top_k`` the k largest
    predictions of each sample are the positives); ``class_id`` looks at one class only."""

    def result(self):
        return self._pick(_divide_no_nan(self.true_positives,
                                         self.true_positives + self.false_positives))


class Recall(_ThresholdMetric):
    """tp / (tp + fn) at each threshold (see :class:`Precision`)."""

    def result(self):
        return self._pick(_divide_no_nan(self.true_positives,
                                         self.true_positives + self.false_negatives))


class AUC(Metric):
    """Area under the ROC or precision-recall curve from counts at ``num_thresholds`` thresholds
    (Keras 3's AUC).

    Thresholds: -ε, 1/(n-1), ..., (n-2)/(n-1), 1+ε (or ``thresholds`` between -ε and 1+ε).
    ROC: Σ over consecutive thresholds of Δ(false positive rate) × mean of the two recalls
    (``summation_method="interpolation"``; "minoring"/"majoring" take the lower/upper one).
    PR with interpolation: Davis & Goadrich's interpolation of true positives between thresholds,
    as Keras: per interval, slope s = Δtp / Δ(tp + fp), intercept b = tp - s (tp + fp),
    area = s (Δtp + b log(P_i / P_{i+1})) / (tp + fn).  ``multi_label`` keeps one curve per
    column and averages their areas (weighted by ``label_weights``); ``from_logits`` applies the
    sigmoid first."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name)
        curve_key = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}.get(str(curve).lower())
        if curve_key is None:
            raise ValueError(f'AUC curve must be one of ["ROC", "PR", "PRGAIN"], got {curve!r}')
        summation = str(summation_method).lower()
        checks.one_of(summation, "summation_method", ("interpolation", "majoring", "minoring"),
                      who="AUC")
        self.curve, self.summation_method = curve_key, summation
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds(thresholds, None, "AUC"))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly_spread(np.array([0.0] + inner + [1.0]))
        else:
            num_thresholds = checks.integer(num_thresholds, "num_thresholds", low=2, who="AUC")
            if num_thresholds > _MAX_COUNTS:
                raise ValueError(f"AUC num_thresholds={num_thresholds} would keep more than "
                                 f"{_MAX_COUNTS:,} counts")
            self.num_thresholds = num_thresholds
            inner = list(np.arange(1, num_thresholds - 1) / (num_thresholds - 1))
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError("AUC num_labels is needed only when multi_label=True")
        self.num_labels = checks.positive_int(num_labels, "num_labels", who="AUC",
                                              allow_none=True)
        self._labels = self.num_labels or 0        # known at the first update if not given
        if label_weights is not None:
            label_weights = _array(label_weights, "AUC label_weights", np.float64)
            if label_weights.ndim != 1 or (label_weights < 0).any():
                raise ValueError("AUC label_weights must be a 1-D list of weights >= 0")
        self.label_weights = label_weights
        self.from_logits = bool(from_logits)
        if self.num_thresholds * (self.num_labels or 1) > _MAX_COUNTS:
            raise ValueError(f"AUC with {self.num_thresholds} thresholds"
                             f"{f' × {self.num_labels} labels' if self.num_labels else ''} "
                             f"would keep more than {_MAX_COUNTS:,} counts")
        self.reset_state()

    @property
    def thresholds(self):
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,)
        if self.multi_label:
            shape += (self._labels,)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.true_negatives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _array(y_pred, f"{self.name} y_pred")
        if self.from_logits:
            z = y_pred.astype(config.floatx())
            y_pred = 1.0 / (1.0 + np.exp(-z))
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(f"{self.name}: y_pred must have rank 2 when multi_label=True, "
                                 f"got shape {y_pred.shape}")
            if self._labels and y_pred.shape[1] != self._labels:
                raise ValueError(f"{self.name}: y_pred has {y_pred.shape[1]} labels, the metric "
                                 f"counts {self._labels}")
        tp, fp, tn, fn = confusion_counts(
            y_true, y_pred, self._thresholds, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            evenly=self._evenly, who=self.name)
        if self.multi_label and not self._labels:
            self._labels = y_pred.shape[1]
            self.reset_state()
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _average(self, by_label):
        if not self.multi_label:
            return _float(by_label)
        if by_label.size == 0:                     # nothing seen yet
            return 0.0
        if self.label_weights is None:
            return _float(np.mean(by_label))
        return _float(_divide_no_nan(np.sum(by_label * self.label_weights),
                                     np.sum(self.label_weights)))

    def interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        area = _divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                              np.maximum(tp[1:] + fn[1:], 0))
        return self._average(area.sum(axis=0))

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:
            scale = _divide_no_nan(tp + fn, tn + fp)
            x = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            y = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
            x = np.maximum(x, 0.0)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average(((x[:-1] - x[1:]) * heights).sum(axis=0))

    def get_config(self):
        cfg = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
               "summation_method": self.summation_method, "multi_label": self.multi_label,
               "num_labels": self.num_labels,
               "label_weights": None if self.label_weights is None
               else self.label_weights.tolist(),
               "from_logits": self.from_logits}
        if self._init_from_thresholds:
            cfg["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return cfg


class FBetaScore(Metric):
    """F-beta from counts per class, Keras 3's FBetaScore: with ``threshold`` None each sample's
    largest prediction is its positive, else p > threshold; precision = tp / (tp + fp + ε),
    recall likewise, F = (1 + β²) P R / (β² P + R + ε); ``average`` None (per class),
    "micro" (counts pooled over classes), "macro" (mean over classes) or "weighted" (by support).
    Inputs are 2-D (samples, classes)."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score"):
        super().__init__(name)
        who = type(self).__name__
        checks.one_of(average, "average", (None, "micro", "macro", "weighted"), who=who)
        beta = checks.positive_number(beta, "beta", who=who)
        if threshold is not None:
            threshold = checks.number(threshold, "threshold", who=who)
            if not 0.0 < threshold <= 1.0:
                raise ValueError(f"{who} threshold must verify 0 < threshold <= 1, "
                                 f"got {threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._classes = None
        self.reset_state()

    def reset_state(self):
        shape = () if self.average == "micro" else (self._classes or 0,)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)
        self.intermediate_weights = np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        dtype = config.floatx()
        y_true = _array(y_true, f"{self.name} y_true", dtype)
        y_pred = _array(y_pred, f"{self.name} y_pred", dtype)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(f"{self.name} expects 2-D inputs (samples, classes), got "
                             f"y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}")
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true of shape {y_true.shape} does not match "
                             f"y_pred of shape {y_pred.shape}")
        if self._classes is not None and y_pred.shape[1] != self._classes:
            raise ValueError(f"{self.name}: y_pred has {y_pred.shape[1]} classes, the metric "
                             f"counts {self._classes}")
        w = None
        if sample_weight is not None:
            w = _array(sample_weight, f"{self.name} sample_weight", np.float64).reshape(-1, 1)
            if w.shape[0] != y_true.shape[0]:
                raise ValueError(f"{self.name}: sample_weight has {w.shape[0]} entries for "
                                 f"{y_true.shape[0]} samples")
        if self._classes is None:
            self._classes = y_pred.shape[1]
            self.reset_state()
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            pred = ((y_pred >= top) & (np.abs(y_pred) > 1e-9)).astype(np.float64)
        else:
            pred = (y_pred > np.asarray(self.threshold, dtype=dtype)).astype(np.float64)
        y = y_true.astype(np.float64)

        def wsum(v):
            return (v if w is None else v * w).sum(axis=self.axis)

        self.true_positives = self.true_positives + wsum(pred * y)
        self.false_positives = self.false_positives + wsum(pred * (1 - y))
        self.false_negatives = self.false_negatives + wsum((1 - pred) * y)
        self.intermediate_weights = self.intermediate_weights + wsum(y)

    def result(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + EPSILON)
            return _float(np.sum(f * weights))
        if self.average is not None:
            return _float(np.mean(f))
        return _float(f)

    def get_config(self):
        return {"name": self.name, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """:class:`FBetaScore` with β = 1."""

    def __init__(self, average=None, threshold=None, name="f1_score"):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self):
        cfg = super().get_config()
        del cfg["beta"]
        return cfg


# ------------------------------------------------------------------------------ lookup
#: Every metric class by name; Keras's snake-case names and short forms are aliases.
METRICS = Registry("metric", Metric)
for _cls in (Mean, MeanMetricWrapper, BinaryAccuracy, CategoricalAccuracy,
             SparseCategoricalAccuracy, TopKCategoricalAccuracy, MeanSquaredError,
             MeanAbsoluteError, RootMeanSquaredError, Precision, Recall, AUC, FBetaScore,
             F1Score):
    METRICS.register(_cls)
    if _cls is not MeanMetricWrapper:
        METRICS.alias(_snake(_cls.__name__), _cls)
for _alias, _cls in {"mse": MeanSquaredError, "mae": MeanAbsoluteError,
                     "rmse": RootMeanSquaredError, "fbeta_score": FBetaScore}.items():
    METRICS.alias(_alias, _cls)


def get(identifier, loss_name: str | None = None, output_shape=None) -> Metric:
    """A metric from a name, an instance, a saved config, or a function ``f(y_true, y_pred)``
    (wrapped in :class:`MeanMetricWrapper` named after it).

    "accuracy"/"acc" becomes binary, categorical or sparse from the loss (then the output's
    last axis, then the data's shapes) as in Keras.  A metric made from a name is named by that
    name, as Keras names its log entries."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _accuracy(identifier, loss_name, output_shape)
        try:
            metric = METRICS.get(identifier)
        except ValueError:
            raise ValueError(f"Unknown metric {identifier!r}: expected one of "
                             f"{sorted(set(METRICS.names()) | {'accuracy', 'acc'})}, a "
                             "Metric instance or a function f(y_true, y_pred)") from None
        metric.name = identifier
        return metric
    if isinstance(identifier, dict):
        return METRICS.get(identifier)
    if isinstance(identifier, type):
        raise TypeError(f"metric {identifier.__name__} is a class: pass an instance, "
                        f"{identifier.__name__}()")
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a rnnlab Metric or a function f(y_true, y_pred), "
                    f"got {identifier!r}")


def compiled(identifier, loss_name: str | None = None, output_shape=None) -> Metric:
    """:func:`get` for ``compile(metrics=...)``: the metric must take ``(y_true, y_pred)``."""
    metric = get(identifier, loss_name, output_shape)
    if isinstance(metric, Mean) and type(metric).update_state is Mean.update_state:
        raise TypeError(f"metric {metric.name!r} is a Mean of values you give it, not of "
                        "(y_true, y_pred): in compile() use MeanMetricWrapper(fn) or the "
                        "function fn itself")
    return metric


def _accuracy(name, loss_name, output_shape):
    if loss_name == "binary_crossentropy":
        return BinaryAccuracy(name)
    if loss_name == "categorical_crossentropy":
        return CategoricalAccuracy(name)
    if loss_name == "sparse_categorical_crossentropy":
        return SparseCategoricalAccuracy(name)
    if output_shape is not None and output_shape[-1] == 1:
        return BinaryAccuracy(name)
    return _AutoAccuracy(name)


def serialize(identifier):
    """What compile() keeps of a metric for a saved model: a name as given, else the metric's
    ``{"class_name", "config"}`` (a function as the MeanMetricWrapper naming it)."""
    if isinstance(identifier, str):
        return identifier
    metric = get(identifier)
    if isinstance(metric, _AutoAccuracy):
        return metric.name
    return METRICS.serialize(metric)


def deserialize(spec) -> Metric:
    return get(spec)

"""Metrics: accuracy (binary, categorical or sparse, chosen as Keras does), mae, mse.

A metric maps ``(y_true, y_pred)`` to per-entry values; the training loop averages them over every
entry of an epoch (samples, and time steps for sequence outputs), as Keras's Mean trackers do.
"""
from __future__ import annotations

import numpy as np

from rnnlab.losses import align_target
from rnnlab.registry import Registry


class Metric:
    name = "metric"
    sparse = False

    def values(self, y_true, y_pred) -> np.ndarray:
        y = align_target(y_true, y_pred.shape, self.sparse, self.name)
        return self._values(y, y_pred)

    def get_config(self) -> dict:
        """The constructor's arguments (a user's metric with arguments overrides this)."""
        return {}


#: Users' metric classes (``@rnnlab.registry.register_serializable()``), for model files.
METRICS = Registry("metric", Metric)


def serialize(metric):
    """A compile() metric as a model file keeps it: a name for a string or a built-in metric,
    ``{"class_name", "config"}`` for a user's Metric class (registered, or given to load_model
    in ``custom_objects``)."""
    if isinstance(metric, (str, dict)) or type(metric).__module__.startswith("rnnlab."):
        return metric if isinstance(metric, (str, dict)) else metric.name
    cls = type(metric)
    return {"class_name": cls.__dict__.get("_registered_name") or cls.__name__,
            "config": metric.get_config()}


class BinaryAccuracy(Metric):
    def __init__(self, name="accuracy", threshold=0.5):
        self.name, self.threshold = name, float(threshold)

    def _values(self, y, p):
        return np.mean((p > self.threshold) == (y > 0.5), axis=-1).astype(np.float64)


class CategoricalAccuracy(Metric):
    def __init__(self, name="accuracy"):
        self.name = name

    def _values(self, y, p):
        return (np.argmax(y, -1) == np.argmax(p, -1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    sparse = True

    def __init__(self, name="accuracy"):
        self.name = name

    def _values(self, y, p):
        return (y.astype(np.int64) == np.argmax(p, -1)).astype(np.float64)


class MeanSquaredError(Metric):
    def __init__(self, name="mse"):
        self.name = name

    def _values(self, y, p):
        return np.mean((p - y) ** 2, axis=-1)


class MeanAbsoluteError(Metric):
    def __init__(self, name="mae"):
        self.name = name

    def _values(self, y, p):
        return np.mean(np.abs(p - y), axis=-1)


_NAMED = {
    "mse": lambda n: MeanSquaredError(n), "mean_squared_error": lambda n: MeanSquaredError(n),
    "mae": lambda n: MeanAbsoluteError(n), "mean_absolute_error": lambda n: MeanAbsoluteError(n),
    "binary_accuracy": lambda n: BinaryAccuracy(n),
    "categorical_accuracy": lambda n: CategoricalAccuracy(n),
    "sparse_categorical_accuracy": lambda n: SparseCategoricalAccuracy(n),
}


def get(identifier, loss_name: str | None = None, output_shape=None) -> Metric:
    """A metric from a name; "accuracy"/"acc" becomes binary, categorical or sparse as in Keras."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):               # a user's metric from a model file
        return METRICS.get(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"metric must be a name or a rnnlab Metric, got {identifier!r}")
    key = identifier.lower()
    if key in ("accuracy", "acc"):
        if loss_name == "binary_crossentropy":
            return BinaryAccuracy(identifier)
        if loss_name == "categorical_crossentropy":
            return CategoricalAccuracy(identifier)
        if loss_name == "sparse_categorical_crossentropy":
            return SparseCategoricalAccuracy(identifier)
        if output_shape is not None and output_shape[-1] == 1:
            return BinaryAccuracy(identifier)
        return _AutoAccuracy(identifier)
    if key not in _NAMED:
        raise ValueError(f"Unknown metric {identifier!r}: expected one of "
                         f"{sorted(list(_NAMED) + ['accuracy', 'acc'])}")
    return _NAMED[key](identifier)


class _AutoAccuracy(Metric):
    """Accuracy decided from shapes at run time: categorical if y matches p, else sparse."""

    def __init__(self, name="accuracy"):
        self.name = name

    def values(self, y_true, y_pred):
        y = np.asarray(y_true)
        if y_pred.shape[-1] == 1:
            return BinaryAccuracy(self.name).values(y, y_pred)
        if y.shape == y_pred.shape:
            return CategoricalAccuracy(self.name).values(y, y_pred)
        return SparseCategoricalAccuracy(self.name).values(y, y_pred)

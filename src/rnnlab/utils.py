"""Small helpers of Keras's ``keras.utils``: :func:`to_categorical`, and (from rnnlab.data)
:class:`PyDataset`, :func:`timeseries_dataset_from_array` and :func:`text_dataset_from_directory`
(with :func:`tokenize_batches` to feed its texts to ``fit``)."""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.data import (
    PyDataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
    tokenize_batches,
)


def to_categorical(x, num_classes=None) -> np.ndarray:
    """One-hot rows for class ids ``x`` (Keras 3's ``keras.utils.to_categorical``).

    The result has x's shape plus an axis of ``num_classes`` (default ``max(x) + 1``), float64
    as Keras's NumPy path; a trailing axis of size 1 is dropped first, so labels of shape (N, 1)
    give (N, num_classes).  Unlike Keras, ids must be whole numbers in [0, num_classes): a
    negative id (which NumPy would wrap to the last class), a fraction (which Keras truncates)
    or an id >= num_classes is an error naming the value."""
    who = "to_categorical()"
    num_classes = checks.positive_int(num_classes, "num_classes", who=who, allow_none=True)
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{who} expects integer class ids, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(f"{who} expects whole-number class ids, got {float(arr[bad].flat[0])}")
    ids = arr.astype(np.int64).reshape(-1)
    shape = arr.shape
    if len(shape) > 1 and shape[-1] == 1:       # Keras: (..., 1) -> (...)
        shape = shape[:-1]
    if ids.size and ids.min() < 0:
        raise ValueError(f"{who} got a negative class id {int(ids.min())}")
    if num_classes is None:
        if not ids.size:
            raise ValueError(f"{who} got no class ids: pass num_classes")
        num_classes = int(ids.max()) + 1
    elif ids.size and ids.max() >= num_classes:
        raise ValueError(f"{who} got class id {int(ids.max())} >= num_classes={num_classes}")
    out = np.zeros((ids.size, num_classes))
    out[np.arange(ids.size), ids] = 1
    return out.reshape(tuple(shape) + (num_classes,))


#: Keras 3's other name for PyDataset (``keras.utils.Sequence``)
Sequence = PyDataset

__all__ = ["to_categorical", "PyDataset", "Sequence", "timeseries_dataset_from_array",
           "text_dataset_from_directory", "tokenize_batches"]

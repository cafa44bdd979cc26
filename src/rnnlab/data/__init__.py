"""Data that streams: :class:`PyDataset` (batches by index, prefetched in background workers)
and windowed views of arrays (:func:`timeseries_dataset_from_array`).  Pure Python and NumPy:
this package knows nothing of the engine (the models' data adapters read it)."""
from rnnlab.data.py_dataset import PyDataset, prefetch
from rnnlab.data.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["PyDataset", "prefetch", "TimeseriesDataset", "timeseries_dataset_from_array"]

"""Data that streams: :class:`PyDataset` (batches by index, prefetched in background workers)
windowed views of arrays (:func:`timeseries_dataset_from_array`) and batches of similar
lengths (:func:`bucket_by_sequence_length`).  Pure Python and NumPy:
this package knows nothing of the engine (the models' data adapters read it)."""
from rnnlab.data.bucketing import bucket_by_sequence_length, pad_batch
from rnnlab.data.py_dataset import PyDataset, prefetch
from rnnlab.data.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["PyDataset", "prefetch", "TimeseriesDataset", "timeseries_dataset_from_array",
           "bucket_by_sequence_length", "pad_batch"]

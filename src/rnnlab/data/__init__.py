"""Data that streams: :class:`PyDataset` (batches by index, prefetched in background workers)
windowed views of arrays (:func:`timeseries_dataset_from_array`) and batches of similar
lengths (:func:`bucket_by_sequence_length`), text files in class folders
(:func:`text_dataset_from_directory`, :func:`tokenize_batches`).  Pure Python and NumPy:
this package knows nothing of the engine (the models' data adapters read it)."""
from rnnlab.data.bucketing import bucket_by_sequence_length, pad_batch
from rnnlab.data.py_dataset import PyDataset, prefetch
from rnnlab.data.text_directory import text_dataset_from_directory, tokenize_batches
from rnnlab.data.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["PyDataset", "prefetch", "TimeseriesDataset", "timeseries_dataset_from_array",
           "bucket_by_sequence_length", "pad_batch", "text_dataset_from_directory",
           "tokenize_batches"]

"""Sliding windows over a time series, batch by batch (Keras 3's
``keras.utils.timeseries_dataset_from_array``), without copying the windows up front: the
dataset holds the series and the windows' start positions, and gathers one batch at a time."""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config

_WHO = "timeseries_dataset_from_array()"


class TimeseriesDataset:
    """The batches of windows: ``inputs`` of shape (batch, sequence_length, *features), or
    ``(inputs, targets)`` when targets were given.  Iterable again and again (each pass
    reshuffled when ``shuffle``), with ``len()`` the number of batches: ``fit`` takes it as a
    dataset."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size,
                 shuffle, seed):
        self.data, self.targets, self.starts = data, targets, starts
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = np.random.RandomState(seed) if shuffle else None

    def __len__(self) -> int:
        return -(-len(self.starts) // self.batch_size)

    def __iter__(self):
        starts = self.starts
        if self.shuffle:
            starts = starts.copy()
            self._rng.shuffle(starts)        # Keras: RandomState(seed).shuffle(start_positions)
        for i in range(0, len(starts), self.batch_size):
            yield self._batch(starts[i:i + self.batch_size])

    def _batch(self, starts):
        inputs = self.data[starts[:, None] + self.offsets]
        if self.targets is None:
            return inputs
        return inputs, self.targets[starts]


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Windows ``data[start + i*stride + k*sampling_rate]`` (k < sequence_length) over
    ``data[start_index:end_index]``, in batches of ``batch_size`` (the last may be smaller);
    ``targets[start_index + j]`` goes with the window that starts at position j.  As Keras 3:
    there are ``end - start - (sequence_length - 1) * sampling_rate`` start positions (at most
    ``len(targets) - start``, where Keras would index past the targets), every
    ``sequence_stride``-th used; ``shuffle`` orders the windows with
    ``numpy.random.RandomState(seed)`` (seed None: drawn from
    rnnlab.config's generator); ``batch_size=None`` yields single windows."""
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"{_WHO} data must have a time axis, got a scalar")
    n = len(data)
    sequence_length = checks.positive_int(sequence_length, "sequence_length", who=_WHO)
    sequence_stride = checks.integer(sequence_stride, "sequence_stride", who=_WHO)
    sampling_rate = checks.integer(sampling_rate, "sampling_rate", who=_WHO)
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"{_WHO} `{name}` must be higher than 0, got {name}={value}")
    if batch_size is not None:
        batch_size = checks.positive_int(batch_size, "batch_size", who=_WHO)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"{_WHO} shuffle must be True or False, got {shuffle!r}")
    seed = checks.non_negative_int(seed, "seed", who=_WHO, allow_none=True)
    start_index = checks.integer(start_index, "start_index", who=_WHO, allow_none=True)
    end_index = checks.integer(end_index, "end_index", who=_WHO, allow_none=True)
    if start_index and not 0 <= start_index < n:
        raise ValueError(f"{_WHO} `start_index` must be 0 or greater and lower than the length "
                         f"of the data ({n}), got start_index={start_index}")
    if end_index is not None:
        if start_index and end_index <= start_index:
            raise ValueError(f"{_WHO} `end_index` must be higher than `start_index`, got "
                             f"start_index={start_index}, end_index={end_index}")
        if not 0 < end_index < n:
            raise ValueError(f"{_WHO} `end_index` must be higher than 0 and lower than the "
                             f"length of the data ({n}), got end_index={end_index}")
    if sampling_rate >= n:
        raise ValueError(f"{_WHO} `sampling_rate` must be lower than the length of the data "
                         f"({n}), got sampling_rate={sampling_rate}")
    if sequence_stride >= n:
        raise ValueError(f"{_WHO} `sequence_stride` must be lower than the length of the data "
                         f"({n}), got sequence_stride={sequence_stride}")
    start = start_index or 0
    end = n if end_index is None else end_index
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError(f"{_WHO} targets must have a time axis, got a scalar")
        targets = targets[start:]
        num_seqs = min(num_seqs, len(targets))   # Keras: len(targets), then fails past it
    if num_seqs <= 0:
        raise ValueError(f"{_WHO} no window fits: {end - start} steps from {start} to {end} "
                         f"hold no window of sequence_length={sequence_length} at "
                         f"sampling_rate={sampling_rate}")
    starts = np.arange(0, num_seqs, sequence_stride, dtype=np.int64)
    if shuffle and seed is None:            # Keras draws one; here from rnnlab's seeded generator
        seed = int(config.rng().integers(1_000_000))
    ds = TimeseriesDataset(data[start:end], targets, starts, sequence_length, sampling_rate,
                           batch_size or 1, shuffle, seed)
    return _Unbatched(ds) if batch_size is None else ds


class _Unbatched:
    """``batch_size=None``: single windows (no batch axis), as Keras's unbatched dataset."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __iter__(self):
        for batch in self.ds:
            yield (batch[0][0], batch[1][0]) if isinstance(batch, tuple) else batch[0]

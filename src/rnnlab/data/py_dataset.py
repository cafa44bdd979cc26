"""Keras 3's ``PyDataset``: a dataset of batches by index, and the background prefetch that lets
loading overlap training.

A subclass gives ``__len__`` (the number of batches; or ``num_batches`` returning None for an
endless dataset) and ``__getitem__(index)`` (one whole batch: ``x``, ``(x, y)`` or
``(x, y, sample_weight)``); ``on_epoch_begin``/``on_epoch_end`` run around each epoch.  Its
``workers``, ``use_multiprocessing`` and ``max_queue_size`` say how ``fit`` loads it: with more
than one worker (or processes), up to ``max_queue_size`` batches are loaded ahead by a pool of
threads (or forked processes) while the model trains, and handed over in index order."""
from __future__ import annotations

import collections
import concurrent.futures
import itertools
import multiprocessing
import warnings

from rnnlab import checks


class PyDataset:
    """Base class of a dataset of batches by index (Keras 3's ``keras.utils.PyDataset``)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        who = f"{type(self).__name__}()"
        self._workers = checks.positive_int(workers, "workers", who=who)
        if not isinstance(use_multiprocessing, bool):
            raise TypeError(f"{who} use_multiprocessing must be True or False, got "
                            f"{use_multiprocessing!r}")
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = checks.positive_int(max_queue_size, "max_queue_size", who=who)

    def _warn_if_super_not_called(self):
        if not hasattr(self, "_workers"):
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in "
                          "its constructor. `**kwargs` can include `workers`, "
                          "`use_multiprocessing`, `max_queue_size`.", UserWarning, stacklevel=3)

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) "
                                  "returning one batch")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (or a "
                                  "num_batches property, None when endless)")

    def __iter__(self):
        n = self.num_batches
        for index in (itertools.count() if n is None else range(n)):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


_WORKER_DATASET = None


def _init_worker(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _get_in_worker(index):
    return _WORKER_DATASET[index]


def prefetch(dataset, indices, workers=1, use_multiprocessing=False, max_queue_size=10):
    """Yield ``dataset[i]`` for each ``i`` of ``indices``, in that order.

    With one thread worker and no processes, each batch is loaded when asked for.  Otherwise a
    pool loads up to ``max_queue_size`` batches ahead (threads: I/O and code that releases the
    GIL overlap the training step; processes, forked with a copy of the dataset: Python-heavy
    loading too).  Closing the generator (the end of a fit, an error) cancels what is pending
    and stops the pool."""
    if workers <= 1 and not use_multiprocessing:
        for i in indices:
            yield dataset[i]
        return
    if use_multiprocessing:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context,
                                                      initializer=_init_worker,
                                                      initargs=(dataset,))
        load = _get_in_worker
    else:
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="pydataset")
        load = dataset.__getitem__
    pending = collections.deque()
    it = iter(indices)
    try:
        for i in itertools.islice(it, max_queue_size):
            pending.append(pool.submit(load, i))
        while pending:
            future = pending.popleft()
            for i in itertools.islice(it, 1):
                pending.append(pool.submit(load, i))
            yield future.result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)

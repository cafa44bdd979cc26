"""Data adapters: whatever ``fit``, ``evaluate`` and ``predict`` are given becomes one stream
of ``(xs, ys, sws)`` batches (lists of arrays, as the training step takes them), as Keras 3's
``trainers/data_adapters``.

- :class:`ArrayAdapter`: whole arrays, checked by the model before the first update and cut
  into batches by index (:class:`~rnnlab.models.training.EpochBatches`).
- :class:`StreamAdapter`: a :class:`~rnnlab.data.PyDataset` (batches by index, prefetched in
  background workers), a generator or iterator (one pass), or any other iterable (a new pass
  per ``iter()``).  Its data cannot be checked up front: each batch is normalised, compared
  with the first ones and checked by the model just before it is used, so that a bad batch
  stops the call before its update (and ``fit``'s rollback puts back what earlier batches did).
"""
from __future__ import annotations

import itertools
import types
import warnings

import numpy as np

from rnnlab.data import PyDataset, prefetch
from rnnlab.models import training as T

#: Keras's NUM_BATCHES_FOR_TENSOR_SPEC: an axis whose size differs between the first two
#: batches is a variable axis (e.g. the time axis of per-batch padded text).
SPEC_BATCHES = 2


def is_stream(x) -> bool:
    """Streamed data (not arrays): a PyDataset, an iterator, or an iterable that is not an array,
    a list/tuple/dict of arrays or a string."""
    if isinstance(x, PyDataset):
        return True
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "__array__") or hasattr(x, "to_numpy"):
        return False
    return hasattr(x, "__next__") or hasattr(x, "__iter__")


class ArrayAdapter:
    """Whole arrays, batched by index: the training order of :class:`T.EpochBatches`, the
    evaluation order of slices."""

    def __init__(self, xs, ys, sws):
        self.xs, self.ys, self.sws = xs, ys, sws
        self.n = xs[0].shape[0]
        self.total = None
        self.ran_out = False
        self._batches = None

    def start(self, plan, rng) -> None:
        """Begin a fit: the shuffled order is drawn from ``rng`` from here on."""
        self._batches = T.EpochBatches(plan, rng)
        self.total = plan.steps

    def epoch(self):
        for idx in self._batches.epoch():
            yield _take(self.xs, idx), _take(self.ys, idx), _take(self.sws, idx)

    def one_pass(self, batch_size, steps):
        """The batches of an evaluation or a prediction: in order, the first ``steps`` only."""
        self.total = T.limit_steps(steps, self.n, batch_size)
        return self._slices(batch_size)

    def _slices(self, batch_size):
        for step in range(self.total):
            sl = slice(step * batch_size, (step + 1) * batch_size)
            yield ([a[sl] for a in self.xs], None if self.ys is None else [a[sl] for a in self.ys],
                   None if self.sws is None else [a[sl] for a in self.sws])

    def close(self) -> None:
        """Nothing to release."""


def _take(arrs, idx):
    return None if arrs is None else [a[idx] for a in arrs]


def unpack(batch, index, what):
    """A batch as Keras reads one: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a list is
    taken as a tuple), or anything else as ``x`` alone."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if len(batch) not in (1, 2, 3):
        raise ValueError(f"{what}: batch {index} is a tuple of {len(batch)} items; a batch must "
                         "be x, (x,), (x, y) or (x, y, sample_weight)")
    return tuple(batch) + (None,) * (3 - len(batch))


def _kind(dtype) -> str:
    if np.dtype(dtype).kind == "b":
        return "bool"
    return "float" if np.issubdtype(dtype, np.floating) else "integer"


class BatchSpec:
    """The shapes (batch axis excluded) and dtype kinds that every batch must have: those of the
    first batches, an axis that differs between the first two (or that the model declares as
    None) being free."""

    def __init__(self, first, free_x_axes):
        self.entries = []
        for group, arrays in zip(("x", "y", "sample_weight"), zip(*first)):
            if arrays[0] is None:
                self.entries.append(None)
                continue
            entry = []
            for i, arrs in enumerate(zip(*arrays)):
                shape = list(arrs[0].shape[1:])
                for other in arrs[1:]:
                    if other.ndim != arrs[0].ndim:
                        raise ValueError(f"{_name(group, i, len(arrays[0]))} has "
                                         f"{arrs[0].ndim} axes in batch 0 and {other.ndim} in "
                                         "batch 1")
                    shape = [s if s == o else None for s, o in zip(shape, other.shape[1:])]
                if group == "x" and free_x_axes is not None and i < len(free_x_axes):
                    declared = free_x_axes[i]
                    if declared is not None and len(declared) == len(shape) + 1:
                        shape = [None if d is None else s for s, d in zip(shape, declared[1:])]
                entry.append((tuple(shape), _kind(arrs[0].dtype)))
            self.entries.append(entry)

    def x_shapes(self) -> list[tuple]:
        return [(None,) + shape for shape, _ in self.entries[0]]

    def check(self, batch, index) -> None:
        """A clear error if a batch's arrays differ from the spec (or are missing or extra)."""
        for group, entry, arrays in zip(("x", "y", "sample_weight"), self.entries, batch):
            if (entry is None) != (arrays is None):
                has = "has" if arrays is not None else "has no"
                raise ValueError(f"batch {index} {has} {group}, unlike the first batch")
            if entry is None:
                continue
            for i, ((shape, kind), arr) in enumerate(zip(entry, arrays)):
                got = arr.shape[1:]
                if (len(got) != len(shape) or _kind(arr.dtype) != kind
                        or any(s is not None and s != g for s, g in zip(shape, got))):
                    want = "(batch, " + ", ".join("None" if s is None else str(s)
                                                  for s in shape) + ")"
                    raise ValueError(
                        f"batch {index}: {_name(group, i, len(entry))} has shape {arr.shape} "
                        f"and dtype {arr.dtype} ({_kind(arr.dtype)}), but the first batches "
                        f"had shape {want} and {kind} values")


def _wrapped(what, index, fn, *args):
    """``fn(*args)``, its ValueError/TypeError naming the data and the batch."""
    try:
        return fn(*args)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if not message.startswith("batch "):
            message = f"batch {index}: {message}"
        raise type(exc)(f"{what}: {message}") from exc


def _name(group, i, n):
    return group if n == 1 else f"{group}[{i}]"


def _known_infinite(x) -> bool:
    if isinstance(x, PyDataset):
        return x.num_batches is None
    if isinstance(x, (itertools.count, itertools.cycle)):
        return True
    if isinstance(x, itertools.repeat):
        try:
            x.__length_hint__()
        except TypeError:                # repeat(obj) without times
            return True
    return False


def _length(x):
    """The number of batches a pass yields, when known."""
    if isinstance(x, PyDataset):
        return x.num_batches
    if isinstance(x, types.GeneratorType) or iter_is_self(x):
        return None
    try:
        return len(x)
    except TypeError:
        return None


def iter_is_self(x) -> bool:
    """A one-pass iterator (a generator, map, file...) rather than a restartable iterable."""
    return hasattr(x, "__next__") and getattr(x, "__iter__", None) is not None and \
        iter(x) is x


class StreamAdapter:
    """Batches from a PyDataset, an iterator or an iterable, each checked just before use.

    ``prepare(raw, index)`` normalises one batch into ``(xs, ys, sws)`` (the model's arrays);
    :meth:`set_check` gives the model's check, run on every batch after the spec's.  With
    ``steps`` (steps_per_epoch, validation_steps, steps) each epoch takes that many batches,
    continuing through a pass across epochs as Keras 3 does; without, each epoch is one whole
    pass.  ``passes``: how many epochs (or evaluations) will draw from it."""

    def __init__(self, data, what, prepare, *, steps=None, steps_name="steps", passes=1,
                 shuffle=False, rng=None, free_x_axes=None):
        self.data, self.what, self.prepare = data, what, prepare
        self.steps, self.shuffle, self.rng = steps, bool(shuffle), rng
        self.one_shot = not isinstance(data, PyDataset) and iter_is_self(data)
        self.num_batches = _length(data)
        self.ran_out = False
        self._check = None
        self._pass, self._pos = None, 0
        if steps is None and _known_infinite(data):
            raise ValueError(f"{what} is endless (it has no last batch): pass {steps_name} so "
                             "that each epoch knows where to stop")
        if steps is None and self.one_shot and passes > 1:
            raise ValueError(
                f"{what} is a generator or iterator: it is read once, and this call would "
                f"need {passes} passes over it. Pass {steps_name} (it must then yield "
                f"{steps_name} batches per pass, e.g. loop forever), or give a PyDataset or "
                "an iterable whose iter() starts again")
        if isinstance(data, PyDataset):
            if self.num_batches == 0:
                raise ValueError(f"{what} is a PyDataset of length 0")
            count = SPEC_BATCHES if self.num_batches is None else min(SPEC_BATCHES,
                                                                      self.num_batches)
            raw = [(i, data[i]) for i in range(count)]      # as Keras's spec: not reused
        else:
            first = iter(data)
            raw = list(enumerate(itertools.islice(first, SPEC_BATCHES)))
            self._pass = itertools.chain((b for _, b in raw), first)
            if not raw:
                raise ValueError(f"{what} yielded no batches")
        self.spec = None
        self.first = [self._checked(b, i) for i, b in raw]
        self.spec = _wrapped(what, 0, BatchSpec, self.first, free_x_axes)

    @property
    def total(self):
        """The batches per epoch shown to callbacks and the progress bar (None if unknown)."""
        return self.steps or self.num_batches

    def start(self, plan, rng) -> None:
        """Begin a fit (a PyDataset's shuffled order comes from ``rng``)."""
        del plan
        self.rng = rng

    def set_check(self, check) -> None:
        """``check(xs, ys, sws)``: the model's per-batch check (ValueError/TypeError)."""
        self._check = check

    def _new_pass(self):
        """A fresh iterator over one pass, or None when a one-pass iterator is used up."""
        self._pos = 0
        if isinstance(self.data, PyDataset):
            n = self.num_batches
            order = itertools.count() if n is None else (
                self.rng.permutation(n) if self.shuffle else range(n))
            ds = self.data
            return prefetch(ds, order, ds.workers, ds.use_multiprocessing, ds.max_queue_size)
        if self.one_shot:
            return None
        return iter(self.data)

    def _next(self):
        """The next raw batch and its index in the pass; None at the end of the pass."""
        if self._pass is None:
            return None
        try:
            raw = next(self._pass)
        except StopIteration:
            self._close_pass()
            return None
        self._pos += 1
        return raw, self._pos - 1

    def _close_pass(self):
        if self._pass is not None and hasattr(self._pass, "close"):
            self._pass.close()
        self._pass = None

    def _checked(self, raw, index):
        return _wrapped(self.what, index, self._check_batch, raw, index)

    def _check_batch(self, raw, index):
        batch = self.prepare(raw, index)
        if self.spec is not None:
            self.spec.check(batch, index)
        if self._check is not None:
            self._check(*batch)
        return batch

    def epoch(self):
        """One epoch's checked batches (all of a pass, or ``steps`` of them)."""
        if isinstance(self.data, PyDataset):
            self.data.on_epoch_begin()
        try:
            yield from self._epoch()
        finally:
            if isinstance(self.data, PyDataset):
                self.data.on_epoch_end()

    def _epoch(self):
        if self.steps is None and self._pos:
            self._close_pass()
        if self._pass is None:
            self._pass = self._new_pass()
        taken = 0
        while self.steps is None or taken < self.steps:
            item = self._next()
            if item is None and taken == 0 and self.steps is not None and not self.one_shot:
                self._pass = self._new_pass()          # the pass ended with the last epoch
                item = self._next()
            if item is None:
                if self.steps is not None or self.one_shot and taken == 0:
                    warnings.warn(T._RAN_OUT, UserWarning, stacklevel=3)
                    if self.one_shot:
                        self.ran_out = True
                if taken == 0 and not self.one_shot:
                    raise ValueError(f"{self.what} yielded no batches")
                break
            taken += 1
            yield self._checked(*item)
        if self.steps is None:
            self._close_pass()

    def one_pass(self, batch_size=None, steps=None):
        """The batches of one evaluation or prediction (``steps`` is the adapter's)."""
        del batch_size, steps
        return self.epoch()

    def close(self) -> None:
        """Stop background loading (a PyDataset's pool)."""
        self._close_pass()


def check_joinable(first, outs, index) -> None:
    """``predict`` joins its batches' outputs along the batch axis: a batch whose output has
    another shape beyond it (e.g. a sequence output of per-batch padded text) is an error
    naming the batch, not NumPy's bare concatenation error."""
    for i, (a, b) in enumerate(zip(first, outs)):
        if a.shape[1:] != b.shape[1:]:
            name = "the output" if len(first) == 1 else f"output {i}"
            raise ValueError(
                f"predict(): batch {index} gives {name} of shape {b.shape}, but batch 0 gave "
                f"{a.shape}; predict joins the batches along the batch axis, so every batch "
                "must give the same shape beyond it (pad the inputs to one length, or call "
                "predict_on_batch on each batch)")

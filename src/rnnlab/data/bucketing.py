"""Batches of similar lengths (tf.data's ``bucket_by_sequence_length``): samples go to the bucket
of their length, a bucket that holds its batch size is padded to its own longest sample and
yielded, so that short reviews are not padded to the longest one of a random batch.  With a
masked recurrent layer this saves the padded steps' work."""
from __future__ import annotations

import numpy as np

from rnnlab import checks

_WHO = "bucket_by_sequence_length()"


def pad_batch(seqs, length, padding="post", value=0, dtype="int32") -> np.ndarray:
    """Sequences (lists or 1-D arrays, at most ``length`` long) padded into one array."""
    out = np.full((len(seqs), length), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if len(s):
            if padding == "post":
                out[i, :len(s)] = s
            else:
                out[i, -len(s):] = s
    return out


class BucketedBatches:
    """The batches of :func:`bucket_by_sequence_length`: iterable again if its samples are."""

    def __init__(self, samples, boundaries, batch_sizes, padding, padding_value,
                 pad_to_bucket_boundary, drop_remainder, dtype):
        self.samples, self.boundaries, self.batch_sizes = samples, boundaries, batch_sizes
        self.padding, self.padding_value, self.dtype = padding, padding_value, dtype
        self.pad_to_bucket_boundary, self.drop_remainder = pad_to_bucket_boundary, drop_remainder

    def _batch(self, bucket, items):
        seqs = [s for s, _ in items]
        if self.pad_to_bucket_boundary and bucket < len(self.boundaries):
            length = self.boundaries[bucket] - 1
        else:
            length = max(len(s) for s in seqs)
        x = pad_batch(seqs, length, self.padding, self.padding_value, self.dtype)
        if items[0][1] is None:
            return x
        return x, np.asarray([label for _, label in items])

    def __iter__(self):
        buckets = [[] for _ in self.batch_sizes]
        for pos, sample in enumerate(self.samples):
            seq, label = sample if isinstance(sample, tuple) else (sample, None)
            n = len(seq)
            bucket = int(np.searchsorted(self.boundaries, n, side="right"))
            if self.pad_to_bucket_boundary and bucket == len(self.boundaries):
                raise ValueError(f"{_WHO} sample {pos} has length {n}, not below the last "
                                 f"bucket boundary {self.boundaries[-1]} that "
                                 "pad_to_bucket_boundary pads to")
            buckets[bucket].append((seq, label))
            if len(buckets[bucket]) == self.batch_sizes[bucket]:
                yield self._batch(bucket, buckets[bucket])
                buckets[bucket] = []
        if not self.drop_remainder:
            for bucket, items in enumerate(buckets):
                if items:
                    yield self._batch(bucket, items)


def bucket_by_sequence_length(samples, bucket_boundaries, bucket_batch_sizes, padding="post",
                              padding_value=0, pad_to_bucket_boundary=False,
                              drop_remainder=False, dtype="int32"):
    """Group ``samples`` (sequences, or ``(sequence, label)`` pairs) into batches by length.

    A sequence of length ``n`` goes to bucket ``i`` where ``boundaries[i-1] <= n <
    boundaries[i]`` (the first bucket below ``boundaries[0]``, the last from
    ``boundaries[-1]`` on), as tf.data's; a bucket is yielded when it holds
    ``bucket_batch_sizes[i]`` samples, padded (``padding``, ``padding_value``) to its longest
    sample, or to ``boundary - 1`` with ``pad_to_bucket_boundary``; what is left at the end is
    yielded too unless ``drop_remainder``.  Returns an iterable of ``x`` or ``(x, labels)``
    batches that ``fit`` takes (again each epoch if ``samples`` can be iterated again)."""
    boundaries = [checks.positive_int(b, "bucket_boundaries", who=_WHO)
                  for b in list(bucket_boundaries)]
    if not boundaries or any(b >= c for b, c in zip(boundaries, boundaries[1:])):
        raise ValueError(f"{_WHO} bucket_boundaries must be increasing and not empty, got "
                         f"{boundaries}")
    sizes = [checks.positive_int(b, "bucket_batch_sizes", who=_WHO)
             for b in list(bucket_batch_sizes)]
    if len(sizes) != len(boundaries) + 1:
        raise ValueError(f"{_WHO} bucket_batch_sizes must have len(bucket_boundaries) + 1 = "
                         f"{len(boundaries) + 1} entries, got {len(sizes)}")
    checks.one_of(padding, "padding", ("pre", "post"), who=_WHO)
    for name, flag in (("pad_to_bucket_boundary", pad_to_bucket_boundary),
                       ("drop_remainder", drop_remainder)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{_WHO} {name} must be True or False, got {flag!r}")
    return BucketedBatches(samples, boundaries, sizes, padding, padding_value,
                           bool(pad_to_bucket_boundary), bool(drop_remainder), np.dtype(dtype))

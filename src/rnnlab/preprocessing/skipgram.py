"""Word2vec training pairs, as keras-preprocessing 1.1.2: :func:`make_sampling_table` (how
often to keep a word of each frequency rank) and :func:`skipgrams` ((word, context) pairs
labelled 1, (word, random word) pairs labelled 0).

Randomness goes through one ``random.Random`` seeded by ``seed`` (or drawn from rnnlab's seeded
generator), not Python's global one: with ``negative_samples=0`` and no sampling table the
pairs equal keras-preprocessing's for the same seed."""
from __future__ import annotations

import random

import numpy as np

from rnnlab import checks, config


def make_sampling_table(size, sampling_factor=1e-5) -> np.ndarray:
    """``p[rank] = min(1, sqrt(f / sampling_factor) / (f / sampling_factor))`` for Zipf
    frequencies ``f(rank) ~ 1 / (rank (ln rank + gamma) + 1/2 - 1/(12 rank))`` (word2vec's
    subsampling; rank 0, no word, counts as rank 1)."""
    who = "make_sampling_table()"
    size = checks.positive_int(size, "size", who=who)
    sampling_factor = checks.number(sampling_factor, "sampling_factor", who=who)
    if sampling_factor <= 0:
        raise ValueError(f"{who} sampling_factor must be > 0, got {sampling_factor}")
    gamma = 0.577
    rank = np.arange(size)
    rank[0] = 1
    inv_fq = rank * (np.log(rank) + gamma) + 0.5 - 1.0 / (12.0 * rank)
    f = sampling_factor * inv_fq
    return np.minimum(1.0, f / np.sqrt(f))


def skipgrams(sequence, vocabulary_size, window_size=4, negative_samples=1.0, shuffle=True,
              categorical=False, sampling_table=None, seed=None):
    """``(couples, labels)``: ``[wi, wj]`` for each word ``wi`` (id 0, no word, skipped; kept with
    probability ``sampling_table[wi]``) and each other word within ``window_size`` of it,
    labelled 1 (``[0, 1]`` if ``categorical``); then ``int(len(labels) * negative_samples)``
    pairs of a word and a random id in [1, vocabulary_size), labelled 0 (``[1, 0]``); shuffled
    together if ``shuffle``."""
    who = "skipgrams()"
    vocabulary_size = checks.integer(vocabulary_size, "vocabulary_size", low=2, who=who)
    window_size = checks.non_negative_int(window_size, "window_size", who=who)
    negative_samples = checks.number(negative_samples, "negative_samples", who=who)
    if negative_samples < 0:
        raise ValueError(f"{who} negative_samples must be >= 0, got {negative_samples}")
    seed = checks.integer(seed, "seed", who=who, allow_none=True)
    sequence = [int(w) for w in np.asarray(sequence).reshape(-1).tolist()]
    bad = [w for w in sequence if not 0 <= w < vocabulary_size]
    if bad:
        raise ValueError(f"{who} word id {bad[0]} is outside [0, vocabulary_size="
                         f"{vocabulary_size})")
    if sampling_table is not None:
        sampling_table = np.asarray(sampling_table, dtype=np.float64)
        if sampling_table.ndim != 1 or len(sampling_table) < vocabulary_size:
            raise ValueError(f"{who} sampling_table must be 1-D with vocabulary_size="
                             f"{vocabulary_size} entries, got shape {sampling_table.shape}")
    rng = random.Random(int(config.rng().integers(2**31)) if seed is None else seed)
    couples, labels = [], []
    for i, wi in enumerate(sequence):
        if not wi:
            continue
        if sampling_table is not None and sampling_table[wi] < rng.random():
            continue
        for j in range(max(0, i - window_size), min(len(sequence), i + window_size + 1)):
            if j != i and sequence[j]:
                couples.append([wi, sequence[j]])
                labels.append([0, 1] if categorical else 1)
    if negative_samples > 0 and couples:
        num_negative = int(len(labels) * negative_samples)
        words = [c[0] for c in couples]
        rng.shuffle(words)
        couples += [[words[i % len(words)], rng.randint(1, vocabulary_size - 1)]
                    for i in range(num_negative)]
        labels += [[1, 0] if categorical else 0 for _ in range(num_negative)]
    if shuffle:
        order_seed = rng.randint(0, 10**7) if seed is None else seed
        random.Random(order_seed).shuffle(couples)    # as keras: the same order for both
        random.Random(order_seed).shuffle(labels)
    return couples, labels

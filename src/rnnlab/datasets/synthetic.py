"""Built-in data that needs no file: stock-like time series and labelled reviews with negation.

:func:`time_series` mimics the lecture's Fortune 500 matrix (rows min-max scaled to [-1, 1], the
last value to predict) with series whose next value genuinely depends on the past: noisy mixtures of
sines (extrapolable from recent values) and random walks with momentum (increments follow an AR(1),
so the last two values predict the next better than the last alone).

:func:`reviews` composes short reviews from templates and sentiment lexicons in which negation flips
polarity ("not good" is negative, "never bad" positive), so a bag of words cannot label them all and
word order matters; neutral filler sentences vary the length.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config
from rnnlab.datasets.fortune500 import SeriesData

__all__ = ["time_series", "reviews", "POSITIVE_WORDS", "NEGATIVE_WORDS", "NEGATORS"]

_KINDS = ("mixed", "sine", "walk")


def _check_int(name, value, low):
    return checks.integer(value, name, low=low)


def _sines(rng, n, T):
    t = np.arange(T, dtype=np.float64)
    out = np.zeros((n, T))
    n_comp = rng.integers(1, 4, size=n)
    for c in range(3):
        active = (c < n_comp)[:, None]
        period = rng.uniform(15.0, 150.0, size=(n, 1))
        amp = rng.uniform(0.3, 1.0, size=(n, 1))
        phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
        out += active * amp * np.sin(2 * np.pi * t / period + phase)
    trend = rng.normal(0.0, 0.005, size=(n, 1)) * t
    return out + trend + rng.normal(0.0, 0.03, size=(n, T))


def _walks(rng, n, T):
    phi = rng.uniform(0.3, 0.8, size=(n, 1))
    drift = rng.normal(0.0, 0.02, size=(n, 1))
    eps = rng.normal(0.0, 0.1, size=(n, T))
    d = np.zeros((n, T))
    for k in range(1, T):
        d[:, k] = phi[:, 0] * d[:, k - 1] + eps[:, k]
    return np.cumsum(d + drift, axis=1)


def _business_days(T):
    days = np.busday_offset(np.datetime64("2020-09-28"), np.arange(T), roll="forward")
    return [f"{str(d)[8:10]}/{str(d)[5:7]}/{str(d)[:4]}" for d in days]


def time_series(n_series: int = 502, n_steps: int = 101, seed: int | None = 0,
                kind: str = "mixed") -> SeriesData:
    """Stock-like series shaped as :func:`rnnlab.datasets.fortune500.load_data`'s output.

    Returns ``(X, y, tickers, dates)``: X (n_series, n_steps - 1), y (n_series,) the last value,
    tickers "SYN000"..., business-day dates from 28/09/2020.  ``kind``: "sine", "walk" or "mixed"
    (half each, shuffled).  Each row is min-max scaled to [-1, 1] over all n_steps values.
    """
    n = _check_int("n_series", n_series, 1)
    T = _check_int("n_steps", n_steps, 3)
    if kind not in _KINDS:
        raise ValueError(f"Unknown kind {kind!r}: expected one of {_KINDS}")
    rng = config.make_rng(seed)
    if kind == "sine":
        raw = _sines(rng, n, T)
    elif kind == "walk":
        raw = _walks(rng, n, T)
    else:
        n_sine = (n + 1) // 2
        raw = np.concatenate([_sines(rng, n_sine, T), _walks(rng, n - n_sine, T)])
        raw = raw[rng.permutation(n)]
    lo, hi = raw.min(axis=1, keepdims=True), raw.max(axis=1, keepdims=True)
    scaled = 2.0 * (raw - lo) / np.maximum(hi - lo, 1e-12) - 1.0
    tickers = np.array([f"SYN{i:03d}" for i in range(n)], dtype=str)
    return SeriesData(scaled[:, :-1], scaled[:, -1].copy(), tickers, _business_days(T))


POSITIVE_WORDS = ("good", "great", "excellent", "delicious", "friendly", "amazing", "fresh",
                  "wonderful", "tasty", "pleasant", "fantastic", "clean")
NEGATIVE_WORDS = ("bad", "terrible", "awful", "rude", "bland", "dirty", "horrible", "slow",
                  "disappointing", "stale", "greasy", "poor")
NEGATORS = ("not", "never")
_SUBJECTS = ("the food", "the service", "the staff", "our waiter", "the pizza", "the coffee",
             "the place", "the dessert", "the menu", "the music", "the room", "the price")
_VERBS = ("was", "is", "seemed", "felt")
_FILLER_SENTENCES = (
    "we went there on a tuesday", "i ordered the soup and a salad", "we sat near the window",
    "my friend had the special", "it is close to the station", "we came for lunch",
    "there was a small line at the door", "they open at nine", "i had been there once before",
    "we paid by card", "the parking lot was across the street", "we shared two plates",
    "my sister picked the place", "it was a busy evening",
)
_FILLER_SPLIT = tuple(tuple(f.split()) for f in _FILLER_SENTENCES)
_FILLER_WORDS = ("honestly", "overall", "really", "today", "again", "also", "so", "well")


def _clause(rng, polarity):
    """A sentence of given polarity (+1/-1): plain adjective, or negated opposite adjective."""
    subject = _SUBJECTS[rng.integers(len(_SUBJECTS))]
    verb = _VERBS[rng.integers(len(_VERBS))]
    negate = rng.random() < 0.45
    lexicon = POSITIVE_WORDS if (polarity > 0) != negate else NEGATIVE_WORDS
    adj = lexicon[rng.integers(len(lexicon))]
    words = [*subject.split(), verb]
    if negate:
        words.append(NEGATORS[rng.integers(len(NEGATORS))])
    return words + [adj]


def reviews(n: int = 2000, seed: int | None = 0):
    """``(texts, labels)``: n reviews (5-80 words) and int64 labels (1 positive, 0 negative).

    Classes are balanced (counts differ by at most one).  Each review has one to five sentiment
    sentences whose majority polarity is the label (a minority may disagree), among neutral filler
    sentences and words; about 45% of sentiment sentences are negated ("was not good" counts as
    negative, "was never bad" as positive).  Deterministic for a given seed.
    """
    n = _check_int("n", n, 1)
    rng = config.make_rng(seed)
    labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
    texts = []
    for label in labels:
        pol = 1 if label == 1 else -1
        target = int(rng.integers(5, 81))
        n_sent = max(1, min(5, target // 15))
        n_contra = int(rng.integers(0, (n_sent - 1) // 2 + 1))  # always a strict minority
        pols = [pol] * (n_sent - n_contra) + [-pol] * n_contra
        sentences = [_clause(rng, p) for p in rng.permutation(pols)]
        length = sum(map(len, sentences))
        while length < target:
            room = target - length
            fits = [f for f in _FILLER_SPLIT if len(f) <= room]
            if fits and rng.random() < 0.8:
                extra = list(fits[rng.integers(len(fits))])
                sentences.insert(int(rng.integers(len(sentences) + 1)), extra)
            else:
                extra = [_FILLER_WORDS[rng.integers(len(_FILLER_WORDS))]]
                sentences[int(rng.integers(len(sentences)))].insert(0, extra[0])
            length += len(extra)
        texts.append(" ".join(" ".join(s).capitalize() + "." for s in sentences))
    return texts, labels

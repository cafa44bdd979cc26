"""Choosing the next token from a model's distribution: greedy, temperature, top-k, top-p.

For probabilities p (or logits z = log p) over the vocabulary:

* greedy: the most likely token (the lowest id among ties); deterministic, no randomness.
  It is its own option (``greedy=True``), not temperature 0: temperature must be > 0.
* temperature T: sample from softmax(z / T); T < 1 sharpens, T > 1 flattens, T = 1 is p.
* top-k: keep the k most likely tokens (ties broken by lower id), renormalise, sample.
* top-p (nucleus, Holtzman et al. 2019): keep the smallest set of most likely tokens whose
  probability adds up to at least p, renormalise, sample; p = 1 keeps every token.

Applied in that order (temperature, then top-k, then top-p, as Hugging Face does), so top-k and
top-p see the tempered distribution.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks

WHO = "generate()"


def check_options(temperature=1.0, top_k=None, top_p=None, greedy=False, who=WHO):
    """The checked ``(temperature, top_k, top_p, greedy)``; clear errors for bad values."""
    if not isinstance(greedy, (bool, np.bool_)):
        raise TypeError(f"{who} greedy must be True or False, got {greedy!r}")
    if temperature is None:
        raise ValueError(f"{who} temperature must be a number > 0; for the most likely token "
                         "at each step use greedy=True")
    t = checks.number(temperature, "temperature", who)
    if t <= 0:
        raise ValueError(f"{who} temperature must be > 0, got {temperature!r} (temperature 0 is "
                         "not a limit rnnlab takes: use greedy=True for the most likely token)")
    top_k = checks.positive_int(top_k, "top_k", who, allow_none=True)
    if top_p is not None:
        top_p = checks.number(top_p, "top_p", who)
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"{who} top_p must be in (0, 1], got {top_p!r}")
    if greedy and (top_k is not None or top_p is not None):
        raise ValueError(f"{who} greedy=True picks the most likely token; top_k and top_p "
                         "only apply to sampling")
    return t, top_k, top_p, bool(greedy)


def filtered_probabilities(probs, temperature=1.0, top_k=None, top_p=None, from_logits=False):
    """The distribution (batch, V) that sampling draws from, after temperature, top-k, top-p."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if from_logits:
        z = p / temperature
    else:
        with np.errstate(divide="ignore"):
            z = np.log(np.clip(p, 0.0, None)) / temperature
    z = z - z.max(axis=1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(axis=1, keepdims=True)
    v = q.shape[1]
    # a stable descending order: larger probability first, lower id first among ties
    order = np.argsort(-q, axis=1, kind="stable")
    keep = np.ones_like(q, dtype=bool)
    if top_k is not None and top_k < v:
        drop = order[:, top_k:]
        np.put_along_axis(keep, drop, False, axis=1)
    if top_p is not None and top_p < 1.0:
        sorted_q = np.take_along_axis(np.where(keep, q, 0.0), order, axis=1)
        before = np.cumsum(sorted_q, axis=1) - sorted_q        # mass of the tokens ahead
        inside = before < top_p * sorted_q.sum(axis=1, keepdims=True)
        inside[:, 0] = True
        nucleus = np.zeros_like(keep)
        np.put_along_axis(nucleus, order, inside, axis=1)
        keep &= nucleus
    q = np.where(keep, q, 0.0)
    return q / q.sum(axis=1, keepdims=True)


def next_tokens(probs, rng, temperature=1.0, top_k=None, top_p=None, greedy=False,
                from_logits=False) -> np.ndarray:
    """One token id per row of ``probs`` (batch, V), drawn with ``rng`` (see the module docs)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if not np.all(np.isfinite(p)) or (not from_logits and (p < 0).any()):
        raise ValueError("The model's next-token distribution holds NaN, infinite or negative "
                         "values; is the model diverged, or does it output logits "
                         "(from_logits=True)?")
    if greedy:
        return np.argmax(p, axis=1)
    q = filtered_probabilities(p, temperature, top_k, top_p, from_logits)
    u = rng.random(q.shape[0])
    cum = np.cumsum(q, axis=1)
    ids = (cum < u[:, None] * cum[:, -1:]).sum(axis=1)
    # never land on a zero-probability token through rounding at the top end
    ids = np.minimum(ids, q.shape[1] - 1)
    bad = q[np.arange(q.shape[0]), ids] == 0.0
    if bad.any():
        ids[bad] = np.argmax(q[bad], axis=1)
    return ids

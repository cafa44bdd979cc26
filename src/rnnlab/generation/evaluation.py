"""How well a language model predicts held-out text, and the baselines it is judged against.

For targets w_1 … w_n and the model's probabilities p(w_i | w_<i)::

    bits per token = -(1/n) Σ log₂ p(w_i | w_<i)        perplexity = 2^(bits per token)

(bits per character at character level).  Every scorer here scores the same targets: all tokens
of the held-out ids but the first (which has nothing before it).

Baselines, fitted on the training ids with add-α smoothing over the vocabulary of V tokens
(α = 1: Laplace's add-one), so that no held-out token gets probability 0:

    unigram  p(c)     = (count(c) + α) / (N + α·V)
    bigram   p(c | a) = (count(a c) + α) / (count(a ·) + α·V)

where count(a ·) counts the bigrams that start with a (the training ids but the last).
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import checks
from rnnlab.generation.data import _ids
from rnnlab.generation.stepper import Stepper


def _vocab_size(vocab_size, who):
    return checks.integer(vocab_size, "vocab_size", low=1, who=who)


def _check_range(ids, v, who, what):
    if ids.size and (ids.min() < 0 or ids.max() >= v):
        raise ValueError(f"{who} {what} ids must be in [0, vocab_size={v}), got "
                         f"[{ids.min()}, {ids.max()}]")


def bits(log_probs_nats) -> float:
    """Bits per token from natural-log probabilities of the targets."""
    lp = np.asarray(log_probs_nats, dtype=np.float64)
    return float(-lp.mean() / math.log(2.0))


def perplexity(bits_per_token: float) -> float:
    """2 to the bits per token."""
    return float(2.0 ** bits_per_token)


class _CountModel:
    """A count-based baseline: the shared checks of its training and held-out ids, and bits per
    token from ``log_probs``."""

    _order = 1        # ids a training text needs (1 for unigrams, 2 for bigrams)

    def __init__(self, train_ids, vocab_size: int, alpha: float = 1.0):
        who = type(self).__name__
        self.vocab_size = _vocab_size(vocab_size, who)
        ids = _ids(train_ids, who, self._order)
        _check_range(ids, self.vocab_size, who, "training")
        self.alpha = checks.positive_number(alpha, "alpha", who)
        self.probs = self._fit(ids)

    def _held_out(self, ids) -> np.ndarray:
        who = type(self).__name__
        ids = _ids(ids, f"{who}.log_probs", 2)
        _check_range(ids, self.vocab_size, who, "held-out")
        return ids

    def bits_per_token(self, ids) -> float:
        return bits(self.log_probs(ids))


class UnigramModel(_CountModel):
    """Add-α unigram probabilities fitted on training ids (module docs)."""

    def _fit(self, ids):
        v = self.vocab_size
        counts = np.bincount(ids, minlength=v).astype(np.float64)
        return (counts + self.alpha) / (ids.size + self.alpha * v)

    def log_probs(self, ids) -> np.ndarray:
        """ln p of every target (all ids but the first)."""
        return np.log(self.probs[self._held_out(ids)[1:]])


class BigramModel(_CountModel):
    """Add-α bigram probabilities p(c | a) fitted on training ids (module docs)."""

    _order = 2

    def _fit(self, ids):
        v = self.vocab_size
        counts = np.zeros((v, v))
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
        return (counts + self.alpha) / (counts.sum(axis=1, keepdims=True) + self.alpha * v)

    def log_probs(self, ids) -> np.ndarray:
        ids = self._held_out(ids)
        return np.log(self.probs[ids[:-1], ids[1:]])


def _one_hot_or_ids(model_input_rank, ids, v, dtype):
    if model_input_rank == 2:
        return ids
    out = np.zeros(ids.shape + (v,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out


def model_log_probs(model, ids, streams: int = 16, window: int | None = None,
                    from_logits: bool = False) -> np.ndarray:
    """ln p(w_i | context) for every target w_1 … w_{n-1} of ``ids``.

    Without ``window`` (a recurrent model, context = everything before): the ids are cut into
    ``streams`` contiguous pieces, run side by side through a :class:`Stepper`, each piece with
    fresh states (its first token is context only, scored as the previous piece's last target),
    so the cost is about n/streams steps.  With ``window`` (a model that reads a fixed window and
    predicts the next token): each target is scored by ``model.predict`` on the ``window`` ids
    before it; the first ``window`` targets are scored on the shorter prefix through a Stepper
    when the model has one, so the targets are the same as the baselines'.
    """
    who = "model_log_probs()"
    ids = _ids(ids, who, 2)
    streams = checks.positive_int(streams, "streams", who)
    window = checks.positive_int(window, "window", who, allow_none=True)
    rank = len(_input_shape(model))
    v = _output_size(model)
    _check_range(ids, v, who, "held-out")
    n = ids.size - 1                                           # targets
    if window is not None:
        out = np.empty(n)
        head = min(window, n)
        pre = _stepper_log_probs(model, ids[:head + 1], 1, rank, v, from_logits)
        out[:head] = pre
        if n > head:
            x = ids[(np.arange(head, n) - window + 1)[:, None] + np.arange(window)]
            probs = np.asarray(model.predict(_one_hot_or_ids(rank, x, v, "float64"),
                                             verbose=0), dtype=np.float64)
            probs = probs.reshape(len(x), -1, v)[:, -1]
            out[head:] = _log_of(probs, ids[head + 1:], from_logits)
        return out
    return _stepper_log_probs(model, ids, streams, rank, v, from_logits)


def _log_of(probs, targets, from_logits):
    if from_logits:
        z = probs - probs.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return z[np.arange(len(targets)), targets] - lse
    with np.errstate(divide="ignore"):
        return np.log(probs[np.arange(len(targets)), targets])


def _stepper_log_probs(model, ids, streams, rank, v, from_logits):
    n = ids.size - 1
    b = max(1, min(streams, n))
    per = n // b                                               # targets per stream
    out = np.empty(n)
    stepper = Stepper(model)
    pieces = [(0, per, b)] + ([(per * b, n - per * b, 1)] if n > per * b else [])
    for start, count, k in pieces:
        stepper.reset()
        rows = start + np.arange(k)[:, None] * count + np.arange(count + 1)   # (k, count+1)
        x = ids[rows]
        for s in range(count):
            probs = np.asarray(stepper.step(_one_hot_or_ids(rank, x[:, s], v, "float64")),
                               dtype=np.float64)
            out[start + np.arange(k) * count + s] = _log_of(probs.reshape(k, v), x[:, s + 1],
                                                            from_logits)
    return out


def _input_shape(model):
    shape = getattr(model, "batch_input_shape", None)
    if shape is None:
        raise ValueError("The language model needs a known input shape (build it with an Input)")
    if len(shape) not in (2, 3):
        raise ValueError(f"A language model takes token ids (batch, time) or one-hot vectors "
                         f"(batch, time, vocabulary), got input shape {tuple(shape)}")
    return tuple(shape)


def _output_size(model) -> int:
    shapes = model._output_shapes_for([_input_shape(model)])
    return int(shapes[0][-1])


def bits_per_token(model, ids, **kwargs) -> float:
    """The model's bits per token (bits per character at character level) on held-out ids."""
    return bits(model_log_probs(model, ids, **kwargs))


bits_per_character = bits_per_token


def compare_with_baselines(model, held_out_ids, train_ids, alpha: float = 1.0, **kwargs) -> dict:
    """The model's bits per token and perplexity on ``held_out_ids`` next to the add-α unigram
    and bigram baselines fitted on ``train_ids``, all on the same targets (``kwargs`` go to
    :func:`model_log_probs`)."""
    v = _output_size(model)
    model_bits = bits_per_token(model, held_out_ids, **kwargs)
    uni = UnigramModel(train_ids, v, alpha).bits_per_token(held_out_ids)
    bi = BigramModel(train_ids, v, alpha).bits_per_token(held_out_ids)
    return {"bits_per_token": model_bits, "perplexity": perplexity(model_bits),
            "unigram_bits_per_token": uni, "unigram_perplexity": perplexity(uni),
            "bigram_bits_per_token": bi, "bigram_perplexity": perplexity(bi)}

"""Generating text from a trained language model, one step per new token.

:class:`TextGenerator` feeds the prompt through a :class:`~rnnlab.generation.stepper.Stepper`
(one step per prompt token), then repeatedly picks the next token from the model's distribution
(:mod:`rnnlab.generation.sampling`) and feeds it back: n new tokens cost n steps, whatever the
length of the text so far.  Tokens come out as they are made (:meth:`TextGenerator.stream`, or a
``callback``), in logical order: right-to-left text is not reordered.

Rules: the prompt must hold at least one token, all known to the vocabulary (or the vocabulary
has an ``oov_token``, see :mod:`rnnlab.generation.vocab`); every argument is checked before the
model runs, so a rejected call generates nothing.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config
from rnnlab.generation.evaluation import _input_shape, _one_hot_or_ids, _output_size
from rnnlab.generation.sampling import check_options, next_tokens
from rnnlab.generation.stepper import Stepper
from rnnlab.generation.vocab import Vocabulary


class TextGenerator:
    """``TextGenerator(model, vocabulary)``: a language model (next-token probabilities over the
    vocabulary, or logits with ``from_logits=True``) and the vocabulary it was trained with.

    ``window=n`` is for a model that reads a fixed window (Keras's text-generation example, or a
    model that cannot be stepped, e.g. with Conv1D): each new token runs ``model.predict`` on the
    last n tokens, so it costs n steps, not one.  Without it, a :class:`Stepper` carries the
    states and each new token costs one step."""

    def __init__(self, model, vocabulary: Vocabulary, from_logits: bool = False,
                 window: int | None = None):
        if not isinstance(vocabulary, Vocabulary):
            raise TypeError(f"TextGenerator needs the model's Vocabulary (CharVocabulary or "
                            f"WordVocabulary), got {vocabulary!r}")
        self._rank = len(_input_shape(model))
        v = _output_size(model)
        if v != len(vocabulary):
            raise ValueError(f"TextGenerator: the model predicts {v} classes but the vocabulary "
                             f"has {len(vocabulary)} tokens; this is not a language model over "
                             "that vocabulary")
        self.model = model
        self.vocabulary = vocabulary
        self.from_logits = bool(from_logits)
        self.window = checks.positive_int(window, "window", "TextGenerator", allow_none=True)
        self.stepper = Stepper(model) if self.window is None else None
        self._dtype = config.floatx()

    def _input(self, ids):
        return _one_hot_or_ids(self._rank, np.asarray(ids, dtype=np.int64), len(self.vocabulary),
                               self._dtype)

    def _probs(self, out):
        return np.asarray(out, dtype=np.float64).reshape(-1, len(self.vocabulary))

    def stream(self, prompt: str, length: int, temperature=1.0, top_k=None, top_p=None,
               greedy: bool = False, seed: int | None = None):
        """An iterator over the ``length`` new tokens (strings), made one at a time.  The
        arguments are checked now, before the first token is asked for."""
        who = "generate()"
        length = checks.positive_int(length, "length", who)
        options = check_options(temperature, top_k, top_p, greedy, who)
        seed = checks.seed(seed, who)
        if not isinstance(prompt, str):
            raise TypeError(f"{who} prompt must be a str, got {type(prompt).__name__}")
        ids = self.vocabulary.encode(prompt)
        if ids.size == 0:
            raise ValueError(f"{who} prompt must hold at least one token to start from, got "
                             f"{prompt!r}")
        rng = config.make_rng(seed)             # None: the global generator (set_random_seed)
        return self._run(ids, length, options, rng)

    def _run(self, ids, length, options, rng):
        if self.window is not None:
            yield from self._run_windows(ids, length, options, rng)
            return
        temperature, top_k, top_p, greedy = options
        stepper = self.stepper
        stepper.reset()
        out = None
        for token in ids:
            out = stepper.step(self._input([token]))
        for k in range(length):
            nxt = next_tokens(self._probs(out), rng, temperature, top_k, top_p, greedy,
                              self.from_logits)
            yield self.vocabulary.tokens[int(nxt[0])]
            if k + 1 < length:
                out = stepper.step(self._input(nxt))

    def _run_windows(self, ids, length, options, rng):
        temperature, top_k, top_p, greedy = options
        ids = list(ids)
        for _ in range(length):
            x = self._input(np.asarray(ids[-self.window:])[None])
            out = np.asarray(self.model.predict(x, verbose=0))
            probs = out.reshape(1, -1, len(self.vocabulary))[:, -1]
            nxt = int(next_tokens(probs, rng, temperature, top_k, top_p, greedy,
                                  self.from_logits)[0])
            ids.append(nxt)
            yield self.vocabulary.tokens[nxt]

    def generate(self, prompt: str, length: int, temperature=1.0, top_k=None, top_p=None,
                 greedy: bool = False, seed: int | None = None, callback=None) -> str:
        """The ``length`` new tokens after ``prompt``, joined (the prompt is not repeated);
        ``callback(token)`` is called with each token as it is made."""
        if callback is not None and not callable(callback):
            raise TypeError(f"generate() callback must be callable, got {callback!r}")
        tokens = []
        for token in self.stream(prompt, length, temperature, top_k, top_p, greedy, seed):
            tokens.append(token)
            if callback is not None:
                callback(token)
        return self.vocabulary.join(tokens)


def generate(model, prompt: str, length: int, temperature=1.0, top_k=None, top_p=None,
             seed: int | None = None, greedy: bool = False, *, vocabulary: Vocabulary,
             from_logits: bool = False, window: int | None = None, callback=None) -> str:
    """``length`` new tokens after ``prompt`` from ``model`` (see :class:`TextGenerator`)."""
    return TextGenerator(model, vocabulary, from_logits=from_logits, window=window).generate(
        prompt, length, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
        seed=seed, callback=callback)

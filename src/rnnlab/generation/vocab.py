"""Vocabularies for language models: characters or words of any Unicode text, to ids and back.

A character is one Unicode code point (Python's ``str`` items); the text is not normalised, so
``decode(encode(text)) == text`` exactly, combining marks (Hebrew niqqud, accents) included.
Right-to-left text is stored and generated in logical order (the order it is typed and read);
bidirectional reordering is a display matter, left to whatever shows the text.

Unknown tokens (the rule): a vocabulary knows the tokens of the text it was built from.  By
default, encoding a token it never saw raises ValueError naming the tokens; with
``oov_token="…"`` (a token of its own, id 0) every unseen token maps to it instead, and the
model learns its probability from the training text's rare tokens when ``min_count`` > 1.

Word level: the text is cut into runs of word characters (``\\w+``, any script), runs of
whitespace and single other characters (punctuation), so that joining the tokens gives the text
back; ids are given by frequency (most frequent first, ties by first appearance).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from rnnlab import checks

_WORDS = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


def split_words(text: str) -> list[str]:
    """Words, whitespace runs and punctuation marks of ``text``; ``"".join`` gives it back."""
    return _WORDS.findall(text)


class Vocabulary:
    """Tokens <-> ids (see the module documentation for the unknown-token rule)."""

    level = "char"

    def __init__(self, tokens, oov_token: str | None = None):
        tokens = list(tokens)
        if oov_token is not None:
            if not isinstance(oov_token, str) or not oov_token:
                raise TypeError(f"{type(self).__name__} oov_token must be a non-empty string or "
                                f"None, got {oov_token!r}")
            tokens = [oov_token] + [t for t in tokens if t != oov_token]
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"{type(self).__name__} tokens must be distinct")
        if not tokens:
            raise ValueError(f"{type(self).__name__} needs at least one token")
        self.tokens = tokens
        self.oov_token = oov_token
        self.index = {t: i for i, t in enumerate(tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self.index

    def __repr__(self):
        return f"{type(self).__name__}({len(self)} tokens)"

    #: The tokens of a text (characters here; words in WordVocabulary).
    split = staticmethod(list)

    def join(self, tokens) -> str:
        return "".join(tokens)

    @classmethod
    def from_text(cls, text: str, oov_token: str | None = None, min_count: int = 1,
                  max_tokens: int | None = None):
        """The vocabulary of ``text``.  ``min_count``/``max_tokens`` drop rare tokens (then an
        ``oov_token`` is required, to stand for them)."""
        who = f"{cls.__name__}.from_text"
        if not isinstance(text, str):
            raise TypeError(f"{who} takes a str, got {type(text).__name__}")
        min_count = checks.positive_int(min_count, "min_count", who)
        max_tokens = checks.positive_int(max_tokens, "max_tokens", who, allow_none=True)
        counts = Counter(cls.split(text))
        if len(counts) < 2:
            raise ValueError(f"{who}: a language model needs text with at least two distinct "
                             f"{cls._unit}s, got {len(text)} character(s) with {len(counts)}")
        order = sorted(counts, key=lambda t: -counts[t]) if cls.level == "word" else sorted(counts)
        kept = [t for t in order if counts[t] >= min_count]
        if max_tokens is not None:
            kept = sorted(kept, key=lambda t: -counts[t])[:max_tokens]
            kept = [t for t in order if t in set(kept)]
        if len(kept) < len(counts) and oov_token is None:
            raise ValueError(f"{who}: min_count/max_tokens drop {len(counts) - len(kept)} "
                             f"{cls._unit}(s); give oov_token= to stand for them")
        return cls(kept, oov_token=oov_token)

    _unit = "character"

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` (int64); unseen tokens raise ValueError, or map to the
        ``oov_token``'s id 0 when there is one."""
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.encode takes a str, got "
                            f"{type(text).__name__}")
        tokens = self.split(text)
        get = self.index.get
        ids = [get(t, -1) for t in tokens]
        if -1 in ids:
            if self.oov_token is None:
                unseen = sorted({t for t, i in zip(tokens, ids) if i < 0})
                shown = ", ".join(f"{t!r} (U+{ord(t):04X})" if len(t) == 1 else repr(t)
                                  for t in unseen[:10])
                raise ValueError(f"{len(unseen)} {self._unit}(s) not in the vocabulary: {shown}"
                                 f"{' ...' if len(unseen) > 10 else ''}; the model never saw "
                                 "them (build the vocabulary with oov_token= to map them to one "
                                 "token)")
            ids = [0 if i < 0 else i for i in ids]
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids) -> str:
        """The text of ``ids``."""
        ids = np.asarray(ids)
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0
                         or ids.max() >= len(self)):
            raise ValueError(f"{type(self).__name__}.decode takes integer ids in [0, "
                             f"{len(self)}), got {ids.dtype} in "
                             f"[{ids.min()}, {ids.max()}]")
        return self.join(self.tokens[i] for i in ids.ravel().tolist())

    def get_config(self) -> dict:
        return {"level": self.level, "tokens": list(self.tokens), "oov_token": self.oov_token}

    @staticmethod
    def from_config(cfg: dict) -> Vocabulary:
        kind = {"char": CharVocabulary, "word": WordVocabulary}.get(cfg.get("level"))
        if kind is None:
            raise ValueError(f"Unknown vocabulary level {cfg.get('level')!r}")
        tokens = [t for t in cfg["tokens"] if t != cfg.get("oov_token")]
        return kind(tokens, oov_token=cfg.get("oov_token"))


class CharVocabulary(Vocabulary):
    """Characters (Unicode code points), ids in sorted code-point order."""

    level = "char"
    _unit = "character"


class WordVocabulary(Vocabulary):
    """Words, whitespace runs and punctuation (:func:`split_words`), most frequent first."""

    level = "word"
    _unit = "word"
    split = staticmethod(split_words)

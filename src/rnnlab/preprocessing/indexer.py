"""The machinery under :class:`rnnlab.preprocessing.text.Tokenizer`, apart from its Keras API.

* :func:`replacer`: a cached ``text -> text`` function that turns every filter character into the
  separator, through one ``bytes.translate`` of the UTF-8 text when filters and separator are
  ASCII (identical to Keras's ``str.translate``, and far faster on non-ASCII text);
* :func:`compiled_indexer`: the compiled corpus indexer (:mod:`._text_kernel`) for a tokenizer's
  settings when it applies, chosen by :func:`rnnlab.config.kernels` (``"fast"``), or None;
* :class:`FitCache`: the token ids of the last fitted texts, which let ``texts_to_sequences`` on
  those very text objects skip tokenizing them again (one NumPy gather);
* :class:`SequenceLookup`: a fixed vocabulary's compiled table, which turns a chunk of texts
  straight into truncated id sequences (flat ids and offsets, no Python list per text), for
  text streamed from files (:mod:`rnnlab.data.text_files`).

Nothing here imports the engine (kernels, layers, models); Numba is imported on first use only.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

import numpy as np

from rnnlab import config

__all__ = ["CompiledIndexer", "FitCache", "SequenceLookup", "compiled_indexer", "replacer",
           "sequence_lookup"]


@lru_cache(maxsize=64)
def _table(filters: str, split: str) -> dict:
    """The ``str.translate`` table that turns every filter character into the separator."""
    return str.maketrans(dict.fromkeys(filters, split))


@lru_cache(maxsize=64)
def _byte_table(filters: str, split: str) -> bytes:
    """The 256-byte ``bytes.translate`` table that turns every (ASCII) filter byte into the
    (ASCII, one-byte) separator."""
    return bytes.maketrans(filters.encode(), split.encode() * len(filters))


@lru_cache(maxsize=64)
def replacer(filters: str, split: str):
    """A function ``text -> text`` with every filter character replaced by ``split``.

    ``str.translate`` is slow on non-ASCII text (a dict lookup per character), so when the
    filters and the separator are ASCII the text goes through UTF-8 and ``bytes.translate``
    with a 256-byte table instead: ASCII bytes never occur inside a multi-byte UTF-8 sequence,
    so the result is identical ('surrogatepass' keeps even lone surrogates intact).
    """
    if not filters:
        return lambda text: text
    if filters.isascii() and len(split) == 1 and split.isascii():
        btable = _byte_table(filters, split)

        def replace(text):
            return text.encode("utf-8", "surrogatepass").translate(btable).decode(
                "utf-8", "surrogatepass")
        return replace
    table = _table(filters, split)
    return lambda text: text.translate(table)


@lru_cache(maxsize=1)
def _module():
    """``_text_kernel``, or None without Numba.  Loaded on first use: a lazy load for start-up
    time (importing Numba costs about a second), as ``rnnlab.kernels.ops`` loads the compiled
    kernels; not a way around an import cycle."""
    try:
        return importlib.import_module("rnnlab.preprocessing._text_kernel")
    except ImportError:                                 # pragma: no cover - Numba not installed
        return None


def _kernel():
    """``_text_kernel.index_corpus``, or None without Numba."""
    module = _module()
    return None if module is None else module.index_corpus


class CompiledIndexer:
    """Split, index and count a corpus of str texts in one compiled loop (:mod:`._text_kernel`)
    for fixed filters and separator."""

    def __init__(self, kernel, table: bytes | None, split: str):
        self._kernel = kernel
        self.table = table          # the bytes.translate table of the filters (None: no filters)
        self.split = split

    def __call__(self, texts: list, lower: bool):
        """``(ids, offsets, words, counts, docs)`` of a list of str: text ``j``'s token ids are
        ``ids[offsets[j]:offsets[j+1]]``, ids index ``words`` (first-appearance order), and
        ``counts``/``docs`` are each word's occurrences and documents."""
        return self._kernel(list(map(str.lower, texts)) if lower else texts, self.table,
                            self.split)


def compiled_indexer(filters: str, split: str, char_level: bool) -> CompiledIndexer | None:
    """The compiled corpus indexer for these settings, or None when it does not apply: reference
    kernels selected (``rnnlab.config``), Numba missing, character-level tokens, or a
    separator/filters that are not single ASCII bytes."""
    if (char_level or config.kernels() != "fast" or len(split) != 1 or not split.isascii()
            or not filters.isascii()):
        return None
    kernel = _kernel()
    if kernel is None:                                  # pragma: no cover - Numba not installed
        return None
    return CompiledIndexer(kernel, _byte_table(filters, split) if filters else None, split)


class FitCache:
    """Token ids of the last fitted texts: ``ids[offsets[j]:offsets[j+1]]`` are text ``j``'s,
    ids index ``words`` (the fit's tokens in first-appearance order).  Holding the text objects
    keeps their ``id()`` unique, so ``where[id(text)]`` identifies a fitted text exactly."""

    def __init__(self, settings, texts, offsets, ids, words):
        self.settings = settings
        self.texts = texts
        self.where = {id(t): j for j, t in enumerate(texts) if t is not None} if texts else {}
        self.offsets = offsets
        self.ids = ids
        self.words = words

    def lut(self, split_get, oov):
        """Output index per fit-local id (0 = drop), as split texts are looked up."""
        default = 0 if oov is None else oov
        vals = [split_get(w, default) or 0 for w in self.words]
        return np.asarray(vals, dtype=np.int64)

    def fill(self, out, hits, lut):
        """Put the sequences of the fitted texts ``hits = [(slot, j)]`` into ``out[slot]``."""
        if not hits:
            return
        slots = [s for s, _ in hits]
        docs = np.fromiter((j for _, j in hits), dtype=np.int64, count=len(hits))
        starts = self.offsets[docs]
        lens = self.offsets[docs + 1] - starts
        if len(docs) == 1 or np.all(np.diff(docs) == 1):     # a run of consecutive texts
            seg = self.ids[starts[0]:starts[0] + lens.sum()]
        else:
            rel = np.zeros(len(docs), dtype=np.int64)
            np.cumsum(lens[:-1], out=rel[1:])
            seg = self.ids[np.arange(lens.sum()) + np.repeat(starts - rel, lens)]
        mapped = lut[seg]
        keep = mapped != 0
        values = mapped[keep].tolist()
        bounds = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(lens, out=bounds[1:])
        kept_before = np.zeros(len(seg) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        cuts = kept_before[bounds].tolist()
        for k, slot in enumerate(slots):
            out[slot] = values[cuts[k]:cuts[k + 1]]


class SequenceLookup:
    """Texts to id sequences through a fixed vocabulary, compiled: ``table`` maps a token to its
    output id (0: drop it); a token not in it gives ``default``.  At most ``maxlen`` ids are kept
    per text, its first (``truncating="post"``) or its last ones (``"pre"``), as
    ``pad_sequences`` cuts them.  Made by :meth:`rnnlab.preprocessing.text.Tokenizer.
    sequence_lookup`, which gives the table of its ``texts_to_sequences``."""

    def __init__(self, kernels, table: dict, default: int, filters: str, split: str,
                 lower: bool, maxlen: int | None, truncating: str):
        self._k = kernels
        self.split, self.lower = split, bool(lower)
        self.bytemap = _bytemap(filters, split, self.lower)
        self.maxlen, self.keep_last = maxlen, truncating == "pre"
        self.default = int(default)
        sep = split.encode("ascii")
        # a word that holds the separator is never one token: it could never match
        words = [(w.encode("utf-8", "surrogatepass"), v) for w, v in table.items()
                 if v != self.default and w and split not in w]
        self.wbuf = np.frombuffer(b"".join(w for w, _ in words) or sep, dtype=np.uint8)
        self.wlens = np.fromiter((len(w) for w, _ in words), dtype=np.int64, count=len(words))
        self.wstarts = np.zeros(len(words), dtype=np.int64)
        np.cumsum(self.wlens[:-1], out=self.wstarts[1:])
        self.values = np.fromiter((v for _, v in words), dtype=np.int64, count=len(words))
        self.max_id = int(max(self.values.max(initial=0), self.default))
        self.table = kernels.vocab_table(self.wbuf, self.wstarts, self.wlens, self.values)
        self.sep = np.uint8(sep[0])

    def __call__(self, texts: list):
        """``(ids int32, offsets int64)`` of a list of str: text ``j``'s kept ids are
        ``ids[offsets[j]:offsets[j+1]]``."""
        sep = self.split.encode("ascii")
        if self.lower:
            texts = map(str.lower, texts)
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        raw = sep.join(encoded)
        del encoded
        starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return self.utf8(np.frombuffer(raw or sep, dtype=np.uint8), starts, starts + lengths)

    def utf8(self, buf, starts, ends):
        """:meth:`__call__` on texts given as UTF-8 bytes ``buf[starts[j]:ends[j]]`` (e.g. an
        Arrow string column's buffer, with no copy).  With ``lower``, ASCII letters are lowered
        here; a text with other characters must already be ``str.lower``-ed (its UTF-8 bytes):
        lowering again its ASCII bytes changes nothing."""
        cap = (ends - starts + 1) // 2                # at most this many tokens per text
        maxlen = (1 << 62) if self.maxlen is None else self.maxlen
        bound = int(np.minimum(cap, maxlen).sum())
        return self._k.lookup_sequences(buf, starts, ends, self.bytemap, self.sep, self.table,
                                        self.wbuf, self.default, maxlen, self.keep_last, bound)


def _bytemap(filters: str, split: str, lower: bool) -> np.ndarray:
    """What the lookup reads for each byte: ASCII letters lowered (with ``lower``), then the
    (ASCII) filters and the separator as the separator; other bytes as they are.  Lowering then
    filtering is the order of ``texts_to_sequences`` (``str.lower``, then the filters)."""
    table = bytearray(range(256))
    if lower:
        table = bytearray(bytes(table).lower())
    sep = ord(split)
    cut = set(filters.encode("ascii")) | {sep}
    return np.frombuffer(bytes(sep if b in cut else b for b in table), dtype=np.uint8).copy()


def sequence_lookup(table: dict, default: int, filters: str, split: str, lower: bool,
                    char_level: bool, maxlen: int | None, truncating: str):
    """A :class:`SequenceLookup` for these settings, or None when the compiled indexer does not
    apply (see :func:`compiled_indexer`)."""
    if compiled_indexer(filters, split, char_level) is None:
        return None
    module = _module()
    return SequenceLookup(module, table, default, filters, split, lower, maxlen, truncating)

"""Text tokenization with the semantics of Keras's ``preprocessing.text``
(keras-preprocessing 1.1.2).

The :class:`Tokenizer` gives the same vocabulary, counts, indices, sequences and matrices as
Keras's, so a lecture notebook keeps its numbers after swapping the import.  It is written for
speed (see benchmarks/tokenizer_speed.py), with no Python code run per word:

* with Numba and the fast kernels selected (``rnnlab.config.set_kernels``), word-level texts are
  split, indexed and counted by one compiled loop over the corpus's UTF-8 bytes (chosen by
  :func:`rnnlab.preprocessing.indexer.compiled_indexer`); the pure-Python path below is the
  reference;
* filters become separators through one ``bytes.translate`` of the UTF-8 text (identical to
  Keras's ``str.translate`` when filters and ``split`` are ASCII, and far faster on non-ASCII
  text; :func:`rnnlab.preprocessing.indexer.replacer`), then one ``str.split``;
* fitting maps each token to a dense id with one C-level dict lookup and counts with
  ``np.bincount``;
* ``texts_to_sequences`` looks tokens up with ``map(dict.get, tokens)``, and for the very text
  objects of the last fit (the usual fit-then-transform pipeline) it reuses the fit's token ids
  through one NumPy gather.

Deliberate differences from Keras (all on input that Keras mishandles):

* a text that is neither a ``str`` nor a ``list`` of ``str`` tokens (None, NaN, bytes, numbers)
  raises ``TypeError`` naming its position; a single string passed as ``texts`` raises too
  (Keras would silently treat every character as a document);
* ``num_words < 1`` raises ``ValueError`` (Keras treats 0 as "no limit");
* an ``oov_token`` that has no index yet (unfitted tokenizer) raises in ``texts_to_sequences``
  (Keras emits ``None`` entries);
* a failed :meth:`Tokenizer.fit_on_texts` (or :meth:`Tokenizer.fit_on_sequences`) leaves the
  tokenizer unchanged;
* token ids (in :meth:`Tokenizer.sequences_to_matrix`, :meth:`Tokenizer.sequences_to_texts` and
  :meth:`Tokenizer.fit_on_sequences`) must be integers: Python ints or NumPy integers (scalars or
  integer arrays).  A float id, even an integral one such as ``3.0``, a bool or a str raises
  ``TypeError`` naming its position: keras-preprocessing's ``sequences_to_matrix`` refuses floats
  too (with an IndexError), and its ``sequences_to_texts`` only happens to map ``3.0`` to word 3;
* ``oov_token`` must be a str (or None), ``document_count`` an integer >= 0;
* :func:`tokenizer_from_json` checks the whole document (its structure, every table's key and
  value types, ``index_word`` being the inverse of ``word_index``, the settings) and raises one
  ``ValueError`` saying what is wrong; it restores ``word_counts`` as an ``OrderedDict`` and the
  doc counts as ``defaultdict(int)`` so the tokenizer can keep fitting (Keras's restored one
  cannot).
"""
from __future__ import annotations

import json as _json
import re
import struct
import warnings
from collections import Counter, OrderedDict, defaultdict
from hashlib import md5
from itertools import chain, count, repeat

import numpy as np

from rnnlab import checks
from rnnlab import io as _io
from rnnlab.preprocessing.indexer import FitCache, compiled_indexer, replacer, sequence_lookup
from rnnlab.registry import Registry

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_MODES = ("binary", "count", "tfidf", "freq")
_EMPTY = object()     # stands for a genuine '' token of a list text while fitting
_ID = struct.Struct("=i")            # fit-local token ids, packed so a text's ids join as bytes
_ID_DTYPE = np.dtype(np.int32)


def _unpack_id(packed: bytes) -> int:
    return _ID.unpack(packed)[0]

__all__ = ["Tokenizer", "tokenizer_from_json", "text_to_word_sequence", "one_hot",
           "hashing_trick", "DEFAULT_FILTERS"]


def _check_split(split):
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty string, got {split!r}")


def _filters_key(filters) -> str:
    """Filters as one string of single characters (Keras accepts a string or a list of chars)."""
    if filters is None:
        return ""
    if isinstance(filters, str):
        return filters
    chars = list(filters)
    for c in chars:
        if not isinstance(c, str) or len(c) != 1:
            raise ValueError(f"filters must be a string or a list of single characters, "
                             f"got element {c!r}")
    return "".join(chars)


def _bad_text(pos, text, what="text"):
    return TypeError(f"{what} at position {pos} must be a str (or a list of str tokens), "
                     f"got {type(text).__name__}: {text!r:.60}")


def _check_texts(texts):
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list (or other iterable) of strings, got a single "
                        f"{type(texts).__name__}; wrap it in a list")
    try:
        return iter(texts)
    except TypeError:
        raise TypeError(f"texts must be an iterable of strings, got {type(texts).__name__}") \
            from None


def _is_id_type(t) -> bool:
    return issubclass(t, (int, np.integer)) and not issubclass(t, bool)


def _id_sequence(pos, seq):
    """``seq`` (a sequence of token ids) as a list of ints or a 1-D integer array; TypeError
    naming the position of a non-integer id (float, bool, str...) or of a non-sequence."""
    if isinstance(seq, np.ndarray):
        if seq.dtype.kind in "iu" or (seq.size == 0 and seq.dtype.kind in "biuf"):
            return seq.ravel()
        if seq.dtype != object:
            raise TypeError(f"sequence at position {pos} is an array of {seq.dtype}: token ids "
                            "must be integers")
        seq = seq.ravel().tolist()
    elif isinstance(seq, (str, bytes)) or not hasattr(seq, "__iter__"):
        raise TypeError(f"sequence at position {pos} must be a list (or array) of integer token "
                        f"ids, got {type(seq).__name__}: {seq!r:.60}")
    elif type(seq) is not list:
        seq = list(seq)
    types = set(map(type, seq))
    if types and not (types == {int} or all(map(_is_id_type, types))):
        k, bad = next((k, v) for k, v in enumerate(seq) if not _is_id_type(type(v)))
        raise TypeError(f"sequence at position {pos} holds {bad!r:.40} ({type(bad).__name__}) "
                        f"at index {k}: token ids must be integers (floats such as 3.0 are "
                        "refused)")
    return seq


def _token_list(pos, tokens, lower):
    """A list of already-split tokens (Keras's list input), lowered if asked."""
    for t in tokens:
        if not isinstance(t, str):
            raise TypeError(f"text at position {pos} is a list whose tokens must all be str, "
                            f"found {type(t).__name__}: {t!r:.60}")
    return [t.lower() for t in tokens] if lower else tokens


def text_to_word_sequence(text, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """Split a text into words: lowercase, turn every filter character into ``split``, split,
    drop empty strings (Keras's function, same output)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r:.60}")
    _check_split(split)
    if lower:
        text = text.lower()
    return list(filter(None, replacer(_filters_key(filters), split)(text).split(split)))


def hashing_trick(text, n, hash_function=None, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """Words of ``text`` hashed into ``[1, n - 1]`` (0 stays reserved); ``hash_function`` is
    Python's ``hash`` (not stable across runs), ``"md5"`` (stable) or any ``str -> int``."""
    n = checks.integer(n, "n (the hashing space size)", low=2)
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(w):
            return int(md5(w.encode()).hexdigest(), 16)
    words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    return [hash_function(w) % (n - 1) + 1 for w in words]


def one_hot(text, n, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """:func:`hashing_trick` with Python's ``hash`` (Keras's misnamed ``one_hot``)."""
    return hashing_trick(text, n, hash_function=hash, filters=filters, lower=lower, split=split)


_CHUNK = 4096


#: Keras's ``{"class_name": "Tokenizer", "config": ...}`` JSON, from the one registry mechanism.
TOKENIZERS = Registry("tokenizer")


@TOKENIZERS.register
class Tokenizer:
    """Vocabulary of a text corpus, indexed by frequency (1 = most frequent; 0 is never used).

    Arguments are Keras's: ``num_words`` keeps only indices ``< num_words`` when converting
    (the vocabulary itself keeps every word); ``filters`` are characters treated as separators;
    ``lower`` lowercases first; ``split`` is the separator; ``char_level`` makes every character
    a token; ``oov_token`` gets index 1 and stands in for unknown (or cut-off) words.
    A text may also be a list of str tokens, used as is (lowered if ``lower``).
    """

    def __init__(self, num_words=None, filters=DEFAULT_FILTERS, lower=True, split=" ",
                 char_level=False, oov_token=None, document_count=0, **kwargs):
        if "nb_words" in kwargs:
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed `num_words`.")
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments for Tokenizer: {sorted(kwargs)}")
        if num_words is not None and not checks.is_int(num_words):
            raise TypeError(f"num_words must be an integer or None, got {num_words!r}")
        num_words = checks.positive_int(num_words, "num_words", allow_none=True)
        _check_split(split)
        _filters_key(filters)
        if oov_token is not None and not isinstance(oov_token, str):
            raise TypeError(f"oov_token must be a str or None, got {oov_token!r:.60}")
        document_count = checks.non_negative_int(document_count, "document_count")
        self.word_counts = OrderedDict()
        self.word_docs = defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs = defaultdict(int)
        self.word_index = {}
        self.index_word = {}
        self._fit_cache = None

    # -- tokenizing ----------------------------------------------------------------------------

    def _settings(self):
        return (_filters_key(self.filters), bool(self.lower), self.split, bool(self.char_level))

    def _tokenizer(self):
        """A function ``(pos, text) -> (tokens, from_split)`` for the current settings.

        ``from_split`` token lists may contain the '' that ``str.split`` leaves between adjacent
        separators: '' is never a word of a split text, so instead of a per-text filtering pass
        the counting code drops it once at the end and the lookup tables map it to "no index".
        """
        filters, lower, split, char_level = self._settings()
        _check_split(split)
        replace = replacer(filters, split)

        def tokenize(pos, text):
            if type(text) is not str:
                if isinstance(text, list):
                    return _token_list(pos, text, lower), False
                if not isinstance(text, str):
                    raise _bad_text(pos, text)
            if lower:
                text = text.lower()
            if char_level:
                return text, False
            return replace(text).split(split), True

        return tokenize

    def fit_on_texts(self, texts):
        """Count words (``word_counts``), documents per word (``word_docs``) and rebuild
        ``word_index``/``index_word``/``index_docs``: sorted by count, ties by first appearance,
        with ``oov_token`` (if any) forced to index 1.

        Speed: with the fast kernels (and ASCII filters/separator, word-level, all texts str) the
        corpus is lowered, joined into one UTF-8 buffer and indexed by one compiled loop
        (:mod:`rnnlab.preprocessing.indexer`).  Otherwise (the reference path) each token
        costs one C-level dict lookup that gives it a dense id, already packed as 4 bytes (new
        tokens take the next id, so ids follow first appearance); a text's ids and its set of ids
        are joined into two byte strings, and the counts are two ``np.bincount`` over the whole
        stream, with no Python work per word.  Either way the id stream is kept (see
        :meth:`clear_cache`) so that :meth:`texts_to_sequences` on these same text objects skips
        tokenizing them again.
        """
        filters, lower, split, char_level = self._settings()
        index = compiled_indexer(filters, split, char_level)
        if index is not None:
            texts = list(_check_texts(texts))
            if all(type(t) is str for t in texts):
                ids, offsets, words, counts, docs = index(texts, lower)
                self.document_count += len(texts)
                self._merge_counts(words, counts.tolist(), docs.tolist(), None)
                self._reindex()
                self._fit_cache = FitCache(self._settings(), texts, offsets, ids, words)
                return
        tokenize = self._tokenizer()
        vocab = defaultdict(map(_ID.pack, count()).__next__)
        get_id = vocab.__getitem__
        join = b"".join
        chunks = []
        uniq_chunks = []
        lengths = []
        kept = []
        for pos, text in enumerate(_check_texts(texts)):
            tokens, from_split = tokenize(pos, text)
            if not from_split and type(tokens) is list and "" in tokens:  # genuine '' token
                tokens = [t if t else _EMPTY for t in tokens]
            ids = list(map(get_id, tokens))
            chunks.append(join(ids))
            uniq_chunks.append(join(set(ids)))
            lengths.append(len(ids))
            kept.append(text if isinstance(text, str) else None)

        n_docs = len(lengths)
        n = len(vocab)
        ids_arr = np.frombuffer(join(chunks), dtype=_ID_DTYPE)
        del chunks
        counts = np.bincount(ids_arr, minlength=n)
        docs = np.bincount(np.frombuffer(join(uniq_chunks), dtype=_ID_DTYPE), minlength=n)
        del uniq_chunks
        artifact = _unpack_id(vocab[""]) if "" in vocab else None
        words = [w if w is not _EMPTY else "" for w in vocab]
        del vocab
        self.document_count += n_docs
        self._merge_counts(words, counts.tolist(), docs.tolist(), artifact)
        self._reindex()
        offsets = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self._fit_cache = FitCache(self._settings(), kept, offsets, ids_arr, words)

    def _merge_counts(self, words, counts, docs, skip):
        """Add one fit's counts into ``word_counts``/``word_docs`` (new words keep their
        first-appearance order), leaving out position ``skip`` (the split artifact '')."""
        if skip is not None:
            words = words[:skip] + words[skip + 1:]
            counts = counts[:skip] + counts[skip + 1:]
            docs = docs[:skip] + docs[skip + 1:]
        wc = self.word_counts
        if not wc:
            wc.update(zip(words, counts))
        else:
            for w, c in zip(words, counts):
                wc[w] = wc.get(w, 0) + c
        wd = self.word_docs
        if not wd:
            wd.update(zip(words, docs))
        else:
            for w, d in zip(words, docs):
                wd[w] += d

    def clear_cache(self):
        """Drop the references to the last fitted texts and their token ids (about 4 bytes per
        token) that speed up :meth:`texts_to_sequences` on those same texts."""
        self._fit_cache = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_fit_cache"] = None
        return state

    def _reindex(self):
        """Rebuild the indices from ``word_counts``: a stable sort by decreasing count (NumPy's
        stable argsort of the negated counts equals Python's ``sort(reverse=True)`` order)."""
        wc = self.word_counts
        words = list(wc)
        counts = np.fromiter(wc.values(), dtype=np.int64, count=len(words))
        order = np.argsort(-counts, kind="stable").tolist()
        vocab = [] if self.oov_token is None else [self.oov_token]
        vocab.extend(map(words.__getitem__, order))
        # dict(zip(...)) like Keras: an oov_token that is also a word keeps its later index.
        self.word_index = wi = dict(zip(vocab, range(1, len(vocab) + 1)))
        if len(wi) == len(vocab):
            self.index_word = dict(zip(range(1, len(vocab) + 1), vocab))
        else:
            self.index_word = {i: w for w, i in wi.items()}
        wd = self.word_docs
        self.index_docs.update(zip(map(wi.__getitem__, wd), wd.values()))

    def fit_on_sequences(self, sequences):
        """Count, per index, the sequences it occurs in (``index_docs``, for tfidf).  The ids are
        checked (integers) before anything is counted."""
        sequences = [_id_sequence(pos, s) for pos, s in enumerate(sequences)]
        counts = Counter()
        for seq in sequences:
            counts.update(set(seq))
        self.document_count += len(sequences)
        for i, c in counts.items():
            self.index_docs[int(i)] += c

    # -- texts <-> sequences -------------------------------------------------------------------

    def _lookups(self):
        """``(split_get, list_get, oov)``: ``get(w, oov)`` is the output index of token ``w``, with
        0/None meaning "drop", following Keras's num_words/oov rules.  ``split_get`` also drops
        the '' that ``str.split`` leaves between adjacent separators."""
        table, oov = self._output_table()
        split_table = table
        if oov is not None or "" in table:
            split_table = dict(table)
            split_table[""] = 0
        return split_table.get, table.get, oov

    def _output_table(self):
        """``(table, oov)``: ``table.get(w, oov)`` is the output index of token ``w`` (None:
        drop it), following Keras's num_words/oov rules."""
        wi = self.word_index
        nw = self.num_words
        if self.oov_token is None:
            oov = None
            table = wi if not nw else {w: i for w, i in wi.items() if i < nw}
        else:
            oov = wi.get(self.oov_token)
            if oov is None:
                raise ValueError(f"oov_token {self.oov_token!r} has no index yet: fit the "
                                 "tokenizer on some texts first")
            table = wi if not nw else {w: (i if i < nw else oov) for w, i in wi.items()}
        return table, oov

    def texts_to_sequences(self, texts):
        """Each text as a list of word indices (unknown words dropped, or ``oov_token``'s)."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        """Lazily yield :meth:`texts_to_sequences`'s lists.

        Texts that are the very objects of the last :meth:`fit_on_texts` (same settings) reuse
        its token ids: their sequences are one NumPy gather through a per-call lookup array,
        done in chunks of texts.  Other str texts of a chunk go through the compiled indexer
        together (when it applies, see :meth:`fit_on_texts`) and the same gather; the rest are
        tokenized and looked up word by word in C.
        """
        split_get, list_get, oov = self._lookups()
        tokenize = self._tokenizer()
        oovs = repeat(oov)

        def convert(tokens, from_split):
            if oov is None:
                return list(filter(None, map(split_get if from_split else list_get, tokens)))
            if from_split:
                return list(filter(None, map(split_get, tokens, oovs)))
            return list(map(list_get, tokens, oovs))

        cache = getattr(self, "_fit_cache", None)
        if cache is not None and cache.settings != self._settings():
            cache = None
        lut = cache.lut(split_get, oov) if cache is not None else None
        where = cache.where if cache is not None else {}
        filters, lower, split, char_level = self._settings()
        index = compiled_indexer(filters, split, char_level)
        out, hits, misses = [], [], []
        for pos, text in enumerate(_check_texts(texts)):
            j = where.get(id(text)) if type(text) is str else None
            if j is not None:
                hits.append((len(out), j))
                out.append(None)
            elif index is not None and type(text) is str:
                misses.append((len(out), text))
                out.append(None)
            else:
                out.append(convert(*tokenize(pos, text)))
            if len(out) >= _CHUNK:
                self._fill_chunk(out, cache, hits, lut, misses, index, split_get, oov)
                yield from out
                out, hits, misses = [], [], []
        self._fill_chunk(out, cache, hits, lut, misses, index, split_get, oov)
        yield from out

    def _fill_chunk(self, out, cache, hits, lut, misses, index, split_get, oov):
        """Fill ``out``'s slots for fitted texts (``hits``, from the fit's ids) and for other str
        texts (``misses``, indexed together by the compiled kernel, then looked up per word)."""
        if hits:
            cache.fill(out, hits, lut)
        if misses:
            ids, offsets, words, _, _ = index([t for _, t in misses], self._settings()[1])
            batch = FitCache(None, (), offsets, ids, words)
            batch.fill(out, [(slot, k) for k, (slot, _) in enumerate(misses)],
                       batch.lut(split_get, oov))

    def sequence_lookup(self, maxlen=None, truncating="pre"):
        """A compiled ``texts -> (ids, offsets)`` function giving exactly the sequences of
        :meth:`texts_to_sequences` for str texts, each cut to its first (``truncating="post"``)
        or last ``maxlen`` ids as ``pad_sequences`` cuts them: text ``j``'s are
        ``ids[offsets[j]:offsets[j+1]]`` (a :class:`~rnnlab.preprocessing.indexer.SequenceLookup`,
        no Python list per text; for text streamed from files).  It keeps the vocabulary of now
        (fitting again afterwards does not change it).  None when the compiled indexer does not
        apply (reference kernels, no Numba, character-level tokens, non-ASCII filters or
        separator): use :meth:`texts_to_sequences` then."""
        maxlen = checks.positive_int(maxlen, "maxlen", who="sequence_lookup()", allow_none=True)
        checks.one_of(truncating, "truncating", ("pre", "post"), who="sequence_lookup()")
        table, oov = self._output_table()
        filters, lower, split, char_level = self._settings()
        return sequence_lookup(table, 0 if oov is None else oov, filters, split, lower,
                               char_level, maxlen, truncating)

    def sequences_to_texts(self, sequences):
        """Each sequence of indices back to a space-joined string of its words."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        """Lazily yield :meth:`sequences_to_texts`'s strings."""
        iw = self.index_word
        nw = self.num_words
        oov_index = self.word_index.get(self.oov_token)
        oov_word = None
        if self.oov_token is not None:
            if oov_index not in iw:
                raise ValueError(f"oov_token {self.oov_token!r} is not in the tokenizer's "
                                 "index; fit the tokenizer first")
            oov_word = iw[oov_index]
        if nw:
            table = {i: (w if i < nw else oov_word) for i, w in iw.items()}
        else:
            table = iw
        missing = object()
        for pos, seq in enumerate(sequences):
            seq = _id_sequence(pos, seq)
            words = map(table.get, seq, repeat(oov_word if oov_word is not None else missing))
            yield " ".join([w for w in words if w is not missing and w is not None])

    # -- matrices ------------------------------------------------------------------------------

    def texts_to_matrix(self, texts, mode="binary"):
        """:meth:`texts_to_sequences` then :meth:`sequences_to_matrix`."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """A ``(len(sequences), num_words)`` float64 matrix, one row per sequence.

        ``binary``: 1 where an index occurs; ``count``: its count ``c``; ``freq``: ``c / len(seq)``;
        ``tfidf``: ``(1 + log c) · log(1 + document_count / (1 + index_docs[j]))``.
        Indices ``>= num_words`` are ignored (but still count in ``len(seq)`` for ``freq``).
        """
        if mode not in _MODES:
            raise ValueError(f"Unknown vectorization mode {mode!r}: expected one of {_MODES}")
        if not self.num_words:
            if not self.word_index:
                raise ValueError("Specify a dimension (`num_words` argument), "
                                 "or fit on some text data first.")
            num_words = len(self.word_index) + 1
        else:
            num_words = self.num_words
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")

        seqs = [_id_sequence(pos, s) for pos, s in enumerate(sequences)]
        lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        n = len(seqs)
        try:
            flat = np.fromiter(chain.from_iterable(seqs), dtype=np.int64,
                               count=int(lengths.sum()))
        except OverflowError:       # ids beyond int64: out of range either way
            flat = np.fromiter((max(min(j, num_words), -1) for j in chain.from_iterable(seqs)),
                               dtype=np.int64, count=int(lengths.sum()))
        if flat.size and flat.min() < 0:
            pos = int(np.searchsorted(np.cumsum(lengths), np.argmax(flat < 0), side="right"))
            raise ValueError(f"sequence at position {pos} holds a negative index")
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keep = flat < num_words
        counts = np.bincount(rows[keep] * num_words + flat[keep],
                             minlength=n * num_words).astype(np.float64).reshape(n, num_words)
        if mode == "count":
            return counts
        if mode == "binary":
            return (counts > 0).astype(np.float64)
        if mode == "freq":
            return counts / np.maximum(lengths, 1)[:, None]
        docs = np.zeros(num_words, dtype=np.float64)
        for j, c in self.index_docs.items():
            if 0 <= j < num_words:
                docs[j] = c
        idf = np.log(1 + self.document_count / (1 + docs))
        out = np.zeros_like(counts)
        nz = counts > 0
        out[nz] = (1 + np.log(counts[nz])) * np.broadcast_to(idf, counts.shape)[nz]
        return out

    # -- serialization -------------------------------------------------------------------------

    def get_config(self):
        """Keras's config dict: settings plus the count dictionaries as JSON strings."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": _json.dumps(self.word_counts),
            "word_docs": _json.dumps(self.word_docs),
            "index_docs": _json.dumps(self.index_docs),
            "index_word": _json.dumps(self.index_word),
            "word_index": _json.dumps(self.word_index),
        }

    def to_json(self, **kwargs):
        """The config as a JSON string (readable by Keras's ``tokenizer_from_json`` too)."""
        return _json.dumps(TOKENIZERS.serialize(self), **kwargs)


_SETTINGS = {"num_words": (int, type(None)), "filters": (str, list, type(None)),
             "lower": (bool,), "split": (str,), "char_level": (bool,),
             "oov_token": (str, type(None)), "document_count": (int,)}
_INDEX_KEY = re.compile(r"-?[0-9]{1,18}")


def _table(config: dict, name: str, key_is_index: bool, value_kind: type, low: int | None):
    """One of the five count/index tables: a JSON string of an object, its keys words (or
    integer indices, as JSON writes them: strings), its values ``value_kind`` (>= ``low``)."""
    if name not in config:
        raise ValueError(f"tokenizer JSON has no {name!r} table")
    raw = config[name]
    if not isinstance(raw, str):
        raise ValueError(f"tokenizer JSON's {name!r} must be a JSON string of an object, got "
                         f"{type(raw).__name__}")
    table = _io.load_json(raw, f"tokenizer JSON's {name!r}", max_depth=1)
    if not isinstance(table, dict):
        raise ValueError(f"tokenizer JSON's {name!r} must hold an object, got "
                         f"{type(table).__name__}")
    out = {}
    for key, value in table.items():
        if key_is_index:
            if not _INDEX_KEY.fullmatch(key):
                raise ValueError(f"tokenizer JSON's {name!r} has key {key!r:.40}, expected an "
                                 "integer index")
            key = int(key)
        ok = isinstance(value, value_kind) and not isinstance(value, bool)
        if not ok or (low is not None and value < low):
            want = "a str" if value_kind is str else f"an integer >= {low}"
            raise ValueError(f"tokenizer JSON's {name!r} maps {key!r:.40} to {value!r:.40}, "
                             f"expected {want}")
        out[key] = value
    return out


def tokenizer_from_json(json_string):
    """Rebuild a :class:`Tokenizer` from :meth:`Tokenizer.to_json` (or Keras's) output.

    The whole document is checked first: a malformed one raises ``ValueError`` saying what is
    wrong (a missing or ill-typed table or setting, an unknown setting, tables that disagree)."""
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise ValueError(f"tokenizer JSON must be a str, got {type(json_string).__name__}")
    payload = _io.load_json(json_string, "tokenizer JSON", max_depth=3)
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise ValueError("tokenizer JSON must be an object with a 'config' object (the output "
                         "of Tokenizer.to_json())")
    if payload.get("class_name", "Tokenizer") != "Tokenizer":
        raise ValueError(f"tokenizer JSON's class_name is {payload['class_name']!r:.40}, expected "
                         "'Tokenizer'")
    config = dict(payload["config"])
    tables = {"word_counts": _table(config, "word_counts", False, int, 0),
              "word_docs": _table(config, "word_docs", False, int, 0),
              "index_docs": _table(config, "index_docs", True, int, 0),
              "index_word": _table(config, "index_word", True, str, None),
              "word_index": _table(config, "word_index", False, int, 1)}
    for name in tables:
        del config[name]
    unknown = sorted(set(config) - set(_SETTINGS))
    if unknown:
        raise ValueError(f"tokenizer JSON has unknown settings {unknown} (expected "
                         f"{sorted(_SETTINGS)})")
    for key, kinds in _SETTINGS.items():
        value = config.get(key)
        if key in config and (not isinstance(value, kinds)
                              or (isinstance(value, bool) and bool not in kinds)):
            raise ValueError(f"tokenizer JSON's setting {key!r} is {value!r:.40}, of the wrong "
                             "type")
    if tables["index_word"] != {i: w for w, i in tables["word_index"].items()}:
        raise ValueError("tokenizer JSON's 'index_word' is not the inverse of its 'word_index'")
    try:
        tok = Tokenizer(**config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tokenizer JSON's settings are invalid: {exc}") from None
    tok.word_counts = OrderedDict(tables["word_counts"])
    tok.word_docs = defaultdict(int, tables["word_docs"])
    tok.index_docs = defaultdict(int, tables["index_docs"])
    tok.index_word = tables["index_word"]
    tok.word_index = tables["word_index"]
    return tok

"""Compiled core of :class:`rnnlab.preprocessing.text.Tokenizer`: split, index and count a corpus.

The Python path (``str.split`` then one dict lookup per token) spends most of its time creating
a string object per token and hashing it.  Here the whole corpus is one UTF-8 byte buffer in
which every filter character and every document boundary is already the separator byte, and one
compiled loop walks it once:

* a token is a maximal run of non-separator bytes (empty tokens never arise, as with Keras's
  ``filter(None, ...)``); its bytes are hashed (FNV-1a) and looked up in an open-addressing
  table whose entries are compared byte for byte, so two different tokens never share an id;
* a new token gets the next id, so ids follow first appearance, which is the order of Keras's
  ``word_counts``;
* ``counts[id]`` adds one per occurrence and ``docs[id]`` one per document (a token counts in
  document ``d`` the first time ``last[id] != d``).

Because the separator is one ASCII byte and ASCII bytes never occur inside a multi-byte UTF-8
sequence, the byte tokens are exactly the UTF-8 encodings of ``str.split``'s tokens.  Python
decodes only the distinct words (``words_of``).

For text streamed from files, :func:`vocab_table` and :func:`lookup_sequences` do the same walk
against a fixed vocabulary instead (the tokenizer's words with their output ids), reading each
byte through a 256-byte map (ASCII lowering, filters to the separator) so that an Arrow column's
UTF-8 buffer needs no copy, and cut each text to ``maxlen`` ids as it goes.

Used when Numba is installed and the fast kernels are selected; :mod:`rnnlab.preprocessing.text`
keeps the pure-Python path as reference.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True)
def _grow(a, size, fill):
    b = np.full(size, fill, dtype=a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True)
def _count_tokens(buf, sep):
    """Number of tokens (maximal runs of non-separator bytes) in ``buf``."""
    n = 0
    inside = False
    for i in range(buf.shape[0]):
        if buf[i] == sep:
            inside = False
        elif not inside:
            n += 1
            inside = True
    return n


@njit(cache=True)
def _rehash(whash, nw, cap):
    """A table of ``cap`` slots holding words ``0..nw-1`` at their hashes (linear probing)."""
    table = np.full(cap, -1, dtype=np.int64)
    mask = np.uint64(cap - 1)
    for v in range(nw):
        sl = np.int64(whash[v] & mask)
        while table[sl] >= 0:
            sl = (sl + 1) & (cap - 1)
        table[sl] = v
    return table


@njit(cache=True)
def _index(buf, starts, ends, sep, n_tokens):
    """Walk documents ``buf[starts[d]:ends[d]]``; return (ids, token offsets per document,
    info) where ``info[id]`` = (byte start, byte length, count, documents) of each word."""
    n_docs = starts.shape[0]
    ids = np.empty(n_tokens, dtype=np.int32)
    offsets = np.empty(n_docs + 1, dtype=np.int64)
    cap = 1 << 15                       # hash table slots (a power of two, at most half full)
    table = np.full(cap, -1, dtype=np.int64)
    mask = np.uint64(cap - 1)
    wcap = 1 << 14                      # room for words
    whash = np.zeros(wcap, dtype=np.uint64)
    info = np.zeros((wcap, 4), dtype=np.int64)      # one cache line's worth per word
    last = np.full(wcap, -1, dtype=np.int64)        # last document a word was counted in
    nw = 0
    k = 0
    for d in range(n_docs):
        offsets[d] = k
        i = starts[d]
        end = ends[d]
        while i < end:
            while i < end and buf[i] == sep:
                i += 1
            if i >= end:
                break
            s = i
            h = _FNV_OFFSET
            while i < end and buf[i] != sep:
                h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
                i += 1
            length = i - s
            slot = np.int64(h & mask)
            while True:
                w = table[slot]
                if w < 0:                                   # a new word
                    if nw == wcap:
                        wcap *= 2
                        whash = _grow(whash, wcap, np.uint64(0))
                        info2 = np.zeros((wcap, 4), dtype=np.int64)
                        info2[:nw] = info
                        info = info2
                        last = _grow(last, wcap, -1)
                    w = nw
                    nw += 1
                    table[slot] = w
                    whash[w] = h
                    info[w, 0] = s
                    info[w, 1] = length
                    if 2 * nw > cap:
                        cap *= 2
                        mask = np.uint64(cap - 1)
                        table = _rehash(whash, nw, cap)
                    break
                if whash[w] == h and info[w, 1] == length:
                    ws = info[w, 0]
                    same = True
                    for b in range(length):
                        if buf[ws + b] != buf[s + b]:
                            same = False
                            break
                    if same:
                        break
                slot = (slot + 1) & (cap - 1)
            ids[k] = w
            k += 1
            info[w, 2] += 1
            if last[w] != d:
                last[w] = d
                info[w, 3] += 1
    offsets[n_docs] = k
    return ids, offsets, info[:nw]


def index_corpus(texts, btable, sep):
    """Tokenize already-lowered ``texts`` (a list of str) split on the ASCII character ``sep``
    with ``btable`` (a ``bytes.translate`` table mapping filters to ``sep``, or None).

    Returns ``(ids int32, offsets int64 (n+1,), words list[str], counts int64, docs int64)``:
    document ``j``'s tokens are ``words[ids[offsets[j]:offsets[j+1]]]``.
    """
    sep_b = sep.encode("ascii")
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    raw = sep_b.join(encoded)
    del encoded
    if btable is not None:
        raw = raw.translate(btable)
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    ends = starts + lengths
    sep_code = np.uint8(sep_b[0])
    ids, offsets, info = _index(buf, starts, ends, sep_code, _count_tokens(buf, sep_code))
    words = [raw[s:s + n].decode("utf-8", "surrogatepass")
             for s, n in zip(info[:, 0].tolist(), info[:, 1].tolist())]
    return ids, offsets, words, info[:, 2], info[:, 3]


# -- a fixed vocabulary: texts straight to (truncated) id sequences, for streamed text ----------

@njit(cache=True, nogil=True)
def _hash(buf, s, e):
    h = _FNV_OFFSET
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
    return h


@njit(cache=True, nogil=True)
def vocab_table(wbuf, wstarts, wlens, values):
    """An open-addressing table (at most half full, linear probing) of the words
    ``wbuf[wstarts[v]:wstarts[v] + wlens[v]]``: row ``s`` is ``(hash, start, length, value)``
    of the word in slot ``s`` (length -1: empty), all a probe reads in one cache line."""
    n = wstarts.shape[0]
    cap = 1 << 10
    while cap < 2 * n:
        cap *= 2
    table = np.zeros((cap, 4), dtype=np.int32)
    table[:, 2] = -1
    for v in range(n):
        h = _hash(wbuf, wstarts[v], wstarts[v] + wlens[v])
        sl = np.int64(h & np.uint64(cap - 1))
        while table[sl, 2] >= 0:
            sl = (sl + 1) & (cap - 1)
        table[sl, 0] = np.int32(np.int64(h & np.uint64(0x7FFFFFFF)))
        table[sl, 1] = wstarts[v]
        table[sl, 2] = wlens[v]
        table[sl, 3] = values[v]
    return table


@njit(cache=True, nogil=True)
def lookup_sequences(buf, starts, ends, bytemap, sep, table, wbuf, default, maxlen, keep_last,
                     bound):
    """Each document ``buf[starts[d]:ends[d]]``, its bytes ``b`` read as ``bytemap[b]`` (which
    lowers ASCII letters and turns the filters into ``sep``), as the output ids of its tokens
    (maximal runs of non-``sep`` bytes): a token that is a word of ``table`` (:func:`vocab_table`,
    over the bytes ``wbuf``) gives that word's value, any other ``default``; 0 drops it.  At most
    ``maxlen`` ids are kept per document, its first ones (``keep_last`` False; the scan of the
    document stops there) or its last ones.  Returns ``(ids int32, offsets int64 (n+1,))``;
    ``bound`` is an upper bound of the ids kept."""
    n_docs = starts.shape[0]
    ids = np.empty(bound, dtype=np.int32)
    offsets = np.empty(n_docs + 1, dtype=np.int64)
    cap = table.shape[0]
    mask = np.uint64(cap - 1)
    ring = np.empty(maxlen if keep_last and maxlen < bound else 1, dtype=np.int32)
    k = 0
    for d in range(n_docs):
        offsets[d] = k
        i = starts[d]
        end = ends[d]
        c = 0                                   # ids kept so far in this document
        r = 0                                   # with keep_last: c % maxlen, the ring's head
        while i < end:
            while i < end and bytemap[buf[i]] == sep:
                i += 1
            if i >= end:
                break
            s = i
            h = _FNV_OFFSET
            while i < end:
                byte = bytemap[buf[i]]
                if byte == sep:
                    break
                h = (h ^ np.uint64(byte)) * _FNV_PRIME
                i += 1
            length = i - s
            hs = np.int32(np.int64(h & np.uint64(0x7FFFFFFF)))
            out = default
            sl = np.int64(h & mask)
            while True:
                wl = table[sl, 2]
                if wl < 0:
                    break
                if table[sl, 0] == hs and wl == length:
                    ws = table[sl, 1]
                    same = True
                    for b in range(length):
                        if wbuf[ws + b] != bytemap[buf[s + b]]:
                            same = False
                            break
                    if same:
                        out = table[sl, 3]
                        break
                sl = (sl + 1) & (cap - 1)
            if out == 0:
                continue
            if c < maxlen:
                ids[k + c] = out
            elif keep_last:                     # a ring of the last maxlen ids
                ids[k + r] = out
                r += 1
                if r == maxlen:
                    r = 0
            else:
                break
            c += 1
        if c > maxlen:                          # unroll the ring: oldest kept id first
            ring[:maxlen - r] = ids[k + r:k + maxlen]
            ring[maxlen - r:maxlen] = ids[k:k + r]
            ids[k:k + maxlen] = ring[:maxlen]
            c = maxlen
        k += c
    offsets[n_docs] = k
    return ids[:k].copy(), offsets

"""The fast path of streamed text (issue 18): a chunk of texts goes through the tokenizer's
compiled lookup straight into id arrays, and a background thread prepares the next batches.
Its batches must be exactly ``pad_sequences(tokenizer.texts_to_sequences(texts), ...)``, for
every tokenizer setting the compiled path takes, and the thread must never outlive the fit."""
import threading

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlab import Sequential, config
from rnnlab.callbacks import LambdaCallback
from rnnlab.data.text_files import TextFileDataset, _utf8_of
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer

THREAD = "rnnlab-text-files"

CORPUS = [
    "The movie was great, GREAT fun!", "A dull film; the plot was thin.", "great acting",
    "Café crème and naïve résumé — très bien", "İstanbul ΣΟΦΟΣ straße", "", "   ,,, !!! ",
    "one two three four five six seven eight nine ten eleven twelve thirteen",
    "the the the the the the the the the the the the the the the", "zebra",
    "tab\tseparated\nnew line", "日本語 の テキスト", "emoji 🙂 smile 🙂",
]
UNSEEN = CORPUS + ["Completely unseen words here", "GREAT great Great gReAt", "ß SS ss",
                   "a" * 300, " ".join(["word"] * 50 + ["great"] * 5), "ΣΑΣ σας",
                   "x,y.z!w", "the unseen the"]

SETTINGS = [dict(), dict(num_words=6), dict(oov_token="<OOV>"),
            dict(num_words=6, oov_token="<OOV>"), dict(lower=False, num_words=12),
            dict(filters=""), dict(filters="!,", split=","), dict(oov_token="great")]


def _tok(**kwargs):
    tok = Tokenizer(**kwargs)
    tok.fit_on_texts(CORPUS)
    return tok


def _cut(seqs, maxlen, truncating):
    if maxlen is None:
        return seqs
    return [s[:maxlen] if truncating == "post" else s[-maxlen:] for s in seqs]


def _unflat(ids, offsets):
    return [ids[offsets[j]:offsets[j + 1]].tolist() for j in range(len(offsets) - 1)]


@pytest.mark.parametrize("kwargs", SETTINGS)
@pytest.mark.parametrize("maxlen,truncating", [(None, "pre"), (1, "pre"), (3, "post"),
                                               (4, "pre"), (200, "post")])
def test_lookup_gives_the_sequences_of_texts_to_sequences(kwargs, maxlen, truncating):
    tok = _tok(**kwargs)
    lookup = tok.sequence_lookup(maxlen, truncating)
    assert lookup is not None
    ids, offsets = lookup(UNSEEN)
    assert ids.dtype == np.int32 and offsets.dtype == np.int64
    assert _unflat(ids, offsets) == _cut(tok.texts_to_sequences(UNSEEN), maxlen, truncating)


def test_lookup_keeps_the_vocabulary_it_was_made_with():
    tok = _tok(num_words=5)
    lookup = tok.sequence_lookup(None)
    before = tok.texts_to_sequences(UNSEEN)
    tok.fit_on_texts(["unseen unseen unseen unseen unseen unseen unseen words"])
    assert _unflat(*lookup(UNSEEN)) == before
    assert _unflat(*tok.sequence_lookup(None)(UNSEEN)) == tok.texts_to_sequences(UNSEEN)


def test_no_lookup_where_the_compiled_indexer_does_not_apply():
    assert _tok(char_level=True).sequence_lookup(5) is None
    assert _tok(filters="!é").sequence_lookup(5) is None
    with _kernels("reference"):
        assert _tok().sequence_lookup(5) is None
    with pytest.raises(ValueError, match=r"sequence_lookup\(\) maxlen must be a positive"):
        _tok().sequence_lookup(0)
    with pytest.raises(ValueError, match="truncating"):
        _tok().sequence_lookup(5, "middle")


class _kernels:
    """Select kernels for a block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.before = config.kernels()
        config.set_kernels(self.name)

    def __exit__(self, *exc):
        config.set_kernels(self.before)


_WORDS = st.sampled_from(["the", "The", "GREAT", "great", "film", "café", "Café", "ΣΟΦΟΣ",
                          "İ", "straße", "new", "zebra", "x", "日本", "🙂", "unseen", "ß"])
_SEPS = st.sampled_from([" ", "  ", ", ", "!", "\t", "\n", ".", " -- "])
_TEXT = st.lists(st.tuples(_WORDS, _SEPS), max_size=12).map(
    lambda pairs: "".join(w + s for w, s in pairs))


@given(fit=st.lists(_TEXT, min_size=1, max_size=8), texts=st.lists(_TEXT, max_size=12),
       kwargs=st.sampled_from(SETTINGS[:5]), maxlen=st.sampled_from([None, 1, 2, 5]),
       truncating=st.sampled_from(["pre", "post"]))
def test_lookup_equals_texts_to_sequences_on_any_texts(fit, texts, kwargs, maxlen, truncating):
    tok = Tokenizer(**kwargs)
    tok.fit_on_texts(fit)
    if not tok.word_index:
        return
    lookup = tok.sequence_lookup(maxlen, truncating)
    assert _unflat(*lookup(texts)) == _cut(tok.texts_to_sequences(texts), maxlen, truncating)


@given(texts=st.lists(_TEXT, min_size=1, max_size=12), start=st.integers(0, 3),
       kwargs=st.sampled_from(SETTINGS[:5]), large=st.booleans())
def test_arrow_columns_are_read_in_place_with_the_same_sequences(texts, start, kwargs, large):
    """An Arrow string column (a slice of one, as a reader may hand over) read through its
    buffers: non-ASCII texts lowered in Python, ASCII ones by the compiled lookup."""
    tok = _tok(**kwargs)
    column = pa.array(texts, type=pa.large_string() if large else pa.string())[start:]
    lookup = tok.sequence_lookup(3, "pre")
    got = _unflat(*lookup.utf8(*_utf8_of(column, lookup.lower)))
    assert got == _cut(tok.texts_to_sequences(texts[start:]), 3, "pre")


# ---------------------------------------------------------------- the dataset's batches
def _files(tmp_path, texts):
    table = pa.table({"text": texts, "label": np.arange(len(texts)) % 2})
    pq.write_table(table, str(tmp_path / "t.parquet"), row_group_size=4)
    pa_csv.write_csv(table, str(tmp_path / "t.csv"))
    return [tmp_path / "t.parquet", tmp_path / "t.csv"]


def _expected(tok, texts, batch, maxlen, padding, truncating):
    seqs = _cut(tok.texts_to_sequences(texts), maxlen, truncating)
    out = []
    for i in range(0, len(seqs), batch):
        part = seqs[i:i + batch]
        width = max(max(len(s) for s in part), 1)
        out.append((pad_sequences(part, maxlen=width, padding=padding, truncating=truncating),
                    np.arange(i, i + len(part)) % 2))
    return out


@pytest.mark.parametrize("kwargs", SETTINGS[:5])
@pytest.mark.parametrize("padding,truncating", [("post", "post"), ("pre", "pre"),
                                                ("pre", "post")])
@pytest.mark.parametrize("prefetch,chunk_rows", [(0, 3), (1, 3), (2, 64)])
def test_batches_are_pad_sequences_of_texts_to_sequences(tmp_path, kwargs, padding, truncating,
                                                          prefetch, chunk_rows):
    tok = _tok(**kwargs)
    expected = _expected(tok, UNSEEN, 4, 5, padding, truncating)
    for path in _files(tmp_path, UNSEEN):
        ds = TextFileDataset(path, tok, batch_size=4, maxlen=5, padding=padding,
                             truncating=truncating, chunk_rows=chunk_rows, prefetch=prefetch)
        got = list(ds)
        assert len(got) == len(expected)
        for (x, y), (ex, ey) in zip(got, expected):
            assert x.dtype == np.int32
            assert np.array_equal(x, ex) and np.array_equal(y, ey)


@pytest.mark.parametrize("dtype", ["int64", "float32", "int8"])
def test_the_reference_path_and_other_dtypes_give_the_same_batches(tmp_path, dtype):
    tok = _tok(oov_token="<OOV>")
    path = _files(tmp_path, UNSEEN)[0]
    fast = list(TextFileDataset(path, tok, batch_size=3, maxlen=None, dtype=dtype))
    with _kernels("reference"):
        ref = list(TextFileDataset(path, tok, batch_size=3, maxlen=None, dtype=dtype))
    expected = _expected(tok, UNSEEN, 3, None, "post", "post")
    for (x, _), (r, _), (e, _) in zip(fast, ref, expected):
        assert x.dtype == np.dtype(dtype) == r.dtype
        assert np.array_equal(x, e) and np.array_equal(r, e)


def test_samples_without_batches_are_the_cut_sequences(tmp_path):
    tok = _tok(num_words=6)
    path = _files(tmp_path, UNSEEN)[0]
    for prefetch in (0, 1):
        got = list(TextFileDataset(path, tok, batch_size=None, maxlen=3, chunk_rows=5,
                                   prefetch=prefetch))
        assert [s for s, _ in got] == _cut(tok.texts_to_sequences(UNSEEN), 3, "post")
        assert all(type(s) is list for s, _ in got)
        assert [label for _, label in got] == [i % 2 for i in range(len(UNSEEN))]


def test_prefetch_is_checked(tmp_path):
    path = _files(tmp_path, CORPUS)[0]
    with pytest.raises(ValueError, match="prefetch"):
        TextFileDataset(path, _tok(), prefetch=-1)
    with pytest.raises(ValueError, match="prefetch must be a non-negative integer"):
        TextFileDataset(path, _tok(), prefetch=1.5)


# ---------------------------------------------------------------- the prefetch thread
def _threads():
    return [t for t in threading.enumerate() if t.name == THREAD]


def _model():
    config.set_random_seed(3)
    model = Sequential([Embedding(30, 4, mask_zero=True), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(Adam(0.01), "binary_crossentropy")
    return model


def _long_file(tmp_path, n=400, null_at=None):
    texts = [CORPUS[i % len(CORPUS)] for i in range(n)]
    if null_at is not None:
        texts[null_at] = None
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"text": texts, "label": np.arange(n) % 2}), str(path),
                   row_group_size=16)
    return path


def test_the_thread_stops_after_a_fit_a_partial_pass_and_an_abandoned_iterator(tmp_path):
    tok = _tok(num_words=30)
    ds = TextFileDataset(_long_file(tmp_path), tok, batch_size=8, maxlen=6, chunk_rows=16,
                         prefetch=1)
    _model().fit(ds, epochs=2, shuffle=False, verbose=0)
    assert not _threads()
    _model().fit(ds, epochs=2, shuffle=False, steps_per_epoch=3, verbose=0)  # inside the pass
    assert not _threads()
    it = iter(ds)
    next(it)
    assert len(_threads()) == 1
    it.close()
    assert not _threads()


@pytest.mark.parametrize("prefetch", [0, 1])
def test_a_reader_error_surfaces_in_the_fit_naming_the_batch(tmp_path, prefetch):
    tok = _tok(num_words=30)
    # chunks of 16 rows, batches of 8: row 37 is in chunk 2, whose first batch is batch 4
    path = _long_file(tmp_path, null_at=37)
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    ds = TextFileDataset(path, tok, batch_size=8, maxlen=6, chunk_rows=16, prefetch=prefetch)
    with pytest.raises(ValueError, match=r"long.parquet: batch 4: .*a row has no text") as info:
        model.fit(ds, epochs=1, shuffle=False, verbose=0)
    del info
    assert not _threads()
    assert all(np.array_equal(u, v) for u, v in zip(before, model.get_weights()))


class _Interrupted(TextFileDataset):
    """Raises KeyboardInterrupt while reading its third chunk."""

    def _record_batches(self):
        for k, record_batch in enumerate(super()._record_batches()):
            if k == 2:
                raise KeyboardInterrupt
            yield record_batch


def test_an_interrupt_in_the_reader_or_in_training_stops_the_thread(tmp_path):
    tok = _tok(num_words=30)
    path = _long_file(tmp_path)
    ds = _Interrupted(path, tok, batch_size=8, maxlen=6, chunk_rows=16, prefetch=1)
    with pytest.raises(KeyboardInterrupt) as info:
        _model().fit(ds, epochs=1, shuffle=False, verbose=0)
    assert any("batch 4" in note for note in info.value.__notes__)
    del info
    assert not _threads()

    def stop(batch, logs):
        if batch == 5:
            raise KeyboardInterrupt

    ds = TextFileDataset(path, tok, batch_size=8, maxlen=6, chunk_rows=16, prefetch=1)
    with pytest.raises(KeyboardInterrupt):
        _model().fit(ds, epochs=1, shuffle=False, verbose=0,
                     callbacks=[LambdaCallback(on_train_batch_end=stop)])
    assert not _threads()

    def fail(batch, logs):
        if batch == 2:
            raise RuntimeError("a callback failed")

    with pytest.raises(RuntimeError, match="a callback failed"):
        _model().fit(ds, epochs=1, shuffle=False, verbose=0,
                     callbacks=[LambdaCallback(on_train_batch_end=fail)])
    assert not _threads()


def test_a_bad_batch_from_the_thread_is_refused_and_the_thread_stops(tmp_path):
    """Token ids beyond the Embedding's input_dim (a tokenizer with more words than the model)
    are refused by the fit's per-batch check; the thread is stopped."""
    tok = _tok()
    ds = TextFileDataset(_long_file(tmp_path), tok, batch_size=8, maxlen=6, chunk_rows=16,
                         prefetch=1)
    model = Sequential([Embedding(3, 2), LSTM(2), Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="batch 0"):
        model.fit(ds, epochs=1, shuffle=False, verbose=0)
    assert not _threads()

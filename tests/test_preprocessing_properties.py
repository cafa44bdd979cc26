"""Property-based tests (hypothesis) of rnnlab.preprocessing against keras-preprocessing 1.1.2:
the Tokenizer and its JSON round trip, pad_sequences, and that a rejected call changes nothing
(neither the tokenizer nor the caller's input)."""
import copy
import json

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

np.unicode_ = np.str_  # keras-preprocessing 1.1.2 still uses the alias NumPy 2 removed
from keras_preprocessing import sequence as ksequence  # noqa: E402
from keras_preprocessing import text as ktext  # noqa: E402

from rnnlab import config  # noqa: E402
from rnnlab.preprocessing import sequence, text  # noqa: E402

MODES = ("binary", "count", "tfidf", "freq")
# the pure-Python tokenizer and the compiled indexer (set in the test body: hypothesis reruns a
# test's body, not its function-scoped fixtures)
KERNELS = pytest.mark.parametrize("kernels", ["reference", "fast"])

# Words from a small vocabulary (so that counts, ties and num_words cut-offs happen), joined by
# separators that include filter characters, capitals and non-ASCII letters.
WORDS = st.sampled_from(["a", "b", "cat", "Dog", "dog", "ÉTÉ", "été", "x1", "naïve", "<oov>", "ok"])
SEPS = st.sampled_from([" ", "  ", ", ", "!", "\t", "\n", "-", ".", "?!"])


@st.composite
def texts(draw, max_texts=8):
    out = []
    for _ in range(draw(st.integers(0, max_texts))):
        n = draw(st.integers(0, 7))
        parts = [draw(WORDS) + draw(SEPS) for _ in range(n)]
        out.append("".join(parts))
    return out


OPTIONS = st.fixed_dictionaries({}, optional={
    "num_words": st.integers(1, 12),
    "lower": st.booleans(),
    "char_level": st.booleans(),
    "oov_token": st.sampled_from(["<oov>", "zz", "a"]),   # "a" is also a word
    "split": st.sampled_from([" ", ",", "x"]),
})


def state(tok):
    return (list(tok.word_counts.items()), dict(tok.word_docs), dict(tok.index_docs),
            tok.word_index, tok.index_word, tok.document_count)


def assert_behaves_alike(mine, ref, probe_texts):
    """Same state, sequences, texts and matrices (every mode that is defined for both)."""
    assert state(mine) == state(ref)
    if mine.oov_token is not None and mine.oov_token not in mine.word_index:
        return      # rnnlab refuses to convert without an indexed oov_token (documented)
    seqs = mine.texts_to_sequences(probe_texts)
    assert seqs == ref.texts_to_sequences(probe_texts)
    assert mine.sequences_to_texts(seqs) == ref.sequences_to_texts(seqs)
    if mine.num_words or mine.word_index:
        for mode in MODES:
            if mode == "tfidf" and not mine.document_count:
                continue
            np.testing.assert_allclose(mine.sequences_to_matrix(seqs, mode=mode),
                                       ref.sequences_to_matrix(seqs, mode=mode), rtol=1e-12)


# ------------------------------------------------------------------------------ Tokenizer
@KERNELS
@given(OPTIONS, texts(), texts())
def test_tokenizer_matches_keras(kernels, options, fit_texts, probe_texts):
    config.set_kernels(kernels)
    mine, ref = text.Tokenizer(**options), ktext.Tokenizer(**options)
    mine.fit_on_texts(fit_texts)
    ref.fit_on_texts(fit_texts)
    assert_behaves_alike(mine, ref, probe_texts + fit_texts)


@KERNELS
@given(st.lists(st.text(max_size=12), max_size=6), st.lists(st.text(max_size=12), max_size=4),
       st.booleans())
def test_tokenizer_matches_keras_on_any_text(kernels, fit_texts, probe_texts, lower):
    config.set_kernels(kernels)
    mine, ref = text.Tokenizer(lower=lower), ktext.Tokenizer(lower=lower)
    mine.fit_on_texts(fit_texts)
    ref.fit_on_texts(fit_texts)
    assert_behaves_alike(mine, ref, probe_texts + fit_texts)


@KERNELS
@given(OPTIONS, texts(), texts())
def test_tokenizer_json_round_trip(kernels, options, fit_texts, probe_texts):
    config.set_kernels(kernels)
    tok = text.Tokenizer(**options)
    tok.fit_on_texts(fit_texts)
    doc = tok.to_json()
    again = text.tokenizer_from_json(doc)
    assert_behaves_alike(again, tok, probe_texts + fit_texts)
    assert again.to_json() == doc
    # Keras reads rnnlab's JSON to the same tokenizer
    assert state(ktext.tokenizer_from_json(doc)) == state(tok)
    # and the restored tokenizer keeps fitting like the original
    again.fit_on_texts(probe_texts)
    tok.fit_on_texts(probe_texts)
    assert state(again) == state(tok)


BAD_TEXTS = st.sampled_from([None, 3, 2.5, b"bytes", ["ok", 1], float("nan"), {"a": 1}])


@KERNELS
@given(OPTIONS, texts(), texts(), BAD_TEXTS, st.data())
def test_rejected_fit_on_texts_changes_nothing(kernels, options, first, batch, bad, data):
    config.set_kernels(kernels)
    tok = text.Tokenizer(**options)
    tok.fit_on_texts(first)
    before, cache = copy.deepcopy(state(tok)), tok._fit_cache
    batch.insert(data.draw(st.integers(0, len(batch)), label="bad position"), bad)
    kept = list(batch)
    with pytest.raises(TypeError, match="position"):
        tok.fit_on_texts(batch)
    assert state(tok) == before and tok._fit_cache is cache
    assert batch == kept                        # the input is not modified


BAD_IDS = st.sampled_from([1.0, 2.5, float("nan"), True, np.float32(3), "1", None, np.bool_(1)])


@given(OPTIONS, texts(), st.lists(st.lists(st.integers(0, 15), max_size=6), max_size=5),
       BAD_IDS, st.data())
def test_non_integer_ids_are_refused_and_change_nothing(options, fit_texts, seqs, bad, data):
    tok = text.Tokenizer(**options)
    tok.fit_on_texts(fit_texts + ["a b"])
    before = copy.deepcopy(state(tok))
    row = data.draw(st.integers(0, len(seqs)), label="row")
    seqs.insert(row, [3, bad])
    kept = copy.deepcopy(seqs)
    for call in (lambda: tok.sequences_to_matrix(seqs), lambda: tok.fit_on_sequences(seqs),
                 lambda: tok.sequences_to_texts(seqs)):
        with pytest.raises(TypeError, match=f"position {row} .*integers"):
            call()
        assert state(tok) == before
        assert repr(seqs) == repr(kept)
    # integer ids of any integer type are fine (NumPy scalars and arrays included)
    ok = [[np.int64(2), 1], np.array([3, 1], dtype=np.int16), np.array([], dtype=float)]
    assert tok.sequences_to_matrix(ok, mode="count").shape[0] == 3


# ------------------------------------------------------------------------------ tokenizer_from_json
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10 ** 6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)


@st.composite
def mutated_tokenizer_json(draw):
    """A valid tokenizer JSON with one setting or table replaced, one of its entries replaced,
    or a key removed."""
    tok = text.Tokenizer(oov_token=draw(st.sampled_from([None, "<oov>"])))
    tok.fit_on_texts(draw(texts()))
    doc = json.loads(tok.to_json())
    cfg = doc["config"]
    key = draw(st.sampled_from(sorted(cfg) + ["class_name", "config", "extra"]))
    how = draw(st.sampled_from(["replace", "delete", "entry"]))
    if key in ("class_name", "config"):
        doc[key] = draw(JSON_VALUES)
    elif how == "delete" and key in cfg:
        del cfg[key]
    elif how == "entry" and key in cfg and isinstance(cfg[key], str) and cfg[key].startswith("{"):
        table = json.loads(cfg[key])
        table[draw(st.sampled_from(list(table) + ["new", "7", "-1"]))] = draw(JSON_VALUES)
        cfg[key] = json.dumps(table)
    else:
        cfg[key] = draw(JSON_VALUES)
    return json.dumps(doc)


@given(mutated_tokenizer_json(), texts())
def test_tokenizer_from_json_loads_a_working_tokenizer_or_raises_valueerror(doc, probe):
    try:
        tok = text.tokenizer_from_json(doc)
    except ValueError as exc:
        assert "tokenizer JSON" in str(exc)
        return
    if tok.oov_token is not None and tok.oov_token not in tok.word_index:
        return
    seqs = tok.texts_to_sequences(probe)
    tok.sequences_to_texts(seqs)
    if tok.num_words or tok.word_index:
        tok.sequences_to_matrix(seqs, mode="count")
    tok.fit_on_texts(probe)


@given(st.one_of(st.binary(max_size=40), st.text(max_size=40), JSON_VALUES.map(json.dumps),
                 st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)))
def test_tokenizer_from_json_on_garbage_raises_valueerror(doc):
    with pytest.raises(ValueError, match="tokenizer JSON"):
        text.tokenizer_from_json(doc)


def test_tokenizer_from_json_messages_say_what_is_wrong():
    tok = text.Tokenizer()
    tok.fit_on_texts(["a b b"])
    doc = json.loads(tok.to_json())

    def load(change):
        d = copy.deepcopy(doc)
        change(d["config"])
        return lambda: text.tokenizer_from_json(json.dumps(d))

    cases = [
        (lambda c: c.pop("word_counts"), "no 'word_counts' table"),
        (lambda c: c.update(index_docs='{"x": 1}'), "'index_docs' has key 'x'"),
        (lambda c: c.update(word_index='{"a": "1"}'), "'word_index' maps 'a' to '1'"),
        (lambda c: c.update(word_docs="{x"), "'word_docs' is not valid JSON"),
        (lambda c: c.update(document_count="3"), "'document_count'"),
        (lambda c: c.update(num_words=0), "num_words"),
        (lambda c: c.update(colour=1), r"unknown settings \['colour'\]"),
        (lambda c: c.update(index_word='{"1": "zz", "2": "a"}'), "inverse"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            load(change)()
    with pytest.raises(ValueError, match="nested deeper"):
        text.tokenizer_from_json("[" * 100_000 + "]" * 100_000)


# ------------------------------------------------------------------------------ pad_sequences
RAGGED = st.lists(st.lists(st.integers(-300, 300), max_size=7), max_size=6)
PAD_ARGS = st.fixed_dictionaries({}, optional={
    "maxlen": st.one_of(st.none(), st.integers(1, 9)),
    "padding": st.sampled_from(["pre", "post"]),
    "truncating": st.sampled_from(["pre", "post"]),
    "value": st.one_of(st.integers(-2, 300), st.floats(-3, 3), st.just(float("nan"))),
    "dtype": st.sampled_from(["int32", "float32", "float64", "int8", "uint8", "int64", object]),
})


def _outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:       # the comparison is "both raise"; rnnlab's type checked below
        return None, exc


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # Keras, NaN in ints
@given(RAGGED, PAD_ARGS)
def test_pad_sequences_matches_keras(seqs, kwargs):
    assume(any(seqs))                  # Keras fails on no sequences (rnnlab gives (0, 0))
    kept = copy.deepcopy(seqs)
    mine, my_exc = _outcome(sequence.pad_sequences, seqs, **kwargs)
    assert seqs == kept
    ref, ref_exc = _outcome(ksequence.pad_sequences, copy.deepcopy(seqs), **kwargs)
    value, dtype = kwargs.get("value", 0.0), kwargs.get("dtype", "int32")
    if dtype is not object and np.dtype(dtype).kind in "iu" and value != value:
        # documented difference: Keras pads an integer array with NaN cast to garbage
        assert isinstance(my_exc, ValueError) and "cannot pad an integer dtype" in str(my_exc)
        return
    if ref_exc is not None or my_exc is not None:
        assert ref_exc is not None and my_exc is not None, (my_exc, ref_exc)
        assert isinstance(my_exc, ValueError), my_exc
        return
    assert mine.dtype == ref.dtype and mine.shape == ref.shape
    if mine.dtype == object:         # same values of the same Python types (NaN included)
        assert repr(mine.tolist()) == repr(ref.tolist())
    else:
        np.testing.assert_array_equal(mine, ref)


@given(st.lists(st.one_of(st.lists(st.integers(0, 9), max_size=4),
                          st.sampled_from([None, 3, "abc", b"xy", 2.5])), min_size=1, max_size=5),
       PAD_ARGS)
def test_pad_sequences_rejects_non_sequences_without_touching_input(seqs, kwargs):
    assume(any(not isinstance(s, list) for s in seqs))
    kept = copy.deepcopy(seqs)
    with pytest.raises(ValueError, match="position"):
        sequence.pad_sequences(seqs, **kwargs)
    assert seqs == kept

"""rnnlab.preprocessing.text against keras-preprocessing 1.1.2 (the reference), on IMDB reviews
and hand-written edge cases."""
import csv
import gzip
import json
import os
import pickle
import sys
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

np.unicode_ = np.str_  # keras-preprocessing 1.1.2 still uses the alias NumPy 2 removed
from keras_preprocessing import text as ktext  # noqa: E402

from rnnlab import config  # noqa: E402
from rnnlab.preprocessing import indexer, sequence, text  # noqa: E402

MODES = ("binary", "count", "tfidf", "freq")
HEBREW = "כמazz ומתמיד, נוכחותנו על הקרקע, שליטתנו במקומות האסטרטגיים, ונחישותנו בהגנתם היא ש"
LECTURE = ["I love Stats so much", "I love ML too", "I love DS", "I love NN"]
EDGE = [
    "", "   ", "!!!...,,,", "Hello, World! Hello?", HEBREW,
    "emoji 😀😀 party 🎉, ok 😀", "tabs\tand\nnewlines\r\nhere", "UPPER lower MiXeD",
    "don't stop-believing", "ΑΣ ΟΔΟΣ σίσυφος", "İstanbul straße ǅ", "ǅ",
    "a  b   c", "\u00a0nbsp\u00a0words", "x" * 50, "1 2 3 4 5 6 7 8 9 10 11",
    "lone \ud800 surrogate",
]


@pytest.fixture(autouse=True, params=["reference", "fast"])
def kernels(request):
    """Every test runs on the pure-Python tokenizer and on the compiled indexer."""
    config.set_kernels(request.param)
    return request.param


def imdb_texts(n):
    csv.field_size_limit(sys.maxsize)
    path = Path(os.environ["RNNLAB_DATA_DIR"]) / "imdb_test.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return [row["text"] for row in islice(csv.DictReader(fh), n)]


def assert_same_state(mine, ref):
    assert list(mine.word_counts.items()) == list(ref.word_counts.items())
    assert dict(mine.word_docs) == dict(ref.word_docs)
    assert dict(mine.index_docs) == dict(ref.index_docs)
    assert mine.word_index == ref.word_index
    assert mine.index_word == ref.index_word
    assert mine.document_count == ref.document_count


def assert_same(kwargs, fit_texts, other_texts=(), modes=MODES):
    mine, ref = text.Tokenizer(**kwargs), ktext.Tokenizer(**kwargs)
    mine.fit_on_texts(fit_texts)
    ref.fit_on_texts(fit_texts)
    assert_same_state(mine, ref)
    copies = [(t + " ")[:-1] if isinstance(t, str) else t for t in fit_texts]  # new objects
    for texts in (fit_texts, list(other_texts), copies):
        seqs = mine.texts_to_sequences(texts)
        assert seqs == ref.texts_to_sequences(texts)
        assert list(mine.texts_to_sequences_generator(texts)) == seqs
        assert mine.sequences_to_texts(seqs) == ref.sequences_to_texts(seqs)
    for mode in modes:
        if mine.num_words or mine.word_index:
            np.testing.assert_array_equal(mine.texts_to_matrix(fit_texts, mode=mode),
                                          ref.texts_to_matrix(fit_texts, mode=mode))
    return mine, ref


def test_lecture_example():
    tok = text.Tokenizer(num_words=10)
    tok.fit_on_texts(LECTURE)
    assert tok.word_index == {"i": 1, "love": 2, "stats": 3, "so": 4, "much": 5, "ml": 6,
                              "too": 7, "ds": 8, "nn": 9}
    assert tok.index_word == {v: k for k, v in tok.word_index.items()}
    assert list(tok.word_counts.items())[:5] == [("i", 4), ("love", 4), ("stats", 1), ("so", 1),
                                                 ("much", 1)]
    seqs = tok.texts_to_sequences(LECTURE)
    assert seqs == [[1, 2, 3, 4, 5], [1, 2, 6, 7], [1, 2, 8], [1, 2, 9]]
    x = sequence.pad_sequences(seqs, padding="post", truncating="post", maxlen=4)
    assert x.tolist() == [[1, 2, 3, 4], [1, 2, 6, 7], [1, 2, 8, 0], [1, 2, 9, 0]]
    assert_same({"num_words": 10}, LECTURE)


@pytest.fixture(scope="module")
def imdb():
    return imdb_texts(3000)


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 1000}, {"num_words": 200,
                                                              "oov_token": "<OOV>"}])
def test_imdb_matches_keras(imdb, kwargs):
    fit, other = imdb[:2000], imdb[2000:]
    assert_same(kwargs, fit, other, modes=())
    # matrices on a slice (they are (n, vocab) dense)
    mine, ref = text.Tokenizer(num_words=500, **{k: v for k, v in kwargs.items()
                                                 if k != "num_words"}), ktext.Tokenizer(
        num_words=500, **{k: v for k, v in kwargs.items() if k != "num_words"})
    mine.fit_on_texts(fit)
    ref.fit_on_texts(fit)
    for mode in MODES:
        np.testing.assert_array_equal(mine.texts_to_matrix(other[:300], mode=mode),
                                      ref.texts_to_matrix(other[:300], mode=mode))


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 5}, {"num_words": 1}, {"oov_token": "<OOV>"},
    {"num_words": 6, "oov_token": "<OOV>"}, {"oov_token": "hello"},  # oov that is also a word
    {"char_level": True}, {"char_level": True, "num_words": 8, "oov_token": "?"},
    {"lower": False}, {"split": ","}, {"split": "ab"}, {"filters": ""},
    {"filters": "aeiou", "split": "x"}, {"filters": list("!,."), "lower": False},
    {"filters": "ש,", "split": "ו"},  # non-ASCII filters and separator
])
def test_edge_cases_match_keras(kwargs):
    other = ["unknown words here", "hello 😀", "", HEBREW[:20], "straße"]
    assert_same(kwargs, EDGE, other)


def test_hebrew_and_emoji():
    tok = text.Tokenizer()
    tok.fit_on_texts([HEBREW, "😀 🎉 😀"])
    assert tok.word_index["נוכחותנו"] > 0 and tok.word_index["😀"] == 1
    assert tok.sequences_to_texts(tok.texts_to_sequences(["😀 נוכחותנו"])) == ["😀 נוכחותנו"]
    assert text.text_to_word_sequence(HEBREW)[:2] == ["כמazz", "ומתמיד"]


def test_list_texts_and_empty_tokens_match_keras():
    texts = [["Hello", "", "World"], "hello  world", ["", "x"], "x, y"]
    assert_same({}, texts)
    assert_same({"oov_token": "<u>", "num_words": 3}, texts)


def test_repeated_fits_and_fit_on_sequences_match_keras():
    mine, ref = text.Tokenizer(num_words=7), ktext.Tokenizer(num_words=7)
    for tok in (mine, ref):
        tok.fit_on_texts(EDGE[:6])
        tok.fit_on_texts(EDGE[4:] + LECTURE)
        tok.fit_on_sequences([[1, 2, 2, 9], [3], []])
    assert_same_state(mine, ref)
    seqs = [[1, 2, 2, 9, 15], [], [6, 6, 6, 0]]
    for mode in MODES:
        np.testing.assert_array_equal(mine.sequences_to_matrix(seqs, mode=mode),
                                      ref.sequences_to_matrix(seqs, mode=mode))
    assert mine.texts_to_sequences(EDGE) == ref.texts_to_sequences(EDGE)


def test_compiled_indexer_is_used_and_equals_reference(imdb, kernels):
    """The fast path is taken where it applies and gives the reference's state and sequences,
    including for texts given as a generator and for texts it has not seen (test set)."""
    index = indexer.compiled_indexer(text.DEFAULT_FILTERS, " ", False)
    assert (index is not None) == (kernels == "fast")
    assert indexer.compiled_indexer("é", " ", False) is None
    assert indexer.compiled_indexer("", " ", True) is None
    fast = text.Tokenizer(num_words=3000, oov_token="<OOV>")
    fast.fit_on_texts(t for t in imdb[:2000])
    config.set_kernels("reference")
    ref = text.Tokenizer(num_words=3000, oov_token="<OOV>")
    ref.fit_on_texts(imdb[:2000])
    assert_same_state(fast, ref)
    other = imdb[2000:] + [t.upper() for t in imdb[:50]]
    expected = ref.texts_to_sequences(other)
    config.set_kernels(kernels)
    assert fast.texts_to_sequences(other) == expected
    assert list(fast.texts_to_sequences_generator(iter(other))) == expected


def test_fit_cache_follows_settings_and_objects():
    texts = ["The cat, the hat", "A cat"]
    tok = text.Tokenizer()
    tok.fit_on_texts(texts)
    assert tok.texts_to_sequences(texts) == [[1, 2, 1, 3], [4, 2]]
    assert tok.texts_to_sequences(texts[::-1]) == [[4, 2], [1, 2, 1, 3]]
    tok.filters = ""  # changed settings must not reuse the fit's tokens
    assert tok.texts_to_sequences(texts) == [[1, 1, 3], [4, 2]]
    tok.clear_cache()
    tok.filters = text.DEFAULT_FILTERS
    tok.num_words = 3
    assert tok.texts_to_sequences(texts) == [[1, 2, 1], [2]]
    assert pickle.loads(pickle.dumps(tok)).texts_to_sequences(texts) == [[1, 2, 1], [2]]


def test_json_round_trip(imdb):
    tok = text.Tokenizer(num_words=300, oov_token="<OOV>")
    tok.fit_on_texts(imdb[:500])
    restored = text.tokenizer_from_json(tok.to_json())
    assert restored.texts_to_sequences(imdb[500:800]) == tok.texts_to_sequences(imdb[500:800])
    assert restored.get_config() == tok.get_config()
    # interchangeable with Keras's JSON both ways
    ref = ktext.tokenizer_from_json(tok.to_json())
    assert ref.texts_to_sequences(imdb[500:600]) == tok.texts_to_sequences(imdb[500:600])
    kt = ktext.Tokenizer(num_words=50)
    kt.fit_on_texts(imdb[:100])
    mine = text.tokenizer_from_json(kt.to_json())
    assert mine.texts_to_sequences(imdb[100:200]) == kt.texts_to_sequences(imdb[100:200])
    mine.fit_on_texts(["more text"])  # a restored tokenizer keeps fitting
    assert mine.document_count == 101
    assert json.loads(tok.to_json())["class_name"] == "Tokenizer"


@pytest.mark.parametrize("bad", [None, float("nan"), b"bytes", 7, ("a", "b")])
def test_bad_text_names_position(bad):
    tok = text.Tokenizer()
    with pytest.raises(TypeError, match="position 2"):
        tok.fit_on_texts(["ok", "fine", bad])
    assert tok.document_count == 0 and not tok.word_index  # unchanged
    tok.fit_on_texts(["ok"])
    with pytest.raises(TypeError, match="position 1"):
        tok.texts_to_sequences(["ok", bad])


def test_bad_arguments():
    for n in (0, -3):
        with pytest.raises(ValueError, match="num_words"):
            text.Tokenizer(num_words=n)
    with pytest.raises(TypeError, match="num_words"):
        text.Tokenizer(num_words=2.5)
    with pytest.raises(TypeError, match="single str"):
        text.Tokenizer().fit_on_texts("a whole string")
    with pytest.raises(TypeError, match="tokens must all be str"):
        text.Tokenizer().fit_on_texts([["a", 3]])
    with pytest.raises(ValueError, match="split"):
        text.Tokenizer(split="")
    with pytest.raises(TypeError, match="Unrecognized"):
        text.Tokenizer(bogus=1)
    tok = text.Tokenizer()
    tok.fit_on_texts(LECTURE)
    with pytest.raises(ValueError, match="mode"):
        tok.texts_to_matrix(LECTURE, mode="onehot")
    with pytest.raises(ValueError, match="negative"):
        tok.sequences_to_matrix([[1], [2, -1]])
    with pytest.raises(ValueError, match="oov_token"):
        text.Tokenizer(oov_token="<u>").texts_to_sequences(["a"])
    with pytest.raises(ValueError, match="fit"):
        text.Tokenizer().texts_to_matrix(["a"])


def test_module_functions_match_keras():
    for t in EDGE:
        assert text.text_to_word_sequence(t) == ktext.text_to_word_sequence(t)
        assert text.text_to_word_sequence(t, lower=False, split=",") == \
            ktext.text_to_word_sequence(t, lower=False, split=",")
        try:
            expected = ktext.hashing_trick(t, 17, "md5")
        except UnicodeEncodeError:      # md5 of a lone surrogate: both refuse to encode it
            with pytest.raises(UnicodeEncodeError):
                text.hashing_trick(t, 17, "md5")
        else:
            assert text.hashing_trick(t, 17, "md5") == expected
        assert text.one_hot(t, 5) == ktext.one_hot(t, 5)
    with pytest.raises(ValueError, match="n"):
        text.one_hot("a", 1)
    with pytest.raises(TypeError, match="str"):
        text.text_to_word_sequence(None)

"""rnnlab.generation: step-by-step inference equals predict on the prefix, language-model data,
sampling rules, text generation, bits per character and the unigram/bigram baselines."""
import csv
import gzip
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rnnlab
from conftest import LECTURE_TEXT
from rnnlab import config
from rnnlab import layers as L
from rnnlab.generation import (
    BigramModel,
    CharVocabulary,
    Stepper,
    TextGenerator,
    UnigramModel,
    Vocabulary,
    WordVocabulary,
    bits_per_character,
    compare_with_baselines,
    filtered_probabilities,
    generate,
    model_log_probs,
    next_tokens,
    perplexity,
    sequence_windows,
    split_words,
    stateful_batches,
    windows,
)

LECTURE = LECTURE_TEXT


def hebrew_line() -> str:
    """The lecture's sentence under "What is he going to say next?" (cut before its last
    letter on the slide; here with it)."""
    lines = LECTURE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "going to say next" in line) + 1
    out = []
    for line in lines[start:]:
        if line.startswith("The image"):
            break
        if line.strip():
            out.append(line.strip())
    return " ".join(out)


def _lm(cell_layers, vocab=7, one_hot=False, functional=False, dropout=False):
    inp = rnnlab.Input((None, vocab)) if one_hot else rnnlab.Input((None,), dtype="int64")
    stack = [] if one_hot else [L.Embedding(vocab, 5)]
    for layer in cell_layers:
        stack += [layer] + ([L.Dropout(0.3)] if dropout else [])
    stack.append(L.Dense(vocab, activation="softmax"))
    if not functional:
        return rnnlab.Sequential([inp] + stack)
    x = inp
    for layer in stack:
        x = layer(x)
    return rnnlab.Model(inp, x)


def _fresh(kind, ret=True):
    if kind == "simple":
        return [L.SimpleRNN(6, return_sequences=ret)]
    if kind == "lstm":
        return [L.LSTM(6, return_sequences=ret)]
    if kind == "gru":
        return [L.GRU(6, return_sequences=ret)]
    if kind == "rnn_cell":
        return [L.RNN(L.LSTMCell(4), return_sequences=ret)]
    if kind == "stacked":
        return [L.RNN([L.GRUCell(5), L.SimpleRNNCell(3)], return_sequences=ret)]
    if kind == "two_layers":
        return [L.LSTM(6, return_sequences=True), L.GRU(4, return_sequences=ret)]
    raise AssertionError(kind)


KINDS = ["simple", "lstm", "gru", "rnn_cell", "stacked", "two_layers"]


# ------------------------------------------------------------------ Stepper == predict
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("floatx,tol", [("float64", 1e-6), ("float32", 1e-5)])
def test_stepper_equals_predict_on_every_prefix(kind, floatx, tol):
    config.set_floatx(floatx)
    model = _lm(_fresh(kind), dropout=True)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 7, size=(3, 12))
    full = model.predict(x, verbose=0)                     # (3, 12, 7): every prefix at once
    stepper = Stepper(model)
    outs = stepper.feed(x)
    assert outs.shape == full.shape
    np.testing.assert_allclose(outs, full, atol=tol, rtol=0)
    assert stepper.steps == 12


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_stepper_equals_predict_on_the_reference_kernels(kind, float64):
    config.set_kernels("reference")                        # predict runs the NumPy BPTT kernels
    model = _lm(_fresh(kind))
    x = np.random.default_rng(8).integers(0, 7, size=(2, 10))
    np.testing.assert_allclose(Stepper(model).feed(x), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "stacked", "two_layers"])
def test_stepper_last_output_model_equals_predict_on_each_prefix(kind, float64):
    model = _lm(_fresh(kind, ret=False), functional=True)   # reads a window, predicts one token
    x = np.random.default_rng(2).integers(0, 7, size=(2, 9))
    stepper = Stepper(model)
    for t in range(9):
        got = stepper.step(x[:, t])
        want = model.predict(x[:, :t + 1], verbose=0)
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_stepper_one_hot_input_and_masking(float64):
    model = _lm(_fresh("gru"), one_hot=True, functional=True)
    x = np.eye(7)[np.random.default_rng(3).integers(0, 7, size=(2, 8))]
    np.testing.assert_allclose(Stepper(model).feed(x), model.predict(x, verbose=0), atol=1e-6)
    # Embedding(mask_zero=True): masked steps carry the state and repeat the output
    inp = rnnlab.Input((None,), dtype="int64")
    h = L.LSTM(5, return_sequences=True)(L.Embedding(7, 4, mask_zero=True)(inp))
    masked = rnnlab.Model(inp, L.Dense(7, activation="softmax")(h))
    ids = np.array([[3, 0, 2, 0, 0, 5], [1, 2, 0, 4, 6, 0]])
    np.testing.assert_allclose(Stepper(masked).feed(ids), masked.predict(ids, verbose=0),
                               atol=1e-6)


def test_stepper_per_step_layers_in_a_functional_graph(float64):
    """Residual and concatenating merges, normalization and TimeDistributed act on each step on
    its own, so they step too; a fixed-length Input is stepped one token at a time."""
    inp = rnnlab.Input((12,), dtype="int64")
    e = L.Embedding(7, 6)(inp)
    h = L.LSTM(6, return_sequences=True)(e)
    h = L.LayerNormalization()(L.Add()([h, e]))
    g = L.GRU(4, return_sequences=True)(h)
    c = L.Concatenate()([g, L.TimeDistributed(L.Dense(3, activation="relu"))(h)])
    model = rnnlab.Model(inp, L.Dense(7, activation="softmax")(L.BatchNormalization()(c)))
    x = np.random.default_rng(7).integers(0, 7, size=(3, 12))
    np.testing.assert_allclose(Stepper(model).feed(x), model.predict(x, verbose=0), atol=1e-6)


def test_stepper_carries_states_and_resets(float64):
    model = _lm(_fresh("lstm"))
    x = np.random.default_rng(4).integers(0, 7, size=(1, 10))
    stepper = Stepper(model)
    stepper.feed(x[:, :6])
    saved = stepper.states
    rest = stepper.feed(x[:, 6:])
    np.testing.assert_allclose(rest, model.predict(x, verbose=0)[:, 6:], atol=1e-6)
    stepper.set_states(saved)                              # back to after 6 steps
    np.testing.assert_allclose(stepper.feed(x[:, 6:]), rest, atol=0)
    stepper.reset()
    np.testing.assert_allclose(stepper.feed(x[:, 6:]),
                               model.predict(x[:, 6:], verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="batch size 1"):
        stepper.step(np.array([1, 2]))
    before = stepper.states
    with pytest.raises(ValueError, match="input_dim"):
        stepper.step(np.array([9]))                        # an id the Embedding does not have
    assert all(np.array_equal(a, b) for k in before
               for a, b in zip(before[k], stepper.states[k]))


def test_one_cell_step_per_new_token(monkeypatch):
    """Generating n tokens after a prompt of p tokens costs p + n - 1 steps of each cell: the
    prefix is never run again."""
    voc = CharVocabulary.from_text("abcdefg")
    model = _lm([L.LSTM(6, return_sequences=True), L.GRU(4, return_sequences=True)])
    gen = TextGenerator(model, voc)
    calls = Counter()
    for layer in model.layers:
        if isinstance(layer, L.RNN):
            step = layer.cell.step

            def counted(*a, _step=step, _name=layer.name):
                calls[_name] += 1
                return _step(*a)
            monkeypatch.setattr(layer.cell, "step", counted)
    out = gen.generate("abcde", 200, seed=0)
    assert len(out) == 200
    assert set(calls.values()) == {5 + 200 - 1}


@pytest.mark.parametrize("layer", [
    lambda: L.Bidirectional(L.LSTM(4, return_sequences=True)),
    lambda: L.LSTM(4, return_sequences=True, go_backwards=True),
    lambda: L.Conv1D(4, 3, padding="same"),
])
def test_stepper_refuses_layers_that_see_other_steps(layer):
    inp = rnnlab.Input((None,), dtype="int64")
    h = layer()(L.Embedding(7, 4)(inp))
    model = rnnlab.Model(inp, L.Dense(7)(L.LSTM(3, return_sequences=True)(h)))
    with pytest.raises(ValueError, match="one step at a time"):
        Stepper(model)
    dense_only = rnnlab.Sequential([rnnlab.Input((4,)), L.Dense(3)])
    with pytest.raises(ValueError, match="recurrent layer"):
        Stepper(dense_only)


# ------------------------------------------------------------------ vocabularies
def test_lecture_hebrew_line_round_trips():
    line = hebrew_line()
    assert "נוכחותנו" in line and line.endswith("ש")
    voc = CharVocabulary.from_text(line)
    ids = voc.encode(line)
    assert len(ids) == len(line) and voc.decode(ids) == line
    # logical order: the first id is the first letter typed (the rightmost one on screen)
    assert voc.tokens[ids[0]] == line[0] == "כ"
    words = WordVocabulary.from_text(line)
    assert words.decode(words.encode(line)) == line
    assert "נוכחותנו" in words


@given(st.text(min_size=2))
def test_any_unicode_text_round_trips(text):
    if len(set(text)) < 2:
        with pytest.raises(ValueError, match="at least two distinct"):
            CharVocabulary.from_text(text)
        return
    voc = CharVocabulary.from_text(text)
    assert voc.decode(voc.encode(text)) == text
    assert "".join(split_words(text)) == text


def test_unknown_characters_rule():
    voc = CharVocabulary.from_text("hello world")
    with pytest.raises(ValueError, match=r"'ש' \(U\+05E9\).*never saw"):
        voc.encode("hello שלום")
    oov = CharVocabulary.from_text("hello world", oov_token="\ufffd")
    assert oov.tokens[0] == "\ufffd"
    assert oov.decode(oov.encode("hex!")) == "he\ufffd\ufffd"
    with pytest.raises(ValueError, match="oov_token"):
        CharVocabulary.from_text("aaab", min_count=2)
    rare = CharVocabulary.from_text("aaabbc", min_count=2, oov_token="?")
    assert rare.tokens == ["?", "a", "b"]


@pytest.mark.parametrize("text", ["", "a", "aaaa"])
def test_empty_or_one_character_corpus_is_refused(text):
    with pytest.raises(ValueError, match="at least two distinct"):
        CharVocabulary.from_text(text)


def test_word_vocabulary_by_frequency():
    text = "the cat and the dog, the end"
    voc = WordVocabulary.from_text(text)
    assert voc.tokens[:2] == [" ", "the"]
    assert voc.decode(voc.encode(text)) == text
    for v in (voc, CharVocabulary.from_text(hebrew_line(), oov_token="?")):
        again = Vocabulary.from_config(json.loads(json.dumps(v.get_config())))
        assert type(again) is type(v) and again.tokens == v.tokens
        assert again.oov_token == v.oov_token


# ------------------------------------------------------------------ data
def test_windows_and_sequence_windows():
    ids = np.arange(10)
    x, y = windows(ids, 3)
    assert x.shape == (7, 3) and x[0].tolist() == [0, 1, 2] and y.tolist() == list(range(3, 10))
    x, y = windows(ids, 3, step=4)
    assert x.tolist() == [[0, 1, 2], [4, 5, 6]] and y.tolist() == [3, 7]
    x, y = sequence_windows(ids, 4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(ValueError, match="at least 4 tokens"):
        windows(np.arange(3), 3)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        windows(ids, 0)


def test_stateful_batches_continue_each_stream():
    ids = np.arange(23)
    x, y = stateful_batches(ids, batch_size=2, length=3)
    # 2 streams of 11 targets each (0..11 and 11..22), 3 batches of 3 steps
    assert x.tolist() == [[0, 1, 2], [11, 12, 13], [3, 4, 5], [14, 15, 16],
                          [6, 7, 8], [17, 18, 19]]
    np.testing.assert_array_equal(y, x + 1)
    b = 2
    for k in range(len(x) // b - 1):
        for i in range(b):
            assert x[(k + 1) * b + i, 0] == y[k * b + i, -1]      # row i goes on where it ended
    with pytest.raises(ValueError, match="at least 7 tokens"):
        stateful_batches(np.arange(6), 2, 3)


# ------------------------------------------------------------------ sampling
probs_strategy = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12).filter(
    lambda p: sum(p) > 1e-3)


@given(probs_strategy, st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_top_k_never_picks_outside_the_k_most_likely(p, k, seed):
    p = np.array(p) / sum(p)
    q = filtered_probabilities(p, top_k=k)[0]
    order = np.argsort(-p, kind="stable")
    allowed = set(order[:k].tolist())
    assert set(np.flatnonzero(q).tolist()) <= allowed
    draws = next_tokens(np.tile(p, (50, 1)), np.random.default_rng(seed), top_k=k)
    assert set(draws.tolist()) <= allowed


@given(probs_strategy, st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_nucleus(p, top_p):
    p = np.array(p) / sum(p)
    q = filtered_probabilities(p, top_p=top_p)[0]
    # independently: walk down the sorted probabilities until the mass reaches top_p
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))
    kept, mass = [], 0.0
    for i in order:
        kept.append(i)
        mass += p[i]
        if mass >= top_p * (1 - 1e-12):
            break
    kept = {i for i in kept if p[i] > 0} or {order[0]}
    assert set(np.flatnonzero(q).tolist()) == kept
    np.testing.assert_allclose(q[list(kept)], p[list(kept)] / p[list(kept)].sum(), rtol=1e-9)


def test_broken_distributions_are_refused():
    rng = np.random.default_rng(0)
    for bad in ([0.5, np.nan], [0.5, -0.1]):
        with pytest.raises(ValueError, match="NaN, infinite or negative"):
            next_tokens(np.array(bad), rng)
    assert next_tokens(np.array([2.0, -1.0]), rng, from_logits=True, greedy=True).tolist() == [0]


def test_temperature_reshapes_the_distribution_and_draws_follow_it():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    for t in (0.5, 1.0, 2.0):
        want = p ** (1 / t) / (p ** (1 / t)).sum()
        np.testing.assert_allclose(filtered_probabilities(p, temperature=t)[0], want, rtol=1e-12)
    draws = next_tokens(np.tile(p, (40000, 1)), np.random.default_rng(0), temperature=0.5)
    freq = np.bincount(draws, minlength=4) / draws.size
    want = p ** 2 / (p ** 2).sum()
    assert np.abs(freq - want).max() < 0.01


def _trained_hebrew_model():
    line = hebrew_line()
    voc = CharVocabulary.from_text(line)
    ids = voc.encode(line)
    v = len(voc)
    config.set_kernels("reference")                        # no compile for one short sequence
    config.set_random_seed(0)
    model = rnnlab.Sequential([rnnlab.Input((None,), dtype="int64"), L.Embedding(v, 16),
                               L.LSTM(48, return_sequences=True),
                               L.Dense(v, activation="softmax")])
    model.compile(optimizer=rnnlab.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy")
    model.fit(ids[None, :-1], ids[None, 1:], epochs=60, verbose=0)
    return model, voc, line


def test_what_is_he_going_to_say_next():
    """A char-LSTM that learned the lecture's Hebrew sentence completes it, cut before its last
    letter, with that letter; the text comes out in logical (typed) order, not reordered."""
    model, voc, line = _trained_hebrew_model()
    prompt = line[:-1]
    assert generate(model, prompt, 1, greedy=True, vocabulary=voc) == line[-1]
    # from its first word the model recites the rest in the typed order
    head = line.split(" ")[0]
    streamed = []
    out = generate(model, head, len(line) - len(head), greedy=True, vocabulary=voc,
                   callback=streamed.append)
    assert "".join(streamed) == out
    assert head + out == line


def test_generation_is_reproducible_with_a_seed_and_greedy_is_deterministic():
    voc = CharVocabulary.from_text("abcdefg")
    model = _lm(_fresh("gru"))
    gen = TextGenerator(model, voc)
    a = gen.generate("abc", 60, temperature=1.3, top_k=5, seed=7)
    assert a == gen.generate("abc", 60, temperature=1.3, top_k=5, seed=7)
    assert a != gen.generate("abc", 60, temperature=1.3, top_k=5, seed=8)
    g = gen.generate("abc", 30, greedy=True)
    assert g == gen.generate("abc", 30, greedy=True, seed=123)
    # greedy = the argmax of predict on the whole text so far, token after token
    text = "abc"
    for ch in g[:5]:
        probs = model.predict(voc.encode(text)[None], verbose=0)[0, -1]
        assert voc.tokens[int(np.argmax(probs))] == ch
        text += ch
    tokens = list(gen.stream("abc", 10, seed=7, temperature=1.3, top_k=5))
    assert "".join(tokens) == a[:10]


@pytest.mark.parametrize("kwargs,match", [
    ({"temperature": 0}, "temperature must be > 0"),
    ({"temperature": -1.0}, "temperature must be > 0"),
    ({"temperature": None}, "greedy=True"),
    ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
    ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    ({"top_k": 0}, "top_k must be a positive integer"),
    ({"length": 0}, "length must be a positive integer"),
    ({"greedy": True, "top_k": 3}, "only apply to sampling"),
    ({"prompt": "abz"}, r"'z' \(U\+007A\)"),
    ({"prompt": ""}, "at least one token"),
])
def test_bad_generation_arguments_are_clear_errors(kwargs, match):
    voc = CharVocabulary.from_text("abcdefg")
    gen = TextGenerator(_lm(_fresh("simple")), voc)
    args = {"prompt": "abc", "length": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        gen.stream(args.pop("prompt"), args.pop("length"), **args)     # checked before running
    assert gen.stepper.steps == 0


def test_window_generation_re_runs_the_last_window():
    """window=n: each token from predict on the last n tokens (for window-trained or unsteppable
    models, here a Conv1D one)."""
    voc = CharVocabulary.from_text("abcdefg")
    model = rnnlab.Sequential([rnnlab.Input((None,), dtype="int64"), L.Embedding(7, 4),
                               L.Conv1D(5, 2), L.LSTM(6), L.Dense(7, activation="softmax")])
    with pytest.raises(ValueError, match="one step at a time"):
        TextGenerator(model, voc)
    out = generate(model, "abcdef", 8, greedy=True, vocabulary=voc, window=4)
    text = "abcdef"
    for ch in out:
        probs = model.predict(voc.encode(text[-4:])[None], verbose=0)[0]
        assert voc.tokens[int(np.argmax(probs))] == ch
        text += ch
    with pytest.raises(ValueError, match="window must be a positive integer"):
        TextGenerator(model, voc, window=0)


def test_word_level_generation():
    text = "the cat sat on the mat. the dog sat on the cat."
    voc = WordVocabulary.from_text(text)
    model = _lm(_fresh("lstm"), vocab=len(voc))
    out = generate(model, "the cat", 6, seed=3, vocabulary=voc)
    tokens = list(TextGenerator(model, voc).stream("the cat", 6, seed=3))
    assert len(tokens) == 6 and all(t in voc for t in tokens) and "".join(tokens) == out
    with pytest.raises(ValueError, match="'bird'"):
        generate(model, "the bird", 3, vocabulary=voc)


def test_model_and_vocabulary_must_agree():
    voc = CharVocabulary.from_text("abcd")
    with pytest.raises(ValueError, match="not a language model over that vocabulary"):
        TextGenerator(_lm(_fresh("simple"), vocab=7), voc)


# ------------------------------------------------------------------ evaluation
def test_bits_per_character_computed_independently(float64):
    model = _lm(_fresh("lstm"))
    ids = np.random.default_rng(5).integers(0, 7, size=41)
    # one stream: predict on the whole text, score every next character
    p = model.predict(ids[None, :-1], verbose=0)[0]
    want = -np.mean(np.log2(p[np.arange(40), ids[1:]]))
    assert bits_per_character(model, ids, streams=1) == pytest.approx(want, abs=1e-9)
    # four streams of 10 targets: each piece run on its own from zero states
    lp = []
    for i in range(4):
        piece = ids[10 * i:10 * i + 11]
        q = model.predict(piece[None, :-1], verbose=0)[0]
        lp += np.log(q[np.arange(10), piece[1:]]).tolist()
    np.testing.assert_allclose(model_log_probs(model, ids, streams=4), lp, atol=1e-9)
    # three streams: 40 = 3·13 + 1, the last target scored by a piece of its own
    assert model_log_probs(model, ids, streams=3).shape == (40,)
    assert perplexity(2.0) == 4.0


def test_window_model_scores_every_target(float64):
    model = _lm(_fresh("gru", ret=False), functional=True)
    ids = np.random.default_rng(6).integers(0, 7, size=20)
    got = model_log_probs(model, ids, window=4)
    for j in range(19):
        ctx = ids[max(0, j + 1 - 4):j + 1]
        q = model.predict(ctx[None], verbose=0)[0]
        assert got[j] == pytest.approx(math.log(q[ids[j + 1]]), abs=1e-9)


def test_unigram_and_bigram_baselines_by_hand():
    voc = CharVocabulary.from_text("abc")                   # a=0 b=1 c=2
    train = voc.encode("abab")
    held = voc.encode("abc")
    uni = UnigramModel(train, 3)
    # counts a:2 b:2 c:0, N=4, V=3, add-one: 3/7, 3/7, 1/7; targets b, c
    assert uni.bits_per_token(held) == pytest.approx(-(math.log2(3 / 7) + math.log2(1 / 7)) / 2)
    bi = BigramModel(train, 3)
    # bigrams ab, ba, ab: p(b|a) = (2+1)/(2+3), p(c|b) = (0+1)/(1+3)
    assert bi.bits_per_token(held) == pytest.approx(-(math.log2(3 / 5) + math.log2(1 / 4)) / 2)
    np.testing.assert_allclose(bi.probs.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="vocab_size=3"):
        uni.bits_per_token(np.array([0, 5]))


def _imdb_text(n_chars):
    path = Path(os.environ["RNNLAB_DATA_DIR"]) / "imdb_train.csv.gz"
    out, size = [], 0
    with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for _, _, text in reader:
            out.append(text.lower())
            size += len(text) + 1
            if size > n_chars:
                break
    return " ".join(out)[:n_chars]


def test_small_char_lstm_on_imdb_beats_the_unigram_baseline():
    config.set_kernels("reference")
    text = _imdb_text(24000)
    voc = CharVocabulary.from_text(text)
    ids = voc.encode(text)
    train, held = ids[:20000], ids[20000:]
    v = len(voc)
    x, y = sequence_windows(train, 25)
    model = rnnlab.Sequential([rnnlab.Input((None,), dtype="int64"), L.Embedding(v, 16),
                               L.LSTM(48, return_sequences=True),
                               L.Dense(v, activation="softmax")])
    model.compile(optimizer=rnnlab.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    bpc = bits_per_character(model, held)
    unigram = UnigramModel(train, v).bits_per_token(held)
    bigram = BigramModel(train, v).bits_per_token(held)
    assert bpc < unigram - 0.3, (bpc, unigram, bigram)
    assert bigram < unigram
    table = compare_with_baselines(model, held, train)
    assert table["bits_per_token"] == bpc and table["unigram_bits_per_token"] == unigram
    assert table["bigram_perplexity"] == pytest.approx(2 ** bigram)

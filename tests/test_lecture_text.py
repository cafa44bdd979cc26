"""The lecture's text half with rnnlab: its snippets, its four models' tables, and training on IMDB.
"""
import numpy as np
import pytest

from rnnlab import config
from rnnlab.layers import Embedding
from rnnlab.lecture import text as lecture_text
from rnnlab.optimizers import Adam
from rnnlab.preprocessing import sequence, text


def test_lecture_snippets_tokenize_pad_embed():
    sentences = ["I love Stats so much", "I love ML too", "I love DS", "I love NN"]
    tokenizer = text.Tokenizer(num_words=10)
    tokenizer.fit_on_texts(sentences)
    assert list(tokenizer.word_counts.items())[:5] == [("i", 4), ("love", 4), ("stats", 1),
                                                       ("so", 1), ("much", 1)]
    seqs = tokenizer.texts_to_sequences(sentences)
    assert seqs == [[1, 2, 3, 4, 5], [1, 2, 6, 7], [1, 2, 8], [1, 2, 9]]
    X = sequence.pad_sequences(seqs, padding="post", truncating="post", maxlen=4)
    np.testing.assert_array_equal(X, [[1, 2, 3, 4], [1, 2, 6, 7], [1, 2, 8, 0], [1, 2, 9, 0]])
    embed_layer = Embedding(input_dim=(10 + 1), output_dim=3)
    one = embed_layer(np.array([1]))
    assert one.shape == (1, 3) and np.all(np.abs(one) <= 0.05)
    X_embedded = embed_layer(X)
    assert X_embedded.shape == (4, 4, 3)
    np.testing.assert_array_equal(X_embedded[0, 0], one[0])  # same word, same vector


@pytest.mark.parametrize("kind,expected,total", [
    ("mlp", [("embedding", "(None, None, 50)", 500050), ("dense", "(None, None, 10)", 510),
             ("dense", "(None, None, 1)", 11)], "500,571"),
    ("simple_rnn", [("embedding", "(None, None, 50)", 500050),
                    ("simple_rnn", "(None, None, 10)", 610),
                    ("simple_rnn", "(None, 1)", 12)], "500,672"),
    ("conv1d_rnn", [("embedding", "(None, None, 50)", 500050), ("conv1d", "(None, None, 5)", 505),
                    ("simple_rnn", "(None, None, 10)", 160),
                    ("simple_rnn", "(None, 1)", 12)], "500,727"),
    ("lstm", [("embedding", "(None, None, 50)", 500050), ("lstm", "(None, None, 10)", 2440),
              ("lstm", "(None, 1)", 48)], "502,538"),
])
def test_summaries_are_the_lectures(kind, expected, total):
    model = lecture_text.build_model(kind)
    lines = []
    model.summary(print_fn=lines.append)
    out = "\n".join(lines).splitlines()
    rows = [l for l in out if "(" in l and ")" in l and not l.startswith(("Model", "Layer (type)"))]
    assert len(rows) == len(expected)
    for row, (name, shape, params) in zip(rows, expected):
        assert row.startswith(name) and shape in row and row.rstrip().endswith(f"{params:,}"), row
    assert f"Total params: {total}" in out and f"Trainable params: {total}" in out


@pytest.fixture(scope="module")
def imdb_small():
    xtr, ytr, xte, yte, name, synthetic = lecture_text.load("imdb", None, 2000, 1000, seed=0)
    assert name == "imdb" and not synthetic
    tok = text.Tokenizer(num_words=2000)
    tok.fit_on_texts(xtr)
    # pre padding/truncating: the last 100 tokens, where reviews usually give their verdict
    pad = lambda t: sequence.pad_sequences(tok.texts_to_sequences(t), maxlen=100)  # noqa: E731
    return pad(xtr), ytr, pad(xte), yte


@pytest.mark.parametrize("kind,floor", [("mlp", 0.535), ("simple_rnn", 0.58), ("conv1d_rnn", 0.55),
                                        ("lstm", 0.6), ("lstm_masked", 0.6)])
def test_text_models_beat_chance_on_an_imdb_subset(imdb_small, kind, floor):
    """2,000 training reviews, 1,000 test reviews (balanced): every model must clearly beat 0.5.
    The MLP's accuracy is per word position (the lecture's broadcast targets), so it sits lower."""
    X_train, y_train, X_test, y_test = imdb_small
    assert 0.45 < y_test.mean() < 0.55
    config.set_random_seed(0)
    model = lecture_text.build_model(kind, max_features=2000, optimizer=Adam(0.01))
    model.fit(X_train, y_train, epochs=8, batch_size=30, verbose=0)
    loss, acc = model.evaluate(X_test, y_test, verbose=0)
    assert acc > floor, (kind, acc)
    assert np.isfinite(loss)

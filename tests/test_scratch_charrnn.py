"""The from-scratch character-level RNN (min-char-rnn style) against finite differences and
against rnnlab's SimpleRNN language model with the same weights: same loss, same gradients."""
import numpy as np
import pytest

import rnnlab
from gradcheck import rel_error
from rnnlab import layers as L
from rnnlab.generation import CharVocabulary
from rnnlab.losses import SparseCategoricalCrossentropy
from rnnlab.scratch import char_rnn

TEXT = "What is he going to say next? כמו תמיד, נוכחותנו על הקרקע"


def _chunk(seed=0, length=12):
    voc = CharVocabulary.from_text(TEXT)
    ids = voc.encode(TEXT)
    start = np.random.default_rng(seed).integers(0, len(ids) - length - 1)
    return len(voc), ids[start:start + length].tolist(), ids[start + 1:start + length + 1].tolist()


def _params(v, h, seed=1):
    """Weights large enough that every term of the gradient matters."""
    rng = np.random.default_rng(seed)
    return {"Wxh": rng.normal(0, 0.5, (h, v)), "Whh": rng.normal(0, 0.5, (h, h)),
            "Why": rng.normal(0, 0.5, (v, h)), "bh": rng.normal(0, 0.2, h),
            "by": rng.normal(0, 0.2, v)}


def test_bptt_matches_finite_differences():
    v, inputs, targets = _chunk()
    params = _params(v, 6)
    hprev = np.random.default_rng(2).normal(0, 0.3, 6)
    _, grads, _ = char_rnn.loss_and_gradients(inputs, targets, hprev, params)
    eps = 1e-6
    for name, w in params.items():
        num = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            up = char_rnn.loss_and_gradients(inputs, targets, hprev, params)[0]
            w[i] = old - eps
            down = char_rnn.loss_and_gradients(inputs, targets, hprev, params)[0]
            w[i] = old
            num[i] = (up - down) / (2 * eps)
        assert rel_error(grads[name], num) < 1e-7, name


@pytest.mark.parametrize("carried_state", [False, True])
def test_rnnlab_simple_rnn_language_model_computes_the_same_loss_and_gradients(float64,
                                                                              carried_state):
    v, inputs, targets = _chunk(seed=3, length=15)
    h = 7
    params = _params(v, h, seed=4)
    hprev = (np.random.default_rng(5).normal(0, 0.5, h) if carried_state else np.zeros(h))
    loss, grads, h_last = char_rnn.loss_and_gradients(inputs, targets, hprev, params)

    rnn = L.SimpleRNN(h, return_sequences=True, return_state=carried_state)
    dense = L.Dense(v, activation="softmax")
    x_in = rnnlab.Input((None, v))
    h0_in = rnnlab.Input((h,))
    seq = rnn(x_in, initial_state=[h0_in]) if carried_state else rnn(x_in)
    if carried_state:
        seq = seq[0]
    model = rnnlab.Model([x_in, h0_in] if carried_state else x_in, dense(seq))
    rnn.set_weights(char_rnn.to_keras_weights(params)[:3])
    dense.set_weights(char_rnn.to_keras_weights(params)[3:])

    x = np.eye(v)[inputs][None]                            # one-hot (1, T, V)
    y = np.array(targets)[None]
    t = len(inputs)
    # the layers' own forward and hand-written backward closures, as a training step runs them
    rnn.zero_grads()
    dense.zero_grads()
    out, back_rnn = rnn.forward([x, hprev[None]] if carried_state else x)
    hs = out[0] if carried_state else out
    p, back_dense = dense.forward(hs)
    value, d_p = SparseCategoricalCrossentropy()(y, p)
    d_hs = back_dense(d_p)
    back_rnn([d_hs, None] if carried_state else d_hs)
    # rnnlab's loss is the mean over the T steps; min-char-rnn's is the sum
    assert value * t == pytest.approx(loss, rel=1e-12)
    feed = [x, hprev[None]] if carried_state else x
    assert model.compile(loss="sparse_categorical_crossentropy") is None
    assert model.test_on_batch(feed, y) * t == pytest.approx(loss, rel=1e-10)
    ours = {"Wxh": rnn.grads["kernel"].T, "Whh": rnn.grads["recurrent_kernel"].T,
            "bh": rnn.grads["bias"], "Why": dense.grads["kernel"].T, "by": dense.grads["bias"]}
    for name in char_rnn.NAMES:
        assert rel_error(ours[name] * t, grads[name]) < 1e-8, name
    if carried_state:
        np.testing.assert_allclose(out[1][0], h_last, rtol=1e-12)


def test_min_char_rnn_training_learns_and_samples():
    params, chars, losses = char_rnn.train(TEXT * 4, hidden_size=32, seq_length=16,
                                           learning_rate=0.1, iterations=300, seed=0)
    uniform = np.log(len(chars)) * 16
    assert losses[0] < uniform + 1e-9 and losses[-1] < uniform - 2.0
    # the raw per-chunk loss: well below the uniform guess after training
    data = [chars.index(c) for c in TEXT]
    loss, _, _ = char_rnn.loss_and_gradients(data[:16], data[1:17], np.zeros(32), params)
    assert loss < 0.5 * uniform
    ids = char_rnn.sample(params, np.zeros(32), data[0], 40, np.random.default_rng(0))
    assert len(ids) == 40 and all(0 <= i < len(chars) for i in ids)
    assert ids == char_rnn.sample(params, np.zeros(32), data[0], 40, np.random.default_rng(0))


def test_bad_inputs():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        char_rnn.init_params(5, 0)
    with pytest.raises(ValueError, match="at least two distinct"):
        char_rnn.train("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", seq_length=4)
    with pytest.raises(ValueError, match="of one length"):
        char_rnn.loss_and_gradients([1, 2], [2], np.zeros(3), char_rnn.init_params(4, 3))

"""Functional models (``Input`` / ``Model(inputs, outputs)``): gradients through whole graphs,
PyTorch parity, masking semantics, regularizers in the loss, the training API with several inputs
and outputs, saving, and the errors a malformed graph or bad data get.

Torch layouts as in test_recurrent_torch: Keras kernel (m, k·u) = torch weight_ih transposed, the
LSTM bias goes to bias_ih (bias_hh = 0), the GRU's (2, 3u) bias rows are bias_ih / bias_hh and its
z, r, h blocks are torch's r, z, n reordered.
"""
import numpy as np
import pytest
import torch

from gradcheck import check_model, rel_error
from rnnlab import Input, Model, config, load_model, regularizers
from rnnlab.layers import GRU, LSTM, Add, Concatenate, Dense, Dot, Embedding, GlobalAveragePooling1D
from rnnlab.layers.wrappers import Bidirectional, TimeDistributed
from rnnlab.optimizers import SGD
from torch_layout import load_torch_rnn, torch_rnn_grads

TOL = 1e-5


def _randomize(model, seed, scale=0.5):
    """Random float64 weights in every layer (shared layers once)."""
    r = np.random.default_rng(seed)
    for layer in model._unique_layers():
        for k in list(layer.params):
            layer.params[k] = r.normal(scale=scale, size=layer.params[k].shape)
            layer.grads[k] = np.zeros_like(layer.params[k])


def _post_padded(lengths, t, vocab, rng):
    ids = rng.integers(1, vocab, size=(len(lengths), t))
    ids[np.arange(t)[None, :] >= np.asarray(lengths)[:, None]] = 0
    return ids


# =========================================================================== gradient checks
def test_gradcheck_merges(float64):
    a, b = Input((4,), name="a"), Input((3,), name="b")
    da = Dense(3, activation="tanh")(a)
    db = Dense(3, activation="sigmoid")(b)
    s = Add()([da, db])
    d = Dot(axes=1, normalize=True)([da, db])
    out = Dense(2)(Concatenate()([s, da, d]))
    model = Model([a, b], out)
    _randomize(model, 0)
    r = np.random.default_rng(1)
    errs = check_model(model, [r.normal(size=(5, 4)), r.normal(size=(5, 3))])
    assert {"input0", "input1"} <= set(errs)


def _siamese(vocab=9, t=5, name_prefix=""):
    q1 = Input((t,), name="q1", dtype="int64")
    q2 = Input((t,), name="q2", dtype="int64")
    emb = Embedding(vocab, 3, name="shared_embedding")
    lstm = LSTM(4, name="shared_lstm")
    v1, v2 = lstm(emb(q1)), lstm(emb(q2))
    sim = Dot(axes=1, normalize=True, name="cosine")([v1, v2])
    out = Dense(1, activation="sigmoid", name="same")(sim)
    return Model([q1, q2], out), emb, lstm


def test_gradcheck_siamese_shared_layers(float64):
    """A shared layer called twice appears in two nodes; its gradients from both calls add up
    (the finite differences perturb the one shared array, so they see both uses)."""
    model, emb, lstm = _siamese()
    assert [l.name for l in model.layers].count("shared_lstm") == 1
    assert sum(n.layer is lstm for n in model._nodes) == 2
    _randomize(model, 2)
    r = np.random.default_rng(3)
    q1, q2 = r.integers(0, 9, size=(4, 5)), r.integers(0, 9, size=(4, 5))
    errs = check_model(model, [q1, q2])
    assert "shared_lstm/kernel" in errs and "shared_embedding/embeddings" in errs


def test_gradcheck_bidirectional_and_unused_outputs(float64):
    """Bidirectional layers inside a graph; merge_mode=None and return_state give multi-output
    nodes whose unused outputs receive None gradients."""
    x = Input((5, 3), name="x")
    seq = Bidirectional(LSTM(2, return_sequences=True, name="l1"), name="bi1")(x)
    split = Bidirectional(GRU(2, return_sequences=True, name="g"), merge_mode=None, name="bi2")
    f, b = split(seq)
    out, hf, cf, hb, cb = Bidirectional(LSTM(2, return_state=True, name="l3"), name="bi3")(f)
    y = Dense(1)(Concatenate()([out, hf, cb]))                      # b, cf, hb unused
    model = Model(x, y)
    _randomize(model, 4)
    errs = check_model(model, [np.random.default_rng(5).normal(size=(3, 5, 3))])
    assert {"bi1/forward_l1/kernel", "bi2/backward_g/bias", "bi3/backward_l3/kernel"} <= set(errs)
    # b feeds nothing: the backward GRU gets no gradient, and the None gradient did not break
    assert all(not split.grads[f"backward_g/{k}"].any() for k in ("kernel", "bias"))
    assert split.grads["forward_g/kernel"].any()


def test_gradcheck_masked_embedding_lstm(float64):
    ids_in = Input((6,), name="ids", dtype="int64")
    h = LSTM(3)(Embedding(7, 2, mask_zero=True)(ids_in))
    model = Model(ids_in, Dense(1)(h))
    _randomize(model, 6)
    ids = _post_padded([6, 3, 0, 1], 6, 7, np.random.default_rng(7))
    check_model(model, [ids])


def test_gradcheck_masked_bidirectional_and_pooling(float64):
    """The mask of Embedding(mask_zero) flows through Bidirectional(return_sequences) into
    TimeDistributed and a masked average.  (Integer ids: a Masking layer's input would sit exactly
    on the mask's discontinuity at padded steps, where finite differences are meaningless.)"""
    ids_in = Input((6,), name="ids", dtype="int64")
    seq = Bidirectional(GRU(2, return_sequences=True))(Embedding(5, 2, mask_zero=True)(ids_in))
    model = Model(ids_in, [TimeDistributed(Dense(1))(seq), GlobalAveragePooling1D()(seq)])
    _randomize(model, 8)
    ids = _post_padded([6, 4, 0], 6, 5, np.random.default_rng(9))
    ids[0, 2] = 0                                   # a hole inside a sequence
    check_model(model, [ids])


def test_gradcheck_encoder_decoder(float64):
    """Encoder final states (return_state) are the decoder's initial_state."""
    enc_in, dec_in = Input((5, 3), name="enc"), Input((4, 2), name="dec")
    _, h, c = LSTM(3, return_state=True)(enc_in)
    seq = LSTM(3, return_sequences=True)(dec_in, initial_state=[h, c])
    model = Model([enc_in, dec_in], TimeDistributed(Dense(2))(seq))
    _randomize(model, 10)
    r = np.random.default_rng(11)
    errs = check_model(model, [r.normal(size=(2, 5, 3)), r.normal(size=(2, 4, 2))])
    assert errs["input0"] < 1e-6     # the encoder input gets its gradient through the states


def test_gradcheck_multi_output(float64):
    """Two heads and an intermediate tensor that is itself an output (its gradient is the sum of
    the output's and the heads')."""
    x = Input((4, 3), name="x")
    h = GRU(3, name="trunk")(x)
    reg = Dense(1, name="reg")(h)
    cls = Dense(3, activation="softmax", name="cls")(h)
    model = Model(x, [reg, cls, h])
    assert model.output_names == ["reg", "cls", "trunk"]
    _randomize(model, 12)
    check_model(model, [np.random.default_rng(13).normal(size=(3, 4, 3))])


# =========================================================================== PyTorch parity
def _tensor(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def _model_grads(model, xs, seed):
    for layer in model._unique_layers():
        layer.zero_grads()
    outs, backward = model._forward_batch(xs, training=False)
    R = np.random.default_rng(seed).normal(size=outs[0].shape)
    dxs = backward([R])
    return outs[0], R, dxs


def test_masked_lstm_model_matches_packed_torch(float64):
    """Embedding(mask_zero=True) → LSTM → Dense on post-padded ids = torch's packed sequences."""
    vocab, t, e, u = 10, 7, 3, 4
    ids_in = Input((None,), name="ids", dtype="int64")
    emb, lstm, dense = Embedding(vocab, e, mask_zero=True), LSTM(u), Dense(2)
    model = Model(ids_in, dense(lstm(emb(ids_in))))
    _randomize(model, 20)
    lengths = np.array([7, 2, 5, 1])
    ids = _post_padded(lengths, t, vocab, np.random.default_rng(21))
    y, R, _ = _model_grads(model, [ids], 22)

    E = _tensor(emb.params["embeddings"])
    mod = torch.nn.LSTM(e, u, batch_first=True, dtype=torch.float64)
    load_torch_rnn(mod, lstm.params, "lstm")
    Wd, bd = _tensor(dense.params["kernel"]), _tensor(dense.params["bias"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(E[torch.from_numpy(ids)],
                                                     torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    _, (h, _) = mod(packed)
    yt = h[0] @ Wd + bd
    assert rel_error(y, yt.detach().numpy()) < TOL
    (yt * torch.from_numpy(R)).sum().backward()
    assert rel_error(emb.grads["embeddings"], E.grad.numpy()) < TOL
    for k, g in torch_rnn_grads(mod, "lstm", u).items():
        assert rel_error(lstm.grads[k], g) < TOL, k
    assert rel_error(dense.grads["kernel"], Wd.grad.numpy()) < TOL
    assert rel_error(dense.grads["bias"], bd.grad.numpy()) < TOL
    assert not emb.grads["embeddings"][0].any()    # padding never reaches the loss


def test_bidirectional_gru_model_matches_torch(float64):
    n, t, m, u = 3, 6, 4, 3
    x_in = Input((t, m), name="x")
    bi, dense = Bidirectional(GRU(u)), Dense(2, activation="tanh")
    model = Model(x_in, dense(bi(x_in)))
    _randomize(model, 23)
    x = np.random.default_rng(24).normal(size=(n, t, m))
    y, R, dxs = _model_grads(model, [x], 25)

    mod = torch.nn.GRU(m, u, batch_first=True, bidirectional=True, dtype=torch.float64)
    load_torch_rnn(mod, bi.forward_layer.params, "gru")
    load_torch_rnn(mod, bi.backward_layer.params, "gru", "_reverse")
    Wd, bd = _tensor(dense.params["kernel"]), _tensor(dense.params["bias"])
    xt = _tensor(x)
    _, h = mod(xt)
    yt = torch.tanh(torch.cat([h[0], h[1]], -1) @ Wd + bd)
    assert rel_error(y, yt.detach().numpy()) < TOL
    (yt * torch.from_numpy(R)).sum().backward()
    assert rel_error(dxs[0], xt.grad.numpy()) < TOL
    for sub, suffix in ((bi.forward_layer, ""), (bi.backward_layer, "_reverse")):
        for k, g in torch_rnn_grads(mod, "gru", u, suffix).items():
            assert rel_error(bi.grads[f"{sub.name}/{k}"], g) < TOL, (sub.name, k)
    assert rel_error(dense.grads["kernel"], Wd.grad.numpy()) < TOL


def test_two_input_model_matches_torch(float64):
    """LSTM over a sequence + Dense over features, concatenated, then a sigmoid unit."""
    n, t, m, f, u, k = 4, 5, 3, 6, 4, 3
    seq_in, feat_in = Input((t, m), name="seq"), Input((f,), name="feat")
    lstm, d1, d2 = LSTM(u), Dense(k, activation="tanh"), Dense(1, activation="sigmoid")
    model = Model([seq_in, feat_in], d2(Concatenate()([lstm(seq_in), d1(feat_in)])))
    _randomize(model, 26)
    r = np.random.default_rng(27)
    xs = [r.normal(size=(n, t, m)), r.normal(size=(n, f))]
    y, R, dxs = _model_grads(model, xs, 28)

    mod = torch.nn.LSTM(m, u, batch_first=True, dtype=torch.float64)
    load_torch_rnn(mod, lstm.params, "lstm")
    W1, b1, W2, b2 = (_tensor(l.params[p]) for l in (d1, d2) for p in ("kernel", "bias"))
    st, ft = _tensor(xs[0]), _tensor(xs[1])
    _, (h, _) = mod(st)
    yt = torch.sigmoid(torch.cat([h[0], torch.tanh(ft @ W1 + b1)], -1) @ W2 + b2)
    assert rel_error(y, yt.detach().numpy()) < TOL
    (yt * torch.from_numpy(R)).sum().backward()
    assert rel_error(dxs[0], st.grad.numpy()) < TOL
    assert rel_error(dxs[1], ft.grad.numpy()) < TOL
    for key, g in torch_rnn_grads(mod, "lstm", u).items():
        assert rel_error(lstm.grads[key], g) < TOL, key
    for layer, (W, b) in ((d1, (W1, b1)), (d2, (W2, b2))):
        assert rel_error(layer.grads["kernel"], W.grad.numpy()) < TOL
        assert rel_error(layer.grads["bias"], b.grad.numpy()) < TOL


# =========================================================================== masking semantics
def _masked_model(vocab=12, mask_zero=True, seed=30):
    ids_in = Input((None,), name="ids", dtype="int64")
    out = Dense(2, activation="tanh", name="head")(
        LSTM(3, name="rnn")(Embedding(vocab, 4, mask_zero=mask_zero, name="emb")(ids_in)))
    model = Model(ids_in, out)
    _randomize(model, seed)
    return model


def test_all_ones_mask_is_exactly_the_unmasked_result(float64):
    ids = np.random.default_rng(31).integers(1, 12, size=(5, 6))     # no padding id anywhere
    masked, plain = _masked_model(), _masked_model(mask_zero=False)
    plain.set_weights(masked.get_weights())
    np.testing.assert_array_equal(masked.predict(ids, verbose=0), plain.predict(ids, verbose=0))
    lstm = LSTM(3, return_sequences=True)
    x = np.random.default_rng(32).normal(size=(2, 4, 3))
    np.testing.assert_array_equal(lstm(x), lstm(x, mask=np.ones((2, 4), dtype=bool)))


def test_post_padding_changes_nothing(float64):
    model = _masked_model()
    r = np.random.default_rng(33)
    ids = r.integers(1, 12, size=(4, 5))
    padded = np.concatenate([ids, np.zeros((4, 3), dtype=ids.dtype)], axis=1)
    np.testing.assert_allclose(model.predict(padded, verbose=0), model.predict(ids, verbose=0),
                               rtol=1e-13, atol=0)
    # rows of different lengths in one batch = each row alone, unpadded
    lengths = [5, 2, 4, 1]
    batch = _post_padded(lengths, 8, 12, r)
    out = model.predict(batch, verbose=0)
    for i, L in enumerate(lengths):
        np.testing.assert_allclose(out[i], model.predict(batch[i:i + 1, :L], verbose=0)[0],
                                   rtol=1e-12)


def test_all_padding_row_is_finite_and_keras_like(float64):
    """Every step masked: the LSTM never updates, so its output is the initial (zero) state and
    the head outputs tanh(bias) — not NaN."""
    model = _masked_model()
    ids = np.array([[3, 4, 0, 0], [0, 0, 0, 0]])
    out = model.predict(ids, verbose=0)
    assert np.isfinite(out).all()
    head = model.layers[-1]
    np.testing.assert_allclose(out[1], np.tanh(head.params["bias"]), rtol=1e-15)


# =========================================================================== regularizers
def _reg_model(with_regs: bool):
    R = regularizers
    kw = lambda **k: k if with_regs else {}       # noqa: E731
    ids_in = Input((5,), name="ids", dtype="int64")
    emb = Embedding(8, 3, mask_zero=True, name="emb", **kw(embeddings_regularizer=R.l1(0.01)))
    bi = Bidirectional(LSTM(2, name="lstm", **kw(kernel_regularizer=R.l2(0.02),
                                                  recurrent_regularizer=R.l1_l2(0.01, 0.03),
                                                  bias_regularizer=R.l2(0.05))), name="bi")
    head = Dense(1, name="head", **kw(kernel_regularizer=R.l1_l2(0.02, 0.01),
                                     bias_regularizer=R.l1(0.1)))
    model = Model(ids_in, head(bi(emb(ids_in))))
    return model, emb, bi, head


def _penalty_terms(emb, bi, head):
    """(array, l1, l2) for every regularized weight, written out by hand."""
    f, b = bi.forward_layer.params, bi.backward_layer.params
    return [(emb.params["embeddings"], 0.01, 0.0),
            (f["kernel"], 0.0, 0.02), (b["kernel"], 0.0, 0.02),
            (f["recurrent_kernel"], 0.01, 0.03), (b["recurrent_kernel"], 0.01, 0.03),
            (f["bias"], 0.0, 0.05), (b["bias"], 0.0, 0.05),
            (head.params["kernel"], 0.02, 0.01), (head.params["bias"], 0.1, 0.0)]


def test_regularizers_are_added_to_the_reported_loss(float64):
    model, emb, bi, head = _reg_model(True)
    _randomize(model, 40)
    r = np.random.default_rng(41)
    ids, y = _post_padded([5, 3, 4, 2, 5, 1], 5, 8, r), r.normal(size=(6, 1))
    penalty = sum(l1 * np.abs(w).sum() + l2 * (w ** 2).sum()
                  for w, l1, l2 in _penalty_terms(emb, bi, head))
    assert penalty > 0.1
    data = float(np.mean((model.predict(ids, verbose=0) - y) ** 2))
    model.compile(optimizer=SGD(0.0), loss="mse")
    hist = model.fit(ids, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(data + penalty, rel=1e-12)
    assert model.evaluate(ids, y, verbose=0) == pytest.approx(data + penalty, rel=1e-12)


def test_regularizer_gradient_in_one_sgd_step(float64):
    """Same weights, same data, one SGD step with and without penalties: the difference of the
    updates is exactly -lr · (l1·sign(w) + 2·l2·w) for every regularized weight."""
    lr = 0.1
    reg, emb, bi, head = _reg_model(True)
    plain, *_ = _reg_model(False)
    _randomize(reg, 42)
    plain.set_weights(reg.get_weights())
    terms0 = [(w.copy(), l1, l2) for w, l1, l2 in _penalty_terms(emb, bi, head)]
    r = np.random.default_rng(43)
    ids, y = _post_padded([5, 3, 4, 2], 5, 8, r), r.normal(size=(4, 1))
    for m in (reg, plain):
        m.compile(optimizer=SGD(lr), loss="mse")
        m.fit(ids, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    after_reg = _penalty_terms(emb, bi, head)
    plain_layers = {l.name: l for l in plain.layers}
    p_emb, p_bi, p_head = plain_layers["emb"], plain_layers["bi"], plain_layers["head"]
    after_plain = _penalty_terms(p_emb, p_bi, p_head)
    for (w0, l1, l2), (w_reg, _, _), (w_plain, _, _) in zip(terms0, after_reg, after_plain):
        expected = w_plain - lr * (l1 * np.sign(w0) + 2 * l2 * w0)
        np.testing.assert_allclose(w_reg, expected, rtol=1e-10, atol=1e-13)
        assert not np.allclose(w_reg, w_plain)


# =========================================================================== training API
def _two_input_model(seed=50):
    config.set_random_seed(seed)
    seq_in, feat_in = Input((4, 2), name="seq"), Input((3,), name="feat")
    h = Concatenate(name="join")([LSTM(3, name="enc")(seq_in),
                                  Dense(2, activation="tanh", name="feat_dense")(feat_in)])
    return Model([seq_in, feat_in], Dense(1, name="out")(h))


def test_fit_evaluate_predict_with_lists_and_dicts():
    r = np.random.default_rng(51)
    seq = r.normal(size=(20, 4, 2)).astype("float32")
    feat = r.normal(size=(20, 3)).astype("float32")
    y = r.normal(size=(20, 1)).astype("float32")
    a, b = _two_input_model(), _two_input_model()
    b.set_weights(a.get_weights())
    p_list = a.predict([seq, feat], verbose=0)
    np.testing.assert_array_equal(p_list, a.predict({"feat": feat, "seq": seq}, verbose=0))
    for m in (a, b):
        m.compile(optimizer=SGD(0.05), loss="mse")
    config.set_random_seed(0)
    ha = a.fit([seq, feat], y, batch_size=8, epochs=2, verbose=0)
    config.set_random_seed(0)
    hb = b.fit({"seq": seq, "feat": feat}, {"out": y}, batch_size=8, epochs=2, verbose=0)
    assert ha.history["loss"] == hb.history["loss"]
    assert a.evaluate([seq, feat], y, verbose=0) == b.evaluate({"seq": seq, "feat": feat}, y,
                                                              verbose=0)
    np.testing.assert_array_equal(a.predict([seq, feat], verbose=0),
                                  b.predict({"seq": seq, "feat": feat}, verbose=0))


def test_multi_output_compile_with_a_loss_per_output(float64):
    x_in = Input((4, 3), name="x")
    h = GRU(3, name="trunk")(x_in)
    model = Model(x_in, [Dense(1, name="reg")(h), Dense(3, activation="softmax", name="cls")(h)])
    _randomize(model, 52)
    r = np.random.default_rng(53)
    x, y_reg, y_cls = r.normal(size=(10, 4, 3)), r.normal(size=(10, 1)), r.integers(0, 3, size=10)
    model.compile(optimizer=SGD(0.0), loss={"cls": "sparse_categorical_crossentropy",
                                            "reg": "mse"}, loss_weights=[1.0, 0.5])
    p_reg, p_cls = model.predict(x, verbose=0)
    assert p_reg.shape == (10, 1) and p_cls.shape == (10, 3)
    want = np.mean((p_reg - y_reg) ** 2) + 0.5 * np.mean(-np.log(p_cls[np.arange(10), y_cls]))
    assert model.evaluate(x, {"reg": y_reg, "cls": y_cls}, verbose=0) == pytest.approx(want,
                                                                                       rel=1e-12)
    hist = model.fit(x, [y_reg, y_cls], batch_size=10, epochs=1, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(want, rel=1e-12)
    model.compile(optimizer=SGD(0.5), loss=["mse", "sparse_categorical_crossentropy"])
    before = model.evaluate(x, [y_reg, y_cls], verbose=0)
    model.fit(x, [y_reg, y_cls], batch_size=10, epochs=20, verbose=0)
    assert model.evaluate(x, [y_reg, y_cls], verbose=0) < before


def test_summary_shows_connected_to():
    model, _, _ = _siamese()
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "Connected to" in text
    row = lambda name: next(l for l in text.splitlines() if l.startswith(name))  # noqa: E731
    assert row("q1 (InputLayer)").split()[-1] == "0"
    assert row("cosine").endswith("shared_lstm[0][0], shared_lstm[1][0]")
    assert row("shared_embedding").endswith("q1[0][0]")
    assert "q2[0][0]" in text
    # shared layers counted once: embedding 9·3 + LSTM 4·4·(3 + 4 + 1) + Dense 1·1 + 1
    assert f"Total params: {9 * 3 + 4 * 4 * (3 + 4 + 1) + 2}" in text


def test_save_load_round_trip_shared_and_bidirectional(tmp_path):
    config.set_random_seed(60)
    q1, q2 = Input((6,), name="q1", dtype="int64"), Input((6,), name="q2", dtype="int64")
    emb = Embedding(15, 4, mask_zero=True, name="emb")
    enc = Bidirectional(LSTM(3, return_sequences=True), name="bi_enc")
    pool = GlobalAveragePooling1D(name="pool")
    v1, v2 = pool(enc(emb(q1))), pool(enc(emb(q2)))
    out = Dense(1, activation="sigmoid", name="same")(
        Concatenate(name="join")([v1, v2, Dot(axes=1, normalize=True, name="cos")([v1, v2])]))
    model = Model([q1, q2], out)
    r = np.random.default_rng(61)
    a, b = _post_padded([6, 3, 1, 5] * 4, 6, 15, r), _post_padded([2, 6, 4, 4] * 4, 6, 15, r)
    y = r.integers(0, 2, size=(16, 1)).astype("float32")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit([a, b], y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "siamese.rnnlab"
    model.save(path)
    loaded = load_model(path)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    lb = next(l for l in loaded.layers if l.name == "bi_enc")
    assert isinstance(lb, Bidirectional) and lb.forward_layer.name == enc.forward_layer.name
    assert lb.forward_layer.name.startswith("forward_lstm")
    np.testing.assert_array_equal(loaded.predict([a, b], verbose=0),
                                  model.predict([a, b], verbose=0))
    # the optimizer state came along: one more identical step gives identical weights
    config.set_random_seed(1)
    model.fit([a, b], y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    config.set_random_seed(1)
    loaded.fit([a, b], y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for w1, w2 in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(w1, w2)


# =========================================================================== bad input
def test_disconnected_output_names_the_layer():
    a, c = Input((3,), name="a"), Input((3,), name="c")
    y = Dense(1, name="lonely")(c)
    with pytest.raises(ValueError, match="Graph disconnected: layer 'lonely' needs input 'c'"):
        Model(a, y)


def test_input_not_fed_and_unknown_names():
    model = _two_input_model()
    seq, feat = np.zeros((2, 4, 2)), np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"expects 2 x arrays \(\['seq', 'feat'\]\), got 1"):
        model.predict([seq], verbose=0)
    with pytest.raises(ValueError, match=r"missing entries for \['feat'\]"):
        model.predict({"seq": seq}, verbose=0)
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['feats'\]"):
        model.predict({"seq": seq, "feats": feat}, verbose=0)
    with pytest.raises(ValueError, match=r"Input 'feat' expects arrays of shape \(None, 3\)"):
        model.predict([seq, np.zeros((2, 5))], verbose=0)


def test_shape_mismatch_at_a_merge_names_the_merge_layer():
    a, b = Input((5, 3), name="a"), Input((4, 3), name="b")
    with pytest.raises(ValueError, match="Layer 'join_time'.*cannot be concatenated"):
        Concatenate(axis=-1, name="join_time")([a, b])
    with pytest.raises(ValueError, match="'sum_up'"):
        Add(name="sum_up")([LSTM(3)(a), LSTM(4)(b)])
    with pytest.raises(ValueError, match="'bi_bad'"):
        Bidirectional(LSTM(2), name="bi_bad")(Input((3,), name="flat"))

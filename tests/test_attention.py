"""Attention, AdditiveAttention and MultiHeadAttention against PyTorch (outputs and every
gradient, masks included), real Keras 3 (outputs and attention scores with identical weights),
finite differences, saving, configs, training, and argument checks."""
import json

import keras
import numpy as np
import pytest
import torch
from keras.src.backend import set_keras_mask

from rnnlab import Input, Model, config, initializers, regularizers, testing
from rnnlab.layers import (
    LSTM,
    AdditiveAttention,
    Attention,
    Dense,
    GlobalAveragePooling1D,
    Masking,
    MultiHeadAttention,
)
from rnnlab.models import load_model
from rnnlab.optimizers import Adam

TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-9)}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}

QM = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)           # query mask (B=2, Tq=4)
VM = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)     # value mask (B=2, Tv=5)


def _data(dtype, dim=3, kdim=None, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(2, 4, dim)).astype(dtype)
    v = rng.normal(size=(2, 5, dim)).astype(dtype)
    k = rng.normal(size=(2, 5, kdim or dim)).astype(dtype)
    return q, v, k


def _np(t):
    return t.detach().numpy()


# ------------------------------------------------------------------------------ PyTorch: dot/add
def _torch_scores(kind, use_scale, q, k, w):
    if kind == "dot":
        s = q @ k.transpose(1, 2)
        return s * w["scale"] if use_scale else s
    if kind == "concat":
        u = q[:, :, None, :] + k[:, None, :, :]
        if use_scale:
            u = w["scale"] * u
        return w["concat_score_weight"] * torch.tanh(u).sum(-1)
    t = torch.tanh(q[:, :, None, :] + k[:, None, :, :])                      # additive
    return (w["scale"] * t).sum(-1) if use_scale else t.sum(-1)


def torch_attention(kind, use_scale, q, v, k, w, qm, vm, causal):
    """Keras 3's Attention/AdditiveAttention written in PyTorch (autograd gives the gradients)."""
    s = _torch_scores(kind, use_scale, q, k, w)
    keep = None if vm is None else torch.as_tensor(vm)[:, None, :]
    if causal:
        c = torch.tril(torch.ones(s.shape[1], s.shape[2], dtype=torch.bool))[None]
        keep = c if keep is None else keep & c
    if keep is not None:
        s = torch.where(keep, s, s - 1e9)
    p = torch.softmax(s, dim=-1)
    out = p @ v
    if qm is not None:
        out = torch.where(torch.as_tensor(qm)[..., None], out, torch.zeros_like(out))
    return out, p


LUONG = [("dot", False), ("dot", True), ("concat", False), ("concat", True), ("additive", False),
         ("additive", True)]


def _make(kind, use_scale, **kw):
    if kind == "additive":
        return AdditiveAttention(use_scale=use_scale, **kw)
    return Attention(use_scale=use_scale, score_mode=kind, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,use_scale", LUONG)
@pytest.mark.parametrize("with_key", [False, True])
@pytest.mark.parametrize("masks,causal", [(False, False), (True, False), (False, True),
                                          (True, True)])
def test_dot_and_additive_attention_equal_pytorch(dtype, kind, use_scale, with_key, masks,
                                                  causal):
    config.set_floatx(dtype)
    q, v, k = _data(dtype)
    layer = _make(kind, use_scale)
    xs = [q, v, k] if with_key else [q, v]
    layer.ensure_built([(None,) + x.shape[1:] for x in xs])
    rng = np.random.default_rng(5)
    layer.set_weights([rng.uniform(0.5, 1.5, size=p.shape) for p in layer.get_weights()])
    mask = [QM, VM] if masks else None
    (out, scores), backward = layer.forward(xs, mask=mask, return_attention_scores=True,
                                            use_causal_mask=causal)
    r1, r2 = rng.normal(size=out.shape), rng.normal(size=scores.shape)
    layer.zero_grads()
    dxs = backward([r1.astype(dtype), r2.astype(dtype)])

    td = TORCH_DTYPE[dtype]
    tq, tv, tk = (torch.tensor(a, dtype=td, requires_grad=True) for a in (q, v, k))
    tw = {n: torch.tensor(p, dtype=td, requires_grad=True) for n, p in layer.params.items()}
    tout, tp = torch_attention(kind, use_scale, tq, tv, tk if with_key else tv, tw,
                               QM if masks else None, VM if masks else None, causal)
    ((tout * torch.tensor(r1, dtype=td)).sum() + (tp * torch.tensor(r2, dtype=td)).sum()
     ).backward()
    tol = TOL[dtype]
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, _np(tout), **tol)
    np.testing.assert_allclose(scores, _np(tp), **tol)
    for d, t in zip(dxs, (tq, tv, tk)):
        np.testing.assert_allclose(d, t.grad.numpy(), **tol)
    assert len(dxs) == len(xs)
    for n in layer.params:
        np.testing.assert_allclose(layer.grads[n], tw[n].grad.numpy(), **tol)


# ------------------------------------------------------------------------------ PyTorch: MHA
def _torch_mha(mha, heads, td):
    """``torch.nn.MultiheadAttention`` with ``mha``'s weights: the Keras per-head kernels
    (dim, H, key_dim) are torch's projection matrices (H·key_dim, dim) transposed, head-major."""
    qk, kk, vk = (mha.params[f"{n}/kernel"] for n in ("query", "key", "value"))
    E = qk.shape[1] * qk.shape[2]
    t = torch.nn.MultiheadAttention(E, heads, bias=True, batch_first=True, kdim=kk.shape[0],
                                    vdim=vk.shape[0], dtype=td)
    with torch.no_grad():
        t.q_proj_weight.copy_(torch.tensor(qk.reshape(qk.shape[0], E).T))
        t.k_proj_weight.copy_(torch.tensor(kk.reshape(kk.shape[0], E).T))
        t.v_proj_weight.copy_(torch.tensor(vk.reshape(vk.shape[0], E).T))
        t.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [mha.params[f"{n}/bias"].reshape(-1) for n in ("query", "key", "value")])))
        ok = mha.params["attention_output/kernel"]
        t.out_proj.weight.copy_(torch.tensor(ok.reshape(E, -1).T))
        t.out_proj.bias.copy_(torch.tensor(mha.params["attention_output/bias"]))
    return t


def _torch_mha_grads(t, mha):
    """torch's parameter gradients in the Keras layout, by rnnlab weight name."""
    shapes = {n: p.shape for n, p in mha.params.items()}
    E = t.embed_dim
    out = {}
    for i, (n, w) in enumerate((("query", t.q_proj_weight), ("key", t.k_proj_weight),
                                ("value", t.v_proj_weight))):
        out[f"{n}/kernel"] = w.grad.numpy().T.reshape(shapes[f"{n}/kernel"])
        out[f"{n}/bias"] = t.in_proj_bias.grad.numpy()[i * E:(i + 1) * E].reshape(
            shapes[f"{n}/bias"])
    out["attention_output/kernel"] = t.out_proj.weight.grad.numpy().T.reshape(
        shapes["attention_output/kernel"])
    out["attention_output/bias"] = t.out_proj.bias.grad.numpy()
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("masking", ["none", "value", "causal", "attention", "all"])
@pytest.mark.parametrize("with_key", [False, True])
def test_multi_head_attention_equals_torch(dtype, masking, with_key):
    config.set_floatx(dtype)
    heads, kd = 2, 3
    q, v, k = _data(dtype, dim=heads * kd, kdim=4)
    if not with_key:
        k = v
    v = v[..., :5].copy()      # value dim 5, key dim 4 (with a key), query dim 6 = embed dim
    if not with_key:
        k = v
    mha = MultiHeadAttention(heads, kd, bias_initializer="glorot_uniform")
    xs = [q, v, k] if with_key else [q, v]
    mha.ensure_built([(None,) + x.shape[1:] for x in xs])
    rng = np.random.default_rng(1)
    vm = VM if masking in ("value", "all") else None
    am = None
    if masking in ("attention", "all"):
        am = rng.random((2, 4, 5)) > 0.4
        am[:, :, 0] = True                       # no fully masked row (torch gives NaN there)
    causal = masking in ("causal", "all")
    mask = None if vm is None else [None, vm]
    (out, scores), backward = mha.forward(xs, mask=mask, attention_mask=am,
                                          return_attention_scores=True, use_causal_mask=causal)
    r1, r2 = rng.normal(size=out.shape), rng.normal(size=scores.shape)
    mha.zero_grads()
    dxs = backward([r1.astype(dtype), r2.astype(dtype)])

    td = TORCH_DTYPE[dtype]
    t = _torch_mha(mha, heads, td)
    tx = [torch.tensor(a, dtype=td, requires_grad=True) for a in xs]
    tq, tv = tx[0], tx[1]
    tk = tx[2] if with_key else tv
    allowed = np.ones((4, 5), bool)[None]
    if causal:
        allowed = allowed & np.tril(np.ones((4, 5), bool))[None]
    if am is not None:
        allowed = allowed & am
    allowed = np.broadcast_to(allowed, (2, 4, 5))
    attn_mask = torch.tensor(np.repeat(~allowed, heads, axis=0))      # True = not allowed
    kpm = None if vm is None else torch.tensor(~vm)
    tout, tp = t(tq, tk, tv, key_padding_mask=kpm, attn_mask=attn_mask, need_weights=True,
                 average_attn_weights=False)
    ((tout * torch.tensor(r1, dtype=td)).sum() + (tp * torch.tensor(r2, dtype=td)).sum()
     ).backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(out, _np(tout), **tol)
    np.testing.assert_allclose(scores, _np(tp), **tol)
    for d, tt in zip(dxs, tx):
        np.testing.assert_allclose(d, tt.grad.numpy(), **tol)
    for n, g in _torch_mha_grads(t, mha).items():
        np.testing.assert_allclose(mha.grads[n], g, **tol)


# ------------------------------------------------------------------------------ real Keras 3
def _keras_pair(layer, kcls, xs, **kw):
    """A Keras layer built for ``xs`` with ``layer``'s weights (set_weights in Keras's order)."""
    klayer = kcls(**kw)
    if isinstance(layer, MultiHeadAttention):
        klayer.build(*[x.shape for x in xs])
    else:
        klayer.build([x.shape for x in xs])
    rng = np.random.default_rng(3)
    weights = [np.asarray(rng.uniform(0.5, 1.5, size=p.shape), dtype="float32")
               for p in layer.get_weights()]
    assert [tuple(w.shape) for w in klayer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    klayer.set_weights(weights)
    return klayer


@pytest.mark.parametrize("kind,use_scale", LUONG)
def test_dot_and_additive_attention_equal_keras(kind, use_scale):
    q, v, k = _data("float32")
    for xs in ([q, v], [q, v, k]):
        layer = _make(kind, use_scale)
        layer.ensure_built([(None,) + x.shape[1:] for x in xs])
        kw = {"use_scale": use_scale}
        if kind != "additive":
            kw["score_mode"] = kind
        klayer = _keras_pair(layer, getattr(keras.layers, type(layer).__name__), xs, **kw)
        for mask in (None, [QM, VM]):
            for causal in (False, True):
                out, scores = layer(xs, mask=mask, return_attention_scores=True,
                                    use_causal_mask=causal)
                kout, kscores = klayer(xs, mask=mask, return_attention_scores=True,
                                       use_causal_mask=causal)
                np.testing.assert_allclose(out, _np(kout), rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(scores, _np(kscores), rtol=1e-5, atol=1e-6)
                plain = layer(xs, mask=mask, use_causal_mask=causal)
                np.testing.assert_allclose(plain, out, rtol=0, atol=0)


@pytest.mark.parametrize("kw", [
    dict(num_heads=2, key_dim=3),
    dict(num_heads=3, key_dim=2, value_dim=4, output_shape=(2, 3)),
    dict(num_heads=2, key_dim=3, use_bias=False, output_shape=7),
    dict(num_heads=2, key_dim=2, use_gate=True),
    dict(num_heads=1, key_dim=4, sliding_window=2),
])
def test_multi_head_attention_equals_keras(kw):
    q, v, k = _data("float32", dim=6, kdim=4)
    for xs in ([q, v], [q, v, k]):
        mha = MultiHeadAttention(**kw)
        mha.ensure_built([(None,) + x.shape[1:] for x in xs])
        kmha = _keras_pair(mha, keras.layers.MultiHeadAttention, xs, **kw)
        am = np.random.default_rng(2).random((2, 4, 5)) > 0.3
        rest = xs[1:]
        for causal in (False, True):
            # Keras takes the query's mask from the tensor (its explicit query_mask= is
            # overwritten in call(), which also clears the tensor's mask): a fresh torch tensor
            # carrying the mask for each call.
            kq = torch.tensor(q)
            set_keras_mask(kq, torch.tensor(QM))
            out, scores = mha(q, *rest, query_mask=QM, value_mask=VM, attention_mask=am,
                              return_attention_scores=True, use_causal_mask=causal)
            kout, kscores = kmha(kq, *rest, value_mask=VM, attention_mask=am,
                                 return_attention_scores=True, use_causal_mask=causal)
            np.testing.assert_allclose(out, _np(kout), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(scores, _np(kscores), rtol=1e-5, atol=1e-6)
            # without scores Keras runs torch's fused kernel; without a query mask no row is
            # fully masked and the two agree
            plain = mha(q, *rest, use_causal_mask=causal)
            kplain = kmha(q, *rest, use_causal_mask=causal)
            np.testing.assert_allclose(plain, _np(kplain), rtol=1e-5, atol=1e-5)


def test_keras_weight_names_and_order():
    q, v, k = _data("float32", dim=6, kdim=4)
    mha = MultiHeadAttention(2, 3, value_dim=2, use_gate=True)
    mha([q, v, k][0], v, k)
    kmha = keras.layers.MultiHeadAttention(2, 3, value_dim=2, use_gate=True)
    kmha(q, v, k)
    assert list(mha.params) == [w.path.split("/", 1)[1] for w in kmha.weights]
    assert [p.shape for p in mha.get_weights()] == [tuple(w.shape) for w in kmha.weights]
    a = Attention(use_scale=True, score_mode="concat")
    a([q, v])
    assert list(a.params) == ["scale", "concat_score_weight"]
    assert a.params["scale"].shape == ()
    add = AdditiveAttention()
    add([q, v])
    assert add.params["scale"].shape == (6,)


# ------------------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("kind,use_scale", LUONG)
def test_attention_passes_the_gradient_check(kind, use_scale):
    q, v, k = _data("float64")
    for xs in ([q, v], [q, v, k]):
        testing.check_gradients(_make(kind, use_scale), xs, mask=[QM, VM])
        testing.check_gradients(_make(kind, use_scale), xs)
    testing.check_gradients(_make(kind, use_scale, dropout=0.4, seed=1), [q, v, k],
                            training=True, seed=7)


@pytest.mark.parametrize("kw", [
    dict(num_heads=2, key_dim=3, use_bias=False),
    dict(num_heads=3, key_dim=2, value_dim=4, output_shape=(2, 3), use_bias=False),
    dict(num_heads=2, key_dim=2, use_gate=True, use_bias=False, sliding_window=3),
    dict(num_heads=2, key_dim=2, dropout=0.3, use_bias=False),
])
def test_multi_head_attention_passes_the_gradient_check(kw):
    q, v, k = _data("float64", dim=4, kdim=3)
    for xs in ([q, v], [q, v, k]):
        testing.check_gradients(MultiHeadAttention(**kw), xs, mask=[QM, VM, None],
                                training=True, seed=3)


def test_multi_head_attention_biases_against_finite_differences(float64):
    """With biases, the key bias adds the same number to every score of a softmax row, so its
    exact gradient is 0 (relative error is meaningless there): it is checked absolutely, every
    other weight relatively, with rnnlab.testing's own tools."""
    q, v, k = _data("float64", dim=4, kdim=3)
    mha = MultiHeadAttention(2, 3, bias_initializer="glorot_uniform")
    mha.ensure_built([(None, 4, 4), (None, 5, 4), (None, 5, 3)])
    R = np.random.default_rng(0).normal(size=(2, 4, 4))
    out, back = mha.forward([q, v, k], mask=[QM, VM])
    mha.zero_grads()
    back(R)

    def loss():
        return float(np.sum(mha.forward([q, v, k], mask=[QM, VM])[0] * R))

    for name, p in mha.params.items():
        num = testing.numeric_grad(loss, p)
        if name == "key/bias":
            assert np.abs(mha.grads[name]).max() < 1e-12 and np.abs(num).max() < 1e-7
        else:
            assert testing.rel_error(mha.grads[name], num) < 1e-7, name


def test_call_options_and_attention_mask_in_a_model_pass_the_model_check():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2))
    inp, am = Input((5, 2)), Input((5, 5))
    h = Dense(3, activation="tanh")(inp)
    a, s = Attention(use_scale=True)([h, h], use_causal_mask=True,
                                     return_attention_scores=True)
    m = MultiHeadAttention(2, 2, use_bias=False)(a, h, attention_mask=am, use_causal_mask=True)
    model = Model([inp, am], [m, s])
    testing.check_model(model, [x, rng.random((3, 5, 5)) > 0.3])


# ------------------------------------------------------------------------------ saving and configs
def _attention_model():
    inp, am = Input((6, 3)), Input((6, 6))
    x = Masking()(inp)
    a, s = Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=2)(
        [x, x], use_causal_mask=True, return_attention_scores=True)
    b = AdditiveAttention()([a, x, x])
    c = MultiHeadAttention(2, 3, value_dim=2, output_shape=4, use_gate=True,
                           kernel_regularizer=regularizers.l2(1e-3))(
        b, x, attention_mask=am, use_causal_mask=True)
    return Model([inp, am], [c, s])


def test_models_with_attention_save_and_load_exactly(tmp_path):
    config.set_random_seed(4)
    model = _attention_model()
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    x[0, 4:] = 0.0                                            # masked steps
    am = rng.random((8, 6, 6)) > 0.2
    model.fit([x, am], [rng.normal(size=(8, 6, 4)), rng.random((8, 6, 6))], epochs=2,
              verbose=0)
    path = tmp_path / "att.rnnlab"
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.predict([x, am], verbose=0), loaded.predict([x, am], verbose=0)):
        np.testing.assert_array_equal(a, b)
    nodes = json.loads(json.dumps(model.get_config()))["nodes"]
    assert {"return_attention_scores": True, "use_causal_mask": True} in [
        n.get("options") for n in nodes]
    assert ["attention_mask"] in [n.get("tensor_names") for n in nodes]
    rebuilt = type(model).from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    for a, b in zip(model.predict([x, am], verbose=0), rebuilt.predict([x, am], verbose=0)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layer", [
    lambda: Attention(use_scale=True, score_mode="concat", dropout=0.2, seed=3),
    lambda: AdditiveAttention(use_scale=False, dropout=0.1),
    lambda: MultiHeadAttention(3, 2, value_dim=5, dropout=0.1, use_bias=False,
                               output_shape=(2, 2), sliding_window=2, use_gate=True, seed=4,
                               kernel_initializer=initializers.Constant(0.2),
                               bias_initializer="ones", kernel_regularizer="l2",
                               bias_regularizer=regularizers.l1(0.1)),
])
def test_get_config_from_config_round_trip(layer):
    a = layer()
    cfg = json.loads(json.dumps(a.get_config()))
    b = type(a).from_config(cfg)
    assert b.get_config() == a.get_config()
    q, v, _ = _data("float32")
    call = (lambda layer: layer(q, v)) if isinstance(a, MultiHeadAttention) else (
        lambda layer: layer([q, v]))
    out_a = call(a)
    call(b)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(out_a, call(b))


# ------------------------------------------------------------------------------ training
def test_lstm_attention_pooling_model_trains():
    config.set_random_seed(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8, 2)).astype("float32")
    y = (x[:, :, 0].max(axis=1) > 1.2).astype("float32")[:, None]   # "did a spike occur?"
    inp = Input((8, 2))
    h = LSTM(8, return_sequences=True)(inp)
    a = Attention()([h, h])
    out = Dense(1, activation="sigmoid")(GlobalAveragePooling1D()(a))
    model = Model(inp, out)
    model.compile(Adam(learning_rate=0.01), "binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=20, batch_size=32, verbose=0).history
    assert hist["loss"][-1] < 0.6 * hist["loss"][0], hist["loss"]
    assert hist["accuracy"][-1] > 0.85


# ------------------------------------------------------------------------------ arguments
def test_masks_pass_through_as_keras_3_says():
    q, v, _ = _data("float32")
    a = Attention()
    out = a([q, v], mask=[QM, VM])
    assert np.all(out[~QM] == 0)                                  # masked query rows are zero
    np.testing.assert_array_equal(a.compute_mask([q, v], [QM, VM]), QM)
    assert a.compute_mask([q, v], [None, VM]) is None
    _, scores = a([q, v], mask=[None, VM], return_attention_scores=True)
    assert np.all(scores[0, :, 3:] == 0)                          # hidden value steps
    mha = MultiHeadAttention(2, 2)
    _, s = mha(q, v, query_mask=QM, value_mask=VM, return_attention_scores=True)
    assert np.all(s[0, :, 2] == 0) and np.all(s[0, :, :, 3:] == 0)
    np.testing.assert_array_equal(mha.compute_mask([q, v], [QM, None]), QM)
    m, none = mha.compute_mask([q, v], [QM, None], return_attention_scores=True)
    assert none is None and m.shape == QM.shape
    # the output mask reaches the next layer in a model: pooling averages unmasked steps only
    inp = Input((4, 3))
    pooled = GlobalAveragePooling1D()(Attention()([Masking()(inp), Masking()(inp)]))
    x = q.copy()
    x[0, 2:] = 0
    full = Attention()([x, x], mask=[x.any(-1), x.any(-1)])
    np.testing.assert_allclose(Model(inp, pooled).predict(x, verbose=0)[0],
                               full[0, :2].mean(0), rtol=1e-6)


def test_dropout_and_seed_are_honoured():
    q, v, _ = _data("float32")
    for make in (lambda: Attention(dropout=0.5, seed=3), lambda: AdditiveAttention(dropout=0.5,
                                                                                  seed=3)):
        a, b = make(), make()
        a([q, v])
        b([q, v])
        b.set_weights(a.get_weights())
        ya, yb = a([q, v], training=True), b([q, v], training=True)
        np.testing.assert_array_equal(ya, yb)
        assert not np.allclose(ya, a([q, v]))                     # dropout acts in training
        np.testing.assert_array_equal(a([q, v]), a([q, v], training=False))
    m1, m2 = MultiHeadAttention(2, 2, dropout=0.5, seed=1), MultiHeadAttention(2, 2, dropout=0.5,
                                                                             seed=1)
    m1(q, v)
    m2(q, v)
    m2.set_weights(m1.get_weights())
    np.testing.assert_array_equal(m1(q, v, training=True), m2(q, v, training=True))
    assert not np.allclose(m1(q, v, training=True), m1(q, v))


def test_initializers_regularizers_value_dim_and_output_shape_are_honoured():
    m = MultiHeadAttention(2, 3, value_dim=4, output_shape=(2, 5),
                           kernel_initializer=initializers.Constant(0.5), bias_initializer="ones",
                           kernel_regularizer=regularizers.l2(0.1), bias_regularizer="l1")
    q, v, _ = _data("float32")
    out = m(q, v)
    assert out.shape == (2, 4, 2, 5)
    assert m.params["value/kernel"].shape == (3, 2, 4)
    assert m.params["attention_output/kernel"].shape == (2, 4, 2, 5)
    assert all(np.all(p == 0.5) for n, p in m.params.items() if n.endswith("kernel"))
    assert all(np.all(p == 1.0) for n, p in m.params.items() if n.endswith("bias"))
    assert set(m.regularizers) == set(m.params)
    assert m.regularizers["query/kernel"].l2 == pytest.approx(0.1)
    assert m.regularizers["query/bias"].l1 > 0
    assert MultiHeadAttention(2, 3, use_bias=False)(q, v).shape == (2, 4, 3)
    assert m.compute_output_shape([(None, 4, 3), (None, 5, 3)]) == (None, 4, 2, 5)


@pytest.mark.parametrize("make,err,match", [
    (lambda: Attention(score_mode="general"), ValueError, "score_mode"),
    (lambda: Attention(use_scale="yes"), TypeError, "use_scale"),
    (lambda: Attention(dropout=1.0), ValueError, "dropout"),
    (lambda: Attention(seed=-1), ValueError, "seed"),
    (lambda: Attention(causal=True), TypeError, "causal"),
    (lambda: AdditiveAttention(score_mode="dot"), TypeError, "score_mode"),
    (lambda: MultiHeadAttention(0, 2), ValueError, "num_heads"),
    (lambda: MultiHeadAttention(2, 2.5), ValueError, "key_dim"),
    (lambda: MultiHeadAttention(2, 2, value_dim=0), ValueError, "value_dim"),
    (lambda: MultiHeadAttention(2, 2, attention_axes=(1,)), ValueError, "attention_axes"),
    (lambda: MultiHeadAttention(2, 2, flash_attention=True), ValueError, "flash_attention"),
    (lambda: MultiHeadAttention(2, 2, kernel_constraint="no_such"), ValueError, "no_such"),
    (lambda: MultiHeadAttention(2, 2, bias_constraint=3), TypeError, "constraint"),
    (lambda: MultiHeadAttention(2, 2, output_shape="x"), TypeError, "output_shape"),
    (lambda: MultiHeadAttention(2, 2, output_shape=(2, 0)), ValueError, "output_shape"),
    (lambda: MultiHeadAttention(2, 2, sliding_window=0), ValueError, "sliding_window"),
    (lambda: MultiHeadAttention(2, 2, use_gate=1), TypeError, "use_gate"),
    (lambda: MultiHeadAttention(2, 2, dropout=-0.1), ValueError, "dropout"),
    (lambda: MultiHeadAttention(2, 2, kernel_initializer="nope"), ValueError, "nope"),
])
def test_bad_constructor_arguments_are_refused(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_bad_calls_are_refused_and_change_nothing():
    q, v, k = _data("float32")
    a = Attention(use_scale=True)
    with pytest.raises(ValueError, match=r"list \[query, value\]"):
        a(q)
    with pytest.raises(ValueError, match="2 or 3 inputs|list"):
        a([q, v, k, k])
    assert not a.built or a.params == {}
    a([q, v])
    before = a.get_weights()
    with pytest.raises(TypeError, match="return_attention_scores"):
        a([q, v], return_attention_scores="yes")
    with pytest.raises(TypeError, match="unexpected call argument"):
        a([q, v], causal=True)
    with pytest.raises(ValueError, match="rank 3"):
        a([q[:, 0], v])
    with pytest.raises(ValueError, match="same last axis"):
        a([q, v, k[..., :2]])
    with pytest.raises(ValueError, match="value_mask has shape"):
        a([q, v], mask=[QM, VM[:, :3]])
    with pytest.raises(ValueError, match="mask must be a list"):
        a([q, v], mask=QM)
    with pytest.raises(ValueError, match="non-finite"):
        a([q * np.nan, v])
    assert all(np.array_equal(x, y) for x, y in zip(before, a.get_weights()))
    mha = MultiHeadAttention(2, 2)
    with pytest.raises(ValueError, match=r"layer\(query, value\)"):
        mha(q)
    mha(q, v)
    with pytest.raises(ValueError, match="attention mask of shape"):
        mha(q, v, attention_mask=np.ones((2, 3, 5), bool))
    with pytest.raises(ValueError, match="last axis"):
        mha(q[..., :2], v)
    with pytest.raises(TypeError, match="use_causal_mask"):
        mha(q, v, use_causal_mask=None)
    with pytest.raises(TypeError, match="unexpected call argument"):
        mha(q, v, mask=[QM, VM])
    inp = Input((4, 3))
    with pytest.raises(ValueError, match="explicit mask= is not supported"):
        Attention()([inp, inp], mask=[QM, QM])
    with pytest.raises(ValueError, match="query_mask"):
        MultiHeadAttention(1, 2)(inp, inp, query_mask=QM)
    with pytest.raises(TypeError, match="mix of symbolic"):
        MultiHeadAttention(1, 2)(inp, inp, attention_mask=np.ones((1, 4, 4)))
    with pytest.raises(ValueError, match="list of 2 or 3 inputs|list"):
        Attention()(inp)


def test_multi_head_attention_constraints_hold_after_training_and_survive_saving(tmp_path):
    """kernel_constraint/bias_constraint project every projection's kernel and bias after each
    update (as Keras's optimizer), and come back from a saved model."""
    config.set_random_seed(0)
    rng = np.random.default_rng(0)
    q, v = Input((4, 3)), Input((5, 2))
    mha = MultiHeadAttention(2, 3, kernel_constraint="non_neg", bias_constraint="non_neg",
                             bias_initializer="ones")
    model = Model([q, v], mha(q, v))
    model.compile(Adam(0.1), "mse")
    xq, xv = rng.normal(size=(16, 4, 3)), rng.normal(size=(16, 5, 2))
    y = -np.abs(rng.normal(size=(16, 4, 3)))      # pulls the weights negative
    model.fit([xq, xv], y, epochs=3, batch_size=4, verbose=0)
    weights = dict(zip(mha.params, mha.get_weights()))
    assert len(weights) == 8 and all((w >= 0).all() for w in weights.values())
    assert any((w == 0).any() for w in weights.values())          # the constraint did act
    path = tmp_path / "m.rnnlab"
    model.save(path)
    loaded = load_model(path).get_layer(mha.name)
    assert loaded.get_config()["kernel_constraint"] == mha.get_config()["kernel_constraint"]
    assert set(loaded.constraints) == set(mha.params)

"""Embedding, Conv1D, pooling: finite-difference gradients, hand-derived values, configs, errors."""
import json

import numpy as np
import pytest

from gradcheck import check_layer
from rnnlab import config
from rnnlab.layers.conv import Conv1D
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.pooling import (
    AveragePooling1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)


def _span(k, d):
    return k + (k - 1) * (d - 1)


# ---------------------------------------------------------------------------- Conv1D gradients
CONV_CASES = [(p, s, d, k) for p in ("valid", "same", "causal") for s in (1, 2) for d in (1, 2)
              for k in (1, 2, 3) if not (s > 1 and d > 1)]


@pytest.mark.parametrize("padding,strides,dilation,kernel_size", CONV_CASES)
def test_conv1d_gradients(float64, padding, strides, dilation, kernel_size):
    rng = np.random.default_rng(CONV_CASES.index((padding, strides, dilation, kernel_size)))
    lo = _span(kernel_size, dilation) if padding == "valid" else 1
    for _ in range(2):
        n = int(rng.integers(1, 5))
        t = int(rng.integers(lo, 8))
        c = int(rng.integers(1, 4))
        f = int(rng.integers(1, 4))
        layer = Conv1D(f, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                       bias_initializer="random_normal")
        x = rng.normal(size=(n, t, c))
        check_layer(layer, x, rng=rng)
        expect_t = {"valid": -(-(t - _span(kernel_size, dilation) + 1) // strides)}.get(
            padding, -(-t // strides))
        assert layer(x).shape == (n, expect_t, f)


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "softmax"])
def test_conv1d_gradients_with_activation_and_no_bias(float64, act):
    x = np.random.default_rng(5).normal(size=(3, 6, 2))
    check_layer(Conv1D(3, 2, padding="same", activation=act), x)
    layer = Conv1D(2, 3, padding="causal", use_bias=False, activation=act)
    check_layer(layer, x)
    assert list(layer.params) == ["kernel"]


def test_conv1d_shared_layer_gradients_add_up(float64):
    rng = np.random.default_rng(0)
    layer = Conv1D(2, 2)
    a, b = rng.normal(size=(2, 5, 3)), rng.normal(size=(1, 4, 3))
    layer(a)
    layer.zero_grads()
    ya, back_a = layer.forward(a)
    yb, back_b = layer.forward(b)
    back_a(np.ones_like(ya))
    back_b(np.ones_like(yb))
    both = layer.grads["kernel"].copy()
    layer.zero_grads()
    back_a(np.ones_like(ya))
    only_a = layer.grads["kernel"].copy()
    layer.zero_grads()
    back_b(np.ones_like(yb))
    np.testing.assert_allclose(both, only_a + layer.grads["kernel"], rtol=1e-12)


# ---------------------------------------------------------------------------- Conv1D values
def test_conv1d_lecture_convolve_same(float64):
    x = np.array([0, 1, 2, 1, 0], dtype=float)
    w = np.array([0.2, 0.6, 0.2])
    layer = Conv1D(1, 3, padding="same")
    layer.build((None, 5, 1))
    layer.set_weights([w.reshape(3, 1, 1), np.zeros(1)])
    y = layer(x.reshape(1, 5, 1))[0, :, 0]
    np.testing.assert_allclose(y, np.convolve([0, 1, 2, 1, 0], [0.2, 0.6, 0.2][::-1], "same"),
                               rtol=1e-12)
    np.testing.assert_allclose(y, [0.2, 1.0, 1.6, 1.0, 0.2], rtol=1e-12)


def test_conv1d_is_cross_correlation_with_keras_padding_split(float64):
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)

    def run(**kw):
        layer = Conv1D(1, 2, use_bias=False, **kw)
        layer.build((None, 4, 1))
        layer.set_weights([np.array([1.0, 10.0]).reshape(2, 1, 1)])
        return layer(x)[0, :, 0]

    # valid: y[t] = x[t] + 10 x[t+1]
    np.testing.assert_allclose(run(), [21, 32, 43])
    # same, K=2: total pad 1, all on the right (TF: left = total // 2 = 0)
    np.testing.assert_allclose(run(padding="same"), [21, 32, 43, 4])
    # causal: one zero on the left, y[t] = x[t-1] + 10 x[t]
    np.testing.assert_allclose(run(padding="causal"), [10, 21, 32, 43])
    # causal with dilation 2: y[t] = x[t-2] + 10 x[t]
    np.testing.assert_allclose(run(padding="causal", dilation_rate=2), [10, 20, 31, 42])
    # strides 2, same: out = ceil(4/2) = 2, total pad max((2-1)*2 + 2 - 4, 0) = 0
    np.testing.assert_allclose(run(padding="same", strides=2), [21, 43])


def test_conv1d_same_padding_odd_total_goes_right(float64):
    # K=4, T=5, stride 1: total pad 3 -> left 1, right 2; y[0] = 0*w0 + x0*w1 + x1*w2 + x2*w3
    x = np.arange(1.0, 6.0).reshape(1, 5, 1)
    layer = Conv1D(1, 4, padding="same", use_bias=False)
    layer.build((None, 5, 1))
    layer.set_weights([np.array([1.0, 10.0, 100.0, 1000.0]).reshape(4, 1, 1)])
    np.testing.assert_allclose(layer(x)[0, :, 0],
                               [3210, 4321, 5432, 543, 54])


def test_conv1d_param_count_and_shapes():
    layer = Conv1D(filters=5, kernel_size=2, strides=1)
    layer.build((None, None, 50))
    assert layer.count_params() == 505
    assert layer.params["kernel"].shape == (2, 50, 5)
    assert layer.params["bias"].shape == (5,)
    assert layer.params["kernel"].dtype == np.float32
    assert layer.compute_output_shape((None, None, 50)) == (None, None, 5)
    assert Conv1D(32, 3).compute_output_shape((4, 10, 128)) == (4, 8, 32)
    for padding in ("same", "causal"):  # ceil(7 / 2)
        layer2 = Conv1D(2, 3, strides=2, padding=padding)
        assert layer2.compute_output_shape((None, 7, 3)) == (None, 4, 2)
    assert Conv1D(2, 3, dilation_rate=2).compute_output_shape((None, 7, 3)) == (None, 3, 2)
    y = layer(np.ones((2, 9, 50), dtype=np.float32))
    assert y.shape == (2, 8, 5) and y.dtype == np.float32


def test_conv1d_glorot_uniform_limit():
    config.set_random_seed(3)
    layer = Conv1D(20, 3)
    layer.build((None, None, 40))
    limit = np.sqrt(6.0 / (3 * 40 + 3 * 20))  # fans include the receptive field
    W = layer.params["kernel"]
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit


def test_conv1d_bad_input():
    with pytest.raises(ValueError, match="unknown padding 'full'"):
        Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="strides > 1 is not supported together with"):
        Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size must be a positive integer"):
        Conv1D(2, 0)
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        Conv1D(-1, 2)
    with pytest.raises(ValueError, match="channels_last"):
        Conv1D(2, 2, data_format="channels_first")
    layer = Conv1D(2, 3, name="c1")
    with pytest.raises(ValueError, match="'c1'.*rank 3"):
        layer(np.ones((4, 3)))
    layer(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match="'c1'.*rank 3"):
        layer(np.ones((2, 5, 3, 1)))
    with pytest.raises(ValueError, match="'c1'.*last axis of size 3"):
        layer(np.ones((2, 5, 4)))
    with pytest.raises(ValueError, match="'c1'.*non-finite"):
        layer(np.array([[[1.0, np.inf, 0.0]] * 5]))
    with pytest.raises(ValueError, match="'c1'.*2 steps is too short"):
        layer(np.ones((1, 2, 3)))
    with pytest.raises(TypeError, match="numeric"):
        layer(np.array([[["a", "b", "c"]] * 5]))


def test_conv1d_config_roundtrip():
    layer = Conv1D(4, (3,), strides=2, padding="CAUSAL", activation="relu", name="conv_x",
                   kernel_initializer="he_normal", kernel_regularizer="l2",
                   input_shape=(None, 6))
    cfg = json.loads(json.dumps(layer.get_config()))
    assert cfg["padding"] == "causal" and cfg["kernel_size"] == 3
    clone = Conv1D.from_config(cfg)
    assert clone.get_config() == layer.get_config()
    x = np.random.default_rng(0).normal(size=(2, 7, 6))
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))


# ---------------------------------------------------------------------------- Embedding
def test_embedding_gradient_with_repeated_indices(float64):
    rng = np.random.default_rng(11)
    for _ in range(3):
        n, t, v, d = int(rng.integers(1, 5)), int(rng.integers(1, 8)), 6, 3
        x = rng.integers(0, 4, size=(n, t))     # few distinct ids: repeats are certain
        x[0, 0] = x[-1, -1] = 2
        layer = Embedding(v, d)
        check_layer(layer, x, rng=rng)


def test_embedding_backward_is_scatter_add(float64):
    layer = Embedding(5, 2)
    layer.build((None, None))
    x = np.array([[1, 3, 1], [0, 1, 4]])
    y, back = layer.forward(x)
    dy = np.arange(12, dtype=float).reshape(2, 3, 2)
    assert back(dy) is None
    expect = np.zeros((5, 2))
    expect[1] = dy[0, 0] + dy[0, 2] + dy[1, 1]
    expect[3] = dy[0, 1]
    expect[0] = dy[1, 0]
    expect[4] = dy[1, 2]
    np.testing.assert_array_equal(layer.grads["embeddings"], expect)
    np.testing.assert_array_equal(y, layer.params["embeddings"][x])


def test_embedding_lecture_shapes_and_params():
    embed_layer = Embedding(input_dim=(10 + 1), output_dim=3)
    out = embed_layer(np.array([1]))
    assert out.shape == (1, 3) and out.dtype == np.float32
    X = np.array([[1, 2, 3, 4], [1, 2, 6, 7], [1, 2, 8, 0], [1, 2, 9, 0]])
    X_embedded = embed_layer(X)
    assert X_embedded.shape == (4, 4, 3)
    np.testing.assert_array_equal(X_embedded[:, 0], np.repeat(out, 4, axis=0))  # id 1 everywhere
    E = embed_layer.params["embeddings"]
    assert np.abs(E).max() <= 0.05 and np.abs(E).max() > 0.03     # RandomUniform(-0.05, 0.05)
    big = Embedding(10001, 50)
    big.build((None, None))
    assert big.count_params() == 500050
    assert big.compute_output_shape((None, None)) == (None, None, 50)
    assert Embedding(3, 2, input_length=7).batch_input_shape == (None, 7)
    assert Embedding(3, 2).batch_input_shape == (None, None)          # as Keras 2
    assert Embedding(3, 2, input_shape=(4,)).batch_input_shape == (None, 4)


def test_lecture_sequential_is_built_from_the_embedding():
    from rnnlab.models import Sequential
    model = Sequential([Embedding(10000 + 1, 50), Conv1D(filters=5, kernel_size=2, strides=1)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, None, 50)" in text and "500,050" in text
    assert "(None, None, 5)" in text and "505" in text
    assert model.count_params() == 500050 + 505


def test_embedding_mask_zero():
    layer = Embedding(4, 2, mask_zero=True)
    x = np.array([[3, 0, 1], [0, 0, 2]])
    y = layer(x)
    np.testing.assert_array_equal(layer.compute_mask(x, None),
                                  [[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(y[0, 1], layer.params["embeddings"][0])  # row 0 still valid
    assert Embedding(4, 2).compute_mask(x, None) is None


def test_embedding_whole_floats_accepted_and_bad_ids():
    layer = Embedding(5, 2, name="emb")
    np.testing.assert_array_equal(layer(np.array([[1.0, 4.0]])), layer(np.array([[1, 4]])))
    with pytest.raises(ValueError, match=r"'emb'.*token id 5 >= input_dim=5"):
        layer(np.array([[1, 5]]))
    with pytest.raises(ValueError, match=r"'emb'.*negative token id -1"):
        layer(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match=r"'emb'.*non-integer value 1\.5"):
        layer(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match=r"'emb'.*non-finite"):
        layer(np.array([[np.nan, 2.0]]))
    with pytest.raises(TypeError, match=r"'emb'.*integer token ids"):
        layer(np.array([["a"]]))
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="Unknown initializer"):
        Embedding(3, 3, embeddings_initializer="unif")


def test_embedding_config_roundtrip():
    layer = Embedding(7, 3, mask_zero=True, input_length=5, embeddings_regularizer="l2",
                      name="emb_rt")
    cfg = json.loads(json.dumps(layer.get_config()))
    clone = Embedding.from_config(cfg)
    assert clone.get_config() == layer.get_config()
    assert clone.mask_zero and clone.embeddings_regularizer.l2 == 0.01
    config.set_random_seed(1)
    a = layer(np.array([[1, 2]]))
    config.set_random_seed(1)
    b = clone(np.array([[1, 2]]))
    np.testing.assert_array_equal(a, b)  # same initializer, same seed


# ---------------------------------------------------------------------------- pooling
POOL_CASES = [(cls, p, pool, s) for cls in (MaxPooling1D, AveragePooling1D)
              for p in ("valid", "same") for pool in (1, 2, 3) for s in (None, 1, 2)]


@pytest.mark.parametrize("cls,padding,pool,strides", POOL_CASES)
def test_pooling_gradients(float64, cls, padding, pool, strides):
    rng = np.random.default_rng(pool * 10 + (strides or 0) + (padding == "same") * 100)
    for _ in range(2):
        n = int(rng.integers(1, 5))
        t = int(rng.integers(pool if padding == "valid" else 1, 8))
        x = rng.normal(size=(n, t, 2))
        layer = cls(pool, strides=strides, padding=padding)
        check_layer(layer, x, rng=rng)
        s = strides or pool
        expect = -(-(t - pool + 1) // s) if padding == "valid" else -(-t // s)
        assert layer(x).shape == (n, expect, 2)
        assert layer.compute_output_shape((None, t, 2)) == (None, expect, 2)


def test_pooling_same_padding_values(float64):
    x = np.array([-1.0, -2.0, -3.0]).reshape(1, 3, 1)
    # pads 1 | 1: windows [pad,-1,-2] [-1,-2,-3] [-2,-3,pad]; padding never wins
    np.testing.assert_array_equal(MaxPooling1D(3, strides=1, padding="same")(x)[0, :, 0],
                                  [-1, -1, -2])
    # pool 2, T 3: total pad 1 on the right; the last window averages only its real step
    y = AveragePooling1D(2, padding="same")(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1))
    np.testing.assert_allclose(y[0, :, 0], [1.5, 3.0])
    layer = AveragePooling1D(2, padding="same")
    _, back = layer.forward(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1))
    np.testing.assert_allclose(back(np.array([[[1.0], [1.0]]]))[0, :, 0], [0.5, 0.5, 1.0])


def test_max_pooling_gradient_to_first_argmax_on_ties(float64):
    x = np.array([2.0, 2.0, 1.0, 5.0, 5.0]).reshape(1, 5, 1)
    layer = MaxPooling1D(2, strides=1)
    y, back = layer.forward(x)
    np.testing.assert_array_equal(y[0, :, 0], [2, 2, 5, 5])
    # windows (0,1)->0, (1,2)->1, (2,3)->3, (3,4)->3
    np.testing.assert_array_equal(back(np.array([[[1.0], [10.0], [100.0], [1000.0]]]))[0, :, 0],
                                  [1, 10, 0, 1100, 0])
    g = GlobalMaxPooling1D()
    y, back = g.forward(x)
    np.testing.assert_array_equal(y, [[5.0]])
    np.testing.assert_array_equal(back(np.array([[7.0]]))[0, :, 0], [0, 0, 0, 7, 0])


@pytest.mark.parametrize("cls", [GlobalMaxPooling1D, GlobalAveragePooling1D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_gradients_with_masks(float64, cls, keepdims):
    rng = np.random.default_rng(21)
    for _ in range(3):
        n, t, c = int(rng.integers(1, 5)), int(rng.integers(1, 8)), int(rng.integers(1, 4))
        x = rng.normal(size=(n, t, c))
        layer = cls(keepdims=keepdims)
        check_layer(layer, x, rng=rng)
        mask = rng.random((n, t)) < 0.6
        mask[0, -1] = True
        if n > 1:
            mask[-1] = False   # a fully masked row
        check_layer(layer, x, mask=mask, rng=rng)
        y = layer(x, mask=mask)
        assert y.shape == ((n, 1, c) if keepdims else (n, c))
        assert layer.compute_output_shape((None, t, c)) == ((None, 1, c) if keepdims else (None, c))
        assert layer.compute_mask(x, mask) is None


def test_global_pooling_mask_values(float64):
    x = np.array([[[1.0, -4.0], [3.0, 10.0], [5.0, 7.0]],
                  [[2.0, 1.0], [9.0, 9.0], [0.0, 0.0]]])
    mask = np.array([[True, False, True], [False, False, False]])
    np.testing.assert_allclose(GlobalAveragePooling1D()(x, mask=mask), [[3.0, 1.5], [0.0, 0.0]])
    np.testing.assert_allclose(GlobalMaxPooling1D()(x, mask=mask), [[5.0, 7.0], [0.0, 0.0]])
    np.testing.assert_allclose(GlobalAveragePooling1D()(x), [[3.0, 13 / 3], [11 / 3, 10 / 3]])
    np.testing.assert_allclose(GlobalMaxPooling1D()(x), [[5.0, 10.0], [9.0, 9.0]])
    # masked average gradient: 1/count on the unmasked steps
    _, back = GlobalAveragePooling1D().forward(x, mask=mask)
    np.testing.assert_allclose(back(np.ones((2, 2)))[:, :, 0], [[0.5, 0, 0.5], [0, 0, 0]])


def test_embedding_mask_feeds_global_average(float64):
    emb = Embedding(5, 2, mask_zero=True)
    ids = np.array([[3, 1, 0, 0]])
    h = emb(ids)
    y = GlobalAveragePooling1D()(h, mask=emb.compute_mask(ids, None))
    E = emb.params["embeddings"]
    np.testing.assert_allclose(y[0], (E[3] + E[1]) / 2)


def test_pooling_bad_input_and_config():
    with pytest.raises(ValueError, match="unknown padding 'causal'"):
        MaxPooling1D(2, padding="causal")
    with pytest.raises(ValueError, match="pool_size must be a positive integer"):
        AveragePooling1D(0)
    layer = MaxPooling1D(3, name="mp")
    with pytest.raises(ValueError, match="'mp'.*rank 3"):
        layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match="'mp'.*2 steps is too short"):
        layer(np.ones((1, 2, 1)))
    with pytest.raises(ValueError, match="'mp'.*non-finite"):
        layer(np.full((1, 4, 1), np.nan))
    g = GlobalAveragePooling1D(name="gap")
    with pytest.raises(ValueError, match="'gap'.*mask of shape"):
        g(np.ones((2, 3, 1)), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="'gap'.*mask must be boolean"):
        g(np.ones((2, 3, 1)), mask=np.full((2, 3), 0.5))
    for layer in (MaxPooling1D(3, strides=1, padding="same"), AveragePooling1D(2),
                  GlobalMaxPooling1D(keepdims=True), GlobalAveragePooling1D()):
        cfg = json.loads(json.dumps(layer.get_config()))
        clone = type(layer).from_config(cfg)
        assert clone.get_config() == layer.get_config()
        x = np.random.default_rng(0).normal(size=(2, 5, 3))
        np.testing.assert_array_equal(clone(x), layer(x))
    assert MaxPooling1D(2).compute_output_shape((None, None, 4)) == (None, None, 4)
    assert AveragePooling1D(2).get_config()["strides"] == 2



def test_keras_automatic_names():
    from rnnlab.layers.base import reset_names
    reset_names()
    assert [Embedding(3, 2).name, Embedding(3, 2).name] == ["embedding", "embedding_1"]
    assert [Conv1D(1, 2).name, Conv1D(1, 2).name] == ["conv1d", "conv1d_1"]
    assert MaxPooling1D().name == "max_pooling1d"
    assert AveragePooling1D().name == "average_pooling1d"
    assert GlobalMaxPooling1D().name == "global_max_pooling1d"
    assert GlobalAveragePooling1D().name == "global_average_pooling1d"

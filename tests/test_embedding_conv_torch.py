"""Embedding, Conv1D and pooling against PyTorch with identical weights (float64)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradcheck import rel_error
from rnnlab.layers.conv import Conv1D
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.pooling import AveragePooling1D, MaxPooling1D

TOL = 1e-5


def _keras_pads(t, k, stride, dilation, padding):
    """Keras/TF padding, written out here independently of rnnlab's kernels."""
    span = dilation * (k - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    out = -(-t // stride)
    total = max((out - 1) * stride + span - t, 0)
    return total // 2, total - total // 2


CASES = [(p, s, d, k) for p in ("valid", "same", "causal") for s in (1, 2, 3) for d in (1, 2, 3)
         for k in (1, 2, 3, 4) if not (s > 1 and d > 1)]


@pytest.mark.parametrize("padding,strides,dilation,kernel_size", CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv1d_matches_torch(float64, padding, strides, dilation, kernel_size, use_bias):
    rng = np.random.default_rng(CASES.index((padding, strides, dilation, kernel_size)))
    span = dilation * (kernel_size - 1) + 1
    n, c, f = 3, int(rng.integers(1, 5)), int(rng.integers(1, 5))
    t = int(rng.integers(span if padding == "valid" else 1, 12))
    x = rng.normal(size=(n, t, c))
    layer = Conv1D(f, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                   use_bias=use_bias, bias_initializer="random_normal")
    layer.build((None, None, c))
    y, backward = layer.forward(x)
    dy = rng.normal(size=y.shape)
    dx = backward(dy)

    W = torch.tensor(layer.params["kernel"].transpose(2, 1, 0).copy(), requires_grad=True)
    b = torch.tensor(layer.params["bias"], requires_grad=True) if use_bias else None
    xt = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)       # (N, C, T)
    left, right = _keras_pads(t, kernel_size, strides, dilation, padding)
    yt = F.conv1d(F.pad(xt, (left, right)), W, b, stride=strides, dilation=dilation)
    (yt * torch.tensor(dy.transpose(0, 2, 1).copy())).sum().backward()

    ref_y = yt.detach().numpy().transpose(0, 2, 1)
    assert y.shape == ref_y.shape
    assert rel_error(y, ref_y) < TOL
    assert rel_error(dx, xt.grad.numpy().transpose(0, 2, 1)) < TOL
    assert rel_error(layer.grads["kernel"], W.grad.numpy().transpose(2, 1, 0)) < TOL
    if use_bias:
        assert rel_error(layer.grads["bias"], b.grad.numpy()) < TOL


@pytest.mark.parametrize("act,torch_act", [("tanh", torch.tanh), ("relu", torch.relu),
                                           ("sigmoid", torch.sigmoid)])
def test_conv1d_activation_matches_torch(float64, act, torch_act):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 9, 3))
    layer = Conv1D(4, 3, padding="causal", dilation_rate=2, activation=act)
    layer.build((None, None, 3))
    y, backward = layer.forward(x)
    dy = rng.normal(size=y.shape)
    dx = backward(dy)
    W = torch.tensor(layer.params["kernel"].transpose(2, 1, 0).copy(), requires_grad=True)
    xt = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)
    yt = torch_act(F.conv1d(F.pad(xt, (4, 0)), W, torch.tensor(layer.params["bias"]),
                            dilation=2))
    (yt * torch.tensor(dy.transpose(0, 2, 1).copy())).sum().backward()
    assert rel_error(y, yt.detach().numpy().transpose(0, 2, 1)) < TOL
    assert rel_error(dx, xt.grad.numpy().transpose(0, 2, 1)) < TOL
    assert rel_error(layer.grads["kernel"], W.grad.numpy().transpose(2, 1, 0)) < TOL


def test_embedding_matches_torch(float64):
    rng = np.random.default_rng(9)
    layer = Embedding(13, 5)
    layer.build((None, None))
    ids = rng.integers(0, 13, size=(4, 7))
    ids[:, 0] = 3                                  # repeated ids
    y, backward = layer.forward(ids)
    dy = rng.normal(size=y.shape)
    assert backward(dy) is None
    E = torch.tensor(layer.params["embeddings"], requires_grad=True)
    yt = F.embedding(torch.tensor(ids), E)
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_array_equal(y, yt.detach().numpy())
    assert rel_error(layer.grads["embeddings"], E.grad.numpy()) < 1e-12


POOL_CASES = [(pool, s) for pool in (1, 2, 3, 4) for s in (None, 1, 2, 3)]


@pytest.mark.parametrize("pool,strides", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_valid_matches_torch(float64, kind, pool, strides):
    rng = np.random.default_rng(POOL_CASES.index((pool, strides)))
    x = rng.normal(size=(3, int(rng.integers(pool, 13)), 4))
    if kind == "max":
        x[0, :2, 0] = 1.5                  # a tie: both must send the gradient to the first
    layer = (MaxPooling1D if kind == "max" else AveragePooling1D)(pool, strides=strides)
    y, backward = layer.forward(x)
    dy = rng.normal(size=y.shape)
    dx = backward(dy)
    xt = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)
    fn = F.max_pool1d if kind == "max" else F.avg_pool1d
    yt = fn(xt, pool, stride=strides or pool)
    (yt * torch.tensor(dy.transpose(0, 2, 1).copy())).sum().backward()
    ref = yt.detach().numpy().transpose(0, 2, 1)
    assert y.shape == ref.shape
    assert rel_error(y, ref) < TOL
    assert rel_error(dx, xt.grad.numpy().transpose(0, 2, 1)) < TOL

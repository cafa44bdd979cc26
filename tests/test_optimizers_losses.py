"""Optimizers against PyTorch's, losses against finite differences and closed forms."""
import warnings

import numpy as np
import pytest
import torch

from gradcheck import numeric_grad, rel_error
from rnnlab import losses, metrics, optimizers


def _run_rnnlab(opt, steps, w0, target):
    w = w0.copy()
    for _ in range(steps):
        g = 2 * (w - target) * np.arange(1, w.size + 1)  # grad of sum(k (w - t)^2)
        opt.apply([("w", w, g)])
    return w


def _run_torch(make, steps, w0, target):
    w = torch.tensor(w0.copy(), requires_grad=True)
    opt = make([w])
    t = torch.tensor(target)
    k = torch.arange(1, w0.size + 1, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        (k * (w - t) ** 2).sum().backward()
        opt.step()
    return w.detach().numpy()


CASES = [
    (lambda: optimizers.SGD(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    (lambda: optimizers.SGD(0.05, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    # Keras's Adam puts epsilon outside the bias correction; with epsilon tiny both agree.
    (lambda: optimizers.Adam(0.01, epsilon=1e-12),
     lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12)),
    (lambda: optimizers.Adam(0.01, epsilon=1e-12, amsgrad=True),
     lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12, amsgrad=True)),
    (lambda: optimizers.RMSprop(0.01, epsilon=1e-14),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7)),
    (lambda: optimizers.Adagrad(0.1, epsilon=1e-14),
     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-7)),
]


@pytest.mark.parametrize("ours,theirs", CASES)
def test_optimizer_trajectories_match_pytorch(ours, theirs):
    rng = np.random.default_rng(0)
    w0, target = rng.normal(size=5), rng.normal(size=5)
    a = _run_rnnlab(ours(), 30, w0, target)
    b = _run_torch(theirs, 30, w0, target)
    assert rel_error(a, b) < 1e-5


def test_lr_alias_warns_and_sets_learning_rate():
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        opt = optimizers.Adam(lr=0.01)
    assert opt.learning_rate == 0.01


def test_clipping():
    g = np.array([3.0, 4.0])
    w = np.zeros(2)
    optimizers.SGD(1.0, clipnorm=1.0).apply([("w", w, g)])
    np.testing.assert_allclose(w, [-0.6, -0.8])
    w = np.zeros(2)
    optimizers.SGD(1.0, clipvalue=3.5).apply([("w", w, g)])
    np.testing.assert_allclose(w, [-3.0, -3.5])


def test_unknown_optimizer_name():
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        optimizers.get("adamm")


@pytest.mark.parametrize("loss,ytrue,pred_fn", [
    (losses.MeanSquaredError(), lambda r: r.normal(size=(4, 3)), lambda r: r.normal(size=(4, 3))),
    (losses.MeanAbsoluteError(), lambda r: r.normal(size=(4, 3)), lambda r: r.normal(size=(4, 3))),
    (losses.Huber(0.7), lambda r: r.normal(size=(4, 3)), lambda r: r.normal(size=(4, 3))),
    (losses.BinaryCrossentropy(), lambda r: r.integers(0, 2, (4, 5, 1)),
     lambda r: r.uniform(0.05, 0.95, (4, 5, 1))),
    (losses.BinaryCrossentropy(from_logits=True), lambda r: r.integers(0, 2, (4, 2)),
     lambda r: r.normal(size=(4, 2))),
    (losses.CategoricalCrossentropy(), lambda r: np.eye(3)[r.integers(0, 3, 4)],
     lambda r: r.uniform(0.1, 1.0, (4, 3))),
    (losses.CategoricalCrossentropy(from_logits=True), lambda r: np.eye(3)[r.integers(0, 3, 4)],
     lambda r: r.normal(size=(4, 3))),
    (losses.SparseCategoricalCrossentropy(), lambda r: r.integers(0, 3, 4),
     lambda r: r.uniform(0.1, 1.0, (4, 3))),
])
def test_loss_gradients_match_finite_differences(loss, ytrue, pred_fn):
    rng = np.random.default_rng(5)
    y, p = ytrue(rng), pred_fn(rng)
    sw = rng.uniform(0.5, 2.0, size=p.shape[0])
    _, grad = loss(y, p, sw)
    num = numeric_grad(lambda: loss(y, p, sw)[0], p)
    assert rel_error(grad, num) < 1e-6


def test_losses_against_torch():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, (6, 1))
    y = rng.integers(0, 2, (6, 1)).astype(float)
    tp, ty = torch.tensor(p), torch.tensor(y)
    assert losses.BinaryCrossentropy()(y, p)[0] == pytest.approx(
        torch.nn.functional.binary_cross_entropy(tp, ty).item(), rel=1e-9)
    q = rng.normal(size=(6, 4))
    t = rng.normal(size=(6, 4))
    assert losses.Huber(1.0)(t, q)[0] == pytest.approx(
        torch.nn.functional.huber_loss(torch.tensor(q), torch.tensor(t)).item(), rel=1e-9)
    logits = rng.normal(size=(6, 4))
    cls = rng.integers(0, 4, 6)
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(cls, logits)[0] == pytest.approx(
        torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(cls)).item(), rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_crossentropy_clip_against_torch(dtype):
    """p is clipped to [ε, 1 - ε] (Keras's ε = 1e-7): the value uses the clipped p and the
    gradient is zero outside the clip (at 0, 1 and beyond), as clamp's gradient in torch."""
    eps = 1e-7
    p = np.array([0.0, 1e-9, eps, 0.3, 1 - eps, 1 - 1e-9, 1.0, 0.0, 1.0, 0.7], dtype=dtype)[:, None]
    y = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 0], dtype=dtype)[:, None]
    value, grad = losses.BinaryCrossentropy()(y, p)
    tp = torch.tensor(p, requires_grad=True)
    pc = torch.clamp(tp, eps, 1 - eps)
    ty = torch.tensor(y)
    tl = -(ty * torch.log(pc) + (1 - ty) * torch.log(1 - pc)).mean()
    tl.backward()
    assert grad.dtype == dtype
    assert value == pytest.approx(tl.item(), rel=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert (grad[[0, 1, 5, 6, 7, 8]] == 0).all() and (grad[[2, 3, 4, 9]] != 0).all()


def test_target_broadcast_over_time_like_tf_keras_2():
    # The lecture's "Yelp with MLP": output (N, T, 1), targets (N,): the loss is the mean over
    # samples and time steps of the per-step loss against the sample's label.
    rng = np.random.default_rng(2)
    p = rng.uniform(0.1, 0.9, (3, 4, 1))
    y = np.array([1, 0, 1])
    value, _ = losses.BinaryCrossentropy()(y, p)
    expected = -np.mean(np.where(y[:, None] == 1, np.log(p[..., 0]), np.log(1 - p[..., 0])))
    assert value == pytest.approx(expected, rel=1e-12)
    acc = metrics.get("accuracy", "binary_crossentropy").values(y, p)
    assert acc.shape == (3, 4)
    with pytest.raises(ValueError, match="not compatible"):
        losses.MeanSquaredError()(np.zeros((3, 2)), p)


def test_accuracy_kind_follows_loss():
    assert isinstance(metrics.get("accuracy", "binary_crossentropy"), metrics.BinaryAccuracy)
    assert isinstance(metrics.get("accuracy", "categorical_crossentropy"),
                      metrics.CategoricalAccuracy)
    assert isinstance(metrics.get("acc", "sparse_categorical_crossentropy"),
                      metrics.SparseCategoricalAccuracy)
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'"):
        metrics.get("acuracy")
    with pytest.raises(ValueError, match="Unknown loss 'msee'"):
        losses.get("msee")
    warnings.simplefilter("default")

"""The losses KLDivergence, MSLE, Poisson, LogCosh, CosineSimilarity: values equal Keras 3's,
gradients equal finite differences and PyTorch's autograd; a user's Loss subclass checked with
the public gradient check; a plain function as a loss is refused with the way to write one."""
import keras
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import rnnlab
from rnnlab import Sequential, config, losses
from rnnlab.layers import Dense
from rnnlab.optimizers import SGD
from rnnlab.registry import register_serializable
from rnnlab.testing import check_loss_gradient

EPS = 1e-7


def _torch_kl(y, p):
    yc, pc = y.clamp(EPS, 1), p.clamp(EPS, 1)
    return (yc * torch.log(yc / pc)).sum(-1)


def _torch_msle(y, p):
    d = torch.log(torch.clamp(p, min=EPS) + 1) - torch.log(torch.clamp(y, min=EPS) + 1)
    return (d * d).mean(-1)


def _torch_poisson(y, p):
    # PyTorch's own Poisson NLL on rates, with Keras's epsilon, per element
    return torch.nn.PoissonNLLLoss(log_input=False, eps=EPS, reduction="none")(p, y).mean(-1)


def _torch_log_cosh(y, p):
    e = p - y
    return torch.log(torch.cosh(e)).mean(-1)


def _torch_cosine(y, p):
    # PyTorch's cosine_similarity (its epsilon is for the product of norms; the vectors here are
    # far from zero, where both definitions agree)
    return -torch.nn.functional.cosine_similarity(y, p, dim=-1, eps=0.0)


CASES = {
    "kl_divergence": (keras.losses.KLDivergence, _torch_kl),
    "msle": (keras.losses.MeanSquaredLogarithmicError, _torch_msle),
    "poisson": (keras.losses.Poisson, _torch_poisson),
    "log_cosh": (keras.losses.LogCosh, _torch_log_cosh),
    "cosine_similarity": (keras.losses.CosineSimilarity, _torch_cosine),
}


def _inputs(name, seed, shape):
    r = np.random.default_rng(seed)
    if name == "kl_divergence":        # distributions, and a few entries outside the clip
        y = r.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        p = r.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        p.flat[r.integers(0, p.size, 2)] = [0.0, 1.3]
        y.flat[r.integers(0, y.size, 1)] = 0.0
    elif name in ("msle", "poisson"):  # non-negative rates and counts (msle: some below ε)
        y = r.poisson(2.0, size=shape).astype(np.float64)
        p = r.uniform(0.05, 4.0, size=shape)
        if name == "msle":
            p.flat[r.integers(0, p.size, 2)] = [-0.5, 1e-9]
    else:
        y = r.normal(size=shape)
        p = r.normal(size=shape) * 2
    return y, p


@given(seed=st.integers(0, 2**31 - 1), name=st.sampled_from(sorted(CASES)),
       shape=st.sampled_from([(5, 3), (4, 1), (3, 6, 2)]), weighted=st.booleans())
def test_values_equal_keras(seed, name, shape, weighted):
    keras_cls, _ = CASES[name]
    y, p = _inputs(name, seed, shape)
    w = np.random.default_rng(seed + 1).uniform(0, 2, shape[0]) if weighted else None
    ours, _ = losses.get(name)(y, p.astype(np.float32), w)
    # Keras lines weights up with per-entry losses of one rank more only: (N, T) needs (N, 1)
    kw = None if w is None else w.astype(np.float32).reshape((-1,) + (1,) * (len(shape) - 2))
    theirs = keras_cls()(y.astype(np.float32), p.astype(np.float32), kw)
    assert ours == pytest.approx(float(keras.ops.convert_to_numpy(theirs)), rel=1e-5, abs=1e-6)
    ours64, _ = losses.get(name)(y, p, w)          # float64: to float32's rounding
    assert ours64 == pytest.approx(ours, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 2)])
def test_gradient_equals_finite_differences_and_torch(name, shape):
    _, torch_fn = CASES[name]
    y, p = _inputs(name, 7, shape)
    w = np.random.default_rng(3).uniform(0.2, 2, shape[0])
    loss = losses.get(name)
    if name == "kl_divergence":          # finite differences only away from the clip's edges
        p = np.clip(p, 0.01, 0.99)
    if name == "msle":
        p = np.abs(p) + 0.01
    assert check_loss_gradient(loss, y, p, w) < 1e-7
    value, grad = loss(y, p, w)
    tp = torch.tensor(p, requires_grad=True)
    per_entry = torch_fn(torch.tensor(y), tp)
    tw = torch.tensor(w).reshape((-1,) + (1,) * (per_entry.ndim - 1))
    t = (per_entry * tw).sum() / per_entry.numel()
    t.backward()
    assert value == pytest.approx(t.item(), rel=1e-10)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_gradients_at_the_clips_follow_keras_under_torch():
    # outside a clip the gradient is 0 (KL: p > 1 or p < ε; MSLE: p < ε); a cosine prediction
    # shorter than ε is scaled by 1/ε (linear): Keras's formulas differentiated by autograd
    y = np.array([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    p = np.array([[1.2, 1e-9, 0.4], [-0.1, 0.5, 0.3]])
    for name in ("kl_divergence", "msle"):
        tp = torch.tensor(p, requires_grad=True)
        CASES[name][1](torch.tensor(y), tp).mean().backward()
        _, grad = losses.get(name)(y, p)
        np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-9, atol=1e-12)
    tiny = np.array([[3e-8, -4e-8], [1.0, 2.0]])
    yy = np.array([[1.0, 1.0], [0.5, -1.0]])
    tp = torch.tensor(tiny, requires_grad=True)
    n = torch.minimum(torch.rsqrt((tp * tp).sum(-1, keepdim=True)), torch.tensor(1 / EPS))
    ty = torch.tensor(yy)
    u = ty * torch.minimum(torch.rsqrt((ty * ty).sum(-1, keepdim=True)), torch.tensor(1 / EPS))
    (-(u * tp * n).sum(-1)).mean().backward()
    value, grad = losses.CosineSimilarity()(yy, tiny)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-9)
    k = keras.losses.CosineSimilarity()(yy.astype(np.float32), tiny.astype(np.float32))
    assert value == pytest.approx(float(keras.ops.convert_to_numpy(k)), rel=1e-5)


def test_names_aliases_and_configs():
    for alias, cls in (("kld", losses.KLDivergence), ("KLDivergence", losses.KLDivergence),
                       ("msle", losses.MeanSquaredLogarithmicError), ("poisson", losses.Poisson),
                       ("logcosh", losses.LogCosh), ("log_cosh", losses.LogCosh),
                       ("cosine_similarity", losses.CosineSimilarity)):
        assert isinstance(losses.get(alias), cls)
    c = losses.deserialize(losses.serialize(losses.CosineSimilarity(axis=-1)))
    assert isinstance(c, losses.CosineSimilarity) and c.axis == -1
    with pytest.raises(ValueError, match="axis must be an integer"):
        losses.CosineSimilarity(axis=1.5)
    with pytest.raises(ValueError, match="not the last axis"):
        losses.CosineSimilarity(axis=1)(np.ones((2, 3, 4)), np.ones((2, 3, 4)))
    assert losses.CosineSimilarity(axis=2)(np.ones((2, 3, 4)), np.ones((2, 3, 4)))[0] == \
        pytest.approx(-1.0)


# ------------------------------------------------------------------------------ custom losses
@register_serializable(package="TestLosses")
class Quartic(losses.Loss):
    """L = mean_d (p - y)^4;  dL/dp = 4 (p - y)^3 / D."""
    name = "quartic"

    def _values_and_grad(self, y, p):
        e = p - y
        return np.mean(e ** 4, axis=-1), 4.0 * e ** 3 / p.shape[-1]


class WrongQuartic(Quartic):
    def _values_and_grad(self, y, p):
        e = p - y
        return np.mean(e ** 4, axis=-1), 3.0 * e ** 3 / p.shape[-1]   # the 4 forgotten


def test_a_custom_loss_is_checked_trained_and_saved(tmp_path):
    r = np.random.default_rng(0)
    y, p = r.normal(size=(6, 3)), r.normal(size=(6, 3))
    assert check_loss_gradient(Quartic(), y, p, r.uniform(size=6)) < 1e-8
    with pytest.raises(AssertionError, match="quartic: gradient mismatch"):
        check_loss_gradient(WrongQuartic(), y, p)
    with pytest.raises(TypeError, match="rnnlab Loss instance"):
        check_loss_gradient(lambda a, b: (a - b) ** 2, y, p)
    X = r.normal(size=(64, 3)).astype(np.float32)
    t = X @ np.array([[0.5], [-1.0], [0.2]], dtype=np.float32)
    config.set_random_seed(0)
    m = Sequential([Dense(1, input_shape=(3,))])
    m.compile(optimizer=SGD(0.05), loss=Quartic(), metrics=["mae"])
    h = m.fit(X, t, epochs=30, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0] / 10
    m.save(tmp_path / "q.rnnlab")
    again = rnnlab.load_model(tmp_path / "q.rnnlab")
    assert isinstance(again.loss, Quartic)
    assert again.evaluate(X, t, verbose=0) == m.evaluate(X, t, verbose=0)


def test_an_unregistered_custom_loss_trains_and_saving_says_what_to_do(tmp_path):
    class Local(losses.Loss):
        def _values_and_grad(self, y, p):
            return np.mean((p - y) ** 2, axis=-1), 2 * (p - y) / p.shape[-1]

    X = np.ones((4, 3), dtype=np.float32)
    m = Sequential([Dense(1, input_shape=(3,))])
    m.compile(optimizer="sgd", loss=Local())
    m.fit(X, np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match="register_serializable"):
        m.save(tmp_path / "local.rnnlab")
    assert not (tmp_path / "local.rnnlab").exists()


def test_a_plain_function_as_a_loss_says_how_to_write_one():
    def my_loss(y_true, y_pred):
        return (y_true - y_pred) ** 2

    m = Sequential([Dense(1, input_shape=(3,))])
    with pytest.raises(TypeError, match=r"'my_loss' is a plain function.*subclass of "
                                        r"rnnlab.losses.Loss.*_values_and_grad"):
        m.compile(optimizer="sgd", loss=my_loss)
    assert m.optimizer is None                  # nothing changed
    with pytest.raises(TypeError, match=r"pass an instance, loss=Quartic\(\)"):
        m.compile(optimizer="sgd", loss=Quartic)
    with pytest.raises(NotImplementedError, match="must define _values_and_grad"):
        losses.Loss()(np.ones((2, 1)), np.ones((2, 1)))

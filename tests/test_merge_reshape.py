"""Merge layers, reshaping layers and Masking: finite differences, PyTorch parity, masks, errors."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradcheck import check_layer, numeric_grad, rel_error
from rnnlab.layers.merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from rnnlab.layers.reshaping import (
    Cropping1D,
    Masking,
    Permute,
    RepeatVector,
    Reshape,
    ZeroPadding1D,
)

ELEMENTWISE = [Add, Subtract, Multiply, Average, Maximum, Minimum]
TORCH_OPS = {
    Add: lambda ts: sum(ts[1:], ts[0]),
    Subtract: lambda ts: ts[0] - ts[1],
    Multiply: lambda ts: torch.stack(ts).prod(dim=0),
    Average: lambda ts: torch.stack(ts).mean(dim=0),
    Maximum: lambda ts: torch.stack(ts).amax(dim=0),
    Minimum: lambda ts: torch.stack(ts).amin(dim=0),
}


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def _batch(rng):
    return int(rng.integers(1, 5))


def _n_inputs(cls):
    return [2] if cls is Subtract else [2, 3]


def _t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------------------- element-wise merges
@pytest.mark.parametrize("cls", ELEMENTWISE)
def test_elementwise_gradients(cls, rng, float64):
    for k in _n_inputs(cls):
        for shape in [(3,), (4, 3)]:
            n = _batch(rng)
            xs = [rng.normal(size=(n,) + shape) for _ in range(k)]
            check_layer(cls(), xs)


@pytest.mark.parametrize("cls", ELEMENTWISE)
def test_elementwise_values_and_grads_match_torch(cls, rng, float64):
    for k in _n_inputs(cls):
        n = _batch(rng)
        xs = [rng.normal(size=(n, 5, 3)) for _ in range(k)]
        layer = cls()
        y, backward = layer.forward(xs)
        ts = [_t(x).requires_grad_(True) for x in xs]
        ref = TORCH_OPS[cls](ts)
        assert y.shape == tuple(ref.shape)
        assert rel_error(y, ref.detach().numpy()) < 1e-12
        dy = rng.normal(size=y.shape)
        ref.backward(_t(dy))
        for dx, t in zip(backward(dy), ts):
            assert rel_error(dx, t.grad.numpy()) < 1e-12


@pytest.mark.parametrize("cls", [Add, Multiply, Maximum, Subtract])
def test_elementwise_broadcasting_like_keras(cls, rng, float64):
    """Size-1 axes stretch; a lower-rank input gets size-1 axes right after the batch axis."""
    n = _batch(rng)
    a = rng.normal(size=(n, 4, 3))
    b = rng.normal(size=(n, 1, 3))
    c = rng.normal(size=(n, 3))              # viewed as (n, 1, 3), as Keras's expand_dims(x, 1)
    for xs in ([a, b], [c, a], [b, c]):
        layer = cls()
        assert layer.compute_output_shape([(None,) + x.shape[1:] for x in xs]) == \
            (None,) + np.broadcast_shapes(*[x.shape if x.ndim == 3 else (n, 1, 3) for x in xs])[1:]
        y, _ = layer.forward(xs)
        ts = [_t(x if x.ndim == 3 else x[:, None, :]) for x in xs]
        ref = TORCH_OPS[cls](list(torch.broadcast_tensors(*ts)))
        assert rel_error(y, ref.numpy()) < 1e-12
        check_layer(cls(), xs)


def test_maximum_minimum_ties_send_gradient_to_first_input(float64):
    x0 = np.array([[1.0, 2.0, 3.0]])
    x1 = np.array([[1.0, 5.0, 0.0]])          # tie at entry 0
    dy = np.array([[10.0, 20.0, 30.0]])
    _, back = Maximum().forward([x0, x1])
    d0, d1 = back(dy)
    np.testing.assert_array_equal(d0, [[10.0, 0.0, 30.0]])
    np.testing.assert_array_equal(d1, [[0.0, 20.0, 0.0]])
    _, back = Minimum().forward([x0, x1])
    d0, d1 = back(dy)
    np.testing.assert_array_equal(d0, [[10.0, 20.0, 0.0]])
    np.testing.assert_array_equal(d1, [[0.0, 0.0, 30.0]])


def test_add_gradients_are_independent_arrays(float64):
    _, back = Add().forward([np.ones((2, 3)), np.ones((2, 3))])
    dy = np.ones((2, 3))
    d0, d1 = back(dy)
    d0 += 1.0
    np.testing.assert_array_equal(d1, np.ones((2, 3)))
    np.testing.assert_array_equal(dy, np.ones((2, 3)))


# ---------------------------------------------------------------------------- Concatenate
@pytest.mark.parametrize("axis", [-1, 1, 2, -2])
def test_concatenate_3d_gradients_and_torch(axis, rng, float64):
    n = _batch(rng)
    ax = axis % 3
    sizes = [2, 3, 1]
    xs = []
    for s in sizes:
        shape = [n, 4, 5]
        shape[ax] = s
        xs.append(rng.normal(size=shape))
    layer = Concatenate(axis=axis)
    y, _ = layer.forward(xs)
    ref = torch.cat([_t(x) for x in xs], dim=axis).numpy()
    assert y.shape == ref.shape
    assert rel_error(y, ref) < 1e-12
    out = layer.compute_output_shape([(None,) + x.shape[1:] for x in xs])
    assert out == (None,) + ref.shape[1:]
    check_layer(Concatenate(axis=axis), xs)


def test_concatenate_2d_and_unknown_axis_size(rng, float64):
    n = _batch(rng)
    xs = [rng.normal(size=(n, 3)), rng.normal(size=(n, 4))]
    y, _ = Concatenate().forward(xs)
    assert rel_error(y, torch.cat([_t(x) for x in xs], dim=1).numpy()) < 1e-12
    check_layer(Concatenate(), xs)
    assert Concatenate().compute_output_shape([(None, 3), (None, None)]) == (None, None)
    assert Concatenate(axis=1).compute_output_shape([(None, 2, None), (None, 5, 7)]) == (None, 7, 7)


# ---------------------------------------------------------------------------- Dot
def _dot_torch(x, y, axes, normalize):
    tx, ty = _t(x), _t(y)
    if normalize:
        tx = F.normalize(tx, dim=axes[0], eps=0.0)
        ty = F.normalize(ty, dim=axes[1], eps=0.0)
    # bmm of (N, P, d) by (N, d, Q)
    a = tx.transpose(1, 2) if axes[0] == 1 else tx
    b = ty if axes[1] == 1 else ty.transpose(1, 2)
    return torch.bmm(a, b).numpy()


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("axes", [(1, 1), (2, 2), (1, 2)])
def test_dot_3d_gradients_and_torch_bmm(axes, normalize, rng, float64):
    n = _batch(rng)
    d, p, q = 4, 3, 2
    x = rng.normal(size=(n, d, p) if axes[0] == 1 else (n, p, d))
    y = rng.normal(size=(n, d, q) if axes[1] == 1 else (n, q, d))
    layer = Dot(axes=axes, normalize=normalize)
    out, _ = layer.forward([x, y])
    ref = _dot_torch(x, y, axes, normalize)
    assert out.shape == ref.shape == (n, p, q)
    assert rel_error(out, ref) < 1e-5
    assert layer.compute_output_shape([(None,) + x.shape[1:], (None,) + y.shape[1:]]) == \
        (None, p, q)
    check_layer(Dot(axes=axes, normalize=normalize), [x, y])


def test_dot_int_and_negative_axes(rng, float64):
    n = _batch(rng)
    x, y = rng.normal(size=(n, 3, 4)), rng.normal(size=(n, 5, 4))
    out, _ = Dot(axes=-1).forward([x, y])
    assert rel_error(out, _dot_torch(x, y, (2, 2), False)) < 1e-12
    x2, y2 = rng.normal(size=(n, 4, 3)), rng.normal(size=(n, 4, 5))
    out, _ = Dot(axes=1).forward([x2, y2])
    assert rel_error(out, _dot_torch(x2, y2, (1, 1), False)) < 1e-12


def test_dot_mixed_ranks(rng, float64):
    """(N, d)·(N, d, q) along (1, 1) gives (N, q); (N, p, d)·(N, d) along (2, 1) gives (N, p)."""
    n = _batch(rng)
    v, m = rng.normal(size=(n, 4)), rng.normal(size=(n, 4, 3))
    out, _ = Dot(axes=(1, 1)).forward([v, m])
    assert rel_error(out, np.einsum("nd,ndq->nq", v, m)) < 1e-12
    check_layer(Dot(axes=(1, 1), normalize=True), [v, m])
    m2 = rng.normal(size=(n, 3, 4))
    out, _ = Dot(axes=(2, 1)).forward([m2, v])
    assert out.shape == (n, 3)
    assert rel_error(out, torch.bmm(_t(m2), _t(v)[:, :, None])[:, :, 0].numpy()) < 1e-12
    check_layer(Dot(axes=(2, 1)), [m2, v])


@pytest.mark.parametrize("normalize", [False, True])
def test_dot_siamese_vectors(normalize, rng, float64):
    """The lecture's Siamese head: Dot(axes=1, normalize=True) on two (N, 128) vectors -> (N, 1)."""
    n = _batch(rng)
    a, b = rng.normal(size=(n, 128)), rng.normal(size=(n, 128))
    layer = Dot(axes=1, normalize=normalize)
    out, backward = layer.forward([a, b])
    assert out.shape == (n, 1)
    assert layer.compute_output_shape([(None, 128), (None, 128)]) == (None, 1)
    ta, tb = _t(a).requires_grad_(True), _t(b).requires_grad_(True)
    ref = F.cosine_similarity(ta, tb, dim=1) if normalize else (ta * tb).sum(dim=1)
    assert rel_error(out[:, 0], ref.detach().numpy()) < 1e-5
    dy = rng.normal(size=(n, 1))
    ref.backward(_t(dy[:, 0]))
    da, db = backward(dy)
    assert rel_error(da, ta.grad.numpy()) < 1e-5
    assert rel_error(db, tb.grad.numpy()) < 1e-5
    check_layer(Dot(axes=1, normalize=normalize), [a[:, :16], b[:, :16]])


def test_dot_normalize_tiny_vectors_use_the_epsilon_floor(float64):
    """Below Σx² = 1e-12 the scale is the constant 1/sqrt(1e-12) (tf.nn.l2_normalize)."""
    a = np.array([[1e-8, -2e-8, 3e-8]])
    b = np.array([[1.0, 2.0, 2.0]])
    out, _ = Dot(axes=1, normalize=True).forward([a, b])
    expected = (a / 1e-6) @ (b / 3.0).T        # sqrt(max(1.4e-15, 1e-12)) = 1e-6; ||b|| = 3
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # Gradient on the tiny side, by central differences with a step to match its scale.
    layer = Dot(axes=1, normalize=True)
    out, back = layer.forward([a, b])
    da, _ = back(np.ones_like(out))
    num = numeric_grad(lambda: float(layer.forward([a, b])[0].sum()), a, eps=1e-11)
    assert rel_error(da, num) < 1e-6
    np.testing.assert_allclose(da, b / 3.0 / 1e-6, rtol=1e-12)   # constant scale: no projection
    check_layer(Dot(axes=1, normalize=True), [a, 1e-2 * a[:, ::-1]], eps=1e-11)
    z = np.zeros((1, 3))
    out, back = Dot(axes=1, normalize=True).forward([z, b])
    assert out[0, 0] == 0.0 and np.all(np.isfinite(back(np.ones((1, 1)))[0]))


# ---------------------------------------------------------------------------- reshaping layers
def test_reshape_values_gradients_and_shapes(rng, float64):
    n = _batch(rng)
    x = rng.normal(size=(n, 3, 4))
    for target, expect in [((12,), (12,)), ((2, -1), (2, 6)), ((-1, 3, 2), (2, 3, 2))]:
        layer = Reshape(target)
        y, _ = layer.forward(x)
        ref = _t(x).reshape((n,) + expect).numpy()
        assert y.shape == ref.shape and rel_error(y, ref) < 1e-12
        assert layer.compute_output_shape((None, 3, 4)) == (None,) + expect
        check_layer(Reshape(target), x)
    assert Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)


def test_repeat_vector(rng, float64):
    n = _batch(rng)
    x = rng.normal(size=(n, 3))
    layer = RepeatVector(4)
    y, _ = layer.forward(x)
    ref = _t(x).unsqueeze(1).expand(n, 4, 3).numpy()
    assert y.shape == (n, 4, 3) and rel_error(y, ref) < 1e-12
    assert layer.compute_output_shape((None, 3)) == (None, 4, 3)
    check_layer(RepeatVector(4), x)


@pytest.mark.parametrize("dims", [(2, 1), (1, 2), (3, 1, 2), (2, 3, 1)])
def test_permute(dims, rng, float64):
    n = _batch(rng)
    shape = (n, 2, 3) if len(dims) == 2 else (n, 2, 3, 4)
    x = rng.normal(size=shape)
    layer = Permute(dims)
    y, _ = layer.forward(x)
    ref = _t(x).permute((0,) + dims).numpy()
    assert y.shape == ref.shape and rel_error(y, ref) < 1e-12
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + ref.shape[1:]
    check_layer(Permute(dims), x)


def test_cropping_and_zero_padding(rng, float64):
    n = _batch(rng)
    x = rng.normal(size=(n, 6, 3))
    y, _ = Cropping1D((1, 2)).forward(x)
    np.testing.assert_array_equal(y, x[:, 1:4])
    assert Cropping1D((1, 2)).compute_output_shape((None, 6, 3)) == (None, 3, 3)
    check_layer(Cropping1D((1, 2)), x)
    check_layer(Cropping1D(2), x)
    y, _ = ZeroPadding1D((2, 1)).forward(x)
    ref = F.pad(_t(x), (0, 0, 2, 1)).numpy()
    assert y.shape == (n, 9, 3) and rel_error(y, ref) < 1e-12
    assert ZeroPadding1D(1).compute_output_shape((None, None, 3)) == (None, None, 3)
    check_layer(ZeroPadding1D((2, 1)), x)


# ---------------------------------------------------------------------------- Masking
@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_values_mask_and_gradient(mask_value, rng, float64):
    n, t, d = 3, 5, 4
    x = rng.normal(size=(n, t, d))
    x[0, 1] = mask_value                      # fully masked steps
    x[2, 3:] = mask_value
    x[1, 2, :3] = mask_value                  # partly equal to mask_value: not masked
    keep = np.ones((n, t), dtype=bool)
    keep[0, 1] = False
    keep[2, 3:] = False
    layer = Masking(mask_value)
    np.testing.assert_array_equal(layer.compute_mask(x, None), keep)
    y, backward = layer.forward(x)
    np.testing.assert_array_equal(y, np.where(keep[..., None], x, 0.0))
    R = rng.normal(size=y.shape)
    dx = backward(R)
    # Masked entries: the mask is piecewise constant, so autodiff of x * keep gives 0 there.
    assert np.all(dx[~keep] == 0.0)
    # Elsewhere, central differences (a perturbation there cannot change the mask).
    num = numeric_grad(lambda: float(np.sum(layer.forward(x)[0] * R)), x)
    assert rel_error(dx[keep], num[keep]) < 1e-6


def test_masking_ignores_incoming_mask_and_keeps_dtype(rng):
    x = rng.normal(size=(2, 3, 2)).astype(np.float32)
    x[1, 0] = 0.0
    layer = Masking()
    incoming = np.ones((2, 3), dtype=bool)
    m = layer.compute_mask(x, incoming)
    np.testing.assert_array_equal(m, [[True, True, True], [False, True, True]])
    assert layer(x).dtype == np.float32


# ---------------------------------------------------------------------------- masks through merges
def test_elementwise_merge_masks_are_anded(rng):
    x = [rng.normal(size=(2, 4, 3)) for _ in range(3)]
    m1 = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], dtype=bool)
    m2 = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], dtype=bool)
    for cls in [Add, Multiply, Average, Maximum, Minimum]:
        layer = cls()
        np.testing.assert_array_equal(layer.compute_mask(x, [m1, m2, None]), m1 & m2)
        np.testing.assert_array_equal(layer.compute_mask(x, [None, m2, None]), m2)
        assert layer.compute_mask(x, [None, None, None]) is None
        assert layer.compute_mask(x, None) is None
    np.testing.assert_array_equal(Subtract().compute_mask(x[:2], [m1, m2]), m1 & m2)
    with pytest.raises(ValueError, match="3 inputs but 2 masks"):
        Add(name="mask_add").compute_mask(x, [m1, m2])


def test_concatenate_masks(rng):
    a, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 5))
    m1 = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], dtype=bool)
    m2 = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], dtype=bool)
    cat = Concatenate(axis=-1)
    np.testing.assert_array_equal(cat.compute_mask([a, b], [m1, m2]), m1 & m2)
    np.testing.assert_array_equal(cat.compute_mask([a, b], [m1, None]), m1)
    assert cat.compute_mask([a, b], [None, None]) is None
    assert cat.compute_mask([a, b], None) is None
    # Along time (axis 1) the masks are concatenated, an absent one counting as all-True.
    c = rng.normal(size=(2, 2, 3))
    m3 = np.array([[0, 1], [1, 0]], dtype=bool)
    time_cat = Concatenate(axis=1)
    np.testing.assert_array_equal(time_cat.compute_mask([a, c], [m1, m3]),
                                  np.concatenate([m1, m3], axis=1))
    np.testing.assert_array_equal(time_cat.compute_mask([a, c], [None, m3]),
                                  np.concatenate([np.ones((2, 4), bool), m3], axis=1))


def test_layers_that_drop_the_mask(rng):
    m = np.ones((2, 4), dtype=bool)
    x = rng.normal(size=(2, 4, 3))
    assert Dot(axes=2).compute_mask([x, x], [m, m]) is None
    assert Reshape((12,)).compute_mask(x, m) is None
    assert Permute((2, 1)).compute_mask(x, m) is None
    assert RepeatVector(2).compute_mask(x[:, 0], m[:, 0]) is None
    assert Cropping1D(1).compute_mask(x, m) is None
    assert ZeroPadding1D(1).compute_mask(x, m) is None


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls,verb", [(Add, "added"), (Subtract, "subtracted"),
                                      (Multiply, "multiplied"), (Average, "averaged"),
                                      (Maximum, "compared"), (Minimum, "compared")])
def test_merge_shape_mismatch_names_layer(cls, verb):
    name = f"my_{cls.__name__.lower()}"
    expected = (f"Layer '{name}' \\({cls.__name__}\\): inputs have shapes \\(None, 3\\) and "
                f"\\(None, 4\\), which cannot be {verb}")
    with pytest.raises(ValueError, match=expected):
        cls(name=name).build([(None, 3), (None, 4)])
    with pytest.raises(ValueError, match=expected):
        cls(name=name)([np.ones((2, 3)), np.ones((2, 4))])
    layer = cls(name=name)
    layer.build([(None, 3), (None, 3)])
    with pytest.raises(ValueError, match=f"Layer '{name}'.*shapes \\(2, 3\\) and \\(2, 4\\)"):
        layer.forward([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="batch sizes differ"):
        cls(name=name).forward([np.ones((2, 3)), np.ones((3, 3))])


@pytest.mark.parametrize("cls", ELEMENTWISE + [Concatenate, Dot])
def test_merge_needs_a_list_of_inputs(cls):
    kwargs = {"axes": 1} if cls is Dot else {}
    need = "exactly 2" if cls in (Subtract, Dot) else "at least 2"
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=f"Layer '.*' \\({cls.__name__}\\) should be called on a "
                                         f"list of {need} inputs, got a single"):
        cls(**kwargs)(x)
    with pytest.raises(ValueError, match=f"list of {need} inputs, got 1"):
        cls(**kwargs)([x])
    with pytest.raises(ValueError, match=f"list of {need} inputs, got 1"):
        cls(**kwargs).build([(None, 3)])
    with pytest.raises(ValueError, match="got a single array"):
        cls(**kwargs).forward(x)


def test_two_input_layers_reject_three():
    x = np.ones((2, 3))
    for layer in (Subtract(name="sub3"), Dot(axes=1, name="dot3")):
        with pytest.raises(ValueError, match="exactly 2 inputs, got 3"):
            layer([x, x, x])


def test_concatenate_errors():
    with pytest.raises(ValueError, match="Layer 'cat' \\(Concatenate\\): inputs have shapes "
                                         "\\(None, 3, 4\\) and \\(None, 5, 2\\), which cannot be "
                                         "concatenated along axis 1"):
        Concatenate(axis=1, name="cat").build([(None, 3, 4), (None, 5, 2)])
    with pytest.raises(ValueError, match="ranks differ"):
        Concatenate(name="cat2")([np.ones((2, 3)), np.ones((2, 3, 1))])
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        Concatenate(axis=3).build([(None, 3, 4), (None, 3, 4)])
    with pytest.raises(TypeError, match="axis must be an integer"):
        Concatenate(axis="last")


def test_dot_errors():
    with pytest.raises(ValueError, match="Layer 'd' \\(Dot\\): inputs have shapes \\(None, 3\\) "
                                         "and \\(None, 4\\), which cannot be dotted"):
        Dot(axes=1, name="d").build([(None, 3), (None, 4)])
    with pytest.raises(ValueError, match="batch axis"):
        Dot(axes=0).build([(None, 3), (None, 3)])
    with pytest.raises(ValueError, match="out of range"):
        Dot(axes=(1, 3)).build([(None, 3), (None, 3)])
    with pytest.raises(ValueError, match="rank >= 2"):
        Dot(axes=1).forward([np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match="pair of integers"):
        Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="pair of integers"):
        Dot(axes="1")


def test_reshaping_errors():
    with pytest.raises(ValueError, match="Layer 'rs' \\(Reshape\\): cannot reshape an input of "
                                         "shape \\(None, 3, 4\\) \\(12 values per sample\\) to "
                                         "target_shape \\(5, 2\\)"):
        Reshape((5, 2), name="rs")(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="cannot reshape"):
        Reshape((5, 2)).compute_output_shape((None, 3, 4))
    with pytest.raises(ValueError, match="not a multiple of 5"):
        Reshape((-1, 5)).build((None, 3, 4))
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match="positive or -1"):
        Reshape((0, 3))
    with pytest.raises(TypeError, match="tuple of integers"):
        Reshape(12)
    with pytest.raises(ValueError, match="permutation of 1..2"):
        Permute((0, 1))
    with pytest.raises(ValueError, match="Layer 'pm' \\(Permute\\).*rank 3"):
        Permute((2, 1), name="pm")(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Layer 'rv' \\(RepeatVector\\) expects inputs of rank 2"):
        RepeatVector(2, name="rv")(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="positive"):
        RepeatVector(0)
    with pytest.raises(ValueError, match="leaves no steps"):
        Cropping1D((2, 2))(np.ones((1, 4, 3)))
    with pytest.raises(ValueError, match="non-negative integer or a pair"):
        ZeroPadding1D((1, -1))
    with pytest.raises(TypeError, match="mask_value must be a number"):
        Masking("0")


def test_non_finite_and_non_numeric_inputs_are_rejected():
    with pytest.raises(ValueError, match="non-finite"):
        Add()([np.ones((2, 3)), np.full((2, 3), np.nan)])
    with pytest.raises(TypeError, match="numeric input 1"):
        Add(name="strs").forward([np.ones((2, 1)), np.array([["a"], ["b"]])])


# ---------------------------------------------------------------------------- config round trip
def _all_layers():
    return [
        (Add(), [(2, 3), (2, 3)]), (Subtract(), [(2, 3), (2, 3)]),
        (Multiply(), [(2, 3), (2, 3)]), (Average(), [(2, 3), (2, 3)]),
        (Maximum(), [(2, 3), (2, 3)]), (Minimum(), [(2, 3), (2, 3)]),
        (Concatenate(axis=1), [(2, 3, 2), (2, 1, 2)]),
        (Dot(axes=(1, 2), normalize=True), [(2, 3, 4), (2, 5, 3)]),
        (Dot(axes=-1), [(2, 3), (2, 3)]),
        (Reshape((-1, 2)), (2, 3, 4)), (RepeatVector(3), (2, 4)), (Permute((2, 1)), (2, 3, 4)),
        (Masking(-1.0), (2, 3, 4)), (Cropping1D((1, 0)), (2, 3, 4)), (ZeroPadding1D(2), (2, 3, 4)),
    ]


def test_config_round_trip(rng):
    for layer, shapes in _all_layers():
        cfg = json.loads(json.dumps(layer.get_config()))
        clone = type(layer).from_config(cfg)
        assert clone.get_config() == layer.get_config()
        x = [rng.normal(size=s) for s in shapes] if isinstance(shapes, list) \
            else rng.normal(size=shapes)
        np.testing.assert_array_equal(clone(x), layer(x))
        shape_in = [(None,) + s[1:] for s in shapes] if isinstance(shapes, list) \
            else (None,) + shapes[1:]
        assert layer.compute_output_shape(shape_in) == (None,) + np.shape(layer(x))[1:]

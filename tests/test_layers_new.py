"""The layers and options users reach for next: SpatialDropout1D, GaussianNoise, GaussianDropout,
ActivityRegularization, Lambda, constraints, activity_regularizer, Embedding(weights=...),
activations as objects and rnnlab.utils.to_categorical, against Keras 3 where it has the same
thing, with finite differences, saving and get_config round trips."""
import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rnnlab
from rnnlab import activations, config, constraints, regularizers
from rnnlab.layers import (
    GRU,
    LSTM,
    RNN,
    ActivityRegularization,
    Bidirectional,
    Dense,
    Embedding,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    Lambda,
    SimpleRNN,
    SimpleRNNCell,
    SpatialDropout1D,
    TimeDistributed,
)
from rnnlab.models.saving import ModelFileError
from rnnlab.optimizers import SGD
from rnnlab.registry import custom_object_scope
from rnnlab.testing import check_gradients
from rnnlab.utils import to_categorical


def double(x):
    return 2.0 * x


def double_backward(x, dy):
    return 2.0 * dy


def scaled_sum(x, factor):
    return factor * x.sum(axis=1)


def scaled_sum_backward(x, dy, factor):
    return np.repeat(factor * dy[:, None, :], x.shape[1], axis=1)


cube = activations.ActivationFn("cube", lambda z: z ** 3, lambda z, y, dy: dy * 3.0 * z * z)


def _np(t):
    return keras.ops.convert_to_numpy(t)


# ------------------------------------------------------------------------------ constraints
CONSTRAINTS = [
    (constraints.MaxNorm(), keras.constraints.MaxNorm()),
    (constraints.MaxNorm(0.7, axis=1), keras.constraints.MaxNorm(0.7, axis=1)),
    (constraints.MaxNorm(1.0, axis=[0, 1]), keras.constraints.MaxNorm(1.0, axis=[0, 1])),
    (constraints.NonNeg(), keras.constraints.NonNeg()),
    (constraints.UnitNorm(), keras.constraints.UnitNorm()),
    (constraints.UnitNorm(axis=-1), keras.constraints.UnitNorm(axis=-1)),
    (constraints.MinMaxNorm(0.5, 1.5, rate=0.7), keras.constraints.MinMaxNorm(0.5, 1.5, 0.7)),
    (constraints.MinMaxNorm(axis=[0, 2]), keras.constraints.MinMaxNorm(axis=[0, 2])),
]


@pytest.mark.parametrize("ours,ref", CONSTRAINTS, ids=lambda c: repr(c))
def test_constraints_equal_keras(ours, ref):
    rng = np.random.default_rng(0)
    w = (rng.normal(size=(4, 3, 5)) * rng.uniform(0.05, 3.0, size=(1, 1, 5))).astype("float32")
    got = ours(w)
    assert got.dtype == w.dtype and got.shape == w.shape
    np.testing.assert_allclose(got, _np(ref(w)), rtol=1e-6, atol=1e-7)
    # by name and from its config, as Keras
    assert constraints.get(constraints.serialize(ours)).get_config() == ours.get_config()
    assert ours.get_config() == ref.get_config() or isinstance(ours, constraints.NonNeg)


def test_constraints_by_keras_name_and_bad_arguments():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    with pytest.raises(ValueError, match="Unknown constraint 'maxnorm2'"):
        constraints.get("maxnorm2")
    with pytest.raises(TypeError, match="constraint must be"):
        Dense(2, kernel_constraint=3.0)
    with pytest.raises(ValueError, match="min_value <= max_value"):
        constraints.MinMaxNorm(2.0, 1.0)
    with pytest.raises(ValueError, match="rate must be in"):
        constraints.MinMaxNorm(rate=2)
    with pytest.raises(ValueError, match="axis=5 is out of range"):
        constraints.UnitNorm(axis=5)(np.ones((2, 2)))


def test_one_sgd_step_with_constraints_and_activity_regularization_equals_keras():
    """Keras 3 applies each constraint after the update and adds regularizer(output) / batch
    size of every activity regularizer to the loss."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    ref = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(3, activation="tanh", kernel_constraint=keras.constraints.MaxNorm(0.4),
                           activity_regularizer=keras.regularizers.L1L2(0.01, 0.02)),
        keras.layers.ActivityRegularization(l1=0.03, l2=0.05),
        keras.layers.Dense(1, bias_constraint=keras.constraints.NonNeg(),
                           kernel_constraint=keras.constraints.UnitNorm())])
    ref.compile(keras.optimizers.SGD(0.5), "mse")
    ours = rnnlab.Sequential([
        Dense(3, activation="tanh", input_shape=(4,), kernel_constraint=constraints.MaxNorm(0.4),
              activity_regularizer=regularizers.l1_l2(0.01, 0.02)),
        ActivityRegularization(l1=0.03, l2=0.05),
        Dense(1, bias_constraint="non_neg", kernel_constraint="unit_norm")])
    ours.compile(SGD(0.5), "mse")
    weights = [rng.normal(size=w.shape).astype("float32") for w in ref.get_weights()]
    weights[-1][:] = -0.3                                   # the step must push it back to 0
    ref.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0, batch_size=8),
                               ref.evaluate(x, y, verbose=0, batch_size=8), rtol=1e-5)
    ref_loss = float(ref.train_on_batch(x, y))
    loss = ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(ours.get_weights()[0], axis=0).max() <= 0.4 + 1e-6
    assert ours.get_weights()[-1].min() >= 0


def test_constraints_reach_recurrent_wrapped_and_embedding_weights():
    config.set_random_seed(2)
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(12, 4)) * 3
    frozen = Embedding(12, 4, weights=[matrix], trainable=False,
                       embeddings_constraint=constraints.UnitNorm(axis=1))
    inp = rnnlab.Input((5,), dtype="int32")
    a = LSTM(3, recurrent_constraint=constraints.MaxNorm(0.2), return_sequences=True)(frozen(inp))
    b = Bidirectional(GRU(2, kernel_constraint="non_neg"))(a)
    emb2 = Embedding(12, 3, embeddings_constraint=constraints.UnitNorm(axis=1))(inp)
    out = Dense(1)(rnnlab.layers.Concatenate()([b, SimpleRNN(2, bias_constraint="non_neg",
                                                           bias_initializer="ones")(emb2)]))
    model = rnnlab.Model(inp, out)
    model.compile("adam", "mse")
    x = rng.integers(0, 12, size=(20, 5))
    model.fit(x, rng.normal(size=(20, 1)), epochs=2, batch_size=5, verbose=0)
    np.testing.assert_array_equal(frozen.get_weights()[0], matrix.astype("float32"))
    lstm = [layer for layer in model.layers if isinstance(layer, LSTM)][0]
    assert np.linalg.norm(lstm.params["recurrent_kernel"], axis=0).max() <= 0.2 + 1e-6
    bidi = [layer for layer in model.layers if isinstance(layer, Bidirectional)][0]
    kernels = [v for k, v in bidi.params.items() if k.endswith("/kernel")]
    assert len(kernels) == 2 and all(k.min() >= 0 for k in kernels)
    emb = [layer for layer in model.layers if isinstance(layer, Embedding)
           and layer is not frozen][0]
    np.testing.assert_allclose(np.linalg.norm(emb.params["embeddings"], axis=1), 1.0, rtol=1e-5)


# ------------------------------------------------------------------------------ Embedding
def test_embedding_weights_as_keras_3():
    m = np.arange(12, dtype="float64").reshape(4, 3)
    for weights in ([m], m):
        layer = Embedding(4, 3, weights=weights)
        assert layer.built
        np.testing.assert_array_equal(layer.get_weights()[0], m)
        np.testing.assert_array_equal(layer(np.array([[3, 0]])), m[[[3, 0]]])
    assert "weights" not in layer.get_config()      # saved with the weights, as Keras
    with pytest.raises(ValueError, match=r"weight 'embeddings' has shape \(4, 3\)"):
        Embedding(4, 3, weights=[np.ones((3, 3))])
    with pytest.raises(ValueError, match="non-finite"):
        Embedding(4, 3, weights=[np.full((4, 3), np.nan)])
    keras_layer = keras.layers.Embedding(4, 3, weights=[m])
    np.testing.assert_array_equal(keras_layer.get_weights()[0], m)


# ------------------------------------------------------------------------------ noise layers
def test_spatial_dropout_drops_whole_channels():
    x = np.ones((200, 7, 50), dtype="float32")
    y = SpatialDropout1D(0.3, seed=1)(x, training=True)
    assert (y == y[:, :1, :]).all()                          # the same for every step
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.7)}
    assert abs((y[:, 0, :] == 0).mean() - 0.3) < 0.03
    np.testing.assert_array_equal(SpatialDropout1D(0.3)(x), x)            # inference
    with pytest.raises(ValueError, match="rank 3"):
        SpatialDropout1D(0.3)(np.ones((2, 3)), training=True)


def test_gaussian_noise_and_dropout_statistics_and_seeds():
    x = np.full((400, 250), 2.0)
    noise = GaussianNoise(0.5, seed=3)(x, training=True) - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01
    k = GaussianDropout(0.2, seed=3)(x, training=True) / x
    assert abs(k.mean() - 1) < 0.01 and abs(k.std() - np.sqrt(0.2 / 0.8)) < 0.01
    for layer in (GaussianNoise(0.5), GaussianDropout(0.2)):
        np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(GaussianNoise(0.5, seed=4)(x, training=True),
                                  GaussianNoise(0.5, seed=4)(x, training=True))
    with pytest.raises(ValueError, match="stddev must be in"):
        GaussianNoise(1.5)
    with pytest.raises(ValueError, match="rate must be in"):
        GaussianDropout(1.0)


# ------------------------------------------------------------------------------ every new layer
NEW_LAYERS = [
    lambda: SpatialDropout1D(0.3, seed=5),
    lambda: GaussianNoise(0.2, seed=5),
    lambda: GaussianDropout(0.3),
    lambda: ActivityRegularization(l1=0.01, l2=0.1),
    lambda: Lambda(double, backward=double_backward),
    lambda: Dense(3, activity_regularizer="l2"),
]


@pytest.mark.parametrize("make", NEW_LAYERS, ids=lambda f: type(f()).__name__)
@pytest.mark.parametrize("training", [False, True])
def test_new_layers_pass_finite_differences(make, training):
    x = np.random.default_rng(6).normal(size=(3, 4, 3))
    check_gradients(make(), x, training=training, seed=11)


@pytest.mark.parametrize("make", NEW_LAYERS, ids=lambda f: type(f()).__name__)
def test_new_layers_save_load_exactly_and_round_trip_their_config(tmp_path, make):
    config.set_random_seed(7)
    layer = make()
    cfg = layer.get_config()
    functions = {"double": double, "double_backward": double_backward}
    with custom_object_scope(functions):       # a Lambda's functions are found by name
        assert type(layer).from_config(cfg).get_config() == cfg
    model = rnnlab.Sequential([Dense(3, input_shape=(4, 3)), layer, Flatten(), Dense(1)])
    model.compile("adam", "mse")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(12, 4, 3))
    model.fit(x, rng.normal(size=(12, 1)), epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "m.rnnlab")
    back = rnnlab.load_model(tmp_path / "m.rnnlab", custom_objects=functions)
    np.testing.assert_array_equal(model.predict(x, verbose=0), back.predict(x, verbose=0))
    assert back.layers[1].get_config() == layer.get_config()


def test_activity_regularizer_goes_to_the_recurrent_layer_not_its_cell():
    layer = SimpleRNN(3, activity_regularizer="l2")
    assert layer.activity_regularizer is not None and layer.cell.activity_regularizer is None
    cfg = layer.get_config()
    assert cfg["activity_regularizer"]["class_name"] == "Regularizer"
    assert SimpleRNN.from_config(cfg).activity_regularizer.l2 == 0.01
    assert "activity_regularizer" not in Dense(2).get_config()      # as Keras: only when set
    # a layer the model does not call itself would ignore it: refused, not silently dropped
    for make in (lambda: TimeDistributed(Dense(2, activity_regularizer="l2")),
                 lambda: Bidirectional(LSTM(2, activity_regularizer="l1")),
                 lambda: RNN(SimpleRNNCell(2, activity_regularizer="l1"))):
        with pytest.raises(ValueError, match="inner layer .* has an activity_regularizer"):
            make()


# ------------------------------------------------------------------------------ Lambda
def test_lambda_predicts_without_backward_but_fit_refuses_it_at_the_start():
    config.set_random_seed(8)
    model = rnnlab.Sequential([Dense(2, input_shape=(3,)), Lambda(np.sin, name="sine"),
                               Dense(1)])
    x = np.random.default_rng(8).normal(size=(6, 3))
    dense = model.layers[0]
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.layers[2](np.sin(dense(x))), rtol=1e-6)
    model.compile("sgd", "mse")
    start = model.get_weights()
    for train in (lambda: model.fit(x, np.zeros((6, 1)), verbose=0),
                  lambda: model.train_on_batch(x, np.zeros((6, 1)))):
        with pytest.raises(TypeError, match="Layer 'sine' \\(Lambda\\) has no backward "
                                            "function"):
            train()
        for a, b in zip(start, model.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert model.optimizer.iterations == 0


def test_lambda_arguments_output_shape_and_saving(tmp_path):
    layer = Lambda(scaled_sum, backward=scaled_sum_backward, arguments={"factor": 0.5})
    assert layer.compute_output_shape((None, None, 3)) == (None, 3)
    assert Lambda(double, output_shape=(7,)).compute_output_shape((None, 2)) == (None, 7)
    check_gradients(layer, np.random.default_rng(9).normal(size=(2, 5, 3)))
    model = rnnlab.Sequential([rnnlab.Input((5, 3)), layer, Dense(1)])
    model.compile("sgd", "mse")
    model.save(tmp_path / "m.rnnlab")
    with pytest.raises(ModelFileError, match="'scaled_sum' is not known here"):
        rnnlab.load_model(tmp_path / "m.rnnlab")
    back = rnnlab.load_model(tmp_path / "m.rnnlab", custom_objects={
        "scaled_sum": scaled_sum, "scaled_sum_backward": scaled_sum_backward})
    x = np.random.default_rng(9).normal(size=(4, 5, 3))
    np.testing.assert_array_equal(model.predict(x, verbose=0), back.predict(x, verbose=0))
    anonymous = rnnlab.Sequential([rnnlab.Input((3,)), Lambda(lambda v: v + 1)])
    with pytest.raises(ValueError, match="Python lambda"):
        anonymous.save(tmp_path / "a.rnnlab")
    assert not (tmp_path / "a.rnnlab").exists()


# ------------------------------------------------------------------------------ activations
def test_activations_as_objects_and_a_users_activation_with_its_derivative(tmp_path):
    x = np.random.default_rng(10).normal(size=(5, 4)).astype("float32")
    by_name, by_object = Dense(3, activation="relu"), Dense(3, activation=activations.relu)
    by_name(x)
    by_object(x)
    by_object.set_weights(by_name.get_weights())
    np.testing.assert_array_equal(by_name(x), by_object(x))
    assert by_object.get_config()["activation"] == "relu"
    np.testing.assert_array_equal(activations.tanh(x), np.tanh(x))
    with pytest.raises(TypeError, match="plain callable is not accepted.*ActivationFn"):
        Dense(3, activation=np.tanh)
    with pytest.raises(ValueError, match="taken by rnnlab's own"):
        Dense(3, activation=activations.ActivationFn("tanh", np.tanh, lambda z, y, dy: dy))
    check_gradients(Dense(3, activation=cube), x.astype("float64"))
    check_gradients(GRU(2, activation=cube, recurrent_activation=cube, return_sequences=True),
                    np.random.default_rng(10).normal(size=(2, 3, 4)) * 0.5)
    config.set_random_seed(10)
    model = rnnlab.Sequential([rnnlab.Input((3, 4)), LSTM(2, activation=cube), Dense(1, cube)])
    model.compile("sgd", "mse")
    model.save(tmp_path / "m.rnnlab")
    with pytest.raises(ModelFileError, match="Unknown activation 'cube'"):
        rnnlab.load_model(tmp_path / "m.rnnlab")
    back = rnnlab.load_model(tmp_path / "m.rnnlab", custom_objects={"cube": cube})
    xs = np.random.default_rng(10).normal(size=(4, 3, 4))
    np.testing.assert_array_equal(model.predict(xs, verbose=0), back.predict(xs, verbose=0))


# ------------------------------------------------------------------------------ to_categorical
@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
                  elements=st.integers(0, 5)),
       st.one_of(st.none(), st.integers(6, 8)))
def test_to_categorical_equals_keras(labels, num_classes):
    got = to_categorical(labels, num_classes)
    ref = keras.utils.to_categorical(labels, num_classes)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_to_categorical_trailing_one_and_bad_ids():
    assert to_categorical([[1], [0], [2]]).shape == (3, 3)
    np.testing.assert_array_equal(to_categorical([0.0, 2.0]), [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="negative class id -1"):
        to_categorical([0, -1])
    with pytest.raises(ValueError, match="class id 3 >= num_classes=3"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="whole-number class ids, got 1.5"):
        to_categorical([1.5])
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical([1], num_classes=0)

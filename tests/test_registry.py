"""One registry per kind: users' layers saved and loaded by name, clear errors for unregistered
ones, initializers/regularizers/losses/optimizers rebuilt from their configs, and a models
package that imports one way (no cycle)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import rnnlab
from rnnlab import (
    Input,
    Model,
    Sequential,
    initializers,
    losses,
    optimizers,
    regularizers,
)
from rnnlab.layers import LAYERS, LSTM, Bidirectional, Dense, Layer, TimeDistributed
from rnnlab.models import saving
from rnnlab.registry import register_serializable


@register_serializable(package="TestPkg")
class Scale(Layer):
    """y = factor · x (no weights), a user's layer registered for saving."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        return x * self.factor, lambda dy: dy * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Unregistered(Scale):
    pass


def test_builtin_layers_are_registered_by_class_name():
    assert LAYERS.get_class("LSTM") is LSTM
    assert LAYERS.name_of(Dense(2)) == "Dense"
    assert LAYERS.name_of(Scale()) == "TestPkg>Scale"


def test_registered_custom_layer_saves_and_loads(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model = Sequential([Dense(4, input_shape=(3,)), Scale(3.0, name="scale"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    path = tmp_path / "custom.rnnlab"
    model.save(path)
    loaded = rnnlab.load_model(path)
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 3.0
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    # nested inside a wrapper, in a functional model
    inp = Input((2, 3))
    out = TimeDistributed(Scale(0.5, name="half"), name="td")(inp)
    fm = Model(inp, out)
    again = saving.load_model(saving.model_bytes(fm))
    assert isinstance(again.layers[0].layer, Scale) and again.layers[0].layer.factor == 0.5


def test_unregistered_custom_layer_names_the_decorator(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,)), Unregistered(name="u")])
    with pytest.raises(ValueError, match="register_serializable"):
        model.save(tmp_path / "u.rnnlab")
    assert not (tmp_path / "u.rnnlab").exists()


def test_custom_objects_find_a_class_missing_from_the_registry():
    data = saving.model_bytes(Sequential([Dense(2, input_shape=(3,)), Scale(name="s")]))
    name = LAYERS.name_of(Scale)
    del LAYERS._classes[name]
    try:
        with pytest.raises(saving.ModelFileError, match="register_serializable"):
            saving.load_model(data)
        loaded = saving.load_model(data, custom_objects={"Scale": Scale})
        assert isinstance(loaded.layers[1], Scale)
    finally:
        LAYERS._classes[name] = Scale


@pytest.mark.parametrize("init", [initializers.get("glorot_uniform"), initializers.Constant(0.3),
                                  initializers.Orthogonal(gain=2.0), initializers.get("zeros")])
def test_initializer_round_trips_through_its_config(init):
    spec = json.loads(json.dumps(initializers.serialize(init)))
    again = initializers.get(spec)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    rng = np.random.default_rng(1)
    a = init((3, 3), "float64", np.random.default_rng(1))
    np.testing.assert_array_equal(a, again((3, 3), "float64", rng))


def test_other_kinds_round_trip_through_their_configs():
    reg = regularizers.l1_l2(0.1, 0.2)
    assert regularizers.get(regularizers.serialize(reg)).get_config() == reg.get_config()
    assert regularizers.get({"l1": 0.5, "l2": 0.0}).l1 == 0.5      # files from before the registry
    loss = losses.get("huber")
    assert type(losses.get(losses.serialize(loss))) is type(loss)
    opt = optimizers.Adam(0.02, beta_1=0.8)
    assert optimizers.get(optimizers.serialize(opt)).get_config() == opt.get_config()


def test_layer_configs_rebuild_with_the_default_from_config():
    layer = Dense(3, kernel_initializer=initializers.RandomNormal(0.0, 0.2),
                  kernel_regularizer=regularizers.l2(0.01), name="d")
    clone = Dense.from_config(json.loads(json.dumps(layer.get_config())))
    assert clone.get_config() == layer.get_config()


def test_model_asks_layers_for_step_units_and_sublayers():
    bi = Bidirectional(LSTM(70), input_shape=(5, 2))
    assert [type(l) for l in bi.sublayers()] == [LSTM, LSTM]
    assert bi.step_units() == 0 and bi.sublayers()[0].step_units() == 70
    assert Sequential([bi, Dense(1)])._step_units() == 70
    assert Sequential([Dense(1, input_shape=(2,))])._step_units() == 0


def test_models_package_imports_without_a_cycle():
    for module in ("rnnlab.models.saving", "rnnlab.models.serialization", "rnnlab.models.graph",
                   "rnnlab.models.sequential"):
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)

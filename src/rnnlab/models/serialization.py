"""Models to configs and back: the one place that writes and reads a model's architecture.

A model's config is JSON-able.  Its layers are ``{"class_name", "config"}`` dicts made by the one
layer registry (:data:`rnnlab.layers.base.LAYERS`), so a user's layer registered with
``@rnnlab.registry.register_serializable()`` is saved and rebuilt like a built-in one.  Model
classes are found by name in :data:`MODELS` (Sequential and Functional register themselves), so
this module and saving know no concrete model class.
"""
from __future__ import annotations

import json

from rnnlab import checks
from rnnlab import losses as _losses
from rnnlab import metrics as _metrics
from rnnlab import optimizers as _opt
from rnnlab.layers.base import LAYERS
from rnnlab.models.graph import InputSpec, Node
from rnnlab.registry import Registry, custom_object_scope

#: The model classes by name (the base, rnnlab.models.model.Model, is set when it is defined).
MODELS = Registry("model")


# ------------------------------------------------------------------------------ whole models
def serialize_model(model) -> dict:
    """``{"class_name", "config"}`` of a model."""
    return MODELS.serialize(model)


def deserialize_model(spec: dict, custom_objects: dict | None = None):
    """A new model (fresh weights) from :func:`serialize_model`'s dict; ValueError naming an
    unknown model or layer class or a malformed config.  ``custom_objects`` (name -> class) are
    seen by every lookup, nested layers included."""
    name = _field(spec, "class_name", str, "the model spec")
    cls = MODELS.get_class(name, custom_objects)
    return cls.from_config(_field(spec, "config", dict, "the model spec"), custom_objects)


def model_from_json(json_string, custom_objects: dict | None = None):
    """A new model (fresh weights) from ``model.to_json()``'s architecture (Keras's
    ``model_from_json``); ``custom_objects`` maps names to users' classes."""
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(f"model_from_json() needs a JSON string, got {type(json_string).__name__}")
    try:
        spec = json.loads(json_string)
    except ValueError as exc:
        raise ValueError(f"model_from_json(): not valid JSON: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise ValueError("model_from_json() needs the JSON of model.to_json(): an object with "
                         "'class_name' and 'config'")
    return deserialize_model(spec, custom_objects)


def _set_trainable(model, cfg: dict) -> None:
    """The model's own flag from its config; its layers' flags are in their own configs."""
    trainable = cfg.get("trainable", True)
    if not isinstance(trainable, bool):
        raise ValueError(f"model config 'trainable' must be true or false, got {trainable!r}")
    model._trainable = trainable


def _field(cfg, key: str, kinds, what: str, optional: bool = False):
    """``cfg[key]``, checked to be one of ``kinds`` (bool is never an int here); ValueError naming
    ``what`` and the key when the value is missing or of another type (a malformed file)."""
    if not isinstance(cfg, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(cfg).__name__}")
    if key not in cfg:
        if optional:
            return None
        raise ValueError(f"{what} has no {key!r}")
    value = cfg[key]
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
        raise ValueError(f"{what}: {key!r} must be {names}, got {value!r:.80}")
    return value


_JSON_NAMES = {type(None): "null", bool: "true or false", int: "an integer", str: "a string",
               list: "a list", dict: "an object"}


def _shape(value, what: str) -> tuple:
    """A batch shape from JSON: a list of None or whole numbers >= 0."""
    if not isinstance(value, list) or not all(
            v is None or (checks.is_int(v) and v >= 0) for v in value):
        raise ValueError(f"{what} must be a list of null or whole numbers >= 0, got {value!r:.80}")
    return tuple(value)


def _index(value, n: int, what: str) -> int:
    if not checks.is_int(value) or not 0 <= value < n:
        raise ValueError(f"{what} must be an index in [0, {n}), got {value!r:.80}")
    return value


def _layers_from(specs) -> list:
    if not isinstance(specs, list):
        raise ValueError(f"the model config: 'layers' must be a list, got {specs!r:.80}")
    return [LAYERS.deserialize(spec) for spec in specs]


# ------------------------------------------------------------------------------ Sequential
def sequential_config(model) -> dict:
    return {"name": model.name, "trainable": model.trainable,
            "input_shape": None if model._input_shape is None else list(model._input_shape),
            "layers": [LAYERS.serialize(layer) for layer in model.layers]}


def sequential_from_config(cls, cfg: dict, custom_objects: dict | None = None):
    what = "the Sequential config"
    model = cls(name=_field(cfg, "name", (str, type(None)), what, optional=True))
    with custom_object_scope(custom_objects):
        for layer in _layers_from(_field(cfg, "layers", list, what)):
            if any(other.name == layer.name for other in model._layers):
                raise ValueError(f"{what} has two layers named {layer.name!r}")
            model._layers.append(layer)
    shape = _field(cfg, "input_shape", (list, type(None)), what, optional=True)
    if shape is not None:
        model.build(_shape(shape, f"{what}'s 'input_shape'"))
    _set_trainable(model, cfg)
    return model


# ------------------------------------------------------------------------------ Functional
def _tensor_ref(model, t, node_pos):
    if t.node is None:
        return ["input", model.inputs.index(t)]
    return [node_pos[id(t.node)], t.index]


def functional_config(model) -> dict:
    """Inputs, layers, nodes (layer index, input tensor references) and outputs; a tensor is
    referenced as ``["input", i]`` or ``[node index, output index]``."""
    nodes = model._nodes
    node_pos = {id(n): i for i, n in enumerate(nodes)}
    layers = model.layers
    specs = []
    for n in nodes:
        spec = {"layer": layers.index(n.layer), "multi_input": n.multi_input,
                "training": n.training,
                "inputs": [_tensor_ref(model, t, node_pos) for t in n.inputs]}
        if n.options:           # a call's settings (Layer.call_options), e.g. use_causal_mask
            spec["options"] = dict(n.options)
        if n.tensor_names:      # names of the last inputs, passed by keyword (call_tensors)
            spec["tensor_names"] = list(n.tensor_names)
        specs.append(spec)
    return {
        "name": model.name,
        "inputs": [{"name": t.name, "batch_shape": list(t.shape), "dtype": t.dtype}
                   for t in model.inputs],
        "layers": [LAYERS.serialize(layer) for layer in layers],
        "nodes": specs,
        "outputs": [_tensor_ref(model, t, node_pos) for t in model.outputs],
    }


def functional_from_config(cls, cfg: dict, custom_objects: dict | None = None):
    what = "the functional model config"
    inputs = []
    for i, spec in enumerate(_field(cfg, "inputs", list, what)):
        w = f"{what}'s input {i}"
        inputs.append(InputSpec(batch_shape=_shape(_field(spec, "batch_shape", list, w),
                                                   f"{w}'s batch_shape"),
                                name=_field(spec, "name", str, w),
                                dtype=_field(spec, "dtype", (str, type(None)), w, optional=True)))
    with custom_object_scope(custom_objects):
        layers = _layers_from(_field(cfg, "layers", list, what))
    nodes = []

    def resolve(ref, w):
        if not isinstance(ref, list) or len(ref) != 2:
            raise ValueError(f"{w} must be ['input', i] or [node, output], got {ref!r:.80}")
        if ref[0] == "input":
            return inputs[_index(ref[1], len(inputs), f"{w}'s input index")]
        node = nodes[_index(ref[0], len(nodes), f"{w}'s node index (an earlier node)")]
        return node.outputs[_index(ref[1], len(node.outputs), f"{w}'s output index")]

    for i, spec in enumerate(_field(cfg, "nodes", list, what)):
        w = f"{what}'s node {i}"
        refs = _field(spec, "inputs", list, w)
        options = _field(spec, "options", (dict, type(None)), w, optional=True)
        tensor_names = _field(spec, "tensor_names", (list, type(None)), w, optional=True)
        if tensor_names is not None and not all(isinstance(n, str) for n in tensor_names):
            raise ValueError(f"{w}: 'tensor_names' must be a list of names")
        nodes.append(Node(layers[_index(_field(spec, "layer", int, w), len(layers),
                                        f"{w}'s layer")],
                          [resolve(r, f"{w}'s input {j}") for j, r in enumerate(refs)],
                          _field(spec, "multi_input", bool, w),
                          _field(spec, "training", (bool, type(None)), w, optional=True),
                          options, tuple(tensor_names or ())))
    outputs = [resolve(r, f"{what}'s output {j}")
               for j, r in enumerate(_field(cfg, "outputs", list, what))]
    model = cls(inputs, outputs, name=_field(cfg, "name", (str, type(None)), what, optional=True))
    _set_trainable(model, cfg)
    return model


# ------------------------------------------------------------------------------ compile settings
def compile_config(model) -> dict | None:
    """The model's compile() arguments (optimizer config and step count included), or None.

    Losses and metrics are written by name or ``{"class_name", "config"}`` (a metric function
    by its name, found again among the built-ins or in ``custom_objects``); ValueError naming
    one that cannot be (a user's class not registered with ``register_serializable``)."""
    opt = model.optimizer
    if opt is None:
        return None
    comp = model._compile_config
    return {"loss": [_losses.serialize(l) for l in comp["loss"]],
            "metrics": [_metrics.serialize(m) for m in comp["metrics"]],
            "weighted_metrics": [_metrics.serialize(m) for m in comp["weighted_metrics"]],
            "loss_weights": comp["loss_weights"], "optimizer": _opt.serialize(opt),
            "iterations": opt.iterations}


def compile_from_config(model, comp: dict, custom_objects: dict | None = None) -> None:
    """Compile ``model`` as :func:`compile_config` describes (the optimizer's slots excepted);
    ValueError naming a missing or malformed setting.  Users' losses and metrics are found by
    their registration or in ``custom_objects``."""
    what = "compile settings"
    specs = _field(comp, "loss", list, what)
    if not specs:
        raise ValueError(f"{what}: 'loss' is empty")
    with custom_object_scope(custom_objects):
        losses = [_losses.get(spec) for spec in specs]
        optimizer = _opt.get(_field(comp, "optimizer", (dict, str), what))
        iterations = checks.non_negative_int(_field(comp, "iterations", int, what), "iterations",
                                             who=what)
        model.compile(optimizer=optimizer, loss=losses if len(losses) > 1 else losses[0],
                      metrics=_field(comp, "metrics", list, what),
                      weighted_metrics=_field(comp, "weighted_metrics", (list, type(None)),
                                              what, optional=True),
                      loss_weights=_field(comp, "loss_weights", (list, type(None)), what,
                                          optional=True))
    model.optimizer.iterations = iterations


__all__ = ["MODELS", "compile_config", "compile_from_config", "deserialize_model",
           "functional_config", "functional_from_config", "model_from_json", "sequential_config",
           "sequential_from_config", "serialize_model"]

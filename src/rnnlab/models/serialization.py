"""Models to configs and back: the one place that writes and reads a model's architecture.

A model's config is JSON-able.  Its layers are ``{"class_name", "config"}`` dicts made by the one
layer registry (:data:`rnnlab.layers.base.LAYERS`), so a user's layer registered with
``@rnnlab.registry.register_serializable()`` is saved and rebuilt like a built-in one.  Model
classes are found by name in :data:`MODELS` (Sequential and Functional register themselves), so
this module and saving know no concrete model class.
"""
from __future__ import annotations

from rnnlab import losses as _losses
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
    unknown model or layer class.  ``custom_objects`` (name -> class) are seen by every lookup,
    nested layers included."""
    cls = MODELS.get_class(spec["class_name"], custom_objects)
    return cls.from_config(spec["config"], custom_objects)


def _layers_from(specs) -> list:
    return [LAYERS.deserialize(spec) for spec in specs]


# ------------------------------------------------------------------------------ Sequential
def sequential_config(model) -> dict:
    return {"name": model.name,
            "input_shape": None if model._input_shape is None else list(model._input_shape),
            "layers": [LAYERS.serialize(layer) for layer in model.layers]}


def sequential_from_config(cls, cfg: dict, custom_objects: dict | None = None):
    model = cls(name=cfg["name"])
    with custom_object_scope(custom_objects):
        model._layers.extend(_layers_from(cfg["layers"]))
    if cfg.get("input_shape") is not None:
        model.build(tuple(cfg["input_shape"]))
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
    inputs = [InputSpec(batch_shape=tuple(i["batch_shape"]), name=i["name"], dtype=i["dtype"])
              for i in cfg["inputs"]]
    with custom_object_scope(custom_objects):
        layers = _layers_from(cfg["layers"])
    nodes = []

    def resolve(ref):
        if ref[0] == "input":
            return inputs[ref[1]]
        return nodes[ref[0]].outputs[ref[1]]

    for spec in cfg["nodes"]:
        nodes.append(Node(layers[spec["layer"]], [resolve(r) for r in spec["inputs"]],
                          spec["multi_input"], spec["training"], spec.get("options"),
                          spec.get("tensor_names", ())))
    return cls(inputs, [resolve(r) for r in cfg["outputs"]], name=cfg["name"])


# ------------------------------------------------------------------------------ compile settings
def compile_config(model) -> dict | None:
    """The model's compile() arguments (optimizer config and step count included), or None."""
    opt = model.optimizer
    if opt is None:
        return None
    return {**model._compile_config, "optimizer": _opt.serialize(opt),
            "iterations": opt.iterations}


def compile_from_config(model, comp: dict) -> None:
    """Compile ``model`` as :func:`compile_config` describes (the optimizer's slots excepted)."""
    losses = [_losses.get(spec) for spec in comp["loss"]]
    model.compile(optimizer=_opt.get(comp["optimizer"]),
                  loss=losses if len(losses) > 1 else losses[0], metrics=comp["metrics"],
                  loss_weights=comp["loss_weights"])
    model.optimizer.iterations = int(comp["iterations"])


__all__ = ["MODELS", "compile_config", "compile_from_config", "deserialize_model",
           "functional_config", "functional_from_config", "sequential_config",
           "sequential_from_config", "serialize_model"]

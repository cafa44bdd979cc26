"""Functional models: ``Input`` and ``Model(inputs, outputs)``, a graph of layer calls.

Calling a layer on a symbolic tensor records a :class:`Node` (the layer, its input tensors, its
output tensors) instead of computing.  ``Model(inputs, outputs)`` orders the nodes that lead from
the inputs to the outputs; running it calls each node's ``layer.forward`` in that order and keeps
the backward closures, then runs them in reverse, summing the gradients of every tensor that feeds
several nodes.  A layer called twice (a Siamese model) appears in two nodes, so its parameter
gradients from both calls add up.  Sequential builds the linear case of the same graph.
"""
from __future__ import annotations

from rnnlab.layers import base as _base
from rnnlab.layers.base import Layer, unique_name
from rnnlab.models.model import Model


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + (
        ",)" if len(shape) == 1 else ")")


class SymbolicTensor:
    """A placeholder for an array flowing through a functional graph (Keras's KerasTensor)."""

    def __init__(self, shape, node=None, index=0, name=None, dtype=None):
        self.shape = tuple(shape)
        self.node = node
        self.index = index
        self.name = name
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        src = self.name if self.node is None else f"{self.node.layer.name}[{self.index}]"
        return f"<SymbolicTensor shape={_fmt(self.shape)} from {src}>"


class InputSpec(SymbolicTensor):
    """A model input: ``Input(shape=(T, m), name=...)``; the batch axis is implicit."""

    def __init__(self, shape=None, name=None, dtype=None, batch_shape=None):
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs a shape (without the batch axis), e.g. Input((None, 1))")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (None,) + tuple(shape)
        for s in batch_shape[1:]:
            if s is not None and (not isinstance(s, int) or s < 0):
                raise ValueError(f"Input shape entries must be non-negative integers or None, got "
                                 f"{tuple(batch_shape[1:])}")
        super().__init__(batch_shape, None, 0, name or unique_name("input_layer"), dtype)


def Input(shape=None, name=None, dtype=None, batch_shape=None):  # noqa: N802 - Keras's name
    """A symbolic input of ``shape`` (batch axis excluded) for building functional models."""
    return InputSpec(shape, name=name, dtype=dtype, batch_shape=batch_shape)


class Node:
    """One call of a layer inside a graph."""

    def __init__(self, layer, inputs, multi_input, training=None):
        self.layer = layer
        self.inputs = list(inputs)
        self.multi_input = multi_input
        self.training = training
        shapes = [t.shape for t in self.inputs]
        in_shape = shapes if multi_input else shapes[0]
        try:
            layer.ensure_built(in_shape)
            out_shape = layer.compute_output_shape(in_shape)
        except (ValueError, TypeError) as exc:
            srcs = ", ".join(_describe(t) for t in self.inputs)
            raise type(exc)(f"{exc} (calling layer {layer.name!r} on {srcs})") from None
        self.multi_output = isinstance(out_shape, list)
        out_shapes = out_shape if self.multi_output else [out_shape]
        self.outputs = [SymbolicTensor(s, self, i) for i, s in enumerate(out_shapes)]


def _describe(t) -> str:
    if t.node is None:
        return f"input {t.name!r} {_fmt(t.shape)}"
    return f"output of {t.node.layer.name!r} {_fmt(t.shape)}"


class _SymbolicHook:
    @staticmethod
    def is_symbolic(x):
        if isinstance(x, (list, tuple)):
            return any(isinstance(v, SymbolicTensor) for v in x)
        return isinstance(x, SymbolicTensor)

    @staticmethod
    def call(layer, x, kwargs):
        kwargs = dict(kwargs)
        initial_state = kwargs.pop("initial_state", None)
        training = kwargs.pop("training", None)
        if kwargs:
            raise TypeError(f"Layer {layer.name!r} got unexpected call argument(s) {sorted(kwargs)}")
        multi = isinstance(x, (list, tuple))
        inputs = list(x) if multi else [x]
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            inputs, multi = inputs + states, True
        bad = [v for v in inputs if not isinstance(v, SymbolicTensor)]
        if bad:
            raise TypeError(f"Layer {layer.name!r} was called on a mix of symbolic tensors and "
                            f"{type(bad[0]).__name__}; use rnnlab.Input for every model input")
        node = Node(layer, inputs, multi, training)
        return node.outputs if node.multi_output else node.outputs[0]


_base._SYMBOLIC_CALL["hook"] = _SymbolicHook()


def _as_tensor_list(value, what):
    items = list(value.values()) if isinstance(value, dict) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    for v in items:
        if not isinstance(v, SymbolicTensor):
            raise TypeError(f"Model {what} must be symbolic tensors from rnnlab.Input and layer "
                            f"calls, got {type(v).__name__}")
    return items


class Functional(Model):
    """``Model(inputs, outputs)``: a directed acyclic graph of layer calls."""

    _default_name = "functional"

    def __init__(self, inputs, outputs, name=None):
        super().__init__(name=name)
        self.inputs = _as_tensor_list(inputs, "inputs")
        self.outputs = _as_tensor_list(outputs, "outputs")
        for t in self.inputs:
            if not isinstance(t, InputSpec):
                raise ValueError(f"Model inputs must come from rnnlab.Input, got {t!r}")
        names = [t.name for t in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"Model inputs have duplicate names: {names}")
        self._nodes = self._order_nodes()
        unused = [t.name for t in self.inputs if not any(t in n.inputs for n in self._nodes)
                  and t not in self.outputs]
        if unused:
            import warnings
            warnings.warn(f"Model input(s) {unused} are not connected to any output; they must "
                          "still be fed", UserWarning, stacklevel=3)
        layer_names = {}
        for node in self._nodes:
            other = layer_names.setdefault(node.layer.name, node.layer)
            if other is not node.layer:
                raise ValueError(f"Two different layers in model {self.name!r} share the name "
                                 f"{node.layer.name!r}; layer names must be unique")

    def _order_nodes(self):
        order, state = [], {}
        inputs = {id(t) for t in self.inputs}

        def visit(tensor, consumer):
            if tensor.node is None:
                if id(tensor) not in inputs:
                    who = f"layer {consumer.layer.name!r}" if consumer else "the model's outputs"
                    raise ValueError(f"Graph disconnected: {who} needs input {tensor.name!r}, which "
                                     f"is not in the model's inputs {[t.name for t in self.inputs]}")
                return
            node = tensor.node
            mark = state.get(id(node))
            if mark == "done":
                return
            if mark == "active":
                raise ValueError(f"The graph has a cycle through layer {node.layer.name!r}")
            state[id(node)] = "active"
            for t in node.inputs:
                visit(t, node)
            state[id(node)] = "done"
            order.append(node)

        for t in self.outputs:
            visit(t, None)
        return order

    # ------------------------------------------------------------------ structure
    @property
    def layers(self):
        seen, out = set(), []
        for node in self._nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                out.append(node.layer)
        return out

    @property
    def input_names(self):
        return [t.name for t in self.inputs]

    @property
    def output_names(self):
        names = []
        for t in self.outputs:
            base = t.node.layer.name if t.node is not None else t.name
            name, k = base, 1
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
        return names

    @property
    def built(self):
        return True

    def _ensure_built_for(self, xs):
        for t, x in zip(self.inputs, xs):
            want = t.shape[1:]
            got = x.shape[1:]
            if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got)):
                raise ValueError(f"Input {t.name!r} expects arrays of shape {_fmt(t.shape)}, got "
                                 f"{x.shape}")

    # ------------------------------------------------------------------ running
    def _forward_batch(self, xs, training):
        values, masks = {}, {}
        for t, x in zip(self.inputs, xs):
            values[id(t)], masks[id(t)] = x, None
        records = []
        for node in self._nodes:
            ins = [values[id(t)] for t in node.inputs]
            ms = [masks[id(t)] for t in node.inputs]
            if node.multi_input:
                x, mask = ins, (None if all(m is None for m in ms) else ms)
            else:
                x, mask = ins[0], ms[0]
            run_training = training if node.training is None else bool(node.training)
            out, back = node.layer.forward(x, training=run_training, mask=mask)
            out_mask = node.layer.compute_mask(x, mask)
            outs = list(out) if node.multi_output else [out]
            out_masks = out_mask if isinstance(out_mask, list) else [out_mask] * len(outs)
            for t, v, m in zip(node.outputs, outs, out_masks):
                values[id(t)], masks[id(t)] = v, m
            records.append((node, back))
        outputs = [values[id(t)] for t in self.outputs]

        def backward(douts):
            grads = {}

            def add(t, g):
                grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g

            for t, d in zip(self.outputs, douts):
                add(t, d)
            for node, back in reversed(records):
                gs = [grads.get(id(t)) for t in node.outputs]
                if all(g is None for g in gs):
                    continue  # nothing downstream of this call reaches a loss
                d_in = back(gs) if node.multi_output else back(gs[0])
                d_ins = d_in if node.multi_input else [d_in]
                for t, g in zip(node.inputs, d_ins):
                    if g is not None:
                        add(t, g)
            return [grads.get(id(t)) for t in self.inputs]

        return outputs, backward

    # ------------------------------------------------------------------ summary / config
    def _summary_rows(self):
        node_index = self._node_indices()
        rows = [(f"{t.name} (InputLayer)", _fmt(t.shape), 0, "") for t in self.inputs]
        for node in self._nodes:
            shapes = [_fmt(t.shape) for t in node.outputs]
            shown = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
            conn = ", ".join(self._ref_name(t, node_index) for t in node.inputs)
            rows.append((f"{node.layer.name} ({type(node.layer).__name__})", shown,
                         node.layer.count_params() if node_index[id(node)] == 0 else 0, conn))
        return rows

    def _node_indices(self):
        per_layer, out = {}, {}
        for node in self._nodes:
            k = per_layer.get(id(node.layer), 0)
            out[id(node)] = k
            per_layer[id(node.layer)] = k + 1
        return out

    @staticmethod
    def _ref_name(t, node_index):
        if t.node is None:
            return f"{t.name}[0][0]"
        return f"{t.node.layer.name}[{node_index[id(t.node)]}][{t.index}]"

    def _tensor_ref(self, t, node_pos):
        if t.node is None:
            return ["input", self.inputs.index(t)]
        return [node_pos[id(t.node)], t.index]

    def get_config(self):
        node_pos = {id(n): i for i, n in enumerate(self._nodes)}
        layers = self.layers
        return {
            "name": self.name,
            "inputs": [{"name": t.name, "batch_shape": list(t.shape), "dtype": t.dtype}
                       for t in self.inputs],
            "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in layers],
            "nodes": [{"layer": layers.index(n.layer), "multi_input": n.multi_input,
                       "training": n.training,
                       "inputs": [self._tensor_ref(t, node_pos) for t in n.inputs]}
                      for n in self._nodes],
            "outputs": [self._tensor_ref(t, node_pos) for t in self.outputs],
        }

    @classmethod
    def from_config(cls, cfg, layer_classes):
        inputs = [InputSpec(batch_shape=tuple(i["batch_shape"]), name=i["name"], dtype=i["dtype"])
                  for i in cfg["inputs"]]
        layers = [layer_classes[s["class_name"]].from_config(s["config"]) for s in cfg["layers"]]
        nodes = []

        def resolve(ref):
            if ref[0] == "input":
                return inputs[ref[1]]
            return nodes[ref[0]].outputs[ref[1]]

        for spec in cfg["nodes"]:
            nodes.append(Node(layers[spec["layer"]], [resolve(r) for r in spec["inputs"]],
                              spec["multi_input"], spec["training"]))
        return cls(inputs, [resolve(r) for r in cfg["outputs"]], name=cfg["name"])


__all__ = ["Input", "InputSpec", "Functional", "SymbolicTensor", "Node", "Layer"]

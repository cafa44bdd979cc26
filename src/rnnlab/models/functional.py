"""Functional models: ``Input`` and ``Model(inputs, outputs)``, a graph of layer calls.

Calling a layer on a symbolic tensor records a :class:`Node` (the layer, its input tensors, its
output tensors) instead of computing.  ``Model(inputs, outputs)`` orders the nodes that lead from
the inputs to the outputs; running it calls each node's ``layer.forward`` in that order and keeps
the backward closures, then runs them in reverse, summing the gradients of every tensor that feeds
several nodes.  A layer called twice (a Siamese model) appears in two nodes, so its parameter
gradients from both calls add up.  Sequential builds the linear case of the same graph.
"""
from __future__ import annotations

import warnings

from rnnlab.checks import format_shape as _fmt
from rnnlab.models.graph import Input, InputSpec, Node, SymbolicTensor
from rnnlab.models.model import Model
from rnnlab.models.serialization import (
    MODELS,
    functional_config,
    functional_from_config,
)


def _as_tensor_list(value, what):
    items = list(value.values()) if isinstance(value, dict) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    for v in items:
        if not isinstance(v, SymbolicTensor):
            raise TypeError(f"Model {what} must be symbolic tensors from rnnlab.Input and layer "
                            f"calls, got {type(v).__name__}")
    return items


@MODELS.register
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
                    raise ValueError(f"Graph disconnected: {who} needs input {tensor.name!r}, "
                                     f"which is not in the model's inputs "
                                     f"{[t.name for t in self.inputs]}")
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

    @property
    def batch_input_shape(self):
        return tuple(self.inputs[0].shape) if len(self.inputs) == 1 else None

    def _build_for_shapes(self, shapes):
        for t, shape in zip(self.inputs, shapes):
            want = t.shape[1:]
            got = shape[1:]
            if len(want) != len(got) or any(w is not None and g is not None and w != g
                                            for w, g in zip(want, got)):
                raise ValueError(f"Model {self.name!r} input {t.name!r} expects shape "
                                 f"{_fmt(t.shape)}, got {_fmt(shape)}")

    def _output_shapes_for(self, shapes):
        """The outputs' shapes for inputs of ``shapes``, each node's compute_output_shape in
        turn (a free time axis of the inner model takes the caller's length)."""
        known = {id(t): tuple(s) for t, s in zip(self.inputs, shapes)}
        for node in self._nodes:
            ins = [known[id(t)] for t in node.inputs]
            out = node.layer.compute_output_shape(ins if node.multi_input else ins[0])
            for t, shape in zip(node.outputs, out if node.multi_output else [out]):
                known[id(t)] = tuple(shape)
        return [known[id(t)] for t in self.outputs]

    # ------------------------------------------------------------------ running
    def _input_readers(self):
        """(input index, layer) for each layer that reads a model input directly."""
        for node in self._nodes:
            if not node.multi_input:
                for i, t in enumerate(self.inputs):
                    if node.inputs[0] is t:
                        yield i, node.layer

    def _run_graph(self, xs, training, in_masks=None):
        """Run the nodes in order: ``(outputs, their masks, backward)``, where
        ``backward(d_outputs)`` (None for an output that reaches no loss) returns the inputs'
        gradients."""
        values, masks = {}, {}
        for i, (t, x) in enumerate(zip(self.inputs, xs)):
            values[id(t)], masks[id(t)] = x, (None if in_masks is None else in_masks[i])
        records, activity = [], 0.0
        for node in self._nodes:
            ins = [values[id(t)] for t in node.layer_inputs]
            ms = [masks[id(t)] for t in node.layer_inputs]
            if node.multi_input:
                x, mask = ins, (None if all(m is None for m in ms) else ms)
            else:
                x, mask = ins[0], ms[0]
            run_training = training if node.training is None else bool(node.training)
            if isinstance(node.layer, Model):       # a model used as a layer: its own masks
                out, out_mask, back = node.layer._forward_masked(x, run_training, mask)
                activity += node.layer.activity_loss
            else:
                extra = {k: values[id(t)] for k, t in zip(node.tensor_names,
                                                          node.inputs[len(ins):])}
                out, back = node.layer.forward(x, training=run_training, mask=mask, **extra,
                                               **node.options)
                out_mask = node.layer.compute_mask(x, mask, **node.options)
            if node.layer.activity_regularizer is not None:
                penalty, back = node.layer.regularize_activity(out, back)
                activity += penalty
            outs = list(out) if node.multi_output else [out]
            out_masks = out_mask if isinstance(out_mask, list) else [out_mask] * len(outs)
            for t, v, m in zip(node.outputs, outs, out_masks):
                values[id(t)], masks[id(t)] = v, m
            records.append((node, back))
        outputs = [values[id(t)] for t in self.outputs]
        self.activity_loss = activity

        def backward(douts):
            grads = {}

            def add(t, g):
                grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g

            for t, d in zip(self.outputs, douts):
                if d is not None:
                    add(t, d)
            for node, back in reversed(records):
                gs = [grads.get(id(t)) for t in node.outputs]
                if all(g is None for g in gs) and node.layer.activity_regularizer is None \
                        and not getattr(node.layer, "activity_loss", 0.0):
                    continue  # nothing downstream of this call reaches a loss
                d_in = back(gs) if node.multi_output else back(gs[0])
                d_ins = d_in if node.multi_input else [d_in]
                for t, g in zip(node.layer_inputs, d_ins):
                    if g is not None:
                        add(t, g)
            return [grads.get(id(t)) for t in self.inputs]

        return outputs, [masks[id(t)] for t in self.outputs], backward

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

    def get_config(self):
        return functional_config(self)

    @classmethod
    def from_config(cls, cfg, custom_objects=None):
        """A new model from :meth:`get_config`'s dict (layer classes from rnnlab.layers.LAYERS,
        or ``custom_objects``)."""
        return functional_from_config(cls, cfg, custom_objects)


__all__ = ["Functional", "Input", "InputSpec", "Node", "SymbolicTensor"]

"""The graph of a functional model: symbolic tensors, model inputs and nodes (layer calls).

Calling a layer on a :class:`SymbolicTensor` records a :class:`Node` (the layer, its input
tensors, its output tensors) instead of computing.  The layers package knows nothing of this
module: ``Layer.__call__`` sees that its input is symbolic (``is_symbolic``) and hands the call to
the tensor's :meth:`SymbolicTensor.call_layer`.  Running the graph is rnnlab.models.functional's.
"""
from __future__ import annotations

from rnnlab.checks import format_shape, is_int, positive_int
from rnnlab.layers.base import unique_name


class SymbolicTensor:
    """A placeholder for an array flowing through a functional graph (Keras's KerasTensor)."""

    #: The marker ``Layer.__call__`` looks for: calling a layer on this records a node.
    is_symbolic = True

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
        return f"<SymbolicTensor shape={format_shape(self.shape)} from {src}>"

    @staticmethod
    def call_layer(layer, x, kwargs):
        """Record ``layer(x, **kwargs)`` as a node; return its symbolic output(s)."""
        kwargs = dict(kwargs)
        initial_state = kwargs.pop("initial_state", None)
        training = kwargs.pop("training", None)
        options = {k: kwargs.pop(k) for k in layer.call_options if k in kwargs}
        tensors = {k: kwargs.pop(k) for k in layer.call_tensors if k in kwargs}
        tensors = {k: v for k, v in tensors.items() if v is not None}
        if kwargs:
            raise TypeError(f"Layer {layer.name!r} got unexpected call argument(s) "
                            f"{sorted(kwargs)}")
        multi = isinstance(x, (list, tuple))
        inputs = list(x) if multi else [x]
        if initial_state is not None:
            states = (list(initial_state) if isinstance(initial_state, (list, tuple))
                      else [initial_state])
            inputs, multi = inputs + states, True
        bad = [v for v in inputs + list(tensors.values()) if not isinstance(v, SymbolicTensor)]
        if bad:
            raise TypeError(f"Layer {layer.name!r} was called on a mix of symbolic tensors and "
                            f"{type(bad[0]).__name__}; use rnnlab.Input for every model input")
        node = Node(layer, inputs + list(tensors.values()), multi, training, options,
                    tuple(tensors))
        return node.outputs if node.multi_output else node.outputs[0]


class InputSpec(SymbolicTensor):
    """A model input: ``Input(shape=(T, m), name=...)``; the batch axis is free unless
    ``batch_size`` (or ``batch_shape``) fixes it, as a stateful recurrent layer needs."""

    def __init__(self, shape=None, name=None, dtype=None, batch_shape=None, batch_size=None):
        if batch_size is not None:
            batch_size = positive_int(batch_size, "batch_size", who="Input")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs a shape (without the batch axis), "
                                 "e.g. Input((None, 1))")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        elif shape is not None or batch_size is not None:
            raise ValueError("Input takes shape (with batch_size if the batch is fixed) or "
                             f"batch_shape, not both (got shape={shape!r}, batch_size="
                             f"{batch_size!r}, batch_shape={batch_shape!r})")
        batch_shape = tuple(batch_shape)
        if not batch_shape:
            raise ValueError("Input batch_shape needs at least the batch axis, got ()")
        for s in batch_shape[1:]:
            if s is not None and (not is_int(s) or s < 0):
                raise ValueError(f"Input shape entries must be non-negative integers or None, got "
                                 f"{tuple(batch_shape[1:])}")
        if batch_shape[0] is not None:
            batch_shape = (positive_int(batch_shape[0], "batch size (batch_shape[0])",
                                        who="Input"),) + batch_shape[1:]
        super().__init__(batch_shape, None, 0, name or unique_name("input_layer"), dtype)


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None,  # noqa: N802 - Keras's name
          name=None):
    """A symbolic input of ``shape`` (batch axis excluded) for building functional models;
    ``batch_size`` fixes the batch axis (Keras 3's arguments; or the whole ``batch_shape``)."""
    return InputSpec(shape, name=name, dtype=dtype, batch_shape=batch_shape,
                     batch_size=batch_size)


class Node:
    """One call of a layer inside a graph.

    ``options`` are the call's settings (the layer's ``call_options``, JSON values) and
    ``tensor_names`` name the last inputs, which the layer takes by keyword and without a gradient
    (its ``call_tensors``); the layer's own inputs (``layer_inputs``) come before them."""

    def __init__(self, layer, inputs, multi_input, training=None, options=None,
                 tensor_names=()):
        self.layer = layer
        self.inputs = list(inputs)
        self.multi_input = multi_input
        self.training = training
        self.options = dict(options or {})
        self.tensor_names = tuple(tensor_names)
        shapes = [t.shape for t in self.layer_inputs]
        in_shape = shapes if multi_input else shapes[0]
        try:
            unknown = [k for k in self.options if k not in layer.call_options] + [
                k for k in self.tensor_names if k not in layer.call_tensors]
            if unknown:
                raise TypeError(f"Layer {layer.name!r} got unexpected call argument(s) "
                                f"{sorted(unknown)}")
            layer.ensure_built(in_shape)
            out_shape = layer.compute_output_shape(in_shape, **self.options)
        except (ValueError, TypeError) as exc:
            srcs = ", ".join(describe(t) for t in self.inputs)
            raise type(exc)(f"{exc} (calling layer {layer.name!r} on {srcs})") from None
        self.multi_output = isinstance(out_shape, list)
        out_shapes = out_shape if self.multi_output else [out_shape]
        self.outputs = [SymbolicTensor(s, self, i) for i, s in enumerate(out_shapes)]

    @property
    def layer_inputs(self):
        """The inputs the layer receives as its ``x`` (those before the keyword tensors)."""
        return self.inputs[:len(self.inputs) - len(self.tensor_names)]


def describe(t) -> str:
    """``input 'x' (None, 3)`` or ``output of 'dense' (None, 4)``, for error messages."""
    if t.node is None:
        return f"input {t.name!r} {format_shape(t.shape)}"
    return f"output of {t.node.layer.name!r} {format_shape(t.shape)}"


__all__ = ["Input", "InputSpec", "Node", "SymbolicTensor", "describe"]

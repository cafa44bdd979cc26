"""Sequential: a linear stack of layers, the lecture's model type."""
from __future__ import annotations

from rnnlab.checks import format_shape
from rnnlab.layers.base import Layer
from rnnlab.models.functional import Functional
from rnnlab.models.graph import InputSpec
from rnnlab.models.model import Model
from rnnlab.models.serialization import (
    MODELS,
    sequential_config,
    sequential_from_config,
)


@MODELS.register
class Sequential(Model):
    """``Sequential([layer, ...])``: each layer's output feeds the next; masks flow along."""

    _default_name = "sequential"

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._layers: list[Layer] = []
        self._input_shape = None
        self._graph = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer; if the stack's input shape is known, build it right away (as Keras)."""
        if isinstance(layer, InputSpec):
            if self._layers:
                raise ValueError("An Input can only be the first element of a Sequential model")
            self._input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential accepts rnnlab layers, got {layer!r}")
        if any(l.name == layer.name for l in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names: "
                             f"{layer.name!r} is already used")
        if any(l is layer for l in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in this model")
        old = (self._input_shape, self._graph)
        self._layers.append(layer)
        if len(self._layers) == 1 and self._input_shape is None and layer.batch_input_shape:
            self._input_shape = tuple(layer.batch_input_shape)
        try:
            if self._input_shape is not None:
                self.build(self._input_shape)
            else:
                self._graph = None
        except Exception:
            self._layers.pop()              # a layer that does not fit leaves the model as it was
            self._input_shape, self._graph = old
            raise

    def pop(self) -> Layer:
        if not self._layers:
            raise IndexError("There are no layers in the model to pop")
        layer = self._layers.pop()
        self._graph = None
        if self._layers and self._input_shape is not None:
            self.build(self._input_shape)
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included): the stack becomes
        the linear case of a functional graph, Input → layer → layer ..."""
        shape = tuple(input_shape if input_shape is not None else self._input_shape)
        if not self._layers:
            raise ValueError(f"Sequential model {self.name!r} has no layers")
        self._input_shape = shape
        x = inp = InputSpec(batch_shape=shape, name=f"{self.name}_input")
        for layer in self._layers:
            x = layer(x)
            if isinstance(x, list):
                raise ValueError(f"Layer {layer.name!r} has several outputs (return_state?); use "
                                 "the functional API (rnnlab.Model) for it")
        self._graph = Functional(inp, x, name=f"{self.name}_graph")

    @property
    def built(self):
        return (getattr(self, "_graph", None) is not None
                and len(self._graph._nodes) == len(self._layers))

    def _output_shapes(self):
        if not self.built:
            return [None] * len(self._layers)
        return [n.outputs[0].shape for n in self._graph._nodes]

    def _ensure_built_for(self, xs):
        if not self._layers:
            raise ValueError(f"Sequential model {self.name!r} has no layers")
        if not self.built:
            self.build((None,) + tuple(xs[0].shape[1:]))
        self._graph._ensure_built_for(xs)

    def _input_readers(self):
        return self._graph._input_readers()

    def _run_graph(self, xs, training, in_masks=None):
        return self._graph._run_graph(xs, training, in_masks)

    @property
    def batch_input_shape(self):
        return self._input_shape

    def _build_for_shapes(self, shapes):
        if not self.built:
            self.build(shapes[0])
        self._graph._build_for_shapes(shapes)

    def _output_shapes_for(self, shapes):
        return self._graph._output_shapes_for(shapes)

    @property
    def activity_loss(self) -> float:
        return 0.0 if self._graph is None else self._graph.activity_loss

    def _summary_rows(self):
        shapes = self._output_shapes()
        rows = []
        for layer, shape in zip(self._layers, shapes):
            shown = "?" if shape is None else format_shape(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", shown,
                         layer.count_params() if layer.built else 0, None))
        return rows

    def get_config(self) -> dict:
        return sequential_config(self)

    @classmethod
    def from_config(cls, cfg, custom_objects=None):
        """A new model from :meth:`get_config`'s dict (layer classes from rnnlab.layers.LAYERS,
        or ``custom_objects``)."""
        return sequential_from_config(cls, cfg, custom_objects)

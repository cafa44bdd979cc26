"""Functional models: ``Input`` and ``Model(inputs, outputs)`` (graph of layer calls)."""
from __future__ import annotations


class InputSpec:
    """A symbolic model input: ``Input(shape=(T, m))`` (shape without the batch axis)."""

    def __init__(self, shape, name=None, dtype=None):
        self.shape = (None,) + tuple(shape)
        self.name = name
        self.dtype = dtype


def Input(shape, name=None, dtype=None):  # noqa: N802 - Keras's name
    return InputSpec(shape, name=name, dtype=dtype)


class Functional:  # filled in by the functional-models work
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("functional models are not available yet")

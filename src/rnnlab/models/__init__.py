"""Models: Sequential, the functional Model, and loading saved models."""
from rnnlab.models.functional import Input
from rnnlab.models.model import Model
from rnnlab.models.sequential import Sequential


def load_model(filepath, compile=True):  # noqa: A002 - Keras's argument name
    """Load a model written by ``model.save`` (config, weights and optimizer state)."""
    from rnnlab.models.saving import load_model as _load
    return _load(filepath, compile=compile)


__all__ = ["Input", "Model", "Sequential", "load_model"]

"""rnnlab layers, importable as in Keras: ``from rnnlab.layers import SimpleRNN, Dense``."""
from rnnlab.layers.base import Layer
from rnnlab.layers.core import Activation, Dense, Dropout, Flatten

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten"]

"""rnnlab layers, importable as in Keras: ``from rnnlab.layers import SimpleRNN, Dense``."""
from rnnlab.layers.base import Layer
from rnnlab.layers.core import Activation, Dense, Dropout, Flatten
from rnnlab.layers.recurrent import GRU, LSTM, RNNBase, SimpleRNN

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "SimpleRNN", "LSTM", "GRU", "RNNBase"]

"""Recurrent layers: cells (one step each), ``RNN(cell)`` over time, and the Keras layers.

``SimpleRNN``, ``LSTM`` and ``GRU`` are ``RNN`` over ``SimpleRNNCell``, ``LSTMCell`` and
``GRUCell``; a user's cell (a :class:`Cell` subclass in one file) runs in ``RNN`` the same way.
"""
from rnnlab.layers.recurrent.cell import Cell
from rnnlab.layers.recurrent.gru import GRU, GRUCell
from rnnlab.layers.recurrent.lstm import LSTM, LSTMCell
from rnnlab.layers.recurrent.rnn import RNN, run_steps
from rnnlab.layers.recurrent.simple_rnn import SimpleRNN, SimpleRNNCell
from rnnlab.layers.recurrent.stacked import StackedRNNCells

__all__ = ["Cell", "RNN", "run_steps", "SimpleRNN", "SimpleRNNCell", "LSTM", "LSTMCell", "GRU",
           "GRUCell", "StackedRNNCells"]

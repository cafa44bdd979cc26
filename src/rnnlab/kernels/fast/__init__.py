"""Compiled (Numba) fast paths, registered as the "fast" kernels.

Importing this package registers the compiled recurrent cells with
:func:`rnnlab.kernels.simple_rnn.register_impl` (and the LSTM/GRU equivalents); the layers and
the optimizer then pick them when ``rnnlab.config.kernels() == "fast"``.  Everything is compiled
lazily on first call, per dtype, with ``cache=True``: the machine code is kept on disk (next to
these files, or in ``$NUMBA_CACHE_DIR``) so a second process loads it instead of compiling.

Modules: :mod:`.rnn_cells` (SimpleRNN/LSTM/GRU forward+backward), :mod:`.embedding`
(row gather and gradient scatter-add), :mod:`.conv` (Conv1D im2col/col2im), :mod:`.adam` (fused
Adam step), :mod:`.blas` (matrix products split over Numba's threads), :mod:`.activations`
(activation codes).
"""
from __future__ import annotations

from rnnlab.kernels import gru as _gru
from rnnlab.kernels import lstm as _lstm
from rnnlab.kernels import simple_rnn as _simple_rnn
from rnnlab.kernels.fast import rnn_cells
from rnnlab.kernels.fast.adam import adam_update
from rnnlab.kernels.fast.conv import conv1d_backward, conv1d_forward
from rnnlab.kernels.fast.embedding import scatter_add_rows

_simple_rnn.register_impl("fast", rnn_cells.simple_rnn_forward, rnn_cells.simple_rnn_backward)
_lstm.register_impl("fast", rnn_cells.lstm_forward, rnn_cells.lstm_backward)
_gru.register_impl("fast", rnn_cells.gru_forward, rnn_cells.gru_backward)

__all__ = ["rnn_cells", "adam_update", "conv1d_forward", "conv1d_backward", "scatter_add_rows"]

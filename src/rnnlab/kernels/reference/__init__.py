"""The plain-NumPy kernels: the readable math (with the derivations in each module's docstring)
that the compiled kernels in :mod:`rnnlab.kernels.compiled` are held equal to by the tests.

Modules: :mod:`.activations`, :mod:`.simple_rnn`, :mod:`.lstm`, :mod:`.gru` (whole-sequence
forward and backward of each cell), :mod:`.conv` (Conv1D im2col, pooling windows, Keras padding),
:mod:`.embedding` (row gather and scatter-add), :mod:`.optimizers` (Adam, Nadam, Adamax, weight
decay, the weights' moving average).
They are reached through :class:`rnnlab.kernels.ops.ReferenceOps`.
"""

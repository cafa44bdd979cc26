"""The compiled (Numba) kernels, as :class:`CompiledOps` (``rnnlab.config.kernels() == "fast"``).

:class:`CompiledOps` subclasses :class:`rnnlab.kernels.ops.ReferenceOps` and overrides what is
compiled here; the rest (pooling) and every case the compiled code does not take (arrays that do
not fit the fused Adam, a non-contiguous embedding table, small batches of ids) are the reference
by inheritance.  :func:`rnnlab.kernels.ops.get_ops` imports this package on the first "fast"
request.  Everything is compiled lazily on first call, per dtype, with ``cache=True``: the machine
code is kept on disk (next to these files, or in ``$NUMBA_CACHE_DIR``) so that a second process
loads it instead of compiling.

With ``rnnlab.config.compile_mode() == "background"`` (the default) :func:`make_ops` gives
:class:`~rnnlab.kernels.compiled.lazy.LazyOps`, which compiles what is not in the cache on a
worker thread while the reference kernels stand in.

Modules: :mod:`.ops` (:class:`CompiledOps`), :mod:`.lazy` (background compilation),
:mod:`.simple_rnn`, :mod:`.lstm`, :mod:`.gru` (whole-sequence forward+backward of each
cell, their shared helpers in :mod:`.common`), :mod:`.embedding` (row gather and gradient
scatter-add), :mod:`.conv` (Conv1D im2col/col2im), :mod:`.adam` (fused Adam step), :mod:`.blas`
(matrix products split over Numba's threads), :mod:`.activations` (activation codes).
"""
from __future__ import annotations

from rnnlab.kernels.compiled.lazy import LazyOps, make_ops
from rnnlab.kernels.compiled.ops import CompiledOps

__all__ = ["CompiledOps", "LazyOps", "make_ops"]

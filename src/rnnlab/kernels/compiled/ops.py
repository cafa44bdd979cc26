"""The compiled kernels as an Ops: :class:`CompiledOps` (``rnnlab.config.kernels() == "fast"``).

It subclasses :class:`rnnlab.kernels.ops.ReferenceOps` and overrides what is compiled in this
package; the rest (pooling) and every case the compiled code does not take (arrays that do not
fit the fused Adam, a non-contiguous embedding table, small batches of ids) are the reference by
inheritance.
"""
from __future__ import annotations

import importlib
import importlib.util

from rnnlab.kernels.compiled import adam as _adam
from rnnlab.kernels.compiled import blas as _blas
from rnnlab.kernels.compiled import conv as _conv
from rnnlab.kernels.compiled import embedding as _embedding
from rnnlab.kernels.compiled import gru as _gru
from rnnlab.kernels.compiled import lstm as _lstm
from rnnlab.kernels.compiled import simple_rnn as _simple_rnn
from rnnlab.kernels.ops import ReferenceOps


class CompiledOps(ReferenceOps):
    """The compiled kernels (``kind = "fast"``); what is not overridden is
    :class:`ReferenceOps`'s."""

    kind = "fast"

    simple_rnn_forward = staticmethod(_simple_rnn.simple_rnn_forward)
    simple_rnn_backward = staticmethod(_simple_rnn.simple_rnn_backward)
    lstm_forward = staticmethod(_lstm.lstm_forward)
    lstm_backward = staticmethod(_lstm.lstm_backward)
    gru_forward = staticmethod(_gru.gru_forward)
    gru_backward = staticmethod(_gru.gru_backward)

    conv1d_forward = staticmethod(_conv.conv1d_forward)
    conv1d_backward = staticmethod(_conv.conv1d_backward)

    matmul = staticmethod(_blas.matmul)

    def sequence_kernel(self, name: str):
        """The compiled kernel of ``name``: this class's methods for the built-in cells, else
        ``<name>_forward``/``<name>_backward`` of the module ``rnnlab.kernels.compiled.<name>``
        if there is one (a new cell's compiled kernel is one file, found by name), else the
        reference's answer."""
        found = super().sequence_kernel(name)
        if found is not None and found[0] is not getattr(ReferenceOps, f"{name}_forward", None):
            return found
        module = _kernel_module(name)
        if module is not None and hasattr(module, f"{name}_forward"):
            return getattr(module, f"{name}_forward"), getattr(module, f"{name}_backward")
        return found

    def embedding_gather(self, table, ids):
        """Rows gathered on Numba's threads; small batches and other layouts: the reference."""
        out = _embedding.embedding_gather(table, ids)
        return super().embedding_gather(table, ids) if out is None else out

    def embedding_scatter_add(self, target, ids, values):
        """The compiled scatter-add (bit for bit ``np.add.at``); other layouts: the reference."""
        out = _embedding.embedding_scatter_add(target, ids, values)
        return super().embedding_scatter_add(target, ids, values) if out is None else out

    def adam_update(self, param, grad, slots, step, zero_grad=False):
        """The fused one-pass update; arrays that do not fit it: the reference."""
        if _adam.adam_update(param, grad, slots, step, zero_grad):
            return zero_grad
        return super().adam_update(param, grad, slots, step, zero_grad)


def _kernel_module(name: str):
    """``rnnlab.kernels.compiled.<name>`` if that module exists (found by name, loaded once)."""
    if not name.isidentifier():
        return None
    full = f"{__package__}.{name}"
    if importlib.util.find_spec(full) is None:
        return None
    return importlib.import_module(full)


__all__ = ["CompiledOps"]

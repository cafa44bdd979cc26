"""The one way to choose between the reference and the compiled kernels (as thinc's ``Ops``).

:class:`ReferenceOps` holds the plain-NumPy kernels of :mod:`rnnlab.kernels.reference` as its
methods; :class:`rnnlab.kernels.compiled.CompiledOps` subclasses it and overrides what it compiles,
so whatever it does not compile, and every case its compiled code does not take (for instance
arrays that do not fit the fused Adam), falls back to the reference by inheritance.  Callers ask
:func:`get_ops` for the instance of ``rnnlab.config.kernels()`` and call its methods::

    ops = get_ops()
    outputs, final_states, cache = ops.lstm_forward(x, (h0, c0), weights, rec_mask, step_mask,
                                                    activation="tanh")
    dx, d_initial_states, grads = ops.lstm_backward(d_outputs, (dh_T, dc_T), cache)

The recurrent-cell contract (``<cell>_forward``/``<cell>_backward``) is described in
:mod:`rnnlab.kernels.reference.simple_rnn`.
"""
from __future__ import annotations

import importlib

import numpy as np

from rnnlab import config
from rnnlab.kernels.reference import conv as _conv
from rnnlab.kernels.reference import embedding as _embedding
from rnnlab.kernels.reference import gru as _gru
from rnnlab.kernels.reference import lstm as _lstm
from rnnlab.kernels.reference import optimizers as _optimizers
from rnnlab.kernels.reference import simple_rnn as _simple_rnn

KINDS = ("reference", "fast")


class ReferenceOps:
    """The plain-NumPy kernels (``kind = "reference"``).  Every method is the reference module's
    function itself, so ``ReferenceOps.lstm_forward is rnnlab.kernels.reference.lstm.lstm_forward``.
    """

    kind = "reference"

    # recurrent cells: (x, states, weights, rec_mask=None, step_mask=None, *, activations...)
    simple_rnn_forward = staticmethod(_simple_rnn.simple_rnn_forward)
    simple_rnn_backward = staticmethod(_simple_rnn.simple_rnn_backward)
    lstm_forward = staticmethod(_lstm.lstm_forward)
    lstm_backward = staticmethod(_lstm.lstm_backward)
    gru_forward = staticmethod(_gru.gru_forward)
    gru_backward = staticmethod(_gru.gru_backward)

    # Conv1D and pooling windows
    conv1d_forward = staticmethod(_conv.conv1d_forward)
    conv1d_backward = staticmethod(_conv.conv1d_backward)
    max_pool1d_forward = staticmethod(_conv.max_pool1d_forward)
    max_pool1d_backward = staticmethod(_conv.max_pool1d_backward)
    avg_pool1d_forward = staticmethod(_conv.avg_pool1d_forward)
    avg_pool1d_backward = staticmethod(_conv.avg_pool1d_backward)

    # Embedding
    embedding_gather = staticmethod(_embedding.embedding_gather)
    embedding_scatter_add = staticmethod(_embedding.embedding_scatter_add)

    # optimizer updates
    adam_update = staticmethod(_optimizers.adam_update)

    # products
    matmul = staticmethod(np.matmul)

    def sequence_kernel(self, name: str):
        """``(forward, backward)`` of the fused whole-sequence kernel of the cell family ``name``
        ("simple_rnn", "lstm", "gru"), or None when this Ops has none: the cell then runs
        through ``RNN``'s step loop over its own one-step forward and backward, which is the
        reference a compiled kernel of a new cell is held equal to."""
        forward = getattr(self, f"{name}_forward", None)
        backward = getattr(self, f"{name}_backward", None)
        return None if forward is None or backward is None else (forward, backward)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kind={self.kind!r}>"


_OPS: dict = {}      # kind, or ("fast", compile mode) -> its Ops


def get_ops(kind: str | None = None) -> ReferenceOps:
    """The (cached) Ops of ``kind``: "reference" or "fast"; default ``rnnlab.config.kernels()``.
    "fast" is the compiled Ops of ``rnnlab.config.compile_mode()``
    (:func:`rnnlab.kernels.compiled.make_ops`).

    RuntimeError if "fast" is asked for and Numba is not installed.
    """
    kind = kind or config.kernels()
    key = (kind, config.compile_mode()) if kind == "fast" else kind
    ops = _OPS.get(key)
    if ops is None:
        if kind == "reference":
            ops = ReferenceOps()
        elif kind == "fast":
            ops = _load_compiled().make_ops()
        else:
            raise ValueError(f"Unknown kernels {kind!r}: expected one of {KINDS}")
        _OPS[key] = ops
    return ops


def _load_compiled():
    """Import :mod:`rnnlab.kernels.compiled` on the first "fast" request.

    This is a lazy load for start-up time (importing Numba and loading the compiled kernels
    costs about a second), not a way around an import cycle: the compiled package imports this
    module at its top, and this module does not import it at its top so that ``import rnnlab``
    and the reference kernels stay quick.
    """
    try:
        return importlib.import_module("rnnlab.kernels.compiled")
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in ("numba", "llvmlite"):
            raise
        raise RuntimeError(
            "The compiled ('fast') kernels need Numba, which is not installed: "
            "pip install numba, or call rnnlab.config.set_kernels('reference')") from e

"""Embedding: integer token ids to dense vectors (a trainable lookup table)."""
from __future__ import annotations

import numpy as np

from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels.ops import get_ops
from rnnlab.layers.base import Layer


def _embeddings_initializer(identifier):
    # Keras's Embedding default "uniform" is RandomUniform(-0.05, 0.05); "normal" likewise.
    if isinstance(identifier, str) and identifier.lower() == "uniform":
        return _init.RandomUniform(-0.05, 0.05)
    if isinstance(identifier, str) and identifier.lower() == "normal":
        return _init.RandomNormal(0.0, 0.05)
    if isinstance(identifier, dict):
        return _init.deserialize(identifier)
    return _init.get(identifier)


class Embedding(Layer):
    """Map integer ids in ``[0, input_dim)`` to rows of ``embeddings`` (input_dim, output_dim).

    ``y[..., :] = E[x[...], :]``.  The output is linear in the selected rows, so
    ``dE[v] = Σ_{positions i with x_i = v} dy_i`` (a scatter-add: repeated ids add up); the integer
    input has no gradient and backward returns None.  With ``mask_zero=True`` id 0 marks padding:
    :meth:`compute_mask` returns ``x != 0`` for the layers downstream, and row 0 still exists (so
    ``input_dim`` must count it, as in Keras).
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero: bool = False, input_length=None,
                 **kwargs):
        # As Keras 2: an Embedding knows its input shape, (None, input_length), so a Sequential
        # model that starts with one is built at once (the lecture's summary() needs this).
        if kwargs.get("input_shape") is None and kwargs.get("batch_input_shape") is None:
            kwargs.pop("input_shape", None)
            length = None if input_length is None else int(input_length)
            kwargs["batch_input_shape"] = (None, length)
        super().__init__(**kwargs)
        for what, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Embedding {what} must be a positive integer, got {v!r}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = _embeddings_initializer(embeddings_initializer)
        self.embeddings_regularizer = _reg.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.input_length = None if input_length is None else int(input_length)

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, self.embeddings_regularizer)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, x, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(x) != 0

    def _indices(self, x) -> np.ndarray:
        """Validate ids: integers (or whole-number floats, cast as Keras does) in [0, input_dim)."""
        x = np.asarray(x)
        where = f"Layer {self.name!r} (Embedding)"
        if x.dtype == bool or np.issubdtype(x.dtype, np.integer):
            idx = x.astype(np.int64, copy=False)
        elif np.issubdtype(x.dtype, np.floating):
            if not np.isfinite(x).all():
                raise ValueError(f"{where} got non-finite values (NaN or inf) as token ids")
            if not (x == np.round(x)).all():
                bad = float(x[x != np.round(x)].flat[0])
                raise ValueError(f"{where} expects integer token ids, got the non-integer value "
                                 f"{bad}")
            idx = x.astype(np.int64)
        else:
            raise TypeError(f"{where} expects integer token ids, got dtype {x.dtype}")
        if idx.size:
            lo, hi = int(idx.min()), int(idx.max())
            if lo < 0:
                raise ValueError(f"{where} got a negative token id {lo}; ids must be in "
                                 f"[0, input_dim={self.input_dim})")
            if hi >= self.input_dim:
                raise ValueError(f"{where} got token id {hi} >= input_dim={self.input_dim}; ids "
                                 f"must be in [0, {self.input_dim})")
        return idx

    def forward(self, x, training=False, mask=None):
        idx = self._indices(x)
        table = self.params["embeddings"]
        y = get_ops().embedding_gather(table, idx)

        def backward(dy):
            get_ops().embedding_scatter_add(self.grads["embeddings"], idx,
                                            np.asarray(dy, dtype=self.grads["embeddings"].dtype))
            return None

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(input_dim=self.input_dim, output_dim=self.output_dim,
                   embeddings_initializer=_init.serialize(self.embeddings_initializer),
                   embeddings_regularizer=_reg.serialize(self.embeddings_regularizer),
                   mask_zero=self.mask_zero, input_length=self.input_length)
        return cfg

"""Embedding: integer token ids to dense vectors (a trainable lookup table)."""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels.ops import get_ops
from rnnlab.layers.base import Layer


class Embedding(Layer):
    """Map integer ids in ``[0, input_dim)`` to rows of ``embeddings`` (input_dim, output_dim).

    ``y[..., :] = E[x[...], :]``.  The output is linear in the selected rows, so
    ``dE[v] = Σ_{positions i with x_i = v} dy_i`` (a scatter-add: repeated ids add up); the integer
    input has no gradient and backward returns None.  With ``mask_zero=True`` id 0 marks padding:
    :meth:`compute_mask` returns ``x != 0`` for the layers downstream, and row 0 still exists (so
    ``input_dim`` must count it, as in Keras).

    ``weights=[matrix]`` (or the bare matrix, as Keras 3 accepts) builds the layer at once with
    that (input_dim, output_dim) table, e.g. pretrained vectors; with ``trainable=False`` the
    table is frozen (no update, no constraint).  As in Keras the matrix is not part of the
    config: it is saved with the weights.
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero: bool = False,
                 weights=None, input_length=None, **kwargs):
        # As Keras 2: an Embedding knows its input shape, (None, input_length), so a Sequential
        # model that starts with one is built at once (the lecture's summary() needs this).
        input_length = checks.positive_int(input_length, "input_length", who="Embedding",
                                           allow_none=True)
        if kwargs.get("input_shape") is None and kwargs.get("batch_input_shape") is None:
            kwargs.pop("input_shape", None)
            kwargs["batch_input_shape"] = (None, input_length)
        super().__init__(**kwargs)
        self.input_dim = checks.positive_int(input_dim, "input_dim", who="Embedding")
        self.output_dim = checks.positive_int(output_dim, "output_dim", who="Embedding")
        # Keras's Embedding default "uniform" is RandomUniform(-0.05, 0.05): the registry's alias.
        self.embeddings_initializer = _init.get(embeddings_initializer)
        self.embeddings_regularizer = _reg.get(embeddings_regularizer)
        self.embeddings_constraint = _con.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        if weights is not None:
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.ensure_built(self.batch_input_shape)
            self.set_weights(weights)        # checked: shape, real finite numbers

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, self.embeddings_regularizer,
                        constraint=self.embeddings_constraint)
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

    def validate_input(self, x):
        self._indices(x)

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
                   embeddings_constraint=_con.serialize(self.embeddings_constraint),
                   mask_zero=self.mask_zero, input_length=self.input_length)
        return cfg

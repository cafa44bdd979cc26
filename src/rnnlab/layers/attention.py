"""Attention layers: Attention (Luong), AdditiveAttention (Bahdanau), MultiHeadAttention.

Keras 3's arguments, defaults, weights (names, shapes, order) and masks:

* ``Attention()([query, value])`` / ``([query, value, key])``, ``mask=[query_mask, value_mask]``:
  a False in the value mask hides that key/value step (its score gets ``-1e9`` added, as Keras),
  a False in the query mask zeroes that output row, and the query mask is the output mask.
  ``use_causal_mask=True`` hides the steps ``j > i``; ``return_attention_scores=True`` also
  returns the softmax weights (after dropout, as Keras's Attention does).  A third mask entry
  (the key's, which a functional graph passes when a key is given) is not used, as in Keras 3.
* ``MultiHeadAttention(num_heads, key_dim)(query, value, key=None, attention_mask=None)``: the
  query/key/value projections are Keras's EinsumDense kernels ``(dim, num_heads, key_dim)`` with
  biases ``(num_heads, key_dim)``, the output kernel is ``(num_heads, value_dim, *output_shape)``.
  Masks follow Keras 3's ``_compute_attention_mask``: query mask ``[B, T, 1]`` AND value/key masks
  ``[B, 1, S]`` AND the causal mask AND ``attention_mask``; masked scores become ``-1e9`` and
  their softmax weights 0 (a fully masked query row attends to nothing).  The returned scores are
  the softmax weights before dropout ``(B, num_heads, T, S)``.

Every backward pass is written out below; with ``p = softmax(z)`` the softmax's is
``dz = p ⊙ (dp - Σ_j dp ⊙ p)``.  In a functional model the call settings
(``use_causal_mask``, ``return_attention_scores``) are recorded with the call
(:attr:`Layer.call_options`) and MultiHeadAttention's ``attention_mask`` tensor becomes an
extra input of the call (:attr:`Layer.call_tensors`).
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab import checks, config
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.checks import format_shape as _fmt
from rnnlab.layers.base import Layer, _symbolic_in

#: What Keras adds to (Attention) or puts in place of (MultiHeadAttention) a masked score.
LARGE = 1e9


_flag = checks.flag


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(p: np.ndarray, dp: np.ndarray) -> np.ndarray:
    return p * (dp - np.sum(dp * p, axis=-1, keepdims=True))


def _causal(tq: int, tv: int) -> np.ndarray:
    """Keras's causal mask ``(1, Tq, Tv)``: query step i sees key steps j <= i."""
    return np.tril(np.ones((tq, tv), dtype=bool))[None]


def _shape_list(layer, input_shape, names) -> list[tuple]:
    """The 2 or 3 input shapes of an attention call, each (batch, time, features)."""
    multi = isinstance(input_shape, (list, tuple)) and len(input_shape) > 0 and all(
        isinstance(s, (list, tuple)) for s in input_shape)
    if not multi or not 2 <= len(input_shape) <= 3:
        raise ValueError(f"{layer._where()} must be called on a list of 2 or 3 inputs "
                         f"[{', '.join(names)}], got {input_shape!r}")
    shapes = [tuple(None if d is None else int(d) for d in s) for s in input_shape]
    for s, what in zip(shapes, names):
        if len(s) != 3:
            raise ValueError(f"{layer._where()}: {what} must have shape (batch, time, features), "
                             f"got {_fmt(s)}")
    batches = {s[0] for s in shapes if s[0] is not None}
    if len(batches) > 1:
        raise ValueError(f"{layer._where()}: inputs {_fmt(shapes)} have different batch sizes")
    return shapes


def _check_mask(layer, m, want, what):
    """A mask of shape ``want`` (batch, time) as booleans (nonzero is True, as Keras casts)."""
    if m is None:
        return None
    m = np.asarray(m)
    if m.dtype == object or not (m.dtype == bool or np.issubdtype(m.dtype, np.number)):
        raise TypeError(f"{layer._where()}: {what} must hold booleans, got dtype {m.dtype}")
    if m.shape != tuple(want):
        raise ValueError(f"{layer._where()}: {what} has shape {m.shape}, expected {tuple(want)}")
    return m.astype(bool)


class Attention(Layer):
    """Dot-product (Luong) attention over ``[query, value]`` or ``[query, value, key]``.

    Scores ``s_ij = scale · q_i·k_j`` (``score_mode="dot"``; ``scale`` a trained scalar when
    ``use_scale``) or ``s_ij = c · Σ_d tanh(scale · (q_id + k_jd))`` (``"concat"``, ``c`` the
    trained ``concat_score_weight``); ``w = softmax_j(s)`` (masked steps get ``s - 1e9``), dropout
    on ``w`` in training, ``out_i = Σ_j w_ij v_j``.  Backward: ``dw = dout vᵀ``, ``dv = wᵀ dout``,
    ``ds = softmax'(dw)``, then the score's derivative (``dq = scale ds k``, ``dk = scale dsᵀ q``
    for "dot").  Without a key, value is the key and receives both gradients.
    """

    #: Call settings a functional graph records with the call (see rnnlab.layers.base.Layer).
    call_options = ("return_attention_scores", "use_causal_mask")
    _input_names = ("query", "value", "key")

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        who = type(self).__name__
        self.use_scale = _flag(use_scale, "use_scale", who)
        self.score_mode = checks.one_of(score_mode, "score_mode", ("dot", "concat"), who=who)
        self.dropout = checks.rate(dropout, "dropout", who=who)
        self.seed = checks.seed(seed, who=who)
        self._rng = config.make_rng(seed) if seed is not None else None

    def _where(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    def _reseed_for_check(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def _options(self, return_attention_scores=False, use_causal_mask=False) -> dict:
        return {"return_attention_scores": _flag(return_attention_scores,
                                                 "return_attention_scores", self._where()),
                "use_causal_mask": _flag(use_causal_mask, "use_causal_mask", self._where())}

    # ------------------------------------------------------------------ shapes
    def _shapes(self, input_shape):
        shapes = _shape_list(self, input_shape, self._input_names)
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) > 2 else v
        if None not in (q[2], k[2]) and q[2] != k[2]:
            raise ValueError(f"{self._where()}: query {_fmt(q)} and key {_fmt(k)} must have the "
                             f"same last axis")
        if None not in (v[1], k[1]) and v[1] != k[1]:
            raise ValueError(f"{self._where()}: value {_fmt(v)} and key {_fmt(k)} must have the "
                             f"same number of time steps")
        return q, v, k

    def build(self, input_shape):
        self._shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")
        self.built = True

    def compute_output_shape(self, input_shape, return_attention_scores=False,
                             use_causal_mask=False):
        opts = self._options(return_attention_scores, use_causal_mask)
        q, v, k = self._shapes(input_shape)
        out = (q[0], q[1], v[2])
        return [out, (q[0], q[1], k[1])] if opts["return_attention_scores"] else out

    def compute_mask(self, xs, mask=None, return_attention_scores=False, use_causal_mask=False):
        """The query mask (Keras 3); the attention scores carry none."""
        opts = self._options(return_attention_scores, use_causal_mask)
        self._mask_list(mask)
        out = None if mask is None or mask[0] is None else np.asarray(mask[0]).astype(bool)
        return [out, None] if opts["return_attention_scores"] else out

    def _mask_list(self, mask):
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{self._where()}: mask must be a list [query_mask, value_mask] "
                             f"(entries may be None), got {mask!r}")

    # ------------------------------------------------------------------ computing
    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False,
                 use_causal_mask=False, **kwargs):
        """``layer([query, value(, key)], mask=..., return_attention_scores=...,
        use_causal_mask=...)``: arrays (scores returned as a tuple's second item) or symbolic
        tensors of a functional model (whose masks come from the layers that made them)."""
        if kwargs:
            raise TypeError(f"{self._where()} got unexpected call argument(s) {sorted(kwargs)}")
        opts = self._options(return_attention_scores, use_causal_mask)
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{self._where()} must be called on a list [query, value] or "
                             f"[query, value, key], got {type(inputs).__name__}"
                             + (f" of {len(inputs)}" if isinstance(inputs, (list, tuple)) else ""))
        symbolic = _symbolic_in(inputs)
        if symbolic is not None:
            if mask is not None:
                raise ValueError(f"{self._where()}: in a functional model the masks come from "
                                 "the layers that made the inputs (Embedding(mask_zero=True), "
                                 "Masking); an explicit mask= is not supported there")
            return symbolic.call_layer(self, list(inputs), {"training": training, **opts})
        xs = [np.asarray(x) for x in inputs]
        self.ensure_built([(None,) + x.shape[1:] for x in xs])
        xs = self._arrays(xs)
        self._check_finite(xs)
        out = self.forward(xs, training=bool(training), mask=mask, **opts)[0]
        return tuple(out) if opts["return_attention_scores"] else out

    def _arrays(self, xs):
        if not isinstance(xs, (list, tuple)) or not 2 <= len(xs) <= 3:
            raise ValueError(f"{self._where()} must be called on a list [query, value] or "
                             f"[query, value, key]")
        xs = [self._float_input(x, ndim=3, what=w) for x, w in zip(xs, self._input_names)]
        self._shapes([x.shape for x in xs])
        return xs

    def _scores(self, q, k):
        """``(s, back)``: the scores (B, Tq, Tv) and ``back(ds) -> (dq, dk)`` (adds weight grads).
        """
        P, G = self.params, self.grads
        if self.score_mode == "dot":
            qk = q @ k.transpose(0, 2, 1)
            if not self.use_scale:
                return qk, lambda ds: (ds @ k, ds.transpose(0, 2, 1) @ q)
            scale = P["scale"]

            def back_dot(ds):
                G["scale"] += np.sum(ds * qk)
                ds = ds * scale
                return ds @ k, ds.transpose(0, 2, 1) @ q

            return qk * scale, back_dot
        u = q[:, :, None, :] + k[:, None, :, :]          # (B, Tq, Tv, d)
        su = u * P["scale"] if self.use_scale else u
        t = np.tanh(su)
        tsum = t.sum(axis=-1)
        c = P["concat_score_weight"]

        def back_concat(ds):
            G["concat_score_weight"] += np.sum(ds * tsum)
            dsu = (c * ds)[..., None] * (1.0 - t * t)
            if self.use_scale:
                G["scale"] += np.sum(dsu * u)
                dsu = dsu * P["scale"]
            return dsu.sum(axis=2), dsu.sum(axis=1)

        return c * tsum, back_concat

    def forward(self, xs, training=False, mask=None, return_attention_scores=False,
                use_causal_mask=False):
        opts = self._options(return_attention_scores, use_causal_mask)
        xs = self._arrays(xs)
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) > 2 else v
        self._mask_list(mask)
        n, tq, tv = q.shape[0], q.shape[1], v.shape[1]
        qm = vm = None
        if mask is not None:
            qm = _check_mask(self, mask[0], (n, tq), "query_mask")
            vm = _check_mask(self, mask[1], (n, tv), "value_mask")
        s, back_scores = self._scores(q, k)
        keep_scores = None if vm is None else vm[:, None, :]
        if opts["use_causal_mask"]:
            causal = _causal(tq, tv)
            keep_scores = causal if keep_scores is None else keep_scores & causal
        z = s if keep_scores is None else np.where(keep_scores, s, s - s.dtype.type(LARGE))
        p = _softmax(z)
        w, keep = p, None
        if training and self.dropout > 0.0:
            rng = self._rng or config.rng()
            keep = (rng.random(p.shape) >= self.dropout).astype(p.dtype) / (1.0 - self.dropout)
            w = p * keep
        out = w @ v
        if qm is not None:
            out = np.where(qm[..., None], out, out.dtype.type(0))
        two = len(xs) == 2

        def backward(d):
            d_out, d_w = (d if opts["return_attention_scores"] else (d, None))
            d_out = np.zeros_like(out) if d_out is None else np.asarray(d_out)
            if qm is not None:
                d_out = np.where(qm[..., None], d_out, d_out.dtype.type(0))
            dw = d_out @ v.transpose(0, 2, 1)
            if d_w is not None:
                dw = dw + d_w
            dv = w.transpose(0, 2, 1) @ d_out
            if keep is not None:
                dw = dw * keep
            dq, dk = back_scores(_softmax_backward(p, dw))
            return [dq, dv + dk] if two else [dq, dv, dk]

        return ([out, w] if opts["return_attention_scores"] else out), backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(use_scale=self.use_scale, score_mode=self.score_mode, dropout=self.dropout,
                   seed=self.seed)
        return cfg


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: ``s_ij = Σ_d scale_d · tanh(q_id + k_jd)``.

    ``scale`` (shape (dim,), glorot-uniform, Keras's) is trained when ``use_scale`` (the default).
    Backward of the score: ``dscale = Σ ds · t``, ``du = ds · scale · (1 - t²)`` with
    ``t = tanh(q_i + k_j)``; ``dq = Σ_j du``, ``dk = Σ_i du``.
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: int | None = None,
                 **kwargs):
        if "score_mode" in kwargs:
            raise TypeError("AdditiveAttention takes no score_mode: its score is always "
                            "additive (use Attention(score_mode=...) for dot or concat)")
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        q, _, _ = self._shapes(input_shape)
        if q[2] is None:
            raise ValueError(f"{self._where()} needs a known last axis of the query, got "
                             f"{_fmt(q)}")
        if self.use_scale:
            self.add_weight("scale", (q[2],), "glorot_uniform")
        self.built = True

    def _scores(self, q, k):
        t = np.tanh(q[:, :, None, :] + k[:, None, :, :])   # (B, Tq, Tv, d)
        scale = self.params["scale"] if self.use_scale else None

        def back(ds):
            if scale is None:
                du = ds[..., None] * (1.0 - t * t)
            else:
                self.grads["scale"] += np.einsum("bij,bijd->d", ds, t)
                du = ds[..., None] * scale * (1.0 - t * t)
            return du.sum(axis=2), du.sum(axis=1)

        return ((t * scale).sum(axis=-1) if scale is not None else t.sum(axis=-1)), back

    def get_config(self):
        cfg = super().get_config()
        del cfg["score_mode"]
        return cfg


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017) with Keras 3's weights and masks.

    ``Q = query·Wq + bq`` (B, T, H, key_dim), ``K = key·Wk + bk``, ``V = value·Wv + bv``
    (B, S, H, value_dim); per head ``P = softmax(Q Kᵀ / √key_dim)`` under the mask (module
    docstring), dropout on ``P`` in training, ``A = P V``, and ``out = Σ_{h,v} A·Wo + bo``
    (B, T, *output_shape).  ``use_gate`` multiplies ``A`` by ``sigmoid(query·Wg + bg)`` first, and
    ``sliding_window=w`` keeps only the steps ``|i - j| < w`` (both Keras 3's).  Backward is the
    chain of those products: ``dWo = Aᵀ dout``, ``dA = dout Woᵀ``, ``dP = dA Vᵀ``, ``dV = Pᵀ dA``,
    the softmax's, ``dQ = dS K / √key_dim``, ``dK = dSᵀ Q / √key_dim``, then each projection's.

    Only ``attention_axes=None`` (attention over the time axis of (batch, time, features)
    inputs) is supported; ``flash_attention=True`` is refused (no such kernel here, and it would
    give the same numbers).
    """

    call_options = ("return_attention_scores", "use_causal_mask")
    #: Array keyword arguments of a call: in a functional graph, extra (gradient-free) inputs.
    call_tensors = ("attention_mask",)
    _input_names = ("query", "value", "key")

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape=None,
                 attention_axes=None, sliding_window: int | None = None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, use_gate: bool = False, seed: int | None = None,
                 **kwargs):
        who = "MultiHeadAttention"
        num_heads = checks.positive_int(num_heads, "num_heads", who=who)
        key_dim = checks.positive_int(key_dim, "key_dim", who=who)
        value_dim = checks.positive_int(value_dim, "value_dim", who=who, allow_none=True)
        if attention_axes is not None:
            raise ValueError(f"{who} supports only attention_axes=None (attention over the time "
                             f"axis of (batch, time, features) inputs), got {attention_axes!r}")
        if flash_attention not in (None, False):
            raise ValueError(f"{who}: flash_attention={flash_attention!r} is not supported "
                             "(rnnlab has no flash-attention kernel); use None or False")
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = checks.rate(dropout, "dropout", who=who)
        self.use_bias = _flag(use_bias, "use_bias", who)
        self.use_gate = _flag(use_gate, "use_gate", who)
        if output_shape is None or (isinstance(output_shape, (tuple, list))
                                    and len(output_shape) == 0):
            self.output_shape = None
        else:
            dims = [output_shape] if isinstance(output_shape, numbers.Number) else output_shape
            if not isinstance(dims, (list, tuple)):
                raise TypeError(f"{who} output_shape must be None, an integer or a tuple of "
                                f"integers, got {output_shape!r}")
            self.output_shape = tuple(checks.positive_int(d, "output_shape entries", who=who)
                                      for d in dims)
        self.attention_axes = None
        self.sliding_window = checks.positive_int(sliding_window, "sliding_window", who=who,
                                                  allow_none=True)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.kernel_constraint = _con.get(kernel_constraint)
        self.bias_constraint = _con.get(bias_constraint)
        self.seed = checks.seed(seed, who=who)
        self._rng = config.make_rng(seed) if seed is not None else None

    _where = Attention._where
    _reseed_for_check = Attention._reseed_for_check
    _options = Attention._options
    _mask_list = Attention._mask_list

    # ------------------------------------------------------------------ shapes
    def _shapes(self, input_shape):
        shapes = _shape_list(self, input_shape, self._input_names)
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) > 2 else v
        if None not in (v[1], k[1]) and v[1] != k[1]:
            raise ValueError(f"{self._where()}: all dimensions of value and key but the last must "
                             f"be equal, got value {_fmt(v)} and key {_fmt(k)}")
        for s, what in ((q, "query"), (v, "value"), (k, "key")):
            if s[2] is None:
                raise ValueError(f"{self._where()} needs a known last axis of the {what}, got "
                                 f"{_fmt(s)}")
        return q, v, k

    def _out_dims(self, q) -> tuple:
        return self.output_shape or (q[2],)

    def build(self, input_shape):
        q, v, k = self._shapes(input_shape)
        h = self.num_heads
        self._dense("query", q[2], (h, self.key_dim))
        self._dense("key", k[2], (h, self.key_dim))
        if self.use_gate:
            self._dense("gate", q[2], (h, self.value_dim))
        self._dense("value", v[2], (h, self.value_dim))
        out = self._out_dims(q)
        self.add_weight("attention_output/kernel", (h, self.value_dim) + out,
                        self.kernel_initializer, self.kernel_regularizer,
                        constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("attention_output/bias", out, self.bias_initializer,
                            self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def _dense(self, name, dim, out):
        self.add_weight(f"{name}/kernel", (dim,) + out, self.kernel_initializer,
                        self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight(f"{name}/bias", out, self.bias_initializer, self.bias_regularizer,
                            constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape, return_attention_scores=False,
                             use_causal_mask=False):
        opts = self._options(return_attention_scores, use_causal_mask)
        q, v, k = self._shapes(input_shape)
        out = (q[0], q[1]) + self._out_dims(q)
        if opts["return_attention_scores"]:
            return [out, (q[0], self.num_heads, q[1], v[1])]
        return out

    def compute_mask(self, xs, mask=None, return_attention_scores=False, use_causal_mask=False):
        """The query's mask passes on (Keras 3); the attention scores carry none."""
        return Attention.compute_mask(self, xs, mask, return_attention_scores, use_causal_mask)

    # ------------------------------------------------------------------ computing
    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None,
                 key_mask=None, attention_mask=None, return_attention_scores=False,
                 training=None, use_causal_mask=False, **kwargs):
        """``layer(query, value, key=None, ...)`` on arrays (scores returned as a tuple's second
        item) or on symbolic tensors of a functional model (whose masks come from the layers
        that made them; ``attention_mask`` may be a symbolic tensor there)."""
        if kwargs:
            raise TypeError(f"{self._where()} got unexpected call argument(s) {sorted(kwargs)}")
        if value is None:
            raise ValueError(f"{self._where()} must be called as layer(query, value) or "
                             "layer(query, value, key)")
        opts = self._options(return_attention_scores, use_causal_mask)
        xs = [query, value] + ([] if key is None else [key])
        symbolic = _symbolic_in(xs)
        if symbolic is not None:
            given = [n for n, m in (("query_mask", query_mask), ("value_mask", value_mask),
                                    ("key_mask", key_mask)) if m is not None]
            if given:
                raise ValueError(f"{self._where()}: in a functional model the masks come from "
                                 "the layers that made the inputs (Embedding(mask_zero=True), "
                                 f"Masking); explicit {given} are not supported there")
            kw = {"training": training, **opts}
            if attention_mask is not None:
                kw["attention_mask"] = attention_mask
            return symbolic.call_layer(self, xs, kw)
        xs = [np.asarray(x) for x in xs]
        self.ensure_built([(None,) + x.shape[1:] for x in xs])
        xs = self._arrays(xs)
        self._check_finite(xs)
        masks = [query_mask, value_mask, key_mask]
        mask = None if all(m is None for m in masks) else masks
        out = self.forward(xs, training=bool(training), mask=mask, attention_mask=attention_mask,
                           **opts)[0]
        return tuple(out) if opts["return_attention_scores"] else out

    def _arrays(self, xs):
        if not isinstance(xs, (list, tuple)) or not 2 <= len(xs) <= 3:
            raise ValueError(f"{self._where()} takes [query, value] or [query, value, key]")
        q_dim = self.params["query/kernel"].shape[0]
        v_dim = self.params["value/kernel"].shape[0]
        k_dim = self.params["key/kernel"].shape[0]
        dims = (q_dim, v_dim, k_dim)
        xs = [self._float_input(x, ndim=3, last_dim=d, what=w)
              for x, d, w in zip(xs, dims, self._input_names)]
        self._shapes([x.shape for x in xs])
        return xs

    def _attention_mask(self, n, t, s, mask, attention_mask, causal):
        """Keras 3's ``_compute_attention_mask``, expanded to (B or 1, 1 or H, T, S); or None."""
        auto = None
        if mask is not None:
            qm = _check_mask(self, mask[0], (n, t), "query_mask")
            vm = _check_mask(self, mask[1], (n, s), "value_mask")
            km = _check_mask(self, mask[2], (n, s), "key_mask") if len(mask) > 2 else None
            for m in (None if qm is None else qm[:, :, None],
                      None if vm is None else vm[:, None, :],
                      None if km is None else km[:, None, :]):
                if m is not None:
                    auto = m if auto is None else auto & m
        if causal:
            auto = _causal(t, s) if auto is None else auto & _causal(t, s)
        if self.sliding_window is not None:
            i, j = np.arange(t)[:, None], np.arange(s)[None, :]
            band = (np.abs(i - j) < self.sliding_window)[None]
            auto = band if auto is None else auto & band
        am = None
        if attention_mask is not None:
            am = np.asarray(attention_mask)
            if am.dtype == object or not (am.dtype == bool or np.issubdtype(am.dtype,
                                                                            np.number)):
                raise TypeError(f"{self._where()}: attention_mask must hold booleans, got dtype "
                                f"{am.dtype}")
            if not 1 <= am.ndim <= 4:
                raise ValueError(f"{self._where()}: attention_mask must have shape (B, T, S) "
                                 f"(or broadcast to it), got {am.shape}")
            am = am.astype(bool)
        if am is not None and auto is not None:
            try:
                am = am & auto
            except ValueError:
                raise ValueError(f"{self._where()}: attention_mask of shape {am.shape} does not "
                                 f"broadcast to (batch, T, S) = {(n, t, s)}") from None
        elif am is None:
            am = auto
        if am is None:
            return None
        while am.ndim < 4:
            am = np.expand_dims(am, -3)
        try:
            np.broadcast_shapes(am.shape, (n, self.num_heads, t, s))
        except ValueError:
            raise ValueError(f"{self._where()}: the attention mask of shape {am.shape} does not "
                             f"broadcast to (batch, heads, T, S) = "
                             f"{(n, self.num_heads, t, s)}") from None
        if any(a != 1 and a != b for a, b in zip(am.shape, (n, self.num_heads, t, s))):
            raise ValueError(f"{self._where()}: the attention mask of shape {am.shape} does not "
                             f"fit (batch, heads, T, S) = {(n, self.num_heads, t, s)}")
        return am

    def _project(self, x, name):
        """``y = x·W + b`` over the last axis into (heads, d); returns ``(y, back(dy) -> dx)``."""
        W = self.params[f"{name}/kernel"]
        dim = W.shape[0]
        W2 = W.reshape(dim, -1)
        x2 = x.reshape(-1, dim)
        y = x2 @ W2
        if self.use_bias:
            y += self.params[f"{name}/bias"].reshape(-1)

        def back(dy):
            dy2 = dy.reshape(x2.shape[0], -1)
            self.grads[f"{name}/kernel"] += (x2.T @ dy2).reshape(W.shape)
            if self.use_bias:
                self.grads[f"{name}/bias"] += dy2.sum(axis=0).reshape(W.shape[1:])
            return (dy2 @ W2.T).reshape(x.shape)

        return y.reshape(x.shape[:-1] + W.shape[1:]), back

    def forward(self, xs, training=False, mask=None, attention_mask=None,
                return_attention_scores=False, use_causal_mask=False):
        opts = self._options(return_attention_scores, use_causal_mask)
        xs = self._arrays(xs)
        xq, xv = xs[0], xs[1]
        xk = xs[2] if len(xs) > 2 else xv
        self._mask_list(mask)
        n, t, s = xq.shape[0], xq.shape[1], xv.shape[1]
        M = self._attention_mask(n, t, s, mask, attention_mask, opts["use_causal_mask"])
        inv = xq.dtype.type(1.0 / np.sqrt(self.key_dim))
        Q, back_q = self._project(xq, "query")          # (B, T, H, kd)
        K, back_k = self._project(xk, "key")            # (B, S, H, kd)
        V, back_v = self._project(xv, "value")          # (B, S, H, vd)
        Qt = Q.transpose(0, 2, 1, 3) * inv               # (B, H, T, kd)
        Kt = K.transpose(0, 2, 1, 3)                     # (B, H, S, kd)
        Vt = V.transpose(0, 2, 1, 3)                     # (B, H, S, vd)
        scores = Qt @ Kt.transpose(0, 1, 3, 2)           # (B, H, T, S)
        if M is None:
            soft = P = _softmax(scores)
        else:
            soft = _softmax(np.where(M, scores, scores.dtype.type(-LARGE)))
            P = np.where(M, soft, soft.dtype.type(0))
        keep = None
        Pd = P
        if training and self.dropout > 0.0:
            rng = self._rng or config.rng()
            keep = (rng.random(P.shape) >= self.dropout).astype(P.dtype) / (1.0 - self.dropout)
            Pd = P * keep
        A = (Pd @ Vt).transpose(0, 2, 1, 3)              # (B, T, H, vd)
        gate = back_g = None
        if self.use_gate:
            zg, back_g = self._project(xq, "gate")
            gate = _sigmoid(zg)
            A_in = A * gate
        else:
            A_in = A
        Wo = self.params["attention_output/kernel"]
        hv = self.num_heads * self.value_dim
        A2 = A_in.reshape(-1, hv)
        Wo2 = Wo.reshape(hv, -1)
        out = A2 @ Wo2
        if self.use_bias:
            out += self.params["attention_output/bias"].reshape(-1)
        out = out.reshape((n, t) + Wo.shape[2:])
        two = len(xs) == 2

        def backward(d):
            d_out, d_p = (d if opts["return_attention_scores"] else (d, None))
            d_out = np.zeros_like(out) if d_out is None else np.asarray(d_out)
            d2 = d_out.reshape(A2.shape[0], -1)
            self.grads["attention_output/kernel"] += (A2.T @ d2).reshape(Wo.shape)
            if self.use_bias:
                self.grads["attention_output/bias"] += d2.sum(axis=0).reshape(Wo.shape[2:])
            dA = (d2 @ Wo2.T).reshape(A.shape)
            dxq_gate = None
            if gate is not None:
                dzg = dA * A * gate * (1.0 - gate)
                dA = dA * gate
                dxq_gate = back_g(dzg)
            dAt = dA.transpose(0, 2, 1, 3)               # (B, H, T, vd)
            dPd = dAt @ Vt.transpose(0, 1, 3, 2)          # (B, H, T, S)
            dVt = Pd.transpose(0, 1, 3, 2) @ dAt          # (B, H, S, vd)
            dP = dPd if keep is None else dPd * keep
            if d_p is not None:
                dP = dP + d_p
            if M is not None:
                dP = np.where(M, dP, dP.dtype.type(0))
            dS = _softmax_backward(soft, dP)
            if M is not None:
                dS = np.where(M, dS, dS.dtype.type(0))
            dQt = (dS @ Kt) * inv
            dKt = dS.transpose(0, 1, 3, 2) @ Qt
            dxq = back_q(dQt.transpose(0, 2, 1, 3))
            if dxq_gate is not None:
                dxq = dxq + dxq_gate
            dxk = back_k(dKt.transpose(0, 2, 1, 3))
            dxv = back_v(dVt.transpose(0, 2, 1, 3))
            return [dxq, dxv + dxk] if two else [dxq, dxv, dxk]

        return ([out, P] if opts["return_attention_scores"] else out), backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim,
                   dropout=self.dropout, use_bias=self.use_bias, use_gate=self.use_gate,
                   output_shape=None if self.output_shape is None else list(self.output_shape),
                   attention_axes=None, sliding_window=self.sliding_window,
                   kernel_initializer=_init.serialize(self.kernel_initializer),
                   bias_initializer=_init.serialize(self.bias_initializer),
                   kernel_regularizer=_reg.serialize(self.kernel_regularizer),
                   bias_regularizer=_reg.serialize(self.bias_regularizer),
                   kernel_constraint=_con.serialize(self.kernel_constraint),
                   bias_constraint=_con.serialize(self.bias_constraint), seed=self.seed)
        return cfg

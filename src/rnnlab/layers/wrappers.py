"""Layer wrappers: Bidirectional (a recurrent layer run both ways) and TimeDistributed.

A wrapper owns inner layers; their weights stay *their* arrays.  The wrapper's ``params``,
``grads`` and ``regularizers`` are live views onto the inner layers' dicts under prefixed keys
(``"forward_lstm/kernel"`` for Bidirectional, the inner layer's own keys for TimeDistributed), so
the training loop, optimizers, ``get_weights``/``set_weights``, ``zero_grads`` and saving all see
(and replace, when they assign) the very arrays the inner layers compute with.
"""
from __future__ import annotations

import numpy as np

from rnnlab.layers.base import LAYERS, Layer, _is_multi, refuse_inner_activity_regularizer
from rnnlab.layers.recurrent import RNN
from rnnlab.layers.recurrent.rnn import build_for_call
from rnnlab.layers.views import NestedView


def _as_layer(spec, who: str):
    """A layer given as itself or as the ``{"class_name", "config"}`` dict of a saved config."""
    if not isinstance(spec, dict):
        return spec                  # the caller checks what kind of layer it needs
    if "class_name" not in spec or "config" not in spec:
        raise ValueError(f"{who}: a nested layer config must be {{'class_name': ..., 'config': "
                         f"...}}, got {spec!r}")
    try:
        return LAYERS.deserialize(spec)
    except ValueError as exc:
        raise ValueError(f"{who}: {exc}") from None


class Wrapper(Layer):
    """Base of the wrappers: views over the inner layers' weights, gradients and penalties."""

    def __init__(self, layer, **kwargs):
        layer = _as_layer(layer, f"{type(self).__name__} {kwargs.get('name')!r}")
        if not isinstance(layer, Layer):
            raise TypeError(f"{type(self).__name__} wraps an rnnlab layer, got {layer!r}")
        refuse_inner_activity_regularizer(type(self).__name__, [layer])
        super().__init__(**kwargs)
        self.layer = layer
        self.params = NestedView(self, "params")
        self.grads = NestedView(self, "grads")
        self.regularizers = NestedView(self, "regularizers")
        self.constraints = NestedView(self, "constraints")

    def _inner(self):
        """(key prefix, layer) pairs, in weight order."""
        raise NotImplementedError

    def sublayers(self):
        return [layer for _, layer in self._inner()]

    # Layer.__init__ assigns an empty set; the real answer comes from the inner layers.
    @property
    def non_trainable(self):
        return {prefix + k for prefix, layer in self._inner() for k in layer.params
                if not layer.trainable or k in layer.non_trainable}

    @non_trainable.setter
    def non_trainable(self, value):
        if value:
            raise AttributeError(f"Layer {self.name!r}: set trainable on the wrapped layer instead")

    def trainable_param_names(self):
        if not self.trainable:
            return []
        return [prefix + k for prefix, layer in self._inner()
                for k in layer.trainable_param_names()]

    def add_weight(self, *args, **kwargs):
        raise TypeError(f"Layer {self.name!r} ({type(self).__name__}) holds no weights of its own")

    def _reseed_for_check(self, seed: int) -> None:
        for i, (_, layer) in enumerate(self._inner()):
            if hasattr(layer, "_reseed_for_check"):
                layer._reseed_for_check(seed + i)

    def _who(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"


# =========================================================================== Bidirectional
_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Wrapper):
    """Run a recurrent layer forwards and a copy of it backwards over the sequence, then merge.

    As Keras: the forward copy is rebuilt from ``layer``'s config and named ``forward_<name>``; the
    backward copy (unless ``backward_layer`` is given) is the same config with ``go_backwards``
    flipped, named ``backward_<name>``.  Both get the same (N, T) mask (each reverses it together
    with the sequence when it runs backwards).  With ``return_sequences`` the backward output is
    put back into input time order, and, as Keras forces ``zero_output_for_mask`` here, masked
    steps output zeros in both directions.  ``merge_mode``: "concat" (last axis), "sum", "mul",
    "ave", or None for ``[forward, backward]``.  ``return_state`` appends the forward layer's final
    states, then the backward layer's.  Weights: forward layer's, then backward layer's.

    Gradient of the merge (y_f, y_b the two outputs in input order, dy upstream)::

        concat: dy_f, dy_b = dy[..., :u_f], dy[..., u_f:]      sum: dy, dy
        mul:    dy ⊙ y_b, dy ⊙ y_f                           ave: dy/2, dy/2

    then dy ⊙ mask for the zeroed steps, dy_b reversed in time into the backward layer's
    processing order, and dx = dx_f + dx_b (the two directions read the same input).
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        who = f"Bidirectional {kwargs.get('name')!r}"
        layer = _as_layer(layer, who)
        if backward_layer is not None:
            backward_layer = _as_layer(backward_layer, who)
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got "
                            f"{layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional merge_mode must be one of {list(_MERGE_MODES)}, got "
                             f"{merge_mode!r}")
        if kwargs.get("input_shape") is None and kwargs.get("batch_input_shape") is None \
                and layer.batch_input_shape is not None:
            kwargs.pop("input_shape", None)     # Bidirectional(LSTM(4, input_shape=(T, m)))
            kwargs["batch_input_shape"] = layer.batch_input_shape
        super().__init__(layer, **kwargs)
        self.merge_mode = merge_mode
        cfg = layer.get_config()
        base = cfg["name"]
        fcfg = dict(cfg, name="forward_" + (base[len("backward_"):]
                                            if base.startswith("backward_") else base))
        self.forward_layer = type(layer).from_config(fcfg)
        self._custom_backward = backward_layer is not None
        if backward_layer is None:
            bcfg = dict(cfg, name="backward_" + (base[len("forward_"):]
                                                 if base.startswith("forward_") else base),
                        go_backwards=not layer.go_backwards)
            self.backward_layer = type(layer).from_config(bcfg)
        else:
            if not isinstance(backward_layer, RNN):
                raise TypeError(f"Bidirectional backward_layer must be a recurrent layer, got "
                                f"{backward_layer!r}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(f"Bidirectional: backward_layer {backward_layer.name!r} must have "
                                 f"go_backwards={not layer.go_backwards} (the opposite of layer "
                                 f"{layer.name!r})")
            for attr in ("return_sequences", "return_state", "stateful"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"Bidirectional: backward_layer {backward_layer.name!r} must "
                                     f"have the same {attr} as layer {layer.name!r}")
            if (merge_mode in ("sum", "mul", "ave")
                    and backward_layer.cell.output_size != layer.cell.output_size):
                raise ValueError(f"Bidirectional merge_mode={merge_mode!r} needs both directions "
                                 f"to have the same units, got {layer.cell.output_size} and "
                                 f"{backward_layer.cell.output_size}")
            self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self._initial_weights = None if weights is None else [np.asarray(w) for w in weights]

    def _inner(self):
        return [(self.forward_layer.name + "/", self.forward_layer),
                (self.backward_layer.name + "/", self.backward_layer)]

    # ------------------------------------------------------------------ carried states
    def __call__(self, x, training=False, mask=None, **kwargs):
        build_for_call(self, x)
        return super().__call__(x, training=training, mask=mask, **kwargs)

    @property
    def states(self):
        """The forward layer's carried states then the backward layer's (stateful), else None."""
        if self.forward_layer.states is None or self.backward_layer.states is None:
            return None
        return list(self.forward_layer.states) + list(self.backward_layer.states)

    def reset_states(self, states=None) -> None:
        """Zero both directions' carried states, or set them to ``states`` (the forward
        layer's states, then the backward layer's); all are checked before any is set."""
        if not self.stateful:
            raise AttributeError(f"{self._who()} is not stateful: it keeps no states to reset")
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        given = list(states) if isinstance(states, (list, tuple)) else [states]
        nf, nb = self.forward_layer.n_states, self.backward_layer.n_states
        if len(given) != nf + nb:
            raise ValueError(f"{self._who()} reset_states(states=...) takes {nf + nb} arrays (the "
                             f"forward layer's {nf}, then the backward layer's {nb}), got "
                             f"{len(given)}")
        saved = [s.copy() for s in self.states or []]
        try:
            self.forward_layer.reset_states(given[:nf])
            self.backward_layer.reset_states(given[nf:])
        except Exception:
            for s, v in zip(self.states or [], saved):
                s[...] = v
            raise

    reset_state = reset_states     # Keras 3's name

    # ------------------------------------------------------------------ building
    def _n_states(self, layer):
        return layer.n_states

    def build(self, input_shape):
        shape = input_shape[0] if _is_multi(input_shape) else input_shape
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{self._who()} expects inputs of rank 3 (batch, timesteps, "
                             f"features) with a known last axis, got input shape {tuple(shape)}")
        self.forward_layer.ensure_built(tuple(shape))
        self.backward_layer.ensure_built(tuple(shape))
        self.built = True
        if self._initial_weights is not None:
            w, self._initial_weights = self._initial_weights, None
            self.set_weights(w)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0] if _is_multi(input_shape) else input_shape)
        f = self.forward_layer.compute_output_shape(shape)
        b = self.backward_layer.compute_output_shape(shape)
        f_out, f_st = (f[0], f[1:]) if self.return_state else (f, [])
        b_out, b_st = (b[0], b[1:]) if self.return_state else (b, [])
        if self.merge_mode is None:
            outs = [tuple(f_out), tuple(b_out)]
        elif self.merge_mode == "concat":
            outs = [tuple(f_out[:-1]) + (f_out[-1] + b_out[-1],)]
        else:
            outs = [tuple(f_out)]
        outs += [tuple(s) for s in f_st] + [tuple(s) for s in b_st]
        return outs if len(outs) > 1 else outs[0]

    def compute_mask(self, x, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if self.return_sequences:
            out = [mask, mask] if self.merge_mode is None else [mask]
        else:
            out = [None, None] if self.merge_mode is None else [None]
        if self.return_state:
            out += [None] * (self._n_states(self.forward_layer)
                             + self._n_states(self.backward_layer))
        return out if len(out) > 1 else out[0]

    # ------------------------------------------------------------------ computing
    def _split(self, x):
        nf, nb = self._n_states(self.forward_layer), self._n_states(self.backward_layer)
        if isinstance(x, (list, tuple)):
            if len(x) != 1 + nf + nb:
                raise ValueError(f"{self._who()} takes [inputs, *forward_states, *backward_states] "
                                 f"({1 + nf + nb} arrays) when initial states are given, got "
                                 f"{len(x)}")
            return x[0], list(x[1:1 + nf]), list(x[1 + nf:]), True
        return x, None, None, False

    def forward(self, x, training=False, mask=None):
        x, s_f, s_b, has_states = self._split(x)
        x = self._float_input(x, ndim=3)
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != x.shape[:2]:
                raise ValueError(f"{self._who()} mask must have shape (batch, timesteps) = "
                                 f"{x.shape[:2]}, got {mask.shape}")
            mask = mask.astype(bool)
        out_f, back_f = self.forward_layer.forward([x] + s_f if has_states else x,
                                                   training=training, mask=mask)
        out_b, back_b = self.backward_layer.forward([x] + s_b if has_states else x,
                                                    training=training, mask=mask)
        if self.return_state:
            y_f, fin_f = out_f[0], list(out_f[1:])
            y_b, fin_b = out_b[0], list(out_b[1:])
        else:
            y_f, fin_f, y_b, fin_b = out_f, [], out_b, []
        seq = self.return_sequences
        keep = None
        if seq:
            y_b = y_b[:, ::-1]  # back into input time order
            if mask is not None:
                keep = mask[:, :, None].astype(y_f.dtype)
                y_f, y_b = y_f * keep, y_b * keep
        mode = self.merge_mode
        if mode is None:
            main = [y_f, y_b]
        elif mode == "concat":
            main = [np.concatenate([y_f, y_b], axis=-1)]
        elif mode == "sum":
            main = [y_f + y_b]
        elif mode == "mul":
            main = [y_f * y_b]
        else:
            main = [(y_f + y_b) * 0.5]
        outs = main + fin_f + fin_b
        out = outs if len(outs) > 1 else outs[0]
        u_f = y_f.shape[-1]
        n_main, nf = len(main), len(fin_f)

        def backward(d_out):
            ds = list(d_out) if len(outs) > 1 else [d_out]
            if len(ds) != len(outs):
                raise ValueError(f"{self._who()} returns {len(outs)} arrays; backward needs "
                                 f"{len(outs)} gradients (None for unused ones)")
            d_main, d_sf, d_sb = ds[:n_main], ds[n_main:n_main + nf], ds[n_main + nf:]
            if mode is None:
                d_f, d_b = d_main
            elif d_main[0] is None:
                d_f = d_b = None
            else:
                d = np.asarray(d_main[0], dtype=y_f.dtype)
                if mode == "concat":
                    d_f, d_b = d[..., :u_f], d[..., u_f:]
                elif mode == "sum":
                    d_f, d_b = d, d
                elif mode == "mul":
                    d_f, d_b = d * y_b, d * y_f
                else:
                    d_f = d_b = d * 0.5
            if keep is not None:
                d_f = None if d_f is None else d_f * keep
                d_b = None if d_b is None else d_b * keep
            if seq and d_b is not None:
                d_b = np.ascontiguousarray(d_b[:, ::-1])  # into processing order
            g_f = back_f([d_f] + d_sf if self.return_state else d_f)
            g_b = back_b([d_b] + d_sb if self.return_state else d_b)
            if has_states:
                return [g_f[0] + g_b[0]] + list(g_f[1:]) + list(g_b[1:])
            return g_f + g_b

        return out, backward

    # ------------------------------------------------------------------ config
    def get_config(self):
        cfg = super().get_config()
        spec = LAYERS.serialize(self.forward_layer)       # saved under the wrapped layer's name
        name = self.forward_layer.name
        spec["config"]["name"] = name[len("forward_"):] if name.startswith("forward_") else name
        spec["config"].pop("batch_input_shape", None)
        cfg.update(layer=spec, merge_mode=self.merge_mode)
        if self._custom_backward:
            cfg["backward_layer"] = LAYERS.serialize(self.backward_layer)
        return cfg


# =========================================================================== TimeDistributed
class TimeDistributed(Wrapper):
    """Apply ``layer`` to every time step: (N, T, ...) is folded to (N·T, ...), passed through the
    layer, and unfolded to (N, T, ...).  The folded call is one batch, so the backward pass is the
    inner backward of the folded gradient, unfolded; parameter gradients sum over all N·T steps by
    construction.  The weights are the inner layer's (same keys).  An incoming (N, T, ...) mask is
    folded the same way for the inner layer and passed on unchanged (or, if the inner layer makes
    one, its mask unfolded and reduced with ``any`` over the axes after T, as tf.keras)."""

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)

    def _inner(self):
        return [("", self.layer)]

    def _inner_shape(self, input_shape):
        if _is_multi(input_shape):
            raise ValueError(f"{self._who()} takes a single input, got {len(input_shape)}")
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError(f"{self._who()} needs inputs of rank >= 3 (batch, timesteps, ...), "
                             f"got input shape {shape}")
        return (None,) + shape[2:]

    def build(self, input_shape):
        self.layer.ensure_built(self._inner_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(self._inner_shape(input_shape))
        if isinstance(inner, list):
            raise ValueError(f"{self._who()} cannot wrap layer {self.layer.name!r}, which has "
                             "several outputs")
        return tuple(input_shape[:2]) + tuple(inner[1:])

    @staticmethod
    def _fold(a, n, t):
        return None if a is None else np.asarray(a).reshape((n * t,) + np.shape(a)[2:])

    def _check(self, x):
        if isinstance(x, (list, tuple)):
            raise ValueError(f"{self._who()} takes a single input, got a list of {len(x)}")
        x = np.asarray(x)
        if x.ndim < 3:
            raise ValueError(f"{self._who()} needs inputs of rank >= 3 (batch, timesteps, ...), "
                             f"got shape {x.shape}")
        return x

    def forward(self, x, training=False, mask=None):
        x = self._check(x)
        n, t = x.shape[:2]
        if mask is not None and np.shape(mask)[:2] != (n, t):
            raise ValueError(f"{self._who()} mask must start with (batch, timesteps) = ({n}, {t}), "
                             f"got shape {np.shape(mask)}")
        y, back = self.layer.forward(self._fold(x, n, t), training=training,
                                     mask=self._fold(mask, n, t))
        y = y.reshape((n, t) + y.shape[1:])

        def backward(dy):
            d = back(np.asarray(dy).reshape((n * t,) + np.shape(dy)[2:]))
            return None if d is None else d.reshape(x.shape)

        return y, backward

    def compute_mask(self, x, mask):
        x = self._check(x)
        n, t = x.shape[:2]
        folded = self._fold(mask, n, t)
        inner = self.layer.compute_mask(self._fold(x, n, t), folded)
        if inner is None or inner is folded:  # the inner layer makes no mask of its own
            return mask
        inner = np.asarray(inner, dtype=bool).reshape((n, t) + np.shape(inner)[1:])
        if inner.ndim > 2:
            inner = inner.any(axis=tuple(range(2, inner.ndim)))
        return inner

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = LAYERS.serialize(self.layer)
        return cfg


__all__ = ["Wrapper", "Bidirectional", "TimeDistributed"]

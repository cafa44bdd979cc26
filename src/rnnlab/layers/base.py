"""The Layer base class and the layer contract.

A layer owns ``params`` (Keras's names, order and layouts) and ``grads`` (same keys).  Its
``forward(x, training, mask)`` returns the output and a closure ``backward(d_out) -> d_in`` that
*adds* parameter gradients into ``self.grads``.  Returning the closure instead of caching inputs on
the layer keeps a layer reusable: applied twice (a shared layer), it yields two closures and the
gradients of both calls add up.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Callable

import numpy as np

from rnnlab import config
from rnnlab import initializers as _init
from rnnlab.registry import Registry

_NAME_COUNTS: defaultdict[str, int] = defaultdict(int)


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return re.sub(r"(\d)_d$", r"\1d", s.lower())  # Conv1D -> conv1d, as Keras


def unique_name(prefix: str) -> str:
    """Keras-style automatic names: ``dense``, ``dense_1``, ``dense_2`` ..."""
    n = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_names() -> None:
    """Forget the automatic-name counters (Keras's ``clear_session`` for names)."""
    _NAME_COUNTS.clear()


Backward = Callable[[np.ndarray], np.ndarray]


class Layer:
    """Base class of every rnnlab layer.

    Subclasses set up their arguments in ``__init__``, create weights in ``build(input_shape)`` with
    :meth:`add_weight`, and implement ``forward`` and ``compute_output_shape``.  ``input_shape``
    (without the batch axis, as in Keras) may be given to the first layer of a model.

    Every rnnlab layer class is in :data:`LAYERS` under its class name (see
    ``__init_subclass__``); a user's layer joins it with
    ``@rnnlab.registry.register_serializable()`` so that models holding it can be saved and loaded.
    """

    #: Names of call keyword arguments that are settings, not arrays (Attention's
    #: ``use_causal_mask``): a functional graph records their values with the call (and in the
    #: model's config) and passes them to ``forward``, ``compute_output_shape`` and
    #: ``compute_mask`` as keywords.
    call_options: tuple[str, ...] = ()
    #: Names of call keyword arguments that are arrays without a gradient (MultiHeadAttention's
    #: ``attention_mask``): in a functional graph they are extra inputs of the call, passed to
    #: ``forward`` by name.
    call_tensors: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("rnnlab.") and not cls.__name__.startswith("_"):
            LAYERS.register(cls)

    def __init__(self, name: str | None = None, trainable: bool = True, input_shape=None,
                 input_dim: int | None = None, batch_input_shape=None, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): {sorted(kwargs)}")
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.regularizers: dict[str, object] = {}
        self.non_trainable: set[str] = set()
        self.built = False
        self.dtype = dtype
        self.input_spec_shape = None  # the full input shape the layer was built for
        if batch_input_shape is not None:
            self.batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self.batch_input_shape = (None,) + tuple(input_shape)
        elif input_dim is not None:
            self.batch_input_shape = (None, int(input_dim))
        else:
            self.batch_input_shape = None

    # ------------------------------------------------------------------ weights
    @property
    def compute_dtype(self) -> str:
        return self.dtype or config.floatx()

    def add_weight(self, name: str, shape, initializer="zeros", regularizer=None,
                   trainable: bool = True) -> np.ndarray:
        """Create parameter ``name`` of ``shape`` from an initializer drawn on the global generator.
        """
        init = _init.get(initializer)
        value = np.asarray(init(tuple(int(s) for s in shape), self.compute_dtype, config.rng()),
                           order="C")  # (not ascontiguousarray, which turns shape () into (1,))
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        if regularizer is not None:
            self.regularizers[name] = regularizer
        if not trainable:
            self.non_trainable.add(name)
        return value

    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included, None where free).
        """
        self.built = True

    def ensure_built(self, input_shape) -> None:
        if not self.built:
            self.input_spec_shape = (tuple(input_shape) if not _is_multi(input_shape)
                                     else input_shape)
            self.build(input_shape)
            self.built = True

    def zero_grads(self) -> None:
        for g in self.grads.values():
            g.fill(0.0)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters, in Keras's order."""
        return [p.copy() for p in self.params.values()]

    def checked_weights(self, weights) -> list[np.ndarray]:
        """``weights`` checked against the parameters (count, shape, real finite numbers that fit
        the dtype) and cast to their dtypes, without assigning anything: a ValueError or
        TypeError naming the layer and weight otherwise."""
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(f"Layer {self.name!r} expects {len(self.params)} weight arrays "
                             f"({list(self.params)}), got {len(weights)}")
        out = []
        for (key, old), new in zip(self.params.items(), weights):
            what = f"Layer {self.name!r} weight {key!r}"
            new = np.asarray(new)
            if new.shape != old.shape:
                raise ValueError(f"{what} has shape {old.shape}, got an array of shape "
                                 f"{new.shape}")
            if new.dtype == object or np.issubdtype(new.dtype, np.complexfloating) or not (
                    np.issubdtype(new.dtype, np.number) or new.dtype == bool):
                raise TypeError(f"{what} must hold real numbers, got dtype {new.dtype}")
            with np.errstate(over="ignore"):
                cast = new.astype(old.dtype)
            if not np.isfinite(cast).all():
                raise ValueError(f"{what} has non-finite values (NaN or inf, or beyond the "
                                 f"range of {old.dtype})")
            out.append(cast)
        return out

    def set_weights(self, weights) -> None:
        """Replace the parameters with ``weights`` (Keras's order): all are checked
        (:meth:`checked_weights`) before any is replaced."""
        for arr, new in zip(list(self.params.values()), self.checked_weights(weights)):
            arr[...] = new

    def validate_input(self, x) -> None:
        """Check a whole input array before a model trains on it (fit checks the layers that
        read the model's inputs, so that a bad value in a late batch is refused before the first
        update).  Layers with constraints on values override this; shapes are checked per
        batch."""

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def trainable_param_names(self) -> list[str]:
        if not self.trainable:
            return []
        return [k for k in self.params if k not in self.non_trainable]

    # ------------------------------------------------------------------ computing
    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, x, mask):
        """The mask this layer passes on (by default the one it received)."""
        return mask

    def forward(self, x, training: bool = False, mask=None):
        raise NotImplementedError

    def __call__(self, x, training: bool = False, mask=None, **kwargs):
        """Apply the layer eagerly to arrays (building it on first use) and return the output."""
        symbolic = _symbolic_in(x)
        if symbolic is not None:       # building a graph: the symbolic tensor records the call
            return symbolic.call_layer(self, x, kwargs)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s): "
                            f"{sorted(kwargs)}")
        if isinstance(x, (list, tuple)):
            x = [np.asarray(v) for v in x]
            self.ensure_built([(None,) + v.shape[1:] for v in x])
        else:
            x = np.asarray(x)
            self.ensure_built((None,) + x.shape[1:])
        self._check_finite(x)
        return self.forward(x, training=training, mask=mask)[0]

    # ------------------------------------------------------------------ structure
    def sublayers(self) -> list[Layer]:
        """The layers this one runs inside itself (a wrapper's wrapped layers); [] by default."""
        return []

    def step_units(self) -> int:
        """The width of the per-step recurrence this layer runs (a recurrent layer's units), 0 if
        none: the model uses it to decide how the cores are shared (rnnlab.runtime)."""
        return 0

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable}
        if self.dtype is not None:
            cfg["dtype"] = self.dtype
        if self.batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self.batch_input_shape)
        return cfg

    @classmethod
    def from_config(cls, cfg: dict):
        return cls(**cfg)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"

    # ------------------------------------------------------------------ input checks
    def _float_input(self, x, ndim=None, min_ndim=None, last_dim=None, what="input") -> np.ndarray:
        """Validate a float input and cast it to the layer's dtype; errors name the layer."""
        x = np.asarray(x)
        if (x.dtype == self.compute_dtype and (ndim is None or x.ndim == ndim)
                and (min_ndim is None or x.ndim >= min_ndim)
                and (last_dim is None or x.shape[-1] == last_dim)):
            return x          # the common case inside a model, without the dtype inspection below
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise TypeError(f"Layer {self.name!r} ({type(self).__name__}) expects a numeric "
                            f"{what}, got dtype {x.dtype}")
        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects a {what} of "
                             f"rank {ndim}, got shape {x.shape} (rank {x.ndim})")
        if min_ndim is not None and x.ndim < min_ndim:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects a {what} of "
                             f"rank >= {min_ndim}, got shape {x.shape}")
        if last_dim is not None and x.shape[-1] != last_dim:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) was built for a last "
                             f"axis of size {last_dim}, got {what} of shape {x.shape}")
        return x.astype(self.compute_dtype, copy=False)

    def _check_finite(self, x) -> None:
        """User-facing calls reject NaN/inf; inside a model only the model's inputs are checked, so
        that a diverging run reports a NaN loss (as Keras does) instead of failing mid-epoch."""
        for v in (x if isinstance(x, list) else [x]):
            if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
                raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) got non-finite "
                                 "values (NaN or inf) in its input")


def _is_multi(shape) -> bool:
    return isinstance(shape, list) or (isinstance(shape, tuple) and len(shape) > 0
                                       and isinstance(shape[0], (tuple, list)))


def walk(layers) -> list[Layer]:
    """``layers`` and, depth first, every layer inside them (:meth:`Layer.sublayers`), each once."""
    seen, out, todo = set(), [], list(layers)[::-1]
    while todo:
        layer = todo.pop()
        if id(layer) not in seen:
            seen.add(id(layer))
            out.append(layer)
            todo += list(layer.sublayers())[::-1]
    return out


def _symbolic_in(x):
    """The first symbolic tensor in ``x`` (an object with a true ``is_symbolic`` attribute, such as
    rnnlab.models.graph.SymbolicTensor), or None.  Layers know only this protocol: the symbolic
    tensor's ``call_layer(layer, x, kwargs)`` records the call (the layers package must not
    import the models package: dependencies point downward)."""
    for v in (x if isinstance(x, (list, tuple)) else (x,)):
        if getattr(v, "is_symbolic", False) is True:
            return v
    return None


#: Every layer class by its registered name: rnnlab's own (added by ``Layer.__init_subclass__``)
#: and users' (``@rnnlab.registry.register_serializable()``).  Wrappers, model configs and saving
#: look layer classes up here and nowhere else.
LAYERS = Registry("layer", Layer)

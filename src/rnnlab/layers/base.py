"""The Layer base class and the layer contract.

A layer owns ``params`` (Keras's names, order and layouts) and ``grads`` (same keys).  Its
``forward(x, training, mask)`` returns the output and a closure ``backward(d_out) -> d_in`` that
*adds* parameter gradients into ``self.grads``.  Returning the closure instead of caching inputs on
the layer keeps a layer reusable: applied twice (a shared layer), it yields two closures and the
gradients of both calls add up.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections import defaultdict
from typing import Callable

import numpy as np

from rnnlab import checks, config
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.registry import Registry

_NAME_COUNTS: defaultdict[str, int] = defaultdict(int)

#: The most elements one weight may hold: a units or input_dim of 10**12 (a typo, or a hostile
#: model file) is refused with the layer and argument named instead of reaching the allocator.
MAX_WEIGHT_ELEMENTS = 2 ** 31

_WEIGHT_MODES = ("initialize", "zeros", "shapes")
_WEIGHT_MODE: contextvars.ContextVar[str] = contextvars.ContextVar("weight_mode",
                                                                   default="initialize")


@contextlib.contextmanager
def weight_mode(mode: str):
    """Within the block, :meth:`Layer.add_weight` skips the initializers: ``"zeros"`` makes
    zero arrays (a model about to receive its weights from a file need not draw them), and
    ``"shapes"`` allocates nothing at all (each weight is one zero seen through zero strides), so
    that the weight shapes an untrusted config implies can be checked before memory is spent on
    them.  A model built under ``"shapes"`` is only good for reading its weights' shapes."""
    if mode not in _WEIGHT_MODES:
        raise ValueError(f"weight mode must be one of {list(_WEIGHT_MODES)}, got {mode!r}")
    token = _WEIGHT_MODE.set(mode)
    try:
        yield
    finally:
        _WEIGHT_MODE.reset(token)


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
                 input_dim: int | None = None, batch_input_shape=None, dtype=None,
                 activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): {sorted(kwargs)}")
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.regularizers: dict[str, object] = {}
        self.constraints: dict[str, object] = {}
        self.non_trainable: set[str] = set()
        # Keras 3: a penalty on the layer's output, regularizer(output) / batch size, added to
        # the loss (see regularize_activity)
        self.activity_regularizer = _reg.get(activity_regularizer)
        self.built = False
        self.dtype = dtype
        self.input_spec_shape = None  # the full input shape the layer was built for
        if batch_input_shape is not None:
            self.batch_input_shape = self._shape_arg(batch_input_shape, "batch_input_shape")
        elif input_shape is not None:
            self.batch_input_shape = (None,) + self._shape_arg(input_shape, "input_shape")
        elif input_dim is not None:
            self.batch_input_shape = (None, checks.positive_int(input_dim, "input_dim",
                                                                who=self._who_layer()))
        else:
            self.batch_input_shape = None

    # ------------------------------------------------------------------ weights
    @property
    def compute_dtype(self) -> str:
        return self.dtype or config.floatx()

    def add_weight(self, name: str, shape, initializer="zeros", regularizer=None,
                   trainable: bool = True, constraint=None) -> np.ndarray:
        """Create parameter ``name`` of ``shape`` from an initializer drawn on the global generator.

        ValueError, naming the layer and the argument behind the size, for a shape that is not
        whole numbers >= 0, holds more than :data:`MAX_WEIGHT_ELEMENTS` or cannot be allocated.
        ``constraint`` (rnnlab.constraints) projects the weight after each optimizer update
        (:meth:`apply_constraints`); a non-trainable weight is never updated nor constrained."""
        init = _init.get(initializer)
        shape = self._weight_shape(name, shape)
        dtype = np.dtype(self.compute_dtype)
        mode = _WEIGHT_MODE.get()
        try:
            if mode == "shapes":
                value = np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape,
                                                        (0,) * len(shape), writeable=True)
                grad = value
            else:
                # (not ascontiguousarray, which turns shape () into (1,))
                value = (np.zeros(shape, dtype) if mode == "zeros" else
                         np.asarray(init(shape, self.compute_dtype, config.rng()), order="C"))
                grad = np.zeros_like(value)
        except MemoryError:
            raise ValueError(f"{self._who_weight(name, shape)} cannot be allocated (not enough "
                             f"memory for {math.prod(shape) * dtype.itemsize:,} bytes)"
                             f"{self._size_culprit(shape)}") from None
        self.params[name] = value
        self.grads[name] = grad
        if regularizer is not None:
            self.regularizers[name] = regularizer
        constraint = _con.get(constraint)
        if constraint is not None:
            self.constraints[name] = constraint
        if not trainable:
            self.non_trainable.add(name)
        return value

    def _who_layer(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    def _shape_arg(self, shape, arg: str) -> tuple:
        """An ``input_shape``/``batch_input_shape`` argument: a sequence of None or whole numbers
        >= 0 (an int alone is a 1-D shape, as Keras)."""
        if checks.is_int(shape):
            shape = (shape,)
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
            raise ValueError(f"{self._who_layer()} {arg} must be a tuple of None or whole "
                             f"numbers, got {shape!r:.60}")
        dims = tuple(shape)
        if not all(d is None or (checks.is_int(d) and d >= 0) for d in dims):
            raise ValueError(f"{self._who_layer()} {arg} must be a tuple of None or whole "
                             f"numbers >= 0, got {dims!r:.60}")
        return tuple(None if d is None else int(d) for d in dims)

    def _weight_shape(self, name, shape) -> tuple:
        """``shape`` as a tuple of ints, checked: whole numbers >= 0, at most
        :data:`MAX_WEIGHT_ELEMENTS` elements in all."""
        dims = tuple(shape)
        if not all(checks.is_int(d) and d >= 0 for d in dims):
            raise ValueError(f"{self._who_weight(name, dims)} needs whole sizes >= 0 (is an "
                             "input axis unknown?)")
        dims = tuple(int(d) for d in dims)
        size = math.prod(dims)
        if size > MAX_WEIGHT_ELEMENTS:
            raise ValueError(f"{self._who_weight(name, dims)} would hold {size:,} elements, more "
                             f"than the {MAX_WEIGHT_ELEMENTS:,} a weight may hold"
                             f"{self._size_culprit(dims)}")
        return dims

    def _who_weight(self, name, shape) -> str:
        return f"{self._who_layer()} weight {name!r} of shape {tuple(shape)}"

    def _size_culprit(self, shape) -> str:
        """``": check units=..."``: the integer argument(s) of the layer's config that some axis
        of ``shape`` is a small multiple of (gates, directions), else the input's last axis."""
        try:
            cfg = self.get_config()
        except Exception:           # a half-built user layer: name no argument
            cfg = {}
        big = max(shape, default=0)
        named = [f"{k}={v}" for k, v in cfg.items()
                 if checks.is_int(v) and v > 1
                 and any(d % v == 0 and d // v <= 8 for d in shape if d * 64 >= big)]
        if named:
            return f": check {', '.join(named)}"
        return ": check the input's shape (its last axis sets the weight's first axis)"

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

    def apply_constraints(self) -> None:
        """Project each trainable weight that has a constraint, in place (the model calls this
        after every optimizer update, as Keras's optimizer does)."""
        if not self.constraints:
            return
        for name in self.trainable_param_names():
            constraint = self.constraints.get(name)
            if constraint is not None:
                p = self.params[name]
                p[...] = constraint(p)

    def check_backward(self) -> None:
        """Raise if this layer cannot be trained through (fit calls it for every layer before
        the first update, so that the error comes at the start, not mid-way); nothing by
        default."""

    # ------------------------------------------------------------------ computing
    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, x, mask):
        """The mask this layer passes on (by default the one it received)."""
        return mask

    def forward(self, x, training: bool = False, mask=None):
        raise NotImplementedError

    def regularize_activity(self, out, backward):
        """Keras 3's activity regularization of one call: ``(penalty, backward')``.

        For each float output ``y`` (several with return_state) of batch size N the penalty is
        ``R(y) / N`` (``R`` = ``self.activity_regularizer``), and ``backward'`` adds its gradient
        ``R'(y) / N`` to the upstream gradient (zeros where none reaches the output) before
        running ``backward``.  The model adds the penalty to the loss."""
        reg = self.activity_regularizer
        multi = isinstance(out, (list, tuple))
        outs = list(out) if multi else [out]
        penalty, extra = 0.0, []
        for y in outs:
            if (isinstance(y, np.ndarray) and np.issubdtype(y.dtype, np.floating) and y.ndim
                    and y.shape[0]):
                n = y.shape[0]
                penalty += reg.penalty(y) / n
                extra.append((reg.gradient(y) / n).astype(y.dtype, copy=False))
            else:
                extra.append(None)          # no batch (Keras's divide_no_nan: 0) or not float

        def regularized_backward(dy):
            ds = list(dy) if multi else [dy]
            ds = [d if e is None else (e if d is None else d + e) for d, e in zip(ds, extra)]
            return backward(ds if multi else ds[0])

        return penalty, regularized_backward

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
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = _reg.serialize(self.activity_regularizer)
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


def refuse_inner_activity_regularizer(who: str, layers) -> None:
    """A layer run inside another (a wrapper's layer, an RNN's cell) is not called by the model,
    so an activity_regularizer on it would be ignored: refused, saying where to put it."""
    for layer in walk(layers):
        if layer.activity_regularizer is not None:
            raise ValueError(f"{who}: the inner layer {layer.name!r} has an activity_regularizer, "
                             "which rnnlab applies only to the layers a model calls; set it on "
                             "the outer layer instead")


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

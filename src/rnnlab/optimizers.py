"""Optimizers with Keras 3's update rules, defaults and argument names.

An optimizer updates parameters in place from their gradients: ``apply(items)`` takes
``(key, param, grad)`` triples, where ``key`` ("layer/param") names the slot state so that it can be
saved and restored.  ``lr=`` (the lecture's spelling) is accepted with a DeprecationWarning.
"""
from __future__ import annotations

import copy
import math
import re
import warnings

import numpy as np

from rnnlab import checks, schedules
from rnnlab.kernels.ops import get_ops
from rnnlab.kernels.reference import optimizers as _kernels
from rnnlab.kernels.reference.optimizers import AdamaxStep, AdamStep, NadamStep
from rnnlab.registry import Registry


def _learning_rate_arg(value, who):
    """A learning rate: a finite number >= 0 (a float), or a LearningRateSchedule."""
    if isinstance(value, schedules.LearningRateSchedule):
        return value
    if isinstance(value, dict):         # a schedule's config, as get_config() writes it
        return schedules.deserialize(value)
    if callable(value):
        raise TypeError(f"{who} learning_rate must be a number or a "
                        "rnnlab.schedules.LearningRateSchedule, got the function "
                        f"{value!r}: write it as a LearningRateSchedule subclass (its __call__ "
                        "takes the step) so that it can be saved with the model")
    lr = checks.number(value, "learning_rate", who)
    if lr < 0:
        raise ValueError(f"{who} learning_rate must be a finite number >= 0, got {value!r}")
    return lr


class Optimizer:
    """The base class: clipping, decoupled weight decay, the EMA of the weights, the learning
    rate (a number or a schedule of the step) and the per-parameter slots.

    ``learning_rate`` reads as the value the next step uses (a schedule evaluated at
    ``iterations``, as Keras); it cannot be set to a number when it is a schedule (TypeError, as
    Keras).  With ``use_ema`` each parameter's slots end with its moving average, so that
    saving, loading and BackupAndRestore carry it with the other slots."""

    _defaults = {"learning_rate": 0.001}
    #: private attributes that :meth:`snapshot` keeps too (the others are per-step caches)
    _state_private = ("_learning_rate",)

    def __init__(self, learning_rate=None, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        who = type(self).__name__
        if "lr" in kwargs:
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.",
                          DeprecationWarning, stacklevel=3)
            lr = kwargs.pop("lr")
            if learning_rate is None:
                learning_rate = lr
        if "decay" in kwargs:
            decay = kwargs.pop("decay")
            if decay not in (None, 0, 0.0):
                raise ValueError(f"{who}: the `decay` argument was removed in Keras 3 (Keras "
                                 "ignores it); tf.keras 2's decay is the schedule learning_rate="
                                 "rnnlab.schedules.InverseTimeDecay(learning_rate, decay_steps=1, "
                                 f"decay_rate={decay!r})")
        if kwargs:
            raise TypeError(f"{who} got unexpected keyword argument(s): {sorted(kwargs)}")
        if learning_rate is None:
            learning_rate = self._defaults["learning_rate"]
        self._learning_rate = _learning_rate_arg(learning_rate, who)
        for arg, val in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                         ("global_clipnorm", global_clipnorm)):
            if val is not None and not checks.number(val, arg, who) > 0:
                raise ValueError(f"{who} {arg} must be > 0, got {val}")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set")
        if weight_decay is not None:
            weight_decay = checks.number(weight_decay, "weight_decay", who)
            if weight_decay < 0:
                raise ValueError(f"{who} weight_decay must be >= 0 or None, got {weight_decay}")
        if not isinstance(use_ema, (bool, np.bool_)):
            raise TypeError(f"{who} use_ema must be True or False, got {use_ema!r}")
        ema_momentum = checks.number(ema_momentum, "ema_momentum", who)
        if not 0.0 <= ema_momentum <= 1.0:
            raise ValueError(f"{who} ema_momentum must be in [0, 1], got {ema_momentum}")
        ema_overwrite_frequency = checks.positive_int(
            ema_overwrite_frequency, "ema_overwrite_frequency", who, allow_none=True)
        if loss_scale_factor is not None:
            raise ValueError(f"{who} loss_scale_factor={loss_scale_factor!r} is not supported: "
                             "rnnlab trains in float32/float64 and has no loss scaling "
                             "(leave it None)")
        if gradient_accumulation_steps is not None:
            raise ValueError(f"{who} gradient_accumulation_steps={gradient_accumulation_steps!r}"
                             " is not supported by rnnlab (leave it None; use a larger "
                             "batch_size)")
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.weight_decay = weight_decay
        self.use_ema, self.ema_momentum = bool(use_ema), ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.state: dict[str, list[np.ndarray]] = {}
        self._exclude_keys: set = set()
        self._exclude_ids: set = set()
        self._exclude_pattern = None

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule's value at ``iterations``)."""
        return self._lr_at(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value):
        if (isinstance(self._learning_rate, schedules.LearningRateSchedule)
                and not isinstance(value, schedules.LearningRateSchedule)):
            raise TypeError("This optimizer was created with a LearningRateSchedule object as "
                            "its learning_rate, hence its learning rate is not settable. If you "
                            "need the learning rate to be settable, create the optimizer with a "
                            "float learning_rate.")
        self._learning_rate = _learning_rate_arg(value, type(self).__name__)

    # Keras 2 spelling, still used by callbacks written for it
    @property
    def lr(self):
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = value

    @property
    def learning_rate_schedule(self):
        """The LearningRateSchedule the rate follows, or None for a plain number."""
        lr = self._learning_rate
        return lr if isinstance(lr, schedules.LearningRateSchedule) else None

    def _lr_at(self, step: int) -> float:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            value = float(lr(step))
            if not math.isfinite(value):
                raise ValueError(f"{type(self).__name__}: the learning rate schedule {lr!r} gave "
                                 f"{value} at step {step}")
            return value
        return lr

    # ------------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt parameters from ``weight_decay`` (Keras's method): the arrays in ``var_list``,
        and every parameter whose key ("layer/param", e.g. "dense/bias") contains a match of one
        of the regular expressions ``var_names``.  Call it before the first step."""
        if self.state:
            raise ValueError("exclude_from_weight_decay() can only be configured before the "
                             "optimizer's first step")
        self._exclude_ids = {id(v) for v in (var_list or ())}
        names = list(var_names or ())
        if any(not isinstance(n, str) for n in names):
            raise TypeError(f"var_names must be strings, got {names!r}")
        self._exclude_pattern = re.compile("|".join(sorted(set(names)))) if names else None
        self._exclude_keys = set()

    def _decays(self, key: str, p) -> bool:
        if id(p) in self._exclude_ids or key in self._exclude_keys:
            return False
        if self._exclude_pattern is not None and self._exclude_pattern.search(key):
            self._exclude_keys.add(key)
            return False
        return True

    # ------------------------------------------------------------------ the step
    def _clip(self, grads):
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                n = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                out.append(g * (self.clipnorm / n) if n > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            n = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads)))
            if n > self.global_clipnorm:
                return [g * (self.global_clipnorm / n) for g in grads]
        return grads

    def apply(self, items, zero_grads: bool = False) -> None:
        """One step: update every ``param`` in place from its ``grad``.

        As Keras 3: the gradients are clipped, the weights decayed (``p ← p·(1 - lr·wd)``), the
        update applied with the learning rate of this step (a schedule's value at the
        ``iterations`` done before it), then the moving averages updated (and copied into the
        weights every ``ema_overwrite_frequency`` steps).  With ``zero_grads`` every grad is zero
        afterwards, ready for the next step's backward pass to add into (an update that has just
        read a grad may clear it in the same pass)."""
        items = list(items)
        if not items:        # nothing to train (a frozen model): no step, as Keras 3
            return
        n = self._n_slots
        for key, p, _ in items:      # every check before any change
            slots = self.state.get(key)
            if slots is not None and len(slots) != self.slots_per_weight:
                raise ValueError(f"{type(self).__name__}: the state of {key!r} has {len(slots)} "
                                 f"slots, this optimizer keeps {self.slots_per_weight} (state made "
                                 "by an optimizer with other settings)")
        grads = self._clip([g for _, _, g in items])
        step = self.iterations
        self._step_lr = lr = self._lr_at(step)
        self.iterations += 1
        self._begin_step()
        decay = 1.0 - lr * self.weight_decay if self.weight_decay is not None else None
        for (key, p, g_in), g in zip(items, grads):
            slots = self.state.get(key)
            if slots is None:
                slots = self.state[key] = self._new_slots(p) + (
                    [p.copy()] if self.use_ema else [])
            if decay is not None and self._decays(key, p):
                _kernels.decay_weights(p, decay)
            cleared = self._update(p, g, slots[:n] if self.use_ema else slots,
                                   zero_grads and g is g_in)
            if zero_grads and not cleared:
                g_in.fill(0)
        if self.use_ema:
            momentum = self.ema_momentum if step != 0 else 0.0
            overwrite = (self.ema_overwrite_frequency is not None
                         and (step + 1) % self.ema_overwrite_frequency == 0)
            for key, p, _ in items:
                average = self.state[key][-1]
                _kernels.ema_update(average, p, momentum)
                if overwrite:
                    p[...] = average

    def finalize_variable_values(self, items) -> None:
        """With ``use_ema``, copy each parameter's moving average into it (``fit`` does this
        after its last epoch, as Keras); ``items`` are ``(key, param, ...)`` tuples."""
        if not self.use_ema:
            return
        for key, p, *_ in items:
            slots = self.state.get(key)
            if slots:
                p[...] = slots[-1]

    _n_slots = 0

    @property
    def slots_per_weight(self) -> int:
        """How many state arrays this optimizer keeps per weight (its moments, plus the moving
        average with ``use_ema``); a saved state must have as many."""
        return self._n_slots + self.use_ema

    def _begin_step(self) -> None:
        """Per-step quantities shared by every parameter's update (after ``iterations`` += 1;
        ``self._step_lr`` is this step's learning rate)."""

    def _new_slots(self, p):
        return [np.zeros_like(p) for _ in range(self._n_slots)]

    def _update(self, p, g, slots, zero=False):  # pragma: no cover - abstract
        """Update ``p`` in place; with ``zero`` it may also clear ``g`` and return True."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict:
        """A copy of everything a step or a callback may change (iterations, slots, moving
        averages, the learning rate or its schedule: every public attribute and those named in
        ``_state_private``); the other private ones are recomputed at each step."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items()
                if not k.startswith("_") or k in self._state_private}

    def restore(self, snapshot: dict) -> None:
        """Return to a :meth:`snapshot` (a failed fit leaves the optimizer as it found it)."""
        for k in [k for k in vars(self) if not k.startswith("_") or k in self._state_private]:
            delattr(self, k)
        for k, v in snapshot.items():
            setattr(self, k, copy.deepcopy(v))

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The optimizer :meth:`get_config` describes (a schedule's config rebuilt), no state."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"],
                                                            custom_objects)
        return cls(**config)


class SGD(Optimizer):
    """v ← m·v - lr·g; p ← p + v (nesterov: p ← p + m·v - lr·g); plain p ← p - lr·g when m = 0."""
    _defaults = {"learning_rate": 0.01}

    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._n_slots = 1 if self.momentum else 0

    def _update(self, p, g, slots, zero=False):
        lr = p.dtype.type(self._step_lr)
        if not self.momentum:
            p -= lr * g
            return
        v = slots[0]
        v *= self.momentum
        v -= lr * g
        if self.nesterov:
            p += self.momentum * v - lr * g
        else:
            p += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """m ← β1 m + (1-β1) g; v ← β2 v + (1-β2) g²; p ← p - lr·√(1-β2ᵗ)/(1-β1ᵗ) · m / (√v + ε)."""

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        self._n_slots = 3 if self.amsgrad else 2

    def _begin_step(self):
        t = self.iterations
        # a NumPy float64 (not a Python float), so that lr_t·m below is computed in float64
        lr_t = np.float64(self._step_lr * math.sqrt(1.0 - self.beta_2 ** t)
                          / (1.0 - self.beta_1 ** t))
        self._step = AdamStep(lr_t, self.beta_1, self.beta_2, self.epsilon)
        self._ops = get_ops()

    def _update(self, p, g, slots, zero=False):
        # the update itself is a kernel (rnnlab.kernels.reference.optimizers, or the compiled
        # fused pass); slots are (m, v) or, with amsgrad, (m, v, v̂)
        return self._ops.adam_update(p, g, slots, self._step, zero_grad=zero)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class RMSprop(Optimizer):
    """v ← ρ v + (1-ρ) g²; p ← p - lr · g / √(v + ε) (centered: v - ḡ²; optional momentum)."""

    def __init__(self, learning_rate=None, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        self._n_slots = 3

    def _update(self, p, g, slots, zero=False):
        v, mom, avg = slots
        v *= self.rho
        v += (1.0 - self.rho) * g * g
        denom = v
        if self.centered:
            avg *= self.rho
            avg += (1.0 - self.rho) * g
            denom = v - avg * avg
        inc = self._step_lr * g / np.sqrt(denom + self.epsilon)
        if self.momentum:
            mom *= self.momentum
            mom += inc
            inc = mom
        p -= inc.astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """a ← a + g²; p ← p - lr · g / √(a + ε), a starting at initial_accumulator_value."""

    def __init__(self, learning_rate=None, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        self._n_slots = 1

    def _new_slots(self, p):
        return [np.full_like(p, self.initial_accumulator_value)]

    def _update(self, p, g, slots, zero=False):
        a = slots[0]
        a += g * g
        p -= (self._step_lr * g / np.sqrt(a + self.epsilon)).astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): Keras 3's AdamW is Adam
    whose ``weight_decay`` (default 0.004, required) shrinks the weights by ``lr·wd`` before each
    update."""

    def __init__(self, learning_rate=None, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW weight_decay must be a float, got None (use Adam for no "
                             "weight decay)")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016), with Keras 3's momentum schedule
    ``u_t = β1 (1 - ½·0.96ᵗ)`` and ε outside the bias correction (see
    :func:`rnnlab.kernels.reference.optimizers.nadam_update`)."""

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        who = "Nadam"
        self.beta_1 = checks.number(beta_1, "beta_1", who)
        self.beta_2 = checks.number(beta_2, "beta_2", who)
        self.epsilon = checks.number(epsilon, "epsilon", who)
        self._n_slots = 2
        self._u_cache = (0, 1.0, self.beta_1)       # (t, u_1···u_t, β1 it was computed with)

    def _u(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _u_product(self, t: int) -> float:
        """u_1···u_t, the product Keras keeps in a variable; here a function of the step count
        (so that nothing more needs saving), cached from one step to the next."""
        t0, prod, b1 = self._u_cache
        if b1 != self.beta_1 or t0 > t:
            t0, prod = 0, 1.0
        for i in range(t0 + 1, t + 1):
            prod *= self._u(i)
        self._u_cache = (t, prod, self.beta_1)
        return prod

    def _begin_step(self):
        t = self.iterations
        u_t, u_t1 = self._u(t), self._u(t + 1)
        prod_t = self._u_product(t)
        self._step = NadamStep(np.float64(self._step_lr), self.beta_1, self.beta_2, self.epsilon,
                               np.float64(u_t), np.float64(u_t1), np.float64(prod_t),
                               np.float64(prod_t * u_t1), np.float64(self.beta_2 ** t))

    def _update(self, p, g, slots, zero=False):
        return _kernels.nadam_update(p, g, slots, self._step)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adam with the infinity norm (Kingma & Ba, 2015, section 7), Keras 3's update:
    ``u ← max(β2·u, |g|)``, ``p ← p - lr/(1-β1ᵗ) · m / (u + ε)``."""

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        who = "Adamax"
        self.beta_1 = checks.number(beta_1, "beta_1", who)
        self.beta_2 = checks.number(beta_2, "beta_2", who)
        self.epsilon = checks.number(epsilon, "epsilon", who)
        self._n_slots = 2

    def _begin_step(self):
        lr_t = np.float64(self._step_lr / (1.0 - self.beta_1 ** self.iterations))
        self._step = AdamaxStep(lr_t, self.beta_1, self.beta_2, self.epsilon)

    def _update(self, p, g, slots, zero=False):
        return _kernels.adamax_update(p, g, slots, self._step)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


#: Every optimizer class by name; Keras's lower-case names are aliases.
OPTIMIZERS = Registry("optimizer", Optimizer)
for _name, _cls in {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad,
                    "adamw": AdamW, "nadam": Nadam, "adamax": Adamax}.items():
    OPTIMIZERS.register(_cls)
    OPTIMIZERS.alias(_name, _cls)


def get(identifier) -> Optimizer:
    """An optimizer from an instance, a Keras name ('adam', 'sgd', 'rmsprop', 'adagrad',
    'adamw', 'nadam', 'adamax'), or a config written by :func:`serialize`."""
    return OPTIMIZERS.get(identifier)


def serialize(opt: Optimizer) -> dict:
    return OPTIMIZERS.serialize(opt)


def deserialize(spec) -> Optimizer:
    return OPTIMIZERS.get(spec)

"""Optimizers with Keras 3's update rules, defaults and argument names.

An optimizer updates parameters in place from their gradients: ``apply(items)`` takes
``(key, param, grad)`` triples, where ``key`` ("layer/param") names the slot state so that it can be
saved and restored.  ``lr=`` (the lecture's spelling) is accepted with a DeprecationWarning.
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np

from rnnlab.kernels.ops import get_ops
from rnnlab.kernels.reference.optimizers import AdamStep
from rnnlab.registry import Registry


class Optimizer:
    _defaults = {"learning_rate": 0.001}

    def __init__(self, learning_rate=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        if "lr" in kwargs:
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.",
                          DeprecationWarning, stacklevel=3)
            lr = kwargs.pop("lr")
            if learning_rate is None:
                learning_rate = lr
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): "
                            f"{sorted(kwargs)}")
        if learning_rate is None:
            learning_rate = self._defaults["learning_rate"]
        learning_rate = float(learning_rate)
        if not (learning_rate >= 0 and np.isfinite(learning_rate)):
            raise ValueError(f"learning_rate must be a finite number >= 0, got {learning_rate}")
        for arg, val in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                         ("global_clipnorm", global_clipnorm)):
            if val is not None and not float(val) > 0:
                raise ValueError(f"{arg} must be > 0, got {val}")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set")
        self.learning_rate = learning_rate
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.state: dict[str, list[np.ndarray]] = {}

    # Keras 2 spelling, still used by callbacks written for it
    @property
    def lr(self):
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = float(value)

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

        With ``zero_grads`` every grad is zero afterwards, ready for the next step's backward pass
        to add into (an update that has just read a grad may clear it in the same pass)."""
        items = list(items)
        grads = self._clip([g for _, _, g in items])
        self.iterations += 1
        self._begin_step()
        for (key, p, g_in), g in zip(items, grads):
            slots = self.state.get(key)
            if slots is None:
                slots = self.state[key] = self._new_slots(p)
            cleared = self._update(p, g, slots, zero_grads and g is g_in)
            if zero_grads and not cleared:
                g_in.fill(0)

    _n_slots = 0

    def _begin_step(self) -> None:
        """Per-step quantities shared by every parameter's update (after ``iterations`` += 1)."""

    def _new_slots(self, p):
        return [np.zeros_like(p) for _ in range(self._n_slots)]

    def _update(self, p, g, slots, zero=False):  # pragma: no cover - abstract
        """Update ``p`` in place; with ``zero`` it may also clear ``g`` and return True."""
        raise NotImplementedError

    def snapshot(self) -> dict:
        """A copy of everything a step or a callback may change (iterations, slots, the learning
        rate: every public attribute); private ones are recomputed at each step."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if not k.startswith("_")}

    def restore(self, snapshot: dict) -> None:
        """Return to a :meth:`snapshot` (a failed fit leaves the optimizer as it found it)."""
        for k in [k for k in vars(self) if not k.startswith("_")]:
            delattr(self, k)
        for k, v in snapshot.items():
            setattr(self, k, copy.deepcopy(v))

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm,
                "name": self.name}


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
        lr = p.dtype.type(self.learning_rate)
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
        lr_t = np.float64(self.learning_rate * math.sqrt(1.0 - self.beta_2 ** t)
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
        inc = self.learning_rate * g / np.sqrt(denom + self.epsilon)
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
        p -= (self.learning_rate * g / np.sqrt(a + self.epsilon)).astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


#: Every optimizer class by name; Keras's lower-case names are aliases.
OPTIMIZERS = Registry("optimizer", Optimizer)
for _name, _cls in {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}.items():
    OPTIMIZERS.register(_cls)
    OPTIMIZERS.alias(_name, _cls)


def get(identifier) -> Optimizer:
    """An optimizer from an instance, a Keras name ('adam', 'sgd', 'rmsprop', 'adagrad'), or a
    config written by :func:`serialize`."""
    return OPTIMIZERS.get(identifier)


def serialize(opt: Optimizer) -> dict:
    return OPTIMIZERS.serialize(opt)


def deserialize(spec) -> Optimizer:
    return OPTIMIZERS.get(spec)

"""Learning-rate schedules with Keras 3's names, arguments and formulas
(``keras.optimizers.schedules``).

A schedule is a function of the optimizer's step count: an optimizer given one as
``learning_rate=`` evaluates it at ``optimizer.iterations`` (the number of updates done before
this one) at every step, as Keras does.  Schedules hold no state, only their config, so that the
optimizer's config (and so the model file) carries them: ``get_config()`` / ``from_config()``, and
:func:`serialize` / :func:`deserialize` through one registry (a user's schedule is registered with
``@rnnlab.registry.register_serializable()``).  Values are computed in float64.
"""
from __future__ import annotations

import math

from rnnlab import checks
from rnnlab.registry import Registry


class LearningRateSchedule:
    """The base class: ``schedule(step) -> float`` and a config that rebuilds it."""

    def __call__(self, step) -> float:
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__!r} must "
                                  "override __call__(self, step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__!r} must "
                                  "override get_config() in order to be serializable")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _step(step, who) -> float:
    """The step as a float (an int, a NumPy integer or float, a 0-d array)."""
    try:
        s = float(step)
    except (TypeError, ValueError):
        raise TypeError(f"{who} step must be a number, got {step!r}") from None
    if not math.isfinite(s):
        raise ValueError(f"{who} step must be finite, got {step!r}")
    return s


def _steps_arg(value, name, who):
    """A positive step count as given (int or float, kept for the config round trip)."""
    checks.positive_number(value, name, who)
    return int(value) if checks.is_int(value) else float(value)


def _name(value, who):
    if not isinstance(value, str):
        raise TypeError(f"{who} name must be a string, got {value!r}")
    return value


class _StepRatioDecay(LearningRateSchedule):
    """Keras's ExponentialDecay and InverseTimeDecay: the same arguments and the step ratio
    ``p = step / decay_steps`` (floored with ``staircase``) that ``_rate(p)`` turns into the
    learning rate."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        who = type(self).__name__
        self.initial_learning_rate = checks.number(initial_learning_rate,
                                                   "initial_learning_rate", who)
        self.decay_steps = _steps_arg(decay_steps, "decay_steps", who)
        self.decay_rate = checks.number(decay_rate, "decay_rate", who)
        self.staircase = bool(staircase)
        self.name = _name(who if name is None else name, who)

    def __call__(self, step):
        p = _step(step, self.name) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self._rate(p)

    def _rate(self, p: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepRatioDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored (the rate changes every ``decay_steps`` steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rate(self, p):
        return self.initial_learning_rate * self.decay_rate ** p


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` for step <= boundaries[0], ``values[i]`` for boundaries[i-1] < step <=
    boundaries[i], ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        who = "PiecewiseConstantDecay"
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise TypeError(f"{who} boundaries and values must be lists, got {boundaries!r} "
                            f"and {values!r}")
        if len(boundaries) != len(values) - 1 or not boundaries:
            raise ValueError(f"{who}: the length of boundaries should be 1 less than the length "
                             f"of values (and at least 1); got boundaries={list(boundaries)} "
                             f"of length {len(boundaries)} and values={list(values)} of length "
                             f"{len(values)}")
        bounds = [int(b) if checks.is_int(b) else checks.number(b, "boundaries", who)
                  for b in boundaries]
        if any(b >= c for b, c in zip(bounds, bounds[1:])):
            raise ValueError(f"{who} boundaries must increase, got {list(boundaries)}")
        self.boundaries = bounds
        self.values = [checks.number(v, "values", who) for v in values]
        self.name = _name(name, who)

    def __call__(self, step):
        s = _step(step, self.name)
        for b, v in zip(self.boundaries, self.values):
            if s <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, step held at decay_steps;
    with ``cycle`` decay_steps grows to the next multiple of itself past the step instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        who = "PolynomialDecay"
        self.initial_learning_rate = checks.number(initial_learning_rate,
                                                   "initial_learning_rate", who)
        self.decay_steps = _steps_arg(decay_steps, "decay_steps", who)
        self.end_learning_rate = checks.number(end_learning_rate, "end_learning_rate", who)
        self.power = checks.number(power, "power", who)
        self.cycle = bool(cycle)
        self.name = _name(name, who)

    def __call__(self, step):
        s = _step(step, self.name)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if s == 0 else math.ceil(s / self.decay_steps)
        else:
            s = min(s, decay_steps)
        p = s / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power
                + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_StepRatioDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored ratio with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rate(self, p):
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


def _cosine(fraction: float, alpha: float) -> float:
    return (1 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts, Loshchilov & Hutter 2017), with an optional linear
    warmup: from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps, then
    a cosine from ``warmup_target`` down to ``alpha`` times it over ``decay_steps`` steps.
    Without ``warmup_target`` the cosine starts from ``initial_learning_rate``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        who = "CosineDecay"
        self.initial_learning_rate = checks.number(initial_learning_rate,
                                                   "initial_learning_rate", who)
        self.decay_steps = _steps_arg(decay_steps, "decay_steps", who)
        self.alpha = checks.number(alpha, "alpha", who)
        self.name = _name(name, who)
        self.warmup_target = (None if warmup_target is None
                              else checks.number(warmup_target, "warmup_target", who))
        if checks.is_int(warmup_steps):
            self.warmup_steps = checks.non_negative_int(warmup_steps, "warmup_steps", who)
        else:
            self.warmup_steps = checks.number(warmup_steps, "warmup_steps", who)
            if self.warmup_steps < 0:
                raise ValueError(f"{who} warmup_steps must be >= 0, got {warmup_steps!r}")

    def __call__(self, step):
        s = _step(step, self.name)
        if self.warmup_target is None:
            return self.initial_learning_rate * _cosine(min(s, self.decay_steps)
                                                        / self.decay_steps, self.alpha)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            return ((self.warmup_target - self.initial_learning_rate) * (s / self.warmup_steps)
                    + self.initial_learning_rate)
        return self.warmup_target * _cosine((s - self.warmup_steps) / self.decay_steps,
                                            self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the i-th period lasts ``first_decay_steps *
    t_mul**i`` steps and starts from ``initial_learning_rate * m_mul**i``."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        who = "CosineDecayRestarts"
        self.initial_learning_rate = checks.number(initial_learning_rate,
                                                   "initial_learning_rate", who)
        self.first_decay_steps = _steps_arg(first_decay_steps, "first_decay_steps", who)
        self.t_mul = checks.positive_number(t_mul, "t_mul", who)
        self.m_mul = checks.number(m_mul, "m_mul", who)
        self.alpha = checks.number(alpha, "alpha", who)
        self.name = _name(name, who)

    def __call__(self, step):
        fraction = _step(step, self.name) / self.first_decay_steps
        t = self.t_mul
        if t == 1.0:
            i_restart = math.floor(fraction)
            fraction -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t)) / math.log(t))
            sum_r = (1.0 - t ** i_restart) / (1.0 - t)
            fraction = (fraction - sum_r) / t ** i_restart
        m_fac = self.m_mul ** i_restart
        decayed = (1 - self.alpha) * 0.5 * m_fac * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * (decayed + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


#: Every schedule class by name (Keras's class names).
SCHEDULES = Registry("learning rate schedule", LearningRateSchedule)
for _cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
             CosineDecay, CosineDecayRestarts):
    SCHEDULES.register(_cls)


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name", "config"}`` (JSON values)."""
    return SCHEDULES.serialize(schedule)


def deserialize(config, custom_objects=None) -> LearningRateSchedule:
    """A schedule from :func:`serialize`'s dict (``custom_objects``: a user's classes)."""
    return SCHEDULES.deserialize(config, custom_objects)


__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "SCHEDULES",
           "deserialize", "serialize"]

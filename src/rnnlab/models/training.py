"""Helpers of the training loop: turning user data into checked arrays, batching, progress output.
"""
from __future__ import annotations

import dataclasses
import shutil
import sys
import warnings

import numpy as np
from tqdm.auto import tqdm

from rnnlab import checks, config


def as_list(data, names, what: str) -> list:
    """Normalise x or y (an array, a list of arrays, or a dict keyed by input/output name)."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"{what} has unknown name(s) {unknown}; the model's are {list(names)}")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{what} is missing entries for {missing}")
        data = [data[n] for n in names]
    elif isinstance(data, (list, tuple)) and len(names) > 1:
        data = list(data)
    else:
        data = [data]
    if len(data) != len(names):
        raise ValueError(f"The model expects {len(names)} {what} arrays ({list(names)}), "
                         f"got {len(data)}")
    out = []
    for name, d in zip(names, data):
        if d is None:
            raise ValueError(f"{what} for {name!r} is None")
        arr = _to_array(d, f"{what} ({name})")
        out.append(arr)
    return out


def _to_array(d, what):
    if hasattr(d, "to_numpy"):  # pandas Series / DataFrame
        d = d.to_numpy()
    try:
        arr = np.asarray(d)
    except ValueError as exc:
        raise ValueError(f"{what} could not be turned into an array: {exc}") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be numeric (got an object array: ragged sequences or "
                            "strings?); pad sequences and tokenize texts first") from None
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must hold real numbers, got complex dtype {arr.dtype}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch axis, got a scalar")
    if np.issubdtype(arr.dtype, np.floating) and arr.size:
        lo, hi = arr.min(), arr.max()          # NaN propagates; no temporary the size of arr
        if not (np.isfinite(lo) and np.isfinite(hi)):
            bad = int((~np.isfinite(arr)).sum())
            raise ValueError(f"{what} contains {bad} non-finite value(s) (NaN or inf)")
        limit = np.finfo(config.floatx()).max
        if max(-lo, hi) > limit:
            raise ValueError(f"{what} has values up to {max(-lo, hi):.3g}, beyond the largest "
                             f"{config.floatx()} ({limit:.3g}): they would become inf")
    return arr


def check_weights(arr: np.ndarray, what: str) -> np.ndarray:
    """Sample or class weights: finite real numbers >= 0, as float64."""
    if arr.size and arr.min() < 0:
        raise ValueError(f"{what} must be >= 0, got {arr.min()}")
    return arr.astype(np.float64)


def class_weights(class_weight, classes: np.ndarray) -> np.ndarray:
    """Each sample's weight from ``class_weight`` ({class id: weight}), as Keras's fit."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class id: weight}}, got "
                        f"{type(class_weight).__name__}")
    table = {}
    for k, v in class_weight.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"class_weight keys must be integer class ids, got {k!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"class_weight[{k}] must be a real number, got {v!r}")
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"class_weight[{k}] must be finite and >= 0, got {v!r}")
        table[int(k)] = float(v)
    unknown = sorted(set(np.unique(classes).tolist()) - set(table))
    if unknown:
        raise ValueError(f"class_weight has no entry for class(es) {unknown}")
    return np.array([table[c] for c in classes.tolist()], dtype=np.float64)


def check_lengths(arrays_by_kind: dict[str, list[np.ndarray]]) -> int:
    """All arrays must share their first (sample) axis; return its length."""
    lengths = {f"{kind}[{i}]": a.shape[0] for kind, arrs in arrays_by_kind.items()
               for i, a in enumerate(arrs) if a is not None}
    values = set(lengths.values())
    if len(values) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise ValueError(f"Data cardinality is ambiguous: inputs and targets must have the same "
                         f"number of samples ({detail})")
    n = values.pop() if values else 0
    if n == 0:
        raise ValueError("No samples: the data arrays are empty")
    return n


def check_batch_size(batch_size) -> int:
    if batch_size is None:
        return 32
    return checks.positive_int(batch_size, "batch_size")


def check_steps(steps, name: str) -> int | None:
    """``steps_per_epoch``, ``validation_steps`` or ``steps``: None or an integer >= 1."""
    return None if steps is None else checks.positive_int(steps, name)


def check_verbose(verbose) -> int:
    """Keras's verbose: "auto" (a progress bar here), 0, 1 or 2."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    return checks.integer(verbose, "verbose", low=0, high=2)


_RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your data can "
            "generate at least `steps_per_epoch * epochs` batches.")


def limit_steps(steps, n: int, batch_size: int) -> int:
    """The number of batches to run over ``n`` samples: all of them, or the first ``steps``
    (as Keras, a warning when the data has fewer)."""
    n_batches = -(-n // batch_size)
    if steps is None:
        return n_batches
    if steps > n_batches:
        warnings.warn(f"{steps} steps asked for, but the data has {n_batches} batches of "
                      f"{batch_size}: running {n_batches}", UserWarning, stacklevel=3)
        return n_batches
    return steps


@dataclasses.dataclass(frozen=True)
class FitPlan:
    """fit's checked loop settings."""
    n: int
    batch_size: int
    epochs: int
    initial_epoch: int
    steps_per_epoch: int | None
    shuffle: bool
    validation_batch_size: int
    validation_steps: int | None
    validation_freq: int

    @property
    def n_batches(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def steps(self) -> int:
        return self.steps_per_epoch or self.n_batches


class EpochBatches:
    """The sample indices of each training batch, epoch after epoch, as Keras 3 draws them from
    arrays: a new shuffle per pass over the data; with ``steps_per_epoch`` an epoch takes that
    many batches and the next one continues where it stopped, and when a pass runs out within
    an epoch the epoch ends there with a warning."""

    def __init__(self, plan: FitPlan, rng: np.random.Generator):
        self.plan, self.rng = plan, rng
        self.order, self.pos = None, 0

    def epoch(self):
        p = self.plan
        if self.order is None or p.steps_per_epoch is None:
            self.order = self.rng.permutation(p.n) if p.shuffle else np.arange(p.n)
            self.pos = 0
        for _ in range(p.steps):
            if self.pos >= p.n_batches:
                warnings.warn(_RAN_OUT, UserWarning, stacklevel=2)
                break
            idx = self.order[self.pos * p.batch_size:(self.pos + 1) * p.batch_size]
            self.pos += 1
            # sorted: contiguous-ish gathers; the order within a batch is irrelevant
            yield np.sort(idx) if p.shuffle else idx
        if self.pos >= p.n_batches:
            self.order = None


class MeanTracker:
    """The logs of one run over data (an epoch, an evaluation): running means (the loss, over
    every sample seen, as Keras's loss tracker) and stateful metrics, each reset when this
    tracker first updates it, so that a tracker's life is the metrics' accumulation window."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self.metrics: dict = {}

    def add(self, name, total, count):
        self.sums[name] = self.sums.get(name, 0.0) + float(total)
        self.counts[name] = self.counts.get(name, 0.0) + float(count)

    def update_metric(self, name, metric, y_true, y_pred, sample_weight=None):
        if name not in self.metrics:
            metric.reset_state()
            self.metrics[name] = metric
        metric.update_state(y_true, y_pred, sample_weight)

    def result(self) -> dict:
        out = {k: self.sums[k] / max(self.counts[k], 1e-300) for k in self.sums}
        out.update({k: m.result() for k, m in self.metrics.items()})
        return out


def notebook_bars() -> bool:
    """True when tqdm.auto chose tqdm's notebook (ipywidgets) bar: in a Jupyter kernel with
    ipywidgets installed (the ``notebooks`` extra); elsewhere tqdm's text bar."""
    return any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)


def progress_bar(total, desc, verbose):
    """A tqdm bar per epoch for verbose=1 (Keras's live bar), nothing otherwise."""
    if verbose != 1:
        return None
    if notebook_bars():   # a widget: its width is the cell's, not a terminal's columns
        return tqdm(total=total, desc=desc, unit="step", leave=True, mininterval=0.2)
    width = shutil.get_terminal_size((100, 20)).columns or 100  # a pty may report 0 columns
    return tqdm(total=total, desc=desc, unit="step", file=sys.stdout, leave=True,
                ncols=min(width, 120), mininterval=0.2)


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {_format_value(v)}" for k, v in logs.items())


def _format_value(v) -> str:
    """A float as Keras prints it; an array result (a metric per threshold or class) as a list."""
    if np.ndim(v):
        return np.array2string(np.asarray(v), precision=4, separator=", ")
    return f"{v:.4f}"


class StateSnapshot:
    """The carried states of a model's stateful layers, copied so that a rejected call (fit,
    evaluate, predict, a model call) can put them back."""

    def __init__(self, model):
        self.saved = [(arr, arr.copy()) for arr in model._state_arrays()]

    def restore(self) -> None:
        for arr, saved in self.saved:
            arr[...] = saved


class Rollback:
    """What a call to ``fit`` may change (every layer's weights, the optimizer's state, the
    random generator's state, the stateful layers' carried states), copied at its start so that
    a call that fails half-way can put it back: a rejected call changes nothing.  A
    KeyboardInterrupt is not a failure here: as in Keras, the epochs done stay done."""

    def __init__(self, model):
        self.model = model
        self.params = [(arr, arr.copy()) for layer in model._unique_layers()
                       for arr in layer.params.values()]
        self.optimizer = None if model.optimizer is None else model.optimizer.snapshot()
        self.rng_state = config.rng().bit_generator.state
        self.states = StateSnapshot(model)

    def restore(self) -> None:
        for arr, saved in self.params:
            arr[...] = saved                 # in place: layers and kernels hold these arrays
        if self.optimizer is not None:
            self.model.optimizer.restore(self.optimizer)
        config.rng().bit_generator.state = self.rng_state
        self.states.restore()
        for layer in self.model._unique_layers():
            layer.zero_grads()
        self.model._grads_clear = False

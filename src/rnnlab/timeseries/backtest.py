"""Rolling-origin evaluation (time-series cross-validation) of any forecaster.

Fold i (i = 0 .. folds-1) forecasts from origin o_i = T - horizon - stride·(folds-1-i): the model
is fitted on y[:o_i] (``window="expanding"``) or on the last ``train_size`` values before o_i
(``"sliding"``), forecasts ``horizon`` steps and is scored against y[o_i : o_i + horizon].  The
last fold ends with the series.  Each fold's metrics (MAE, RMSE, MAPE, sMAPE, MASE with the fold's
own in-sample seasonal naive scale) and the overall mean over folds come back as a table: a list
of dicts, which ``pandas.DataFrame(table)`` reads as is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rnnlab import checks
from rnnlab.timeseries._series import as_exog, as_series
from rnnlab.timeseries.metrics import METRICS, evaluate

__all__ = ["Fold", "BacktestResult", "fold_origins", "backtest", "compare"]


@dataclass
class Fold:
    index: int
    origin: int            # first forecast step (the training part ends just before it)
    train_start: int
    y_true: np.ndarray
    y_pred: np.ndarray
    metrics: dict
    seconds: float
    lower: np.ndarray | None = None      # the model's own interval (predict_interval), if asked
    upper: np.ndarray | None = None


@dataclass
class BacktestResult:
    model: str
    horizon: int
    m: int
    folds: list = field(default_factory=list)

    @property
    def residuals(self) -> np.ndarray:
        """(folds, horizon) errors y - ŷ, fold by fold, step by step."""
        return np.stack([f.y_true - f.y_pred for f in self.folds])

    def overall(self) -> dict:
        """Each metric's mean over the folds (NaN-aware for MAPE), and the total fit time."""
        out = {"model": self.model, "fold": "overall"}
        for k in METRICS:
            vals = np.array([f.metrics[k] for f in self.folds])
            out[k] = float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else float("nan")
        out["seconds"] = float(sum(f.seconds for f in self.folds))
        return out

    def interval_coverage(self) -> float:
        """Share of held-out values inside the model's own intervals (``interval_alpha``)."""
        if not self.folds or self.folds[0].lower is None:
            raise ValueError(f"{self.model}: the backtest was run without interval_alpha")
        inside = [(f.lower <= f.y_true) & (f.y_true <= f.upper) for f in self.folds]
        return float(np.mean(np.concatenate(inside)))

    def table(self) -> list:
        """One row per fold, then the overall row."""
        rows = [{"model": self.model, "fold": f.index, "origin": f.origin,
                 "train_size": f.origin - f.train_start, **f.metrics, "seconds": f.seconds}
                for f in self.folds]
        return rows + [self.overall()]


def fold_origins(n: int, horizon: int, folds: int, stride: int = 1, window: str = "expanding",
                 train_size=None, min_train: int = 1):
    """(train_start, origin) of each fold, checked: every fold has >= ``min_train`` training
    values and its whole horizon inside the series."""
    who = "backtest()"
    horizon = checks.positive_int(horizon, "horizon", who=who)
    folds = checks.positive_int(folds, "folds", who=who)
    stride = checks.positive_int(stride, "stride", who=who)
    checks.one_of(window, "window", ("expanding", "sliding"), who)
    if window == "sliding":
        train_size = checks.positive_int(train_size, "train_size", who=who)
    elif train_size is not None:
        raise ValueError(f"{who} train_size is for window='sliding' only (an expanding window "
                         f"trains on everything before each origin)")
    if horizon >= n:
        raise ValueError(f"{who} horizon={horizon} is not shorter than the series ({n} values): "
                         f"no value would be left to train on")
    first = n - horizon - stride * (folds - 1)
    if window == "sliding":
        if train_size < min_train:
            raise ValueError(f"{who} train_size={train_size} is below the {min_train} values the "
                             f"model needs to fit")
        if first - train_size < 0:
            need = train_size + horizon + stride * (folds - 1)
            raise ValueError(f"{who} folds={folds} with stride={stride}, horizon={horizon} and "
                             f"train_size={train_size} need {need} values; the series has {n}")
    elif first < min_train:
        left = max(first, 0)
        raise ValueError(f"{who} folds={folds} with stride={stride} and horizon={horizon} leave "
                         f"{left} training values in the first fold of a {n}-value series; "
                         f"the model needs at least {min_train}: use fewer folds or a smaller "
                         f"stride")
    out = []
    for i in range(folds):
        origin = first + stride * i
        out.append((origin - train_size if window == "sliding" else 0, origin))
    return out


def backtest(model, y, horizon: int, folds: int, stride: int = 1, window: str = "expanding",
             train_size=None, m: int = 1, exog=None, interval_alpha=None) -> BacktestResult:
    """Refit ``model`` (anything with ``fit(y, exog=None)`` and ``predict(h)``) at each origin.

    ``m`` is the season of MASE's scale (1: the naive forecast's in-sample MAE).
    ``interval_alpha`` also records the model's ``predict_interval(h, alpha)`` per fold (e.g.
    Monte-Carlo dropout), whose coverage :meth:`BacktestResult.interval_coverage` measures."""
    who = "backtest()"
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise TypeError(f"{who} model must have fit(y) and predict(h), got {model!r}")
    y = as_series(y, who=who)
    exog = as_exog(exog, y.size, who=who)
    m = checks.positive_int(m, "m", who=who)
    if interval_alpha is not None:
        a = checks.number(interval_alpha, "interval_alpha", who)
        if not 0.0 < a < 1.0:
            raise ValueError(f"{who} interval_alpha must be in (0, 1), got {interval_alpha!r}")
        if not hasattr(model, "predict_interval"):
            raise TypeError(f"{who} interval_alpha needs a model with predict_interval(h, "
                            f"alpha), which {model!r} lacks")
    need = max(int(getattr(model, "min_length", 1)), m + 1)
    plan = fold_origins(y.size, horizon, folds, stride, window, train_size, min_train=need)
    result = BacktestResult(model=getattr(model, "name", type(model).__name__), horizon=horizon,
                            m=m)
    for i, (start, origin) in enumerate(plan):
        train = y[start:origin]
        t0 = time.perf_counter()
        if exog is None:
            model.fit(train)
        else:
            model.fit(train, exog=exog[start:origin])
        pred = np.asarray(model.predict(horizon), dtype=np.float64).reshape(-1)
        seconds = time.perf_counter() - t0
        if pred.shape != (horizon,):
            raise ValueError(f"{who} {result.model}.predict({horizon}) returned shape "
                             f"{pred.shape}, expected ({horizon},)")
        truth = y[origin:origin + horizon]
        fold = Fold(i, origin, start, truth, pred, evaluate(truth, pred, train, m), seconds)
        if interval_alpha is not None:
            fold.lower, fold.upper = (np.asarray(v, dtype=np.float64).reshape(-1)
                                      for v in model.predict_interval(horizon, interval_alpha))
        result.folds.append(fold)
    return result


def compare(models, y, horizon: int, folds: int, **kwargs):
    """Backtest several models on the same folds: ({name: result}, overall table)."""
    models = list(models)
    names = [getattr(mdl, "name", type(mdl).__name__) for mdl in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"compare() models need distinct names, {dup} appear more than once")
    results = {}
    for model in models:
        res = backtest(model, y, horizon, folds, **kwargs)
        results[res.model] = res
    return results, [r.overall() for r in results.values()]

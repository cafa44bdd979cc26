"""Supervised windows from one series (and optional exogenous inputs) for a recurrent model.

Window i holds the inputs of steps i .. i+window-1 - the series itself in feature 0 and the
exogenous columns after it - and its targets are the next ``horizon`` values of the series,
steps i+window .. i+window+horizon-1 (direct forecasting: one output per step ahead).  The cutting
is :func:`rnnlab.preprocessing.sequence.timeseries_windows`; this adds the checks (NaN, length,
exogenous shape) and keeps the series' own column as the target.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.preprocessing.sequence import timeseries_windows
from rnnlab.timeseries._series import as_exog, as_series

__all__ = ["make_windows", "last_window"]


def _features(y, exog):
    return y[:, None] if exog is None else np.column_stack([y, exog])


def make_windows(y, window: int, horizon: int = 1, exog=None):
    """``(X, Y)``: X (n, window, 1 + k) inputs, Y (n, horizon) targets,
    n = T - window - horizon + 1."""
    who = "make_windows()"
    window = checks.positive_int(window, "window", who=who)
    horizon = checks.positive_int(horizon, "horizon", who=who)
    y = as_series(y, who=who)
    exog = as_exog(exog, y.size, who=who)
    n = y.size - window - horizon + 1
    if n < 1:
        raise ValueError(f"{who} a series of {y.size} values is too short for window={window} "
                         f"plus horizon={horizon}: it needs at least {window + horizon}")
    X, Y = timeseries_windows(_features(y, exog), window, horizon, features_last=True)
    return X, Y[:, :, 0]


def last_window(y, window: int, exog=None) -> np.ndarray:
    """The inputs (1, window, 1 + k) of the window that ends with the series' last value."""
    who = "last_window()"
    window = checks.positive_int(window, "window", who=who)
    y = as_series(y, who=who)
    exog = as_exog(exog, y.size, who=who)
    if y.size < window:
        raise ValueError(f"{who} the series has {y.size} values, fewer than window={window}")
    return _features(y, exog)[None, -window:]

"""Classical forecasters fitted per series: naive, seasonal naive, drift, linear autoregression.

Each has the same two-step interface (as statsforecast's models): ``fit(y)`` on a history and
``predict(h)`` for the next ``h`` values (a float64 array of length h).  ``fit`` takes an optional
``exog`` that these univariate baselines ignore, so a backtest can pass it to any model.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.timeseries._series import as_series, horizon

__all__ = ["Forecaster", "Naive", "SeasonalNaive", "Drift", "LinearAR"]


class Forecaster:
    """Base: ``fit(y, exog=None) -> self`` then ``predict(h) -> (h,)``."""

    name = "forecaster"
    min_length = 1

    def fit(self, y, exog=None):
        y = as_series(y, who=f"{self.name}.fit()", min_length=self.min_length)
        self._fit(y)
        self.y_ = y
        return self

    def predict(self, h):
        h = horizon(h, who=f"{self.name}.predict()", name="h")
        if not hasattr(self, "y_"):
            raise RuntimeError(f"{self.name}.predict() called before fit()")
        return np.asarray(self._predict(h), dtype=np.float64)

    def _fit(self, y):
        pass

    def _predict(self, h):
        raise NotImplementedError

    def __repr__(self):
        return self.name


class Naive(Forecaster):
    """Every step ahead is the last value: y_{T+j} = y_T."""

    name = "naive"

    def _predict(self, h):
        return np.full(h, self.y_[-1])


class SeasonalNaive(Forecaster):
    """The value one season back: y_{T+j} = y_{T+j-m·(⌊(j-1)/m⌋+1)}."""

    def __init__(self, m: int):
        self.m = checks.positive_int(m, "m", who="SeasonalNaive")
        self.name = f"seasonal_naive(m={self.m})"
        self.min_length = self.m

    def _predict(self, h):
        last = self.y_[-self.m:]
        return np.resize(last, h)        # repeats the last season, in order


class Drift(Forecaster):
    """The line from the first to the last value: y_{T+j} = y_T + j·(y_T - y_1)/(T - 1)."""

    name = "drift"
    min_length = 2

    def _predict(self, h):
        y = self.y_
        slope = (y[-1] - y[0]) / (len(y) - 1)
        return y[-1] + slope * np.arange(1, h + 1)


class LinearAR(Forecaster):
    """y_t = c + a_1·y_{t-1} + ... + a_k·y_{t-k} by least squares; h steps by feeding forecasts
    back (recursive).

    ``coef_`` is [c, a_1, ..., a_k] (the intercept first, as statsmodels' AutoReg ``params``)."""

    def __init__(self, k: int):
        self.k = checks.positive_int(k, "k", who="LinearAR")
        self.name = f"linear_ar(k={self.k})"
        self.min_length = 2 * self.k + 1          # at least k+1 equations for k+1 unknowns

    def _fit(self, y):
        self.coef_ = fit_ar(y[None, :], self.k)

    def _predict(self, h):
        return ar_forecast(self.y_[None, :], self.coef_, h)[0]


def lag_matrix(Y: np.ndarray, k: int):
    """Design [1, y_{t-1}, ..., y_{t-k}] and targets y_t for each row of ``Y`` (n, T), stacked."""
    T = Y.shape[1]
    cols = [Y[:, k - j:T - j] for j in range(1, k + 1)]   # lag j
    X = np.stack(cols, axis=-1).reshape(-1, k)
    return np.column_stack([np.ones(len(X)), X]), Y[:, k:].reshape(-1)


def fit_ar(Y: np.ndarray, k: int) -> np.ndarray:
    """Least-squares AR(k) with intercept pooled over the rows of ``Y`` (one row: one series)."""
    X, t = lag_matrix(np.asarray(Y, dtype=np.float64), k)
    coef, *_ = np.linalg.lstsq(X, t, rcond=None)
    return coef


def ar_forecast(Y: np.ndarray, coef: np.ndarray, h: int) -> np.ndarray:
    """Recursive h-step forecasts (n, h) of an AR with ``coef`` = [c, a_1..a_k] from each row."""
    k = len(coef) - 1
    hist = [Y[:, -j] for j in range(1, k + 1)]            # y_T, y_{T-1}, ...
    out = []
    for _ in range(h):
        nxt = coef[0] + sum(a * v for a, v in zip(coef[1:], hist))
        out.append(nxt)
        hist = [nxt] + hist[:-1]
    return np.stack(out, axis=1)

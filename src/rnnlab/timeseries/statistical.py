"""ETS and ARIMA through statsmodels (the optional extra ``rnnlab[timeseries]``).

Thin wrappers with the baselines' ``fit(y)`` / ``predict(h)`` interface, so a backtest treats them
like any other model.  statsmodels is imported here only, and only when a model is fitted (its
import takes about a second, which the ``rnnlab`` command should not pay on every start):
:func:`available` says whether it is installed without importing it.
statsmodels' fitting warnings (convergence, start values) are kept in ``warnings_`` rather than
printed once per fold.
"""
from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from rnnlab import checks
from rnnlab.timeseries.baselines import Forecaster

__all__ = ["ETS", "ARIMA", "available"]


def available() -> bool:
    """Whether statsmodels (the ``timeseries`` extra) is installed; nothing is imported."""
    return importlib.util.find_spec("statsmodels") is not None


def _quiet(fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit()
    return res, [str(w.message) for w in caught]


class ETS(Forecaster):
    """Exponential smoothing state-space model (statsmodels ``ETSModel``), fitted by maximum
    likelihood; ``error``/``trend``/``seasonal`` take "add", "mul" or None as statsmodels does."""

    def __init__(self, error="add", trend=None, damped_trend=False, seasonal=None,
                 seasonal_periods=None):
        who = "ETS"
        self.error = checks.one_of(error, "error", ("add", "mul"), who)
        self.trend = checks.one_of(trend, "trend", (None, "add", "mul"), who)
        self.seasonal = checks.one_of(seasonal, "seasonal", (None, "add", "mul"), who)
        if not isinstance(damped_trend, bool):
            raise TypeError(f"ETS damped_trend must be True or False, got {damped_trend!r}")
        if damped_trend and trend is None:
            raise ValueError("ETS damped_trend=True needs a trend ('add' or 'mul')")
        self.damped_trend = damped_trend
        self.seasonal_periods = checks.integer(seasonal_periods, "seasonal_periods", low=2,
                                               who=who, allow_none=seasonal is None)
        parts = [f"error={error}", f"trend={trend}", f"seasonal={seasonal}"]
        if seasonal:
            parts.append(f"m={self.seasonal_periods}")
        self.name = "ets(" + ", ".join(parts) + ")"
        self.min_length = 2 * (self.seasonal_periods or 1) + 3

    def _fit(self, y):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # optional extra
        model = ETSModel(y, error=self.error, trend=self.trend, damped_trend=self.damped_trend,
                         seasonal=self.seasonal, seasonal_periods=self.seasonal_periods)
        self.result_, self.warnings_ = _quiet(lambda: model.fit(disp=False))

    def _predict(self, h):
        return np.asarray(self.result_.forecast(h))


class ARIMA(Forecaster):
    """ARIMA(p, d, q) (statsmodels ``tsa.arima.model.ARIMA``, state-space maximum likelihood);
    ``trend`` as statsmodels ("n", "c", "t", "ct"; None lets statsmodels choose)."""

    def __init__(self, order=(1, 0, 0), trend=None):
        if not (isinstance(order, (tuple, list)) and len(order) == 3):
            raise ValueError(f"ARIMA order must be a (p, d, q) tuple, got {order!r}")
        self.order = tuple(checks.non_negative_int(v, n, who="ARIMA")
                           for v, n in zip(order, ("order p", "order d", "order q")))
        self.trend = checks.one_of(trend, "trend", (None, "n", "c", "t", "ct"), "ARIMA")
        self.name = f"arima{self.order}"
        self.min_length = sum(self.order) + 2

    def _fit(self, y):
        from statsmodels.tsa.arima.model import ARIMA as _SMARIMA  # optional extra
        model = _SMARIMA(y, order=self.order, trend=self.trend)
        self.result_, self.warnings_ = _quiet(lambda: model.fit())

    def _predict(self, h):
        return np.asarray(self.result_.forecast(h))

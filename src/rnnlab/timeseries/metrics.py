"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE and MASE on one forecast (Hyndman & Koehler, 2006).

MAPE and sMAPE are in percent (the M4 competition's convention):
``MAPE = 100·mean|e/y|``, ``sMAPE = 100·mean(2|e| / (|y| + |ŷ|))`` with e = y - ŷ.  MASE divides
the MAE by the in-sample MAE of the seasonal naive forecast on the training series,
``mean_{t>m} |y_t - y_{t-m}|``, so 1 means "as good as seasonal naive in-sample".  A MAPE over a
zero true value and a MASE over a training series with no seasonal change are undefined: NaN for
MAPE (listed so in tables), an error for MASE.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.timeseries._series import as_series

__all__ = ["mae", "rmse", "mape", "smape", "mase", "METRICS", "evaluate"]


def _pair(y_true, y_pred, who):
    t = as_series(y_true, "y_true", who)
    p = as_series(y_pred, "y_pred", who)
    if t.shape != p.shape:
        raise ValueError(f"{who} y_true and y_pred differ in length: {t.size} vs {p.size}")
    return t, p


def mae(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred, "mae()")
    return float(np.mean(np.abs(t - p)))


def rmse(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred, "rmse()")
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mape(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred, "mape()")
    if np.any(t == 0):
        return float("nan")
    return float(100.0 * np.mean(np.abs((t - p) / t)))


def smape(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred, "smape()")
    den = np.abs(t) + np.abs(p)
    num = 2.0 * np.abs(t - p)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)   # 0/0: exact, no error
    return float(100.0 * np.mean(terms))


def mase_scale(y_train, m: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast: mean |y_t - y_{t-m}| over t > m."""
    m = checks.positive_int(m, "m", who="mase()")
    y = as_series(y_train, "y_train", "mase()")
    if y.size <= m:
        raise ValueError(f"mase() y_train has {y.size} values, needs more than m={m}")
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    if scale == 0.0:
        raise ValueError(f"mase() y_train does not change over a season (m={m}): the scale "
                         f"mean|y_t - y_(t-m)| is 0, MASE is undefined")
    return scale


def mase(y_true, y_pred, y_train, m: int = 1) -> float:
    return mae(y_true, y_pred) / mase_scale(y_train, m)


METRICS = ("mae", "rmse", "mape", "smape", "mase")


def evaluate(y_true, y_pred, y_train, m: int = 1) -> dict:
    """All five metrics as a dict (MASE with the seasonal naive scale of period ``m``)."""
    return {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred),
            "mape": mape(y_true, y_pred), "smape": smape(y_true, y_pred),
            "mase": mase(y_true, y_pred, y_train, m)}

"""Scaling per series, fitted on the training part only (no look-ahead), inverted on forecasts.

``SeriesScaler("standard")`` maps y to (y - mean)/std, ``"minmax"`` to [-1, 1] (the lecture's
scaling of the Fortune 500 prices).  Statistics come from the array given to :meth:`fit` - the
training window of a fold - never from the values to forecast.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.timeseries._series import as_series

__all__ = ["SeriesScaler"]


class SeriesScaler:
    def __init__(self, method: str = "standard"):
        self.method = checks.one_of(method, "method", ("standard", "minmax"), "SeriesScaler")

    def fit(self, y):
        y = as_series(y, who="SeriesScaler.fit()", min_length=2)
        if self.method == "standard":
            center, spread = float(y.mean()), float(y.std())
        else:
            lo, hi = float(y.min()), float(y.max())
            center, spread = (hi + lo) / 2.0, (hi - lo) / 2.0
        if not spread > 0.0:
            raise ValueError(f"SeriesScaler.fit() got a constant series (every value is "
                             f"{y[0]!r}): it has no spread to scale by")
        self.center_, self.scale_ = center, spread
        return self

    def _check(self, who):
        if not hasattr(self, "scale_"):
            raise RuntimeError(f"SeriesScaler.{who}() called before fit()")

    def transform(self, y):
        self._check("transform")
        return (np.asarray(y, dtype=np.float64) - self.center_) / self.scale_

    def fit_transform(self, y):
        return self.fit(y).transform(y)

    def inverse_transform(self, z):
        self._check("inverse_transform")
        return np.asarray(z, dtype=np.float64) * self.scale_ + self.center_

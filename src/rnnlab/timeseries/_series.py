"""Validation shared by the time-series helpers: one series, a horizon, exogenous inputs.

Every check raises with a message naming the argument and the problem (a NaN and where it is, a
horizon longer than the series...), before anything is fitted.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks


def as_series(y, name: str = "y", who: str | None = None, min_length: int = 1) -> np.ndarray:
    """``y`` as a 1-D float64 array of at least ``min_length`` finite values."""
    pre = f"{who} " if who else ""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{pre}{name} must be a 1-D numeric series: {err}") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{pre}{name} must be a 1-D series, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        kind = "missing values (NaN)" if np.isnan(arr[bad[0]]) else "infinite values"
        raise ValueError(f"{pre}{name} has {bad.size} {kind} (first at index {bad[0]}): fill or "
                         f"drop them before forecasting")
    if arr.size < min_length:
        raise ValueError(f"{pre}{name} has {arr.size} values, needs at least {min_length}")
    return arr


def as_exog(exog, n: int, who: str | None = None, name: str = "exog") -> np.ndarray | None:
    """Exogenous inputs as a finite (n, k) float64 array aligned with the series (or None)."""
    if exog is None:
        return None
    pre = f"{who} " if who else ""
    try:
        arr = np.asarray(exog, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{pre}{name} must be numeric: {err}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"{pre}{name} must have shape ({n}, k) to match the series, "
                         f"got {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{pre}{name} has {len(bad)} missing or infinite values (first at row "
                         f"{bad[0][0]}, column {bad[0][1]})")
    return arr


def horizon(h, who: str | None = None, name: str = "horizon") -> int:
    return checks.positive_int(h, name, who=who)

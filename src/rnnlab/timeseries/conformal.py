"""Split conformal prediction intervals per horizon step, from a backtest's residuals.

For step j, the calibration residuals r_1..r_n (one per fold) give the half-width
q_j = the ⌈(n+1)(1-α)⌉-th smallest |r_i| (Vovk et al.; Stankeviciute et al. 2021 for
multi-step forecasts, here without their Bonferroni correction: the 1-α is per step).  If the new
error is exchangeable with the calibration ones, y ∈ [ŷ - q_j, ŷ + q_j] with probability >= 1-α.
:func:`coverage` calibrates on the earlier folds and measures on the later ones (held out in time).
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import checks

__all__ = ["conformal_quantiles", "interval", "coverage"]


def _alpha(alpha, who):
    a = checks.number(alpha, "alpha", who)
    if not 0.0 < a < 1.0:
        raise ValueError(f"{who} alpha must be in (0, 1), got {alpha!r}")
    return a


def conformal_quantiles(residuals, alpha: float = 0.1) -> np.ndarray:
    """Half-widths q (h,) from residuals (n_folds, h)."""
    who = "conformal_quantiles()"
    alpha = _alpha(alpha, who)
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or not np.all(np.isfinite(r)):
        raise ValueError(f"{who} residuals must be a finite (folds, horizon) array")
    n = r.shape[0]
    rank = math.ceil((n + 1) * (1 - alpha))
    if rank > n:
        raise ValueError(f"{who} {n} calibration residuals per step are too few for alpha={alpha}:"
                         f" need at least {math.ceil(1 / alpha) - 1}")
    return np.sort(r, axis=0)[rank - 1]


def interval(forecast, residuals, alpha: float = 0.1):
    """(lower, upper) around ``forecast`` (h,) from calibration ``residuals`` (n, h)."""
    q = conformal_quantiles(residuals, alpha)
    f = np.asarray(forecast, dtype=np.float64)
    if f.shape != q.shape:
        raise ValueError(f"interval() forecast has shape {f.shape}, residuals give {q.shape}")
    return f - q, f + q


def coverage(result, alpha: float = 0.1, calibration_folds=None) -> dict:
    """Calibrate on the first ``calibration_folds`` folds of a backtest (default: half) and
    measure on the rest: the fraction of held-out values inside their interval."""
    who = "coverage()"
    alpha = _alpha(alpha, who)
    res = result.residuals
    n = len(res)
    k = n // 2 if calibration_folds is None else checks.integer(
        calibration_folds, "calibration_folds", low=1, high=n - 1, who=who)
    q = conformal_quantiles(res[:k], alpha)
    held = np.abs(res[k:]) <= q
    return {"model": result.model, "alpha": alpha, "nominal": 1 - alpha,
            "coverage": float(held.mean()), "points": int(held.size),
            "calibration_folds": k, "half_width": q}

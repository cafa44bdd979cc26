"""Split conformal prediction intervals per horizon step, from a backtest's residuals.

For step j, the calibration residuals r_1..r_n (one per fold) give the half-width
q_j = the ⌈(n+1)(1-α)⌉-th smallest |r_i| (Vovk et al.; Stankeviciute et al. 2021 for
multi-step forecasts, here without their Bonferroni correction: the 1-α is per step).  If the new
error is exchangeable with the calibration ones, y ∈ [ŷ - q_j, ŷ + q_j] with probability >= 1-α.
:func:`coverage` measures it on held-out folds, calibrating only on residuals observed before
each forecast origin.
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


def coverage(result, alpha: float = 0.1, method: str = "rolling", calibration_folds=None) -> dict:
    """Measured coverage of conformal intervals on a backtest's held-out values.

    ``"rolling"`` (sequential split conformal): step j of fold i is covered by the interval
    calibrated on the ``calibration_folds`` (default 19) most recent folds whose step j was
    already observed at origin i (o_k + j < o_i), so no future value is used; folds without
    that many predecessors are skipped.  ``"split"``: calibrate once on the first
    ``calibration_folds`` folds (default: half) and measure on the rest."""
    who = "coverage()"
    alpha = _alpha(alpha, who)
    checks.one_of(method, "method", ("rolling", "split"), who)
    res = np.abs(result.residuals)
    n, h = res.shape
    if n < 2:
        raise ValueError(f"{who} needs a backtest of at least 2 folds, got {n}")
    if method == "split":
        k = n // 2 if calibration_folds is None else checks.integer(
            calibration_folds, "calibration_folds", low=1, high=n - 1, who=who)
        q = conformal_quantiles(res[:k], alpha)
        held = (res[k:] <= q).ravel()
        return {"model": result.model, "method": method, "nominal": 1 - alpha,
                "coverage": float(held.mean()), "points": int(held.size),
                "calibration_folds": k, "half_width": q}
    k = 19 if calibration_folds is None else checks.positive_int(
        calibration_folds, "calibration_folds", who=who)
    origins = np.array([f.origin for f in result.folds])
    hits, widths = [], []
    for i in range(n):
        for j in range(h):
            seen = np.flatnonzero(origins + j < origins[i])[-k:]
            if seen.size < k:
                continue
            q = conformal_quantiles(res[seen, j], alpha)[0]
            hits.append(res[i, j] <= q)
            widths.append(q)
    if not hits:
        raise ValueError(f"{who} no fold has {k} earlier observed folds to calibrate on: use "
                         f"more folds or a smaller calibration_folds")
    return {"model": result.model, "method": method, "nominal": 1 - alpha,
            "coverage": float(np.mean(hits)), "points": len(hits), "calibration_folds": k,
            "mean_half_width": float(np.mean(widths))}

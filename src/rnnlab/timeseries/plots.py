"""A backtest's forecasts drawn over the series: one coloured line per fold (matplotlib, the
``plots`` extra, imported inside the function as in :mod:`rnnlab.plotting`)."""
from __future__ import annotations

import numpy as np

from rnnlab.plotting import _new_figure, _save
from rnnlab.timeseries._series import as_series

__all__ = ["plot_backtest"]


def plot_backtest(result, y, intervals=None, path=None, title=None):
    """The series and each fold's forecast; ``intervals`` (h,) half-widths draw a band per fold."""
    y = as_series(y, who="plot_backtest()")
    fig = _new_figure((9.0, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.arange(y.size), y, color="0.4", lw=1, label="series")
    for f in result.folds:
        t = np.arange(f.origin, f.origin + len(f.y_pred))
        (line,) = ax.plot(t, f.y_pred, lw=1.5)
        if intervals is not None:
            q = np.asarray(intervals, dtype=np.float64)
            ax.fill_between(t, f.y_pred - q, f.y_pred + q, color=line.get_color(), alpha=0.15)
    ax.set_title(title or f"{result.model}: {len(result.folds)} folds, horizon {result.horizon}")
    ax.set_xlabel("$t$")
    ax.legend(loc="best")
    return _save(fig, path)

"""The lecture's figures: a series with its next value, training curves, predicted vs true.

matplotlib is imported inside the functions, so ``import rnnlab`` stays light and matplotlib is only
needed by those who plot (``pip install rnnlab[plots]``).  Figures are built with
``matplotlib.figure.Figure`` on an Agg canvas, never through pyplot: they render the same with or
without a display, never open a window, and are not kept alive by pyplot's global figure list.
Every function returns the Figure and, given ``path``, also saves it (PNG unless the suffix names
another format matplotlib knows), creating parent directories.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab import checks

__all__ = ["plot_series", "plot_history", "plot_predictions", "plot_losses"]


def _new_figure(figsize=(6.4, 4.8)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = path.suffix[1:].lower() or "png"
        fig.savefig(path, format=fmt, dpi=100)
    return fig


def _float_array(values, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be numeric: {e}") from None
    return arr


def _as_points(value, what: str) -> np.ndarray:
    arr = np.ravel(_float_array(value, what))
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    return arr


def plot_series(series, n_steps=None, y=None, y_pred=None, x_label="$t$", y_label="$x(t)$",
                ax=None, path=None):
    """The lecture's series figure (Géron's ``plot_series``): the series as dots joined by a line,
    the true next value as a blue "x" at ``n_steps`` and the prediction as a red "o".

    ``n_steps`` defaults to the series' length.  ``y``/``y_pred`` may be one value or several
    (placed at n_steps, n_steps+1, ...).  The y-axis spans [-1, 1] (the lecture's scaled prices),
    widened if the data go beyond.  Draws into ``ax`` when given, otherwise into a new Figure.
    """
    s = _float_array(series, "series")
    if s.ndim == 2 and 1 in s.shape:
        s = s.ravel()
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"series must be a non-empty 1-D sequence, got shape {s.shape}")
    if n_steps is None:
        n_steps = s.size
    n_steps = checks.positive_int(n_steps, "n_steps")
    fig = _new_figure() if ax is None else ax.figure
    if ax is None:
        ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.arange(s.size), s, ".-")
    shown = [s]
    if y is not None:
        yv = _as_points(y, "y")
        ax.plot(n_steps + np.arange(yv.size), yv, "bx", markersize=10)
        shown.append(yv)
    if y_pred is not None:
        pv = _as_points(y_pred, "y_pred")
        ax.plot(n_steps + np.arange(pv.size), pv, "ro")
        shown.append(pv)
    ax.grid(True)
    if x_label:
        ax.set_xlabel(x_label, fontsize=16)
    if y_label:
        ax.set_ylabel(y_label, fontsize=16, rotation=0)
    ahead = max([v.size for v in shown[1:]], default=1)   # points drawn from n_steps on
    right = max(n_steps + ahead, s.size)                   # Géron's axis: [0, n_steps + 1]
    ax.hlines(0, 0, right, linewidth=1)
    values = np.concatenate(shown)
    finite = values[np.isfinite(values)]
    lo = min(-1.0, float(finite.min())) if finite.size else -1.0
    hi = max(1.0, float(finite.max())) if finite.size else 1.0
    pad = 0.0 if (lo == -1.0 and hi == 1.0) else 0.05 * (hi - lo)
    ax.axis([0, right, lo - pad, hi + pad])
    return _save(fig, path)


def _history_dict(history) -> dict:
    h = getattr(history, "history", history)
    if not isinstance(h, dict):
        raise TypeError("history must be a dict of per-epoch lists (like Keras's history.history) "
                        f"or an object with a .history dict, got {type(history).__name__}")
    if not h:
        raise ValueError("history is empty: nothing to plot (was the model trained?)")
    out = {}
    for key, values in h.items():
        arr = _float_array(values, f"history[{key!r}]")
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"history[{key!r}] must be a non-empty list of per-epoch numbers, "
                             f"got shape {arr.shape}")
        out[str(key)] = arr
    return out


def plot_history(history, metrics=None, path=None):
    """Training curves per epoch from Keras's ``history.history`` (or a History-like object).

    One panel per metric (``metrics`` defaults to every non-``val_`` key, loss first); each panel
    has the training curve and, when the history holds it, the ``val_`` curve.
    """
    h = _history_dict(history)
    if metrics is None:
        names = []
        for key in h:
            base = key[4:] if key.startswith("val_") else key
            if base not in names:
                names.append(base)
        names.sort(key=lambda k: k != "loss")
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        if not names:
            raise ValueError("metrics is empty: name at least one metric to plot")
        for m in names:
            if m not in h and f"val_{m}" not in h:
                raise KeyError(f"metric {m!r} is not in the history; it has {sorted(h)}")
    fig = _new_figure(figsize=(6.4, 3.6 * len(names)))
    curves = {name: {key: (np.arange(1, h[key].size + 1), h[key])
                     for key in (name, f"val_{name}") if key in h} for name in names}
    draw_curves(fig, curves, ("-", "--"))
    return _save(fig, path)


def draw_curves(fig, curves, styles=("-", "--")):
    """One panel per metric on ``fig``, stacked: ``curves`` maps a metric to its
    ``{key: (epochs, values)}`` (the training key drawn in ``styles[0]``, its ``val_`` key in
    ``styles[1]``), integer epochs on the x axis.  Shared by :func:`plot_history` and the live
    notebook plot (rnnlab.notebook.LivePlot)."""
    from matplotlib.ticker import MaxNLocator

    for i, (name, series) in enumerate(curves.items()):
        ax = fig.add_subplot(len(curves), 1, i + 1)
        for key, style in ((name, styles[0]), (f"val_{name}", styles[1])):
            if key in series:
                epochs, values = series[key]
                ax.plot(epochs, values, style, label=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Epoch")
        ax.set_ylabel(name)
        ax.grid(True)
        ax.legend()
    fig.tight_layout()


def plot_predictions(y_true, y_pred, path=None, title=None):
    """Predicted against true values (the lecture's ``plt.scatter(y, y_pred)``), with the identity
    line ``y_pred = y_true`` that a perfect model would lie on."""
    t = np.ravel(_float_array(y_true, "y_true"))
    p = np.ravel(_float_array(y_pred, "y_pred"))
    if t.size != p.size:
        raise ValueError(f"y_true and y_pred must have the same number of values, got {t.size} "
                         f"and {p.size}")
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty: nothing to plot")
    fig = _new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(t, p, s=12)
    both = np.concatenate([t, p])
    both = both[np.isfinite(both)]
    if both.size:
        lo, hi = float(both.min()), float(both.max())
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=1)
    ax.set_xlabel("y_true")
    ax.set_ylabel("y_pred")
    if title:
        ax.set_title(title)
    ax.grid(True)
    return _save(fig, path)


def plot_losses(losses, path=None):
    """The scratch model's MSE per epoch (the lecture's ``plt.plot(mses)``)."""
    arr = _float_array(losses, "losses")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence, got shape {arr.shape}")
    fig = _new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.arange(arr.size), arr)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("MSE-Loss")
    ax.grid(True)
    return _save(fig, path)

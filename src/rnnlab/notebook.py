"""Training you can watch in a notebook: :class:`LivePlot` redraws the loss curves after every
epoch, in place, in the cell that runs ``fit``.

An optional extra (``pip install rnnlab[notebooks]``): matplotlib draws the figure on an Agg
canvas (no pyplot, no window) and IPython shows it as a PNG that each epoch replaces.  Outside a
Jupyter kernel the figure is still drawn (``live.figure``), and nothing is displayed.
"""
from __future__ import annotations

import io

from IPython.display import Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab import checks, display
from rnnlab.callbacks import Callback
from rnnlab.plotting import draw_curves

__all__ = ["LivePlot"]


class LivePlot(Callback):
    """A callback that plots the training curves live: one panel per metric (``loss`` first),
    the training curve solid and its ``val_`` curve dashed, redrawn after every epoch.

    ``metrics``: the metrics to plot (their ``val_`` curves come with them); None plots every
    metric the epoch logs hold.  ``figsize``: (width, height) of one panel in inches.
    ``history`` holds what was plotted: {key: [(epoch, value), ...]}, epochs counted from 1.

        model.fit(X, y, validation_split=0.1, epochs=30, callbacks=[LivePlot()])
    """

    _log_keys = ()

    def __init__(self, metrics=None, figsize=(6.4, 3.2)):
        super().__init__()
        who = "LivePlot"
        if metrics is not None:
            names = [metrics] if isinstance(metrics, str) else list(metrics)
            if not names or not all(isinstance(m, str) and m for m in names):
                raise ValueError(f"{who}: metrics must be None or metric names such as "
                                 f"'loss' or ['loss', 'accuracy'], got {metrics!r}")
            metrics = [m[4:] if m.startswith("val_") else m for m in names]
        if (isinstance(figsize, (str, bytes)) or not hasattr(figsize, "__len__")
                or len(figsize) != 2):
            raise ValueError(f"{who}: figsize must be (width, height) in inches, got {figsize!r}")
        self.figsize = tuple(checks.positive_number(v, "figsize", who=who) for v in figsize)
        self.metrics = metrics
        self.history: dict[str, list[tuple[int, float]]] = {}
        self.figure = None
        self._handle = None

    def on_train_begin(self, logs=None):
        self.history = {}
        self.figure, self._handle = None, None

    def _panels(self) -> list[str]:
        if self.metrics is not None:
            return list(self.metrics)
        names = []
        for key in self.history:
            base = key[4:] if key.startswith("val_") else key
            if base not in names:
                names.append(base)
        return sorted(names, key=lambda k: k != "loss")

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):    # an array-valued metric: not a curve
                continue
            self.history.setdefault(key, []).append((epoch + 1, value))
        self.figure = self._draw()
        self._show()

    def _draw(self) -> Figure:
        panels = [m for m in self._panels() if m in self.history or f"val_{m}" in self.history]
        fig = Figure(figsize=(self.figsize[0], self.figsize[1] * max(len(panels), 1)))
        FigureCanvasAgg(fig)
        curves = {name: {key: ([e for e, _ in self.history[key]], [v for _, v in self.history[key]])
                         for key in (name, f"val_{name}") if self.history.get(key)}
                  for name in panels}
        draw_curves(fig, curves, (".-", ".--"))
        return fig

    def _show(self) -> None:
        show = display.kernel_display()
        if show is None:
            return
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80)
        image = Image(data=buf.getvalue(), format="png")
        if self._handle is None:
            self._handle = show(image, display_id=True)
        else:
            self._handle.update(image)

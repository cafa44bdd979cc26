"""An rnnlab model as a forecaster: windows, per-series scaling, fit, then forecast h steps.

``RNNForecaster(build)`` has the baselines' ``fit(y, exog=None)`` / ``predict(h)`` interface, so a
backtest treats a recurrent network like any other model.  On ``fit`` it scales the series (and
each exogenous column) on the training part only, cuts windows, builds a fresh model with
``build(window, n_features, n_outputs)`` and trains it.  ``strategy="direct"`` trains one output
per step ahead (n_outputs = horizon); ``"recursive"`` trains a one-step model and feeds each
forecast back as the next input (re-running the window; the stateful step-by-step inference of
the generation work would avoid that).  ``seed`` reseeds rnnlab's global generator before each
build (None leaves it alone).  :meth:`predict_samples` keeps dropout on at inference
(Monte-Carlo dropout, Gal & Ghahramani 2016) and returns n sampled forecasts.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config
from rnnlab.layers import LSTM, Dense
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam
from rnnlab.timeseries._series import as_exog, as_series
from rnnlab.timeseries.baselines import Forecaster
from rnnlab.timeseries.scaling import SeriesScaler
from rnnlab.timeseries.windows import last_window, make_windows

__all__ = ["RNNForecaster", "lstm_builder"]


def lstm_builder(units: int = 32, dropout: float = 0.0, learning_rate: float = 0.01):
    """``build(window, n_features, n_outputs)`` for LSTM(units, dropout) → Dense(n_outputs), MSE."""
    units = checks.positive_int(units, "units", who="lstm_builder()")
    dropout = checks.rate(dropout, "dropout", who="lstm_builder()")
    learning_rate = checks.positive_number(learning_rate, "learning_rate", who="lstm_builder()")

    def build(window, n_features, n_outputs):
        model = Sequential([LSTM(units, dropout=dropout, input_shape=(window, n_features)),
                            Dense(n_outputs)])
        model.compile(optimizer=Adam(learning_rate=learning_rate), loss="mse")
        return model

    return build


class RNNForecaster(Forecaster):
    def __init__(self, build=None, window: int = 12, horizon: int = 1, strategy: str = "direct",
                 epochs: int = 50, batch_size: int = 32, scaling: str = "standard", seed=0,
                 name: str = "rnn"):
        who = "RNNForecaster"
        if build is not None and not callable(build):
            raise TypeError(f"{who} build must be a callable (window, n_features, n_outputs) -> "
                            f"compiled model, got {build!r}")
        self.build = build or lstm_builder()
        self.window = checks.positive_int(window, "window", who=who)
        self.horizon = checks.positive_int(horizon, "horizon", who=who)
        self.strategy = checks.one_of(strategy, "strategy", ("direct", "recursive"), who)
        self.epochs = checks.positive_int(epochs, "epochs", who=who)
        self.batch_size = checks.positive_int(batch_size, "batch_size", who=who)
        self.scaling = checks.one_of(scaling, "scaling", ("standard", "minmax"), who)
        self.seed = checks.seed(seed, who=who)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{who} name must be a non-empty string, got {name!r}")
        self.name = name
        self.min_length = self.window + (self.horizon if strategy == "direct" else 1)

    # ------------------------------------------------------------------ fit
    def fit(self, y, exog=None):
        who = f"{self.name}.fit()"
        y = as_series(y, who=who, min_length=self.min_length)
        exog = as_exog(exog, y.size, who=who)
        if exog is not None and self.strategy == "recursive":
            raise ValueError(f"{who} exog needs strategy='direct': a recursive forecast would "
                             f"need the future exogenous values")
        scaler = SeriesScaler(self.scaling).fit(y)
        ex_scalers = [] if exog is None else [SeriesScaler(self.scaling).fit(c) for c in exog.T]
        z = scaler.transform(y)
        ez = None if exog is None else np.column_stack(
            [s.transform(c) for s, c in zip(ex_scalers, exog.T)])
        n_out = self.horizon if self.strategy == "direct" else 1
        X, Y = make_windows(z, self.window, n_out, ez)
        if self.seed is not None:
            config.set_random_seed(self.seed)
        model = self.build(self.window, X.shape[2], n_out)
        model.fit(X.astype(np.float32), Y.astype(np.float32), epochs=self.epochs,
                  batch_size=self.batch_size, verbose=0)
        self.model_, self.scaler_, self.y_ = model, scaler, y
        self.last_inputs_ = last_window(z, self.window, ez).astype(np.float32)
        self.history_ = model.history.history if model.history is not None else {}
        return self

    # ------------------------------------------------------------------ forecast
    def _check_h(self, h, who):
        h = checks.positive_int(h, "h", who=who)
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{who} called before fit()")
        if self.strategy == "direct" and h > self.horizon:
            raise ValueError(f"{who} h={h} is longer than the horizon={self.horizon} this direct "
                             f"model was trained for")
        return h

    def _run(self, h, n, training):
        """(n, h) scaled forecasts from n copies of the last window."""
        x = np.repeat(self.last_inputs_, n, axis=0)
        if self.strategy == "direct":
            out = self.model_(x, training=training) if training else \
                self.model_.predict(x, verbose=0)
            return np.asarray(out)[:, :h]
        steps = []
        for _ in range(h):
            out = self.model_(x, training=training) if training else \
                self.model_.predict(x, verbose=0)
            nxt = np.asarray(out, dtype=np.float32)[:, :1]
            steps.append(nxt[:, 0])
            x = np.concatenate([x[:, 1:], nxt[:, :, None]], axis=1)
        return np.stack(steps, axis=1)

    def predict(self, h):
        h = self._check_h(h, f"{self.name}.predict()")
        return self.scaler_.inverse_transform(self._run(h, 1, False)[0])

    def predict_samples(self, h, n: int = 100):
        """(n, h) forecasts with dropout kept on at inference (Monte-Carlo dropout)."""
        h = self._check_h(h, f"{self.name}.predict_samples()")
        n = checks.positive_int(n, "n", who=f"{self.name}.predict_samples()")
        return self.scaler_.inverse_transform(self._run(h, n, True))

    def predict_interval(self, h, alpha: float = 0.1, n: int = 100):
        """(lower, upper) per step: the α/2 and 1-α/2 quantiles of n Monte-Carlo dropout samples."""
        who = f"{self.name}.predict_interval()"
        a = checks.number(alpha, "alpha", who)
        if not 0.0 < a < 1.0:
            raise ValueError(f"{who} alpha must be in (0, 1), got {alpha!r}")
        s = self.predict_samples(h, n)
        return np.quantile(s, a / 2, axis=0), np.quantile(s, 1 - a / 2, axis=0)

"""Classical models on the lecture's regression split: predict day 101 of each Fortune 500 series.

The lecture fits its RNNs on all 502 (days 1-100 → day 101) pairs and reports the MSE on those
same pairs: 0.0438 for SimpleRNN(1), 0.0262 for the 10→5→1 stack, 0.0333 for "day 100".  Here,
on the same 502 day-101 targets:

- per series (the statistician's way): a linear AR(k) and an ARIMA fitted on that series' days
  1-100 only, forecasting day 101 - a true out-of-sample forecast;
- pooled (the RNN's way): one linear regression of day 101 on days 100-k+1..100 across all 502
  series, fitted and scored on the same pairs as the lecture's RNNs (in-sample, like them).

ARIMA comes from statsmodels (the ``timeseries`` extra), which is why this module is apart.
"""
from __future__ import annotations

import time

import numpy as np

from rnnlab import checks, config
from rnnlab.datasets import fortune500
from rnnlab.layers import SimpleRNN
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam
from rnnlab.timeseries.baselines import LinearAR, Naive
from rnnlab.timeseries.statistical import ARIMA

__all__ = ["LECTURE_MSE", "per_series_forecasts", "pooled_ar_mse", "lecture_rnn", "rnn_mse",
           "lecture_split_table"]

# the lecture's reported values (rnnlab.lecture.timeseries.LECTURE holds the same numbers)
LECTURE_MSE = {"day 100 (lecture)": 0.033289150367058463,
               "SimpleRNN(1) (lecture)": 0.04377151881286946,
               "SimpleRNN 10→5→1 (lecture)": 0.02624883636777101}


def per_series_forecasts(model, X) -> np.ndarray:
    """One-step forecasts, ``model`` refitted on each row of ``X`` (n, T)."""
    return np.array([model.fit(row).predict(1)[0] for row in np.asarray(X, dtype=np.float64)])


def pooled_ar_mse(X, y, k: int) -> float:
    """MSE of y ≈ c + Σ_j a_j·X[:, -j] (j = 1..k), least squares over all rows, in-sample."""
    k = checks.positive_int(k, "k", who="pooled_ar_mse()")
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    D = np.column_stack([np.ones(len(y))] + [X[:, -j] for j in range(1, k + 1)])
    coef, *_ = np.linalg.lstsq(D, y, rcond=None)
    return float(np.mean((D @ coef - y) ** 2))


def lecture_rnn(stack: bool):
    """The lecture's SimpleRNN(1), or its SimpleRNN 10→5→1 stack, compiled with Adam(0.01)/MSE."""
    if stack:
        model = Sequential([SimpleRNN(10, return_sequences=True, input_shape=(None, 1)),
                            SimpleRNN(5, return_sequences=True), SimpleRNN(1)])
    else:
        model = Sequential([SimpleRNN(1, input_shape=(None, 1))])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="mse")
    return model


def rnn_mse(X, y, stack: bool, epochs: int, seed: int = 0) -> float:
    """Train the lecture's model on (X, y) and return its MSE on the same pairs (as the lecture)."""
    config.set_random_seed(seed)
    model = lecture_rnn(stack)
    X3, y2 = np.asarray(X, dtype=np.float32)[:, :, None], np.asarray(y, dtype=np.float32)[:, None]
    model.fit(X3, y2, epochs=epochs, verbose=0)
    pred = np.asarray(model.predict(X3, verbose=0), dtype=np.float64)[:, 0]
    return float(np.mean((pred - np.asarray(y, dtype=np.float64)) ** 2))


def lecture_split_table(path=None, ks=(1, 5, 10, 20), arima_order=(1, 1, 0), data=None,
                        rnn_epochs=None, seed: int = 0) -> list:
    """One dict per approach: name, MSE on the 502 day-101 targets, how it was fitted, seconds.

    ``data`` = (X, y) replaces the lecture's file (``path`` or ``$RNNLAB_DATA_DIR``);
    ``arima_order=None`` leaves ARIMA out (502 fits take a minute); ``rnn_epochs`` = (e1, e2)
    also trains the lecture's SimpleRNN(1) for e1 and its stack for e2 epochs here (the lecture:
    50 and 30), timed, beside the lecture's printed values."""
    who = "lecture_split_table()"
    seed = checks.non_negative_int(seed, "seed", who=who)
    if rnn_epochs is not None:
        if not (isinstance(rnn_epochs, (tuple, list)) and len(rnn_epochs) == 2):
            raise ValueError(f"{who} rnn_epochs must be (SimpleRNN epochs, stack epochs), got "
                             f"{rnn_epochs!r}")
        rnn_epochs = [checks.positive_int(e, "rnn_epochs entry", who=who) for e in rnn_epochs]
    ks = [checks.positive_int(k, "ks entry", who=who) for k in ks]
    if data is None:
        d = fortune500.load_data(path)
        X, y = d.X, d.y
    else:
        X, y = (np.asarray(a, dtype=np.float64) for a in data)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"{who} data must be X (n, T) and y (n,), got {X.shape}, {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"{who} the series hold missing values (NaN)")
    rows = [{"model": name, "mse": mse, "fit": "lecture's RNN, in-sample" if "RNN" in name
             else "no fit", "seconds": None} for name, mse in LECTURE_MSE.items()]
    models = [Naive()] + [LinearAR(k) for k in ks] + (
        [] if arima_order is None else [ARIMA(arima_order)])
    for model in models:
        t0 = time.perf_counter()
        pred = per_series_forecasts(model, X)
        rows.append({"model": f"{model.name} per series", "mse": float(np.mean((pred - y) ** 2)),
                     "fit": "each series' days 1-100, out-of-sample",
                     "seconds": time.perf_counter() - t0})
    for k in ks:
        t0 = time.perf_counter()
        rows.append({"model": f"linear_ar(k={k}) pooled", "mse": pooled_ar_mse(X, y, k),
                     "fit": "all series' (days → day 101) pairs, in-sample as the RNNs",
                     "seconds": time.perf_counter() - t0})
    if rnn_epochs is not None:
        for stack, epochs, name in ((False, rnn_epochs[0], "SimpleRNN(1)"),
                                    (True, rnn_epochs[1], "SimpleRNN 10→5→1")):
            t0 = time.perf_counter()
            mse = rnn_mse(X, y, stack, epochs, seed)
            rows.append({"model": f"{name} (rnnlab, {epochs} epochs, seed {seed})", "mse": mse,
                         "fit": "all series' (days → day 101) pairs, in-sample (the lecture's)",
                         "seconds": time.perf_counter() - t0})
    return rows

"""The report's two extra time-series tables, on the lecture's Fortune 500 split.

* :func:`classification_rows`: the lecture's "positive or negative outcome (classification
  setting)" - will day 101 close above day 100? - the majority class, "same as yesterday's move"
  and the lecture's RNNs with a sigmoid head, accuracy and AUC on held-out tickers
  (:func:`rnnlab.timeseries.classification.direction_table`).
* :func:`wheel_rows`: "Don't invent the wheel!" - naive, drift, linear AR per series and pooled,
  ARIMA per series (statsmodels, optional), beside the lecture's SimpleRNN(1) and stack MSEs
  and this run's, each with the time it took; :func:`verdict` says in one sentence which
  approach wins, from the numbers.

Seasonal naive is left out: 100 daily closes hold no season to repeat.  :data:`QUICK` and
:data:`FULL` size the slow parts (ARIMA's 502 fits, the classifiers' epochs).
"""
from __future__ import annotations

import time

import numpy as np

from rnnlab.timeseries import statistical
from rnnlab.timeseries.baselines import Drift, LinearAR, Naive
from rnnlab.timeseries.classification import direction_table
from rnnlab.timeseries.lecture_split import per_series_forecasts, pooled_ar_mse

__all__ = ["FULL", "QUICK", "classification_rows", "wheel_rows", "verdict"]

#: ``arima_series``: how many series ARIMA is fitted on (None: all); ``direction_epochs``: the
#: classifiers' epochs; ``per_series_ks`` / ``pooled_ks``: the linear autoregressions' orders.
FULL = {"arima_series": None, "direction_epochs": 30, "per_series_ks": (1, 5), "pooled_ks": (5, 20)}
QUICK = {"arima_series": 40, "direction_epochs": 10, "per_series_ks": (1, 5),
         "pooled_ks": (5, 20)}

ARIMA_ORDER = (1, 1, 0)
OUT_OF_SAMPLE = "per series: days 1-100 → day 101 (out-of-sample)"
IN_SAMPLE = "pooled: all series' (days → day 101) pairs, in-sample as the lecture's RNNs"


def classification_rows(X, y, epochs: int, seed: int = 0) -> list:
    """Accuracy and AUC of the baselines and the sigmoid-headed RNNs on held-out tickers."""
    return direction_table(data=(X, y), epochs=epochs, seed=seed)


def _row(model, mse, fit, seconds, note="", series=None, compare=True):
    return {"model": model, "mse": mse, "fit": fit, "seconds": seconds, "note": note,
            "series": series, "compare": compare}


def _timed(model, X, y):
    t0 = time.perf_counter()
    pred = per_series_forecasts(model, X)
    return float(np.mean((pred - y) ** 2)), time.perf_counter() - t0


def wheel_rows(X, y, settings: dict, lecture: dict, trained=None) -> list:
    """One dict per approach: model, mse, fit (how and on what), seconds (None: not timed here),
    note, series (how many of the targets it was scored on) and compare (whether it is scored
    on all of them, so :func:`verdict` may rank it).

    ``lecture`` holds the lecture's printed MSEs ("simple_rnn", "stack"); ``trained`` maps a
    label to (mse, seconds) of the RNNs this run trained."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(y)
    rows = []
    for model in [Naive(), Drift()] + [LinearAR(k) for k in settings["per_series_ks"]]:
        mse, sec = _timed(model, X, y)
        label = "naive (day 100)" if model.name == "naive" else model.name
        rows.append(_row(f"{label} per series", mse, OUT_OF_SAMPLE, sec, series=n))
    name = f"ARIMA{ARIMA_ORDER} per series (statsmodels)"
    if not statistical.available():
        rows.append(_row(name, None, OUT_OF_SAMPLE, None, "not run: statsmodels is not "
                         "installed (pip install 'rnnlab[timeseries]')", compare=False))
    else:
        m = settings["arima_series"]
        m = n if m is None else min(int(m), n)
        mse, sec = _timed(statistical.ARIMA(ARIMA_ORDER), X[:m], y[:m])
        note = "" if m == n else (f"quick run: the first {m} of {n} series only, so this MSE is "
                                  f"not comparable with the others (their naive MSE: "
                                  f"{float(np.mean((X[:m, -1] - y[:m]) ** 2)):.4f})")
        rows.append(_row(name, mse, OUT_OF_SAMPLE, sec, note, series=m, compare=m == n))
    for k in settings["pooled_ks"]:
        t0 = time.perf_counter()
        mse = pooled_ar_mse(X, y, k)
        rows.append(_row(f"linear_ar(k={k}) pooled", mse, IN_SAMPLE, time.perf_counter() - t0,
                         series=n))
    for key, label in (("simple_rnn", "SimpleRNN(1)"), ("stack", "SimpleRNN 10→5→1")):
        rows.append(_row(f"{label} (lecture)", lecture[key], IN_SAMPLE, None,
                         "the lecture's printed value", series=n))
    for label, (mse, sec) in (trained or {}).items():
        rows.append(_row(f"{label} (rnnlab, this run)", mse, IN_SAMPLE, sec,
                         "time: the run of both Keras-style models, shared equally", series=n))
    return rows


def verdict(rows) -> str:
    """One plain sentence naming the lowest MSE among the approaches scored on every series,
    any within 2 % of it, and the best out-of-sample one."""
    ranked = sorted((r for r in rows if r["compare"] and r["mse"] is not None),
                    key=lambda r: r["mse"])
    if not ranked:
        return "No approach was scored on every series."
    best = ranked[0]
    close = [r for r in ranked[1:] if r["mse"] <= best["mse"] * 1.02]

    def desc(r):
        t = "" if r["seconds"] is None else f" in {r['seconds']:.2f} s"
        return f"{r['model']} (MSE {r['mse']:.4f}{t})"

    s = f"On this dataset the lowest MSE is {desc(best)}"
    if close:
        s += ", practically tied (within 2 %) with " + ", ".join(desc(r) for r in close)
    oos = [r for r in ranked if r["fit"] == OUT_OF_SAMPLE]
    if oos and oos[0] is not best:
        s += (f"; fitted on each series' own past only (a true forecast), the best is "
              f"{desc(oos[0])}")
    return s + "."

"""The lecture's first half: predict day 101 of each Fortune 500 series from days 1-100.

``run(...)`` returns the baselines, the from-scratch neuron, SimpleRNN(1) and the 10→5→1 stack,
each against the lecture's value.  With ``data=None`` it loads the lecture's CSV (falling back to
rnnlab's synthetic series, and saying so, when no copy can be found or downloaded).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rnnlab import config, scratch
from rnnlab.datasets import DatasetNotFoundError, fortune500, synthetic
from rnnlab.layers import SimpleRNN
from rnnlab.lecture import ts_tables
from rnnlab.lecture.results import Row, fmt
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam

LECTURE = {
    "mean": 0.3516210190443937,
    "last": 0.033289150367058463,
    "scratch_w": [-0.07161043, 1.15476269, 0.25800392],
    "scratch_mse": 0.03900926352398098,
    "simple_rnn": 0.04377151881286946,
    "stack": 0.02624883636777101,
}


@dataclass
class TimeSeriesResult:
    rows: list
    source: str                      # "lecture data" or a note that synthetic data was used
    synthetic: bool
    scratch_losses: np.ndarray = None
    histories: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    y: np.ndarray = None
    goog: np.ndarray = None
    summaries: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    classification: list = field(default_factory=list)   # ts_tables.classification_rows
    wheel: list = field(default_factory=list)            # ts_tables.wheel_rows
    wheel_verdict: str = ""
    table_settings: dict = field(default_factory=dict)


def load(path=None):
    """(X, y, tickers, synthetic?) from the lecture's CSV, or synthetic series if it is missing."""
    try:
        d = fortune500.load_data(path)
        return d, False
    except DatasetNotFoundError:
        return synthetic.time_series(n_series=502, n_steps=101, seed=0), True


def simple_rnn_model(stack: bool):
    if stack:
        model = Sequential([SimpleRNN(10, return_sequences=True, input_shape=[None, 1]),
                            SimpleRNN(5, return_sequences=True), SimpleRNN(1)])
    else:
        model = Sequential([SimpleRNN(1, input_shape=(None, 1))])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="mse")
    return model


def seed_trial(stack: bool, epochs: int, seed: int, X3, y2, settings=None) -> dict:
    """One seed of one Keras-style model: its MSE, history, predictions and summary.  A plain
    function of its arguments (``settings`` = the caller's (floatx, kernels)), so it runs as
    well in a Dask worker as here."""
    old = (config.floatx(), config.kernels())
    if settings is not None:
        config.set_floatx(settings[0])
        config.set_kernels(settings[1])
    try:
        with config.seeded(seed):
            model = simple_rnn_model(stack)
            hist = model.fit(X3, y2, epochs=epochs, verbose=0)
            pred = model.predict(X3, verbose=0)
        lines = []
        model.summary(print_fn=lines.append)
        return {"mse": float(np.mean((y2 - pred) ** 2)), "history": hist.history,
                "prediction": pred[:, 0], "summary": "\n".join(lines),
                "params": model.count_params()}
    finally:
        config.set_floatx(old[0])
        config.set_kernels(old[1])


def serial_map(fn, calls):
    """Run ``fn(*args)`` for each args tuple here, in order (the default of :func:`run`)."""
    return [fn(*args) for args in calls]


def run(path=None, seeds=(0, 1, 2, 3, 4), scratch_epochs=1000, rnn_epochs=50, stack_epochs=30,
        progress=None, map_trials=serial_map, tables=None) -> TimeSeriesResult:
    """Run the whole time-series half; ``progress(msg)`` is called before each experiment.
    ``tables`` (:data:`ts_tables.QUICK` or ``FULL``) also fills the classification and "Don't
    invent the wheel" tables (None: neither).
    ``map_trials(fn, calls)`` runs the seeds of the Keras-style models (``fn(*args)`` per call,
    results in order): here by default, as Dask tasks with ``rnnlab reproduce --workers``."""
    say = progress or (lambda msg: None)
    data, synthetic = load(path)
    X, y = np.asarray(data.X, dtype=np.float64), np.asarray(data.y, dtype=np.float64)
    src = "synthetic series (rnnlab.datasets.synthetic)" if synthetic else "fortune500_100_days.csv"
    res = TimeSeriesResult(rows=[], source=src, synthetic=synthetic, y=y)
    tickers = list(data.tickers)
    res.goog = np.r_[X[tickers.index("GOOG")], y[tickers.index("GOOG")]] if "GOOG" in tickers \
        else np.r_[X[0], y[0]]

    say("baselines")
    res.rows.append(Row("MSE, predict day 101 by the mean", fmt(LECTURE["mean"], 7),
                        fmt(float(np.mean((y - y.mean()) ** 2)), 7)))
    res.rows.append(Row("MSE, predict day 101 by day 100", fmt(LECTURE["last"], 7),
                        fmt(float(np.mean((y - X[:, -1]) ** 2)), 7)))

    X3, y2 = X[:, :, None], y[:, None]
    settings = (config.floatx(), config.kernels())
    experiments = (("simple_rnn", False, rnn_epochs, "SimpleRNN(1), Adam(0.01)"),
                   ("stack", True, stack_epochs, "SimpleRNN 10→5→1"))
    say("Keras-style models: " + "; ".join(f"{label}, {epochs} epochs"
                                           for _, _, epochs, label in experiments)
        + f", seeds {list(seeds)}")
    t0 = time.perf_counter()
    calls = [(stack, epochs, seed, X3, y2, settings)
             for _, stack, epochs, _ in experiments for seed in seeds]
    trials = iter(map_trials(seed_trial, calls))
    trials_seconds = time.perf_counter() - t0

    say(f"single-neuron RNN from scratch ({scratch_epochs} epochs)")
    t0 = time.perf_counter()
    losses, w = scratch.single_rnn(X, y, epochs=scratch_epochs, alpha=0.01)
    res.seconds["scratch"] = time.perf_counter() - t0
    _, mse = scratch.forward(X, y, w)
    res.scratch_losses = losses
    note = "" if scratch_epochs == 1000 else f"{scratch_epochs} epochs (lecture: 1000)"
    res.rows.append(Row("from-scratch neuron: w", fmt(LECTURE["scratch_w"], 8), fmt(list(w), 8),
                        note))
    res.rows.append(Row("from-scratch neuron: MSE", fmt(LECTURE["scratch_mse"], 8), fmt(mse, 8),
                        note))
    y_pred_arr, _ = scratch.forward(X, y, w)
    res.predictions["scratch"] = y_pred_arr[:, -1]

    for key, stack, epochs, label in experiments:
        results = [next(trials) for _ in seeds]
        mses = [r["mse"] for r in results]
        first = results[0]
        res.histories[key] = first["history"]
        res.predictions[key] = first["prediction"]
        res.summaries[key] = first["summary"]
        res.seconds[key] = trials_seconds * len(seeds) / len(calls)
        res.rows.append(Row(f"{label}: MSE ({epochs} epochs), median of {len(seeds)} seeds",
                            fmt(LECTURE[key], 4), fmt(float(np.median(mses)), 4),
                            "seeds: " + ", ".join(f"{m:.4f}" for m in mses),
                            extra={"mses": mses, "seeds": list(seeds)}))
        if stack:
            res.rows.append(Row("SimpleRNN 10→5→1: parameters", "207", str(first["params"])))
    if tables is not None:
        _extra_tables(res, X, y, tables, seeds[0], say)
    return res


def _extra_tables(res, X, y, tables, seed, say):
    """The classification setting and "Don't invent the wheel" (:mod:`ts_tables`)."""
    res.table_settings = dict(tables)
    say(f"classification setting: will day 101 close above day 100? "
        f"({tables['direction_epochs']} epochs)")
    res.classification = ts_tables.classification_rows(X, y, tables["direction_epochs"], seed)
    n = tables["arima_series"]
    say("don't invent the wheel: naive, drift, linear AR, ARIMA "
        f"({'all' if n is None else f'the first {n}'} series)")
    trained = {}
    for r in res.rows:
        for key, label in (("simple_rnn", "SimpleRNN(1)"), ("stack", "SimpleRNN 10→5→1")):
            if r.experiment.startswith(label) and "mses" in r.extra and key in res.seconds:
                k = len(r.extra["mses"])
                name = label if k == 1 else f"{label}, median of {k} seeds (time: all {k})"
                trained[name] = (float(np.median(r.extra["mses"])), res.seconds[key])
    res.wheel = ts_tables.wheel_rows(X, y, tables, LECTURE, trained)
    res.wheel_verdict = ts_tables.verdict(res.wheel)

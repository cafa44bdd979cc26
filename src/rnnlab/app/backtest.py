"""``rnnlab backtest``: rolling-origin evaluation of a recurrent network and classical baselines on
one series of a CSV column (:func:`rnnlab.timeseries.backtest.backtest`).

Fold i is fitted on the series before its origin (all of it, or the last ``train_size`` values)
and forecasts the next ``horizon`` values; the last fold ends with the series, and the origins
are ``stride`` apart.  The metrics of each fold (MAE, RMSE, MAPE, sMAPE, MASE) and their mean
over the folds go to a CSV (atomically; never over the data file), and each fold's forecast of
one model to a PNG.  Every check - options, output files, the series' length, missing values, a
constant series - runs before any model is fitted, and fails with one AppError saying which
option or value is wrong.
"""
from __future__ import annotations

import csv
import importlib.util
import io
from dataclasses import dataclass, field

import numpy as np

from rnnlab.app.csvfile import CsvFile, check_missing, column_values
from rnnlab.app.errors import AppError, option_int, option_positive
from rnnlab.app.output import check_not_input, check_writable, open_output, write_file
from rnnlab.layers import GRU, LSTM, Dense, SimpleRNN
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam
from rnnlab.timeseries import statistical
from rnnlab.timeseries.adapter import RNNForecaster
from rnnlab.timeseries.backtest import backtest as run_backtest
from rnnlab.timeseries.baselines import Drift, LinearAR, Naive, SeasonalNaive
from rnnlab.timeseries.plots import plot_backtest
from rnnlab.timeseries.tables import columns

__all__ = ["MODELS", "BacktestRun", "backtest", "read_series", "rnn_builder"]

MODELS = ("lstm", "gru", "simple_rnn", "none")
_LAYERS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}


@dataclass
class BacktestRun:
    """What :func:`backtest` did: the per-fold and overall ``rows`` written, the backtest
    ``results`` by model name, the series' length, the model plotted and any ``notes``."""
    rows: list
    results: dict
    n: int
    plotted: str | None = None
    notes: list = field(default_factory=list)


def read_series(data, column, missing="error") -> np.ndarray:
    """The numeric column ``column`` of ``data``, top to bottom (blank cells as ``missing``
    says: an error naming the line, dropped, or filled forward)."""
    with CsvFile(data) as f:
        values = np.fromiter(column_values(f, column, missing), dtype=np.float64)
    return values[~np.isnan(values)]


def rnn_builder(kind, units, learning_rate):
    """``build(window, n_features, n_outputs)``: one ``kind`` layer of ``units`` cells then
    Dense(n_outputs), Adam(``learning_rate``), MSE."""
    def build(window, n_features, n_outputs):
        model = Sequential([_LAYERS[kind](units, input_shape=(window, n_features)),
                            Dense(n_outputs)])
        model.compile(optimizer=Adam(learning_rate=learning_rate), loss="mse")
        return model
    return build


def _models(model, baselines, season, window, horizon, epochs, units, lr, batch_size, seed):
    out = []
    if model != "none":
        out.append(RNNForecaster(rnn_builder(model, units, lr), window=window, horizon=horizon,
                                 epochs=epochs, batch_size=batch_size, seed=seed, name=model))
    notes = []
    if baselines:
        out += [Naive(), Drift(), LinearAR(window)]
        if season > 1:
            out.insert(len(out) - 2, SeasonalNaive(season))
        if statistical.available():
            out.append(statistical.ETS(error="add", trend="add", damped_trend=True,
                                       seasonal="add" if season > 1 else None,
                                       seasonal_periods=season if season > 1 else None))
        else:
            notes.append("ETS left out: statsmodels is not installed (pip install "
                         "'rnnlab[timeseries]')")
    return out, notes


def _check_plan(y, where, horizon, folds, stride, train_size, models, season):
    """AppError, naming the options, when the folds do not fit the series."""
    n = y.size
    if horizon >= n:
        raise AppError(f"--horizon {horizon} is not shorter than the series ({n} values in "
                       f"{where}): no value would be left to train on")
    spread = float(np.max(y) - np.min(y))
    if spread == 0.0:
        raise AppError(f"{where} is constant (every value is {y[0]:g}): there is nothing to "
                       "forecast, and neither scaling nor MASE is defined for it")
    need_model = max(models, key=lambda mdl: getattr(mdl, "min_length", 1))
    need = max(int(getattr(need_model, "min_length", 1)), season + 1)
    first = n - horizon - stride * (folds - 1)
    if train_size is not None:
        if train_size < need:
            raise AppError(f"--train-size {train_size} is below the {need} values "
                           f"{need_model.name} needs to fit")
        if first - train_size < 0:
            raise AppError(f"--folds {folds} with --stride {stride}, --horizon {horizon} and "
                           f"--train-size {train_size} need {train_size + n - first} values; "
                           f"{where} has {n}")
    elif first < need:
        raise AppError(f"--folds {folds} with --stride {stride} and --horizon {horizon} leave "
                       f"{max(first, 0)} training values in the first fold of the {n}-value "
                       f"series in {where}; {need_model.name} needs at least {need}: use "
                       "fewer --folds, a smaller --stride or --horizon (or a smaller --window)")


def _write_rows(rows, out, echo):
    cols = columns(rows)

    def cell(v):
        return "" if v is None else repr(float(v)) if isinstance(v, (float, np.floating)) else v

    lines = [cols] + [[cell(r.get(c)) for c in cols] for r in rows]
    if out is None:
        buf = io.StringIO()
        _csv_write(buf, lines)
        echo(buf.getvalue())
        return
    with open_output(out) as fh:
        _csv_write(fh, lines)


def _csv_write(fh, lines):
    csv.writer(fh, lineterminator="\n").writerows(lines)


def _plot(result, y, plot):
    fig = plot_backtest(result, y)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    write_file(plot, buf.getvalue())


def backtest(data, column, horizon, folds, *, stride=1, window=12, train_size=None,
             baselines=False, season=None, model="lstm", epochs=20, units=16,
             learning_rate=0.01, batch_size=32, seed=0, missing="error", out=None, plot=None,
             echo=print) -> BacktestRun:
    """Backtest ``model`` (and with ``baselines`` naive, seasonal naive when ``season`` > 1,
    drift, a linear AR on the last ``window`` values, ETS) on column ``column`` of ``data``.

    ``window`` is the past values the network (and the linear AR) sees; ``train_size`` makes
    the training window slide (default: expanding); ``season`` is the period of seasonal naive,
    ETS's season and MASE's scale (default 1).  The CSV of metrics goes to ``out`` (None:
    ``echo``), the plot of the network's folds (else the baseline with the lowest MASE) to
    ``plot``."""
    horizon = option_int("--horizon", horizon)
    folds = option_int("--folds", folds)
    stride = option_int("--stride", stride)
    window = option_int("--window", window)
    train_size = None if train_size is None else option_int("--train-size", train_size)
    epochs = option_int("--epochs", epochs)
    units = option_int("--units", units)
    batch_size = option_int("--batch-size", batch_size)
    learning_rate = option_positive("--learning-rate", learning_rate)
    seed = option_int("--seed", seed, 0)
    missing = check_missing(missing)
    if model not in MODELS:
        raise AppError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if season is not None and not baselines:
        raise AppError("--season is for --baselines (seasonal naive, ETS) and MASE's scale; "
                       "add --baselines")
    season = 1 if season is None else option_int("--season", season)
    if model == "none" and not baselines:
        raise AppError("--model none without --baselines leaves nothing to backtest")
    if not isinstance(column, str) or not column:
        raise AppError("--column must name the CSV column holding the series")
    inputs = {"--data": data}
    for option, path in (("--out", out), ("--plot", plot)):
        if path is not None:
            check_writable(path)
            check_not_input(path, option, inputs)
    if out is not None and plot is not None:
        check_not_input(plot, "--plot", {"--out": out})
    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise AppError("--plot needs matplotlib: pip install 'rnnlab[plots]'")
    y = read_series(data, column, missing)
    models, notes = _models(model, baselines, season, window, horizon, epochs, units,
                            learning_rate, batch_size, seed)
    where = f"column {column!r} of {str(data)!r}"
    _check_plan(y, where, horizon, folds, stride, train_size, models, season)
    kw = {"stride": stride, "m": season}
    if train_size is not None:
        kw.update(window="sliding", train_size=train_size)
    results = {}
    for mdl in models:
        try:
            results[mdl.name] = run_backtest(mdl, y, horizon, folds, **kw)
        except (ValueError, np.linalg.LinAlgError) as e:
            raise AppError(f"{mdl.name}: {e}") from None
    rows = [r for res in results.values() for r in res.table()]
    _write_rows(rows, out, echo)
    run = BacktestRun(rows, results, y.size, notes=notes)
    if plot is not None:
        shown = results.get(model) or min(results.values(),
                                          key=lambda r: r.overall()["mase"])
        _plot(shown, y, plot)
        run.plotted = shown.model
    return run

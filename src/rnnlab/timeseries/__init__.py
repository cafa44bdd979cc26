"""Time series beyond tomorrow's price: baselines, metrics, windows, scaling, backtests, intervals.

ETS and ARIMA live in :mod:`rnnlab.timeseries.statistical` (the ``timeseries`` extra: statsmodels)
and are not imported here, so ``import rnnlab.timeseries`` needs NumPy only.
"""
from rnnlab.timeseries.adapter import RNNForecaster, lstm_builder
from rnnlab.timeseries.backtest import BacktestResult, Fold, backtest, compare, fold_origins
from rnnlab.timeseries.baselines import Drift, Forecaster, LinearAR, Naive, SeasonalNaive
from rnnlab.timeseries.conformal import conformal_quantiles, coverage, interval
from rnnlab.timeseries.metrics import evaluate, mae, mape, mase, rmse, smape
from rnnlab.timeseries.scaling import SeriesScaler
from rnnlab.timeseries.tables import write_csv
from rnnlab.timeseries.windows import last_window, make_windows

__all__ = ["Forecaster", "Naive", "SeasonalNaive", "Drift", "LinearAR", "RNNForecaster",
           "lstm_builder", "backtest", "compare", "fold_origins", "BacktestResult", "Fold",
           "conformal_quantiles", "interval", "coverage", "mae", "rmse", "mape", "smape", "mase",
           "evaluate", "SeriesScaler", "make_windows", "last_window", "write_csv"]

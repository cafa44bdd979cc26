"""The lecture's time series: 502 S&P 500 stocks over 101 trading days (28/09/2020 to 22/02/2021).

Each row of ``fortune500_100_days.csv`` is one ticker's adjusted close, min-max scaled to [-1, 1];
the first column (``Fortune500``) holds the ticker.  :func:`load_data` returns what the lecture
builds with pandas::

    df = pd.read_csv("fortune500_100_days.csv")
    X = df.iloc[:, 1:].values; y = X[:, -1]; X = X[:, :-1]
"""
from __future__ import annotations

import csv
from typing import NamedTuple

import numpy as np

from rnnlab.datasets._files import fix_hint, get_file, reading

__all__ = ["FNAME", "URL", "SHA256", "SeriesData", "load_data", "load_series"]

FNAME = "fortune500_100_days.csv"
URL = ("https://raw.githubusercontent.com/DSApps-2023/Class_Slides/main/data/"
       "fortune500_100_days.csv")
SHA256 = "aa7a8a47c98e74bc26ceb971ba4af158bcb7b27272e9bf7d82303b8bb8a2f582"


class SeriesData(NamedTuple):
    """Series split as in the lecture: ``X`` the first T-1 values, ``y`` the last one."""

    X: np.ndarray        # (n_series, T - 1) float64
    y: np.ndarray        # (n_series,) float64, the value of the last day
    tickers: np.ndarray  # (n_series,) str
    dates: list          # T date strings (dd/mm/YYYY), from the header


def _read(path=None):
    file = get_file(FNAME, SHA256, URL, path=path)
    with reading(file, "Fortune 500 CSV (UTF-8)", fix_hint(file, SHA256, URL)), \
            open(file, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows or len(rows[0]) < 3:
        raise ValueError(f"{str(file)!r} is not a Fortune 500 series file: header {rows[:1]}")
    header, body = rows[0], [r for r in rows[1:] if r]
    width = len(header)
    for i, r in enumerate(body, start=2):
        if len(r) != width:
            raise ValueError(f"{str(file)!r} line {i}: {len(r)} fields, expected {width}")
    tickers = np.array([r[0] for r in body], dtype=str)
    try:
        values = np.array([[float(v) for v in r[1:]] for r in body], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{str(file)!r} holds a non-numeric price: {err}") from None
    return tickers, values, list(header[1:])


def load_data(path=None) -> SeriesData:
    """Load the 502 × 101 series as ``(X, y, tickers, dates)``: X (502, 100), y (502,) = day 101.

    ``path``: the CSV itself or a directory holding it; by default ``$RNNLAB_DATA_DIR``, the cache,
    then a verified download of the lecture's file.
    """
    tickers, values, dates = _read(path)
    return SeriesData(values[:, :-1], values[:, -1].copy(), tickers, dates)


def load_series(ticker: str, path=None) -> np.ndarray:
    """All 101 values of one ticker (the lecture plots ``"GOOG"``); KeyError for an unknown one."""
    tickers, values, _ = _read(path)
    hits = np.flatnonzero(tickers == ticker)
    if hits.size == 0:
        raise KeyError(f"Unknown ticker {ticker!r}: not among the {len(tickers)} tickers of "
                       f"{FNAME} (e.g. {', '.join(tickers[:5])})")
    return values[hits[0]].copy()

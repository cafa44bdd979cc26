"""The report's time-series tables on the lecture's Fortune 500 file: the classification setting
and "Don't invent the wheel" (naive, drift, linear AR per series and pooled, ARIMA, the lecture's
RNNs), with a verdict computed from the numbers.  Values are checked against direct NumPy,
scikit-learn and statsmodels computations; the run is kept short by tiny settings."""
import functools
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from statsmodels.tsa.arima.model import ARIMA as SMARIMA

from rnnlab.datasets import fortune500
from rnnlab.lecture import reproduce as lecture_reproduce
from rnnlab.lecture import timeseries as lecture_ts
from rnnlab.lecture import ts_tables
from rnnlab.timeseries import statistical

TINY = {"arima_series": 4, "direction_epochs": 1, "per_series_ks": (1, 5), "pooled_ks": (5, 20)}


@pytest.fixture(scope="module")
def data():
    d = fortune500.load_data()
    return np.asarray(d.X, dtype=np.float64), np.asarray(d.y, dtype=np.float64)


@pytest.fixture(scope="module")
def wheel(data):
    X, y = data
    return {r["model"]: r for r in ts_tables.wheel_rows(X, y, TINY, lecture_ts.LECTURE,
                                                        {"SimpleRNN(1)": (0.05, 1.5)})}


def test_wheel_baselines_match_direct_computations(data, wheel):
    X, y = data
    naive = wheel["naive (day 100) per series"]
    assert naive["mse"] == pytest.approx(0.033289150367058463, rel=1e-12)  # the lecture's
    slope = (X[:, -1] - X[:, 0]) / (X.shape[1] - 1)
    assert wheel["drift per series"]["mse"] == pytest.approx(
        np.mean((X[:, -1] + slope - y) ** 2), rel=1e-12)
    lag = LinearRegression().fit(X[:, -20:], y)                   # pooled AR(20) by scikit-learn
    assert wheel["linear_ar(k=20) pooled"]["mse"] == pytest.approx(
        np.mean((lag.predict(X[:, -20:]) - y) ** 2), rel=1e-9)
    ar1 = []                                                       # per-series AR(1), by hand
    for s in X:
        A = np.column_stack([np.ones(99), s[:-1]])
        c, a = np.linalg.lstsq(A, s[1:], rcond=None)[0]
        ar1.append(c + a * s[-1])
    assert wheel["linear_ar(k=1) per series"]["mse"] == pytest.approx(
        np.mean((np.array(ar1) - y) ** 2), rel=1e-9)
    for r in wheel.values():
        assert r["seconds"] is None or r["seconds"] >= 0.0


def test_wheel_lists_the_lecture_rnns_and_this_runs(wheel):
    assert wheel["SimpleRNN(1) (lecture)"]["mse"] == pytest.approx(0.04377151881286946)
    assert wheel["SimpleRNN 10→5→1 (lecture)"]["mse"] == pytest.approx(0.02624883636777101)
    assert wheel["SimpleRNN(1) (lecture)"]["seconds"] is None
    mine = wheel["SimpleRNN(1) (rnnlab, this run)"]
    assert (mine["mse"], mine["seconds"]) == (0.05, 1.5)


def test_arima_on_a_subset_says_so_and_is_not_ranked(data, wheel):
    X, y = data
    row = wheel["ARIMA(1, 1, 0) per series (statsmodels)"]
    assert row["series"] == 4 and not row["compare"]
    assert "first 4 of 502 series" in row["note"]
    pred = []
    for s in X[:4]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred.append(SMARIMA(s, order=(1, 1, 0)).fit().forecast(1)[0])
    assert row["mse"] == pytest.approx(np.mean((np.array(pred) - y[:4]) ** 2), rel=1e-6)


def test_arima_without_statsmodels_says_so(data, monkeypatch):
    monkeypatch.setattr(statistical, "available", lambda: False)
    X, y = data
    rows = ts_tables.wheel_rows(X[:30], y[:30], TINY, lecture_ts.LECTURE)
    row = next(r for r in rows if r["model"].startswith("ARIMA"))
    assert row["mse"] is None and "statsmodels is not installed" in row["note"]
    assert "ARIMA" not in ts_tables.verdict(rows)


def test_verdict_is_computed_from_the_numbers(wheel):
    text = ts_tables.verdict(list(wheel.values()))
    # the lecture's stack (0.02625) and the pooled AR(20) (0.02626) are the two lowest
    assert text.startswith("On this dataset the lowest MSE is SimpleRNN 10→5→1 (lecture)")
    assert "practically tied" in text and "linear_ar(k=20) pooled" in text
    assert "the best is naive (day 100) per series (MSE 0.0333" in text

    def row(name, mse, fit=ts_tables.IN_SAMPLE, compare=True):
        return {"model": name, "mse": mse, "fit": fit, "seconds": 0.5, "note": "",
                "series": 10, "compare": compare}
    rows = [row("a", 0.30), row("b", 0.10), row("subset", 0.01, compare=False),
            row("c", 0.20, ts_tables.OUT_OF_SAMPLE)]
    text = ts_tables.verdict(rows)
    assert text.startswith("On this dataset the lowest MSE is b (MSE 0.1000 in 0.50 s)")
    assert "subset" not in text and "tied" not in text and "the best is c" in text


def test_reproduce_quick_writes_both_tables(tmp_path, data_dir, monkeypatch):
    """The real run at tiny sizes: the tables and the verdict reach report.md and report.html."""
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data_dir))
    monkeypatch.setattr(ts_tables, "QUICK", TINY)
    monkeypatch.setattr(lecture_ts, "run", functools.partial(
        lecture_ts.run, scratch_epochs=2, rnn_epochs=1, stack_epochs=1))
    lecture_reproduce.reproduce(part="timeseries", quick=True, out=tmp_path,
                                echo=lambda msg: None)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for text in (md, page):
        assert "Time series: the classification setting" in text
        assert "don't invent the wheel" in text or "don&#x27;t invent the wheel" in text
        for name in ("majority class of training", "same as yesterday", "Dense(1, sigmoid)",
                     "naive (day 100) per series", "linear_ar(k=20) pooled",
                     "SimpleRNN(1) (rnnlab, this run)", "first 4 of 502 series",
                     "On this dataset the lowest MSE is"):
            assert name in text, name
    assert "| naive (day 100) per series | 0.0333 |" in md
    assert "| SimpleRNN 10→5→1 (lecture) | 0.0262 |" in md
    assert "| SimpleRNN(1) (lecture) | 0.0438 |" in md
    # the classification rows: accuracy and AUC in [0, 1], the baselines need no time
    cls = md.split("## Time series: the classification setting")[1].split("## ")[0]
    lines = [ln for ln in cls.splitlines()
             if ln.startswith("| ") and "accuracy" not in ln and "---" not in ln]
    assert len(lines) == 4
    for ln in lines:
        acc, auc = (float(c) for c in ln.strip("| ").split(" | ")[1:3])
        assert 0.0 <= acc <= 1.0 and 0.0 <= auc <= 1.0
    assert "ARIMA on the first 4 series and 1 epochs" in md

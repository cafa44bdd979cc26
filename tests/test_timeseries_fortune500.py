"""The Fortune 500 tables of rnnlab.timeseries: the classification setting (will day 101 close
above day 100?) and classical models on the lecture's day-101 split, checked against
scikit-learn and statsmodels computed independently."""
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score
from statsmodels.tsa.arima.model import ARIMA as SMARIMA

from rnnlab import config
from rnnlab.datasets import fortune500
from rnnlab.lecture import timeseries as lecture_ts
from rnnlab.timeseries.classification import direction_labels, direction_table, roc_auc
from rnnlab.timeseries.lecture_split import (
    LECTURE_MSE,
    lecture_split_table,
    pooled_ar_mse,
    rnn_mse,
)


@pytest.fixture(scope="module")
def data():
    d = fortune500.load_data()
    return d.X, d.y


def test_labels_by_hand():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(direction_labels(X, [2.0, 1.0, 0.5]), [1, 0, 0])  # tie: not up


def test_roc_auc_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(size=200) + labels, 1)            # many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert roc_auc([0, 1, 0, 1], [0.0, 0.0, 0.0, 0.0]) == 0.5
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_direction_table_scores_baselines_and_models_on_held_out_tickers(data):
    X, y = data[0][:150], data[1][:150]
    rows = direction_table(data=(X, y), epochs=2, seed=3)
    names = [r["model"] for r in rows]
    assert names[1] == "same as yesterday's move" and len(rows) == 4
    test = np.random.default_rng(3).permutation(150)[:30]
    labels = (y[test] > X[test, -1]).astype(int)
    move = X[test, -1] - X[test, -2]
    assert rows[1]["accuracy"] == pytest.approx(np.mean((move > 0) == labels))
    assert rows[1]["auc"] == pytest.approx(roc_auc_score(labels, move))
    assert rows[0]["auc"] == 0.5
    train_up = np.mean(np.delete(y > X[:, -1], test))
    assert rows[0]["accuracy"] == pytest.approx(np.mean(labels == int(train_up >= 0.5)))
    for r in rows[2:]:
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["auc"] <= 1 and r["seconds"] > 0
        assert r["test_series"] == 30 and r["train_series"] == 120


def test_direction_table_bad_input():
    X = np.random.default_rng(0).normal(size=(10, 5))
    with pytest.raises(ValueError, match="test_fraction must be in"):
        direction_table(data=(X, X[:, 0]), test_fraction=1.0)
    X[2, 3] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        direction_table(data=(X, X[:, 0]))


def test_lecture_split_table_against_statsmodels_and_sklearn(data):
    X, y = data[0][:12], data[1][:12]
    rows = {r["model"]: r for r in lecture_split_table(data=(X, y), ks=(2,))}
    assert rows["naive per series"]["mse"] == pytest.approx(np.mean((y - X[:, -1]) ** 2))
    arima = [SMARIMA(row, order=(1, 1, 0)).fit().forecast(1)[0] for row in X]
    assert rows["arima(1, 1, 0) per series"]["mse"] == pytest.approx(np.mean((arima - y) ** 2),
                                                                     rel=1e-8)
    lags = X[:, [-1, -2]]
    reg = LinearRegression().fit(lags, y)
    assert rows["linear_ar(k=2) pooled"]["mse"] == pytest.approx(
        np.mean((reg.predict(lags) - y) ** 2), rel=1e-9)
    assert rows["SimpleRNN 10→5→1 (lecture)"]["mse"] == LECTURE_MSE["SimpleRNN 10→5→1 (lecture)"]


def test_day_100_and_pooled_ar_on_the_whole_file(data):
    X, y = data
    rows = {r["model"]: r for r in lecture_split_table(data=(X, y), ks=(1,), arima_order=None)}
    # the per-series naive forecast is the lecture's "day 100" baseline
    assert rows["naive per series"]["mse"] == pytest.approx(0.033289150367058463, abs=1e-12)
    assert not any(name.startswith("arima") for name in rows)
    # the per-series AR(1): each series' own least squares, its day-101 forecast
    pred = []
    for row in X:
        coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(99), row[:-1]]), row[1:], rcond=None)
        pred.append(coef[0] + coef[1] * row[-1])
    assert rows["linear_ar(k=1) per series"]["mse"] == pytest.approx(
        np.mean((np.array(pred) - y) ** 2), rel=1e-9)
    assert pooled_ar_mse(X, y, 5) < LECTURE_MSE["SimpleRNN(1) (lecture)"]


def test_the_lectures_rnns_trained_here_match_the_lecture_module(data):
    X, y = data[0][:60, -20:], data[1][:60]
    rows = {r["model"]: r for r in lecture_split_table(data=(X, y), ks=(), arima_order=None,
                                                       rnn_epochs=(2, 1), seed=4)}
    for stack, epochs, name in ((False, 2, "SimpleRNN(1)"), (True, 1, "SimpleRNN 10→5→1")):
        config.set_random_seed(4)
        model = lecture_ts.simple_rnn_model(stack)          # the lecture's own code path
        model.fit(X[:, :, None], y[:, None], epochs=epochs, verbose=0)
        ref = float(np.mean((model.predict(X[:, :, None], verbose=0)[:, 0] - y) ** 2))
        row = rows[f"{name} (rnnlab, {epochs} epochs, seed 4)"]
        assert row["mse"] == pytest.approx(ref, rel=1e-5) and row["seconds"] > 0
    assert rnn_mse(X, y, False, 2, seed=4) == pytest.approx(
        rows["SimpleRNN(1) (rnnlab, 2 epochs, seed 4)"]["mse"], rel=1e-12)
    with pytest.raises(ValueError, match="rnn_epochs must be"):
        lecture_split_table(data=(X, y), rnn_epochs=5)

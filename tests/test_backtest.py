"""Rolling-origin backtests, the RNN adapter, conformal intervals and Monte-Carlo dropout, on hand
examples and on a real public series rnnlab does not ship (statsmodels' yearly sunspot numbers,
1700-2008, bundled with statsmodels: no download)."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given
from hypothesis import strategies as st

from rnnlab.timeseries import (
    LinearAR,
    Naive,
    RNNForecaster,
    SeasonalNaive,
    backtest,
    compare,
    conformal_quantiles,
    coverage,
    fold_origins,
    interval,
    lstm_builder,
    write_csv,
)
from rnnlab.timeseries.plots import plot_backtest
from rnnlab.timeseries.statistical import ETS

H, M = 12, 11      # 12 years ahead; the ~11-year solar cycle as the season


@pytest.fixture(scope="module")
def sunspots():
    y = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=float)
    assert y.shape == (309,) and np.all(np.isfinite(y))
    return y


# ------------------------------------------------------------------ folds
def test_fold_layout_by_hand():
    # origins T - h - stride·(folds-1-i): 20 - 3 - 2·2 = 13, then 15, 17 (the last ends the series)
    assert fold_origins(20, 3, 3, stride=2) == [(0, 13), (0, 15), (0, 17)]
    assert fold_origins(20, 3, 3, stride=2, window="sliding", train_size=5) == \
        [(8, 13), (10, 15), (12, 17)]


@given(st.integers(2, 60), st.integers(1, 20), st.integers(1, 20), st.integers(1, 5),
       st.integers(1, 10))
def test_fold_layout_properties(n, horizon, folds, stride, min_train):
    try:
        plan = fold_origins(n, horizon, folds, stride, min_train=min_train)
    except ValueError as err:
        # refused only when the last fold's horizon or the first fold's training part don't fit
        assert horizon >= n or n - horizon - stride * (folds - 1) < min_train, str(err)
        return
    assert len(plan) == folds
    assert plan[-1][1] + horizon == n                         # the last fold ends the series
    assert plan[0][1] >= min_train                            # every fold has training data
    assert all(b[1] - a[1] == stride for a, b in zip(plan, plan[1:]))


def test_backtest_scores_each_fold_independently():
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0, 12.0])
    res = backtest(Naive(), y, horizon=2, folds=3, stride=2)
    assert [f.origin for f in res.folds] == [4, 6, 8]
    for f in res.folds:
        train, truth = y[:f.origin], y[f.origin:f.origin + 2]
        pred = np.full(2, train[-1])
        np.testing.assert_array_equal(f.y_pred, pred)
        scale = np.mean(np.abs(np.diff(train)))
        assert f.metrics["mase"] == pytest.approx(np.mean(np.abs(truth - pred)) / scale)
        assert f.metrics["rmse"] == pytest.approx(np.sqrt(np.mean((truth - pred) ** 2)))
    table = res.table()
    assert len(table) == 4 and table[-1]["fold"] == "overall"
    assert table[-1]["mae"] == pytest.approx(np.mean([r["mae"] for r in table[:3]]))
    assert table[0]["train_size"] == 4
    slide = backtest(Naive(), y, horizon=2, folds=3, stride=2, window="sliding", train_size=3)
    assert [f.train_start for f in slide.folds] == [1, 3, 5]


def test_backtest_bad_input_is_named():
    y = np.arange(30.0)
    with pytest.raises(ValueError, match="horizon=30 is not shorter than the series"):
        backtest(Naive(), y, horizon=30, folds=1)
    with pytest.raises(ValueError, match="leave 0 training values in the first fold"):
        backtest(Naive(), y, horizon=5, folds=30)
    with pytest.raises(ValueError, match="needs at least 12"):   # seasonal naive needs m values
        backtest(SeasonalNaive(12), y, horizon=5, folds=15)
    with pytest.raises(ValueError, match="train_size=10 need 40 values; the series has 30"):
        backtest(Naive(), y, horizon=5, folds=26, window="sliding", train_size=10)
    with pytest.raises(ValueError, match=r"missing values \(NaN\) \(first at index 3\)"):
        backtest(Naive(), np.r_[y[:3], np.nan, y[4:]], horizon=2, folds=2)
    with pytest.raises(ValueError, match="window must be one of"):
        backtest(Naive(), y, horizon=2, folds=2, window="growing")
    with pytest.raises(TypeError, match="fit"):
        backtest(object(), y, horizon=2, folds=2)
    with pytest.raises(ValueError, match="constant series"):       # scaling in the adapter
        backtest(RNNForecaster(window=3, horizon=2, epochs=1), np.ones(30), horizon=2, folds=2)


# ------------------------------------------------------------------ the RNN adapter
def test_adapter_scales_on_training_part_and_forecasts_direct_and_recursive(sunspots):
    train = sunspots[:150]
    direct = RNNForecaster(lstm_builder(4), window=11, horizon=3, epochs=2).fit(train)
    assert direct.scaler_.center_ == pytest.approx(train.mean())      # not the whole series
    assert direct.model_.layers[-1].units == 3
    pred = direct.predict(3)
    assert pred.shape == (3,) and np.all(np.isfinite(pred))
    np.testing.assert_allclose(direct.predict(2), pred[:2])
    with pytest.raises(ValueError, match="h=4 is longer than the horizon=3"):
        direct.predict(4)
    rec = RNNForecaster(lstm_builder(4), window=11, strategy="recursive", epochs=2).fit(train)
    assert rec.model_.layers[-1].units == 1
    # the recursion by hand: each forecast becomes the newest input
    z = rec.scaler_.transform(train)[-11:].astype(np.float32)
    steps = []
    for _ in range(3):
        nxt = rec.model_.predict(z[None, :, None], verbose=0)[0, 0]
        steps.append(nxt)
        z = np.r_[z[1:], np.float32(nxt)]
    np.testing.assert_allclose(rec.predict(3), rec.scaler_.inverse_transform(steps), rtol=1e-5)


def test_adapter_takes_exogenous_inputs(sunspots):
    y = sunspots[:120]
    ex = np.sin(2 * np.pi * np.arange(120) / M)
    f = RNNForecaster(lstm_builder(4), window=11, horizon=2, epochs=1).fit(y, exog=ex)
    assert f.model_.layers[0].get_weights()[0].shape[0] == 2      # LSTM kernel: 2 input features
    assert f.last_inputs_.shape == (1, 11, 2) and f.predict(2).shape == (2,)
    with pytest.raises(ValueError, match="exog needs strategy='direct'"):
        RNNForecaster(window=11, strategy="recursive", epochs=1).fit(y, exog=ex)


def test_monte_carlo_dropout_samples(sunspots):
    y = sunspots[:120]
    f = RNNForecaster(lstm_builder(8, dropout=0.3), window=11, horizon=3, epochs=2).fit(y)
    s = f.predict_samples(3, n=50)
    assert s.shape == (50, 3)
    assert np.all(s.std(axis=0) > 0)                   # dropout on: the samples differ
    plain = RNNForecaster(lstm_builder(8), window=11, horizon=3, epochs=2).fit(y)
    s0 = plain.predict_samples(3, n=5)                 # no dropout: every sample is the forecast
    np.testing.assert_allclose(s0, np.tile(plain.predict(3), (5, 1)), rtol=1e-5)


# ------------------------------------------------------------------ conformal
def test_conformal_quantile_by_hand():
    r = np.array([[1.0, -5.0], [-2.0, 1.0], [3.0, 2.0], [-4.0, 3.0]])
    # n = 4, alpha = 0.2: rank ceil(5 · 0.8) = 4 -> the largest |r| per step
    np.testing.assert_array_equal(conformal_quantiles(r, 0.2), [4.0, 5.0])
    lo, hi = interval([10.0, 20.0], r, 0.2)
    np.testing.assert_array_equal(lo, [6.0, 15.0])
    np.testing.assert_array_equal(hi, [14.0, 25.0])
    with pytest.raises(ValueError, match="too few for alpha=0.1: need at least 9"):
        conformal_quantiles(r, 0.1)


@pytest.mark.parametrize("model", [SeasonalNaive(M), LinearAR(9)], ids=lambda m: m.name)
def test_conformal_90_covers_85_to_95_percent_of_held_out_sunspots(sunspots, model):
    res = backtest(model, sunspots, horizon=H, folds=150, m=M)
    cov = coverage(res, alpha=0.1)
    print(f"\n{res.model}: rolling conformal 90% coverage {cov['coverage']:.3f} on "
          f"{cov['points']} held-out points")
    assert cov["points"] > 1000
    assert 0.85 <= cov["coverage"] <= 0.95
    # calibrating once on the first half instead breaks down: the cycles grow over the centuries
    split = coverage(res, alpha=0.1, method="split")
    print(f"{res.model}: split (first-half) conformal 90% coverage {split['coverage']:.3f}")


# ------------------------------------------------------------------ the 12-step sunspot backtest
def test_twelve_step_backtest_of_lstm_seasonal_naive_and_ets(sunspots, tmp_path):
    lstm = RNNForecaster(lstm_builder(8, learning_rate=0.01), window=22, horizon=H, epochs=15,
                         batch_size=64, name="lstm(8)")
    models = [SeasonalNaive(M), ETS(seasonal="add", seasonal_periods=M), lstm]
    results, table = compare(models, sunspots, horizon=H, folds=3, stride=H, m=M)
    print("\n" + "\n".join(f"{r['model']:45s} MASE {r['mase']:.3f}  RMSE {r['rmse']:.1f}  "
                           f"{r['seconds']:.1f}s" for r in table))
    # MASE per fold, recomputed from the folds' forecasts with the formula written out
    for res in results.values():
        for f in res.folds:
            train = sunspots[:f.origin]
            scale = np.mean(np.abs(train[M:] - train[:-M]))
            assert f.metrics["mase"] == pytest.approx(np.mean(np.abs(f.y_true - f.y_pred)) / scale)
        assert [f.origin for f in res.folds] == [273, 285, 297]
    mase = {r["model"]: r["mase"] for r in table}
    assert all(np.isfinite(v) and 0 < v < 3 for v in mase.values())
    fig = plot_backtest(results["lstm(8)"], sunspots, path=tmp_path / "bt.png")
    assert (tmp_path / "bt.png").stat().st_size > 0 and len(fig.axes[0].lines) == 4


class _Recorder(Naive):
    """Naive, remembering the exogenous part each fit received."""

    def fit(self, y, exog=None):
        self.seen = getattr(self, "seen", []) + [exog]
        return super().fit(y)


def test_backtest_passes_each_fold_its_own_exogenous_slice():
    y, ex = np.arange(20.0), np.arange(100.0, 120.0)
    rec = _Recorder()
    backtest(rec, y, horizon=3, folds=2, stride=4, window="sliding", train_size=5, exog=ex)
    np.testing.assert_array_equal(rec.seen[0].ravel(), ex[8:13])     # origins 13, 17; 5 before
    np.testing.assert_array_equal(rec.seen[1].ravel(), ex[12:17])
    with pytest.raises(ValueError, match="distinct names"):
        compare([Naive(), Naive()], y, horizon=2, folds=2)


def test_monte_carlo_dropout_intervals_in_a_backtest(sunspots):
    lstm = RNNForecaster(lstm_builder(8, dropout=0.2), window=22, horizon=H, epochs=3,
                         name="lstm-mc")
    res = backtest(lstm, sunspots, horizon=H, folds=2, stride=H, m=M, interval_alpha=0.1)
    inside = sum(int(np.sum((f.lower <= f.y_true) & (f.y_true <= f.upper))) for f in res.folds)
    assert res.interval_coverage() == pytest.approx(inside / (2 * H))
    assert all(np.all(f.lower < f.upper) for f in res.folds)
    print(f"\nMC dropout 90% interval coverage (2 folds, 3 epochs): {res.interval_coverage():.3f}")
    with pytest.raises(TypeError, match="predict_interval"):
        backtest(Naive(), sunspots, horizon=H, folds=2, interval_alpha=0.1)
    with pytest.raises(ValueError, match="without interval_alpha"):
        backtest(Naive(), sunspots, horizon=H, folds=2).interval_coverage()


def test_weekly_co2_with_its_gaps_is_refused_by_name():
    co2 = sm.datasets.co2.load_pandas().data["co2"].to_numpy()     # Mauna Loa, weekly, 1958-2001
    gaps = int(np.isnan(co2).sum())
    first = int(np.flatnonzero(np.isnan(co2))[0])
    with pytest.raises(ValueError, match=rf"{gaps} missing values \(NaN\) \(first at index "
                                         rf"{first}\)"):
        backtest(SeasonalNaive(52), co2, horizon=12, folds=3, m=52)
    filled = np.interp(np.arange(co2.size), np.flatnonzero(~np.isnan(co2)), co2[~np.isnan(co2)])
    res = backtest(SeasonalNaive(52), filled, horizon=12, folds=3, stride=12, m=52)
    assert all(np.isfinite(r["mase"]) for r in res.table())


def test_backtest_table_as_csv(tmp_path):
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0, 12.0])
    res = backtest(Naive(), y, horizon=2, folds=3, stride=2)
    path = tmp_path / "folds.csv"
    path.write_text("old")
    write_csv(res.table(), path)
    back = pd.read_csv(path)
    assert list(back["fold"]) == ["0", "1", "2", "overall"]
    np.testing.assert_allclose(back["mase"], [r["mase"] for r in res.table()], rtol=1e-15)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_csv(res.table(), tmp_path / "missing" / "folds.csv")
    with pytest.raises(ValueError, match="non-empty list of dicts"):
        write_csv([], path)
    assert pd.read_csv(path).shape == (4, back.shape[1])      # the failed calls left it intact

"""rnnlab.timeseries baselines, metrics, scaling and windows: hand values, numpy lstsq,
statsmodels (AutoReg, ETSModel, ARIMA) and scikit-learn as independent references."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error
from statsmodels.tsa.ar_model import AutoReg
from statsmodels.tsa.arima.model import ARIMA as SMARIMA
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from rnnlab.timeseries import (
    Drift,
    LinearAR,
    Naive,
    SeasonalNaive,
    SeriesScaler,
    last_window,
    mae,
    make_windows,
    mape,
    mase,
    rmse,
    smape,
)
from rnnlab.timeseries.metrics import evaluate
from rnnlab.timeseries.statistical import ARIMA, ETS

Y = np.array([3.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0])


# ------------------------------------------------------------------ baselines by hand
def test_naive_repeats_the_last_value():
    np.testing.assert_array_equal(Naive().fit(Y).predict(3), [9.0, 9.0, 9.0])


def test_seasonal_naive_repeats_the_last_season_in_order():
    # the last season (m=3) is 8, 7, 9
    np.testing.assert_array_equal(SeasonalNaive(3).fit(Y).predict(7),
                                  [8.0, 7.0, 9.0, 8.0, 7.0, 9.0, 8.0])
    np.testing.assert_array_equal(SeasonalNaive(1).fit(Y).predict(2), [9.0, 9.0])


def test_drift_follows_the_line_from_first_to_last():
    # slope (9 - 3) / 6 = 1
    np.testing.assert_allclose(Drift().fit(Y).predict(3), [10.0, 11.0, 12.0])


@given(st.floats(-5, 5), st.floats(-2, 2), st.integers(3, 30))
def test_drift_is_exact_on_a_line(a, b, n):
    line = a + b * np.arange(n)
    np.testing.assert_allclose(Drift().fit(line).predict(4), a + b * np.arange(n, n + 4),
                               atol=1e-9)


def _series(n=120, seed=3):
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(2, n):
        y[t] = 0.5 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.normal()
    return y


def test_linear_ar_is_least_squares_with_intercept():
    y, k = _series(), 3
    # design written out row by row: [1, y_{t-1}, y_{t-2}, y_{t-3}] -> y_t
    rows = [[1.0, y[t - 1], y[t - 2], y[t - 3]] for t in range(k, len(y))]
    coef, *_ = np.linalg.lstsq(np.array(rows), y[k:], rcond=None)
    model = LinearAR(k).fit(y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-10, atol=1e-12)
    # one step by hand, then the recursion
    f1 = coef[0] + coef[1] * y[-1] + coef[2] * y[-2] + coef[3] * y[-3]
    f2 = coef[0] + coef[1] * f1 + coef[2] * y[-1] + coef[3] * y[-2]
    np.testing.assert_allclose(model.predict(2), [f1, f2], rtol=1e-12)


def test_linear_ar_equals_statsmodels_autoreg():
    y, k = _series(200, seed=5), 4
    ref = AutoReg(y, lags=k, trend="c").fit()
    model = LinearAR(k).fit(y)
    np.testing.assert_allclose(model.coef_, ref.params, rtol=1e-8)
    np.testing.assert_allclose(model.predict(10), ref.predict(start=len(y), end=len(y) + 9),
                               rtol=1e-8)


# ------------------------------------------------------------------ statsmodels wrappers
def test_ets_equals_statsmodels_ets_model():
    rng = np.random.default_rng(0)
    t = np.arange(72)
    y = 10 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, t.size)
    ref = ETSModel(y, error="add", trend="add", seasonal="add", seasonal_periods=12).fit(
        disp=False).forecast(12)
    ours = ETS(trend="add", seasonal="add", seasonal_periods=12).fit(y).predict(12)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    # and the forecast follows the season: it beats seasonal naive on this smooth series
    assert np.abs(ours - SeasonalNaive(12).fit(y).predict(12)).max() < 2.0


def test_arima_equals_statsmodels_arima():
    y = _series(100, seed=7)
    ref = SMARIMA(y, order=(2, 0, 0), trend="c").fit().forecast(6)
    np.testing.assert_allclose(ARIMA((2, 0, 0), trend="c").fit(y).predict(6), ref, rtol=1e-8)


def test_statistical_arguments_are_checked():
    with pytest.raises(ValueError, match="seasonal_periods"):
        ETS(seasonal="add")
    with pytest.raises(ValueError, match="damped_trend"):
        ETS(damped_trend=True)
    with pytest.raises(ValueError, match="order"):
        ARIMA((1, 0))
    with pytest.raises(ValueError, match="order d"):
        ARIMA((1, -1, 0))


# ------------------------------------------------------------------ metrics
T_, P_, TRAIN = [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0], [1.0, 3.0, 2.0, 6.0]


def test_metrics_by_hand():
    assert mae(T_, P_) == pytest.approx(0.625)
    assert rmse(T_, P_) == pytest.approx(0.75)
    assert mape(T_, P_) == pytest.approx(100 * (0.5 + 0 + 1 / 3 + 1 / 4) / 4)
    # sMAPE (M4): 100 · mean 2|e| / (|y| + |ŷ|)
    assert smape(T_, P_) == pytest.approx(100 * (1 / 2.5 + 0 + 2 / 5 + 2 / 9) / 4)
    # MASE: scale = mean |y_t - y_{t-1}| = (2 + 1 + 4) / 3
    assert mase(T_, P_, TRAIN) == pytest.approx(0.625 / (7 / 3))
    # m = 2: scale = (|2 - 1| + |6 - 3|) / 2 = 2
    assert mase(T_, P_, TRAIN, m=2) == pytest.approx(0.625 / 2)
    assert evaluate(T_, P_, TRAIN)["mase"] == pytest.approx(0.625 / (7 / 3))


def test_metrics_against_scikit_learn():
    rng = np.random.default_rng(1)
    t, p = rng.uniform(1, 5, 50), rng.uniform(1, 5, 50)
    assert mae(t, p) == pytest.approx(mean_absolute_error(t, p))
    assert rmse(t, p) == pytest.approx(np.sqrt(np.mean((t - p) ** 2)))
    assert mape(t, p) == pytest.approx(100 * mean_absolute_percentage_error(t, p))


def test_metric_edge_cases_are_named():
    assert np.isnan(mape([0.0, 1.0], [1.0, 1.0]))
    assert smape([0.0, 2.0], [0.0, 2.0]) == 0.0          # 0/0 terms are exact forecasts
    with pytest.raises(ValueError, match="does not change over a season"):
        mase([1.0], [2.0], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="differ in length"):
        mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="missing values"):
        rmse([1.0, np.nan], [1.0, 2.0])


# ------------------------------------------------------------------ scaling and windows
def test_scaler_fits_on_the_training_part_only_and_inverts():
    train, future = np.array([1.0, 2.0, 3.0, 6.0]), np.array([10.0, 12.0])
    s = SeriesScaler().fit(train)
    assert (s.center_, s.scale_) == (pytest.approx(3.0), pytest.approx(np.std(train)))
    np.testing.assert_allclose(s.transform(future), (future - 3.0) / np.std(train))
    np.testing.assert_allclose(s.inverse_transform(s.transform(future)), future)
    mm = SeriesScaler("minmax").fit(train)
    np.testing.assert_allclose(mm.transform(train), [-1.0, -0.6, -0.2, 1.0])


def test_scaler_rejects_a_constant_series_and_nan():
    with pytest.raises(ValueError, match="constant series"):
        SeriesScaler().fit([4.0, 4.0, 4.0])
    with pytest.raises(ValueError, match=r"missing values \(NaN\).*index 1"):
        SeriesScaler().fit([4.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="method"):
        SeriesScaler("robust")
    with pytest.raises(RuntimeError, match="before fit"):
        SeriesScaler().transform([1.0])


def test_windows_with_exogenous_inputs():
    y = np.arange(6.0)
    ex = np.column_stack([10 + np.arange(6.0), 20 + np.arange(6.0)])
    X, Yt = make_windows(y, window=3, horizon=2, exog=ex)
    assert X.shape == (2, 3, 3) and Yt.shape == (2, 2)
    np.testing.assert_array_equal(X[1], [[1, 11, 21], [2, 12, 22], [3, 13, 23]])
    np.testing.assert_array_equal(Yt, [[3, 4], [4, 5]])
    np.testing.assert_array_equal(last_window(y, 2, ex)[0], [[4, 14, 24], [5, 15, 25]])
    with pytest.raises(ValueError, match="too short for window=5 plus horizon=2"):
        make_windows(y, 5, 2)
    with pytest.raises(ValueError, match=r"exog must have shape \(6, k\)"):
        make_windows(y, 2, 1, exog=np.zeros((5, 1)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"missing values \(NaN\)"):
        Naive().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="needs at least 4"):
        SeasonalNaive(4).fit([1.0, 2.0])
    with pytest.raises(ValueError, match="needs at least 7"):
        LinearAR(3).fit(np.arange(6.0))
    with pytest.raises(ValueError, match="h must be a positive integer"):
        Naive().fit(Y).predict(0)
    with pytest.raises(RuntimeError, match="before fit"):
        Drift().predict(2)
    with pytest.raises(ValueError, match="1-D series"):
        Naive().fit(np.zeros((3, 3)))

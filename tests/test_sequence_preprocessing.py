"""rnnlab.preprocessing.sequence: pad_sequences against keras-preprocessing 1.1.2, time-series
windows against a hand-built loop, MinMaxScaler against its formula."""
import json

import numpy as np
import pytest

np.unicode_ = np.str_  # keras-preprocessing 1.1.2 still uses the alias NumPy 2 removed
from keras_preprocessing import sequence as ksequence  # noqa: E402

from rnnlab.preprocessing import sequence  # noqa: E402
from rnnlab.preprocessing.sequence import MinMaxScaler, pad_sequences, timeseries_windows  # noqa

SEQS = [[1, 2, 3, 4, 5], [6, 7], [], [8], [9, 10, 11, 12, 13, 14, 15], [16, 17, 18]]


def assert_same_pad(seqs, **kw):
    ref = ksequence.pad_sequences(seqs, **kw)
    got = pad_sequences(seqs, **kw)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    return got


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 3, 5, 10])
def test_pad_matches_keras(padding, truncating, maxlen):
    kw = dict(padding=padding, truncating=truncating, maxlen=maxlen)
    assert_same_pad(SEQS, **kw)
    assert_same_pad(SEQS, value=-1, **kw)
    assert_same_pad([[0.5, 1.25, 2.0], [3.75], []], dtype="float32", value=np.nan, **kw)
    assert_same_pad([np.arange(4), (5, 6), [7.9, -1.2]], dtype="int64", **kw)
    assert_same_pad([[[1, 2], [3, 4], [5, 6]], [[7, 8]], []], **kw)  # (T, 2) samples
    assert_same_pad([["a", "bb"], ["ccc"], []], dtype=object, value="<pad>", **kw)
    assert_same_pad([["a", "bb"], ["ccc"], []], dtype=str, value="", **kw)
    assert_same_pad([["a", "bb"], ["ccc"]], dtype="<U2", **kw)  # Keras's '0.0' -> '0.' quirk


def test_pad_lecture_example():
    x = pad_sequences([[1, 2, 3, 4, 5], [1, 2, 6, 7], [1, 2, 8], [1, 2, 9]],
                      padding="post", truncating="post", maxlen=4)
    assert x.dtype == np.int32
    assert x.tolist() == [[1, 2, 3, 4], [1, 2, 6, 7], [1, 2, 8, 0], [1, 2, 9, 0]]
    # default pre/pre keeps the end of long sequences and pads in front
    assert pad_sequences([[1, 2, 3, 4, 5], [1, 2, 8]], maxlen=4).tolist() == \
        [[2, 3, 4, 5], [0, 1, 2, 8]]


def test_pad_maxlen_zero_and_empty():
    for trunc in ("pre", "post"):
        x = pad_sequences(SEQS, maxlen=0, truncating=trunc)
        assert x.shape == (len(SEQS), 0)
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    assert pad_sequences([[], []]).shape == (2, 0)


def test_pad_bad_input():
    with pytest.raises(ValueError, match="position 1"):
        pad_sequences([[1, 2], 3, [4]])
    with pytest.raises(ValueError, match="position 0"):
        pad_sequences(["abc", [1]])
    with pytest.raises(ValueError, match="maxlen"):
        pad_sequences(SEQS, maxlen=-1)
    with pytest.raises(ValueError, match="maxlen"):
        pad_sequences(SEQS, maxlen=2.5)
    with pytest.raises(ValueError, match="Padding"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="Truncating"):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(ValueError, match="dtype=object"):
        pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match="position 1"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])
    with pytest.raises(ValueError, match="sized"):
        pad_sequences(iter([[1]]))


def loop_windows(series_list, window, horizon, stride):
    """Hand-built reference: every series in turn, windows in time order."""
    xs, ys = [], []
    for s in series_list:
        t = 0
        while t + window + horizon <= len(s):
            xs.append(s[t:t + window])
            ys.append(s[t + window:t + window + horizon])
            t += stride
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize("window,horizon,stride", [(1, 1, 1), (3, 2, 2), (5, 1, 3), (9, 1, 1)])
def test_windows_match_loop(window, horizon, stride):
    rng = np.random.default_rng(0)
    s1 = rng.normal(size=10)
    x, y = timeseries_windows(s1, window, horizon, stride)
    rx, ry = loop_windows([s1], window, horizon, stride)
    np.testing.assert_array_equal(x, rx[..., None])
    np.testing.assert_array_equal(y, ry)

    batch = rng.normal(size=(4, 10))                       # (n_series, T): univariate batch
    x, y = timeseries_windows(batch, window, horizon, stride)
    rx, ry = loop_windows(list(batch), window, horizon, stride)
    assert x.shape == (len(rx), window, 1) and y.shape == (len(rx), horizon)
    np.testing.assert_array_equal(x[..., 0], rx)
    np.testing.assert_array_equal(y, ry)

    multi = rng.normal(size=(10, 3))                       # (T, features) with features_last
    x, y = timeseries_windows(multi, window, horizon, stride, features_last=True)
    rx, ry = loop_windows([multi], window, horizon, stride)
    assert x.shape == (len(rx), window, 3) and y.shape == (len(rx), horizon, 3)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry)

    multi_batch = rng.normal(size=(2, 10, 3))              # (n_series, T, features)
    x, y = timeseries_windows(multi_batch, window, horizon, stride)
    rx, ry = loop_windows(list(multi_batch), window, horizon, stride)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry)


def test_windows_lecture_shape():
    prices = np.arange(5 * 101, dtype=np.float32).reshape(5, 101)  # 5 stocks x 101 days
    x, y = timeseries_windows(prices, window=100)
    assert x.shape == (5, 100, 1) and y.shape == (5, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(y[:, 0], prices[:, 100])


def test_windows_bad_input():
    with pytest.raises(ValueError, match="too short"):
        timeseries_windows(np.arange(5.0), window=4, horizon=2)
    for name, kw in (("window", {"window": 0}), ("horizon", {"window": 2, "horizon": 0}),
                     ("stride", {"window": 2, "stride": 0}), ("window", {"window": 2.0})):
        with pytest.raises(ValueError, match=name):
            timeseries_windows(np.arange(10.0), **kw)
    with pytest.raises(ValueError, match="1-D"):
        timeseries_windows(np.zeros((2, 2, 2, 2)), 1)
    with pytest.raises(TypeError, match="numbers"):
        timeseries_windows(np.array(["a", "b", "c"]), 1)


def test_scaler_rows_to_range_and_round_trip():
    rng = np.random.default_rng(1)
    prices = rng.uniform(10, 500, size=(6, 101))
    prices[3] = 42.0                                   # a constant row
    sc = MinMaxScaler()
    z = sc.fit_transform(prices)
    assert not np.isnan(z).any()
    live = np.delete(np.arange(6), 3)
    np.testing.assert_allclose(z[live].min(axis=1), -1, atol=1e-12)
    np.testing.assert_allclose(z[live].max(axis=1), 1, atol=1e-12)
    lo, hi = prices.min(1, keepdims=True), prices.max(1, keepdims=True)
    np.testing.assert_allclose(z[live], (2 * (prices - lo)[live] / (hi - lo)[live] - 1),
                               rtol=1e-12)
    np.testing.assert_array_equal(z[3], 0.0)          # constant rows map to the middle
    np.testing.assert_allclose(sc.inverse_transform(z), prices, rtol=1e-12)
    # predictions for the next day (n_series, 1) map back per row
    np.testing.assert_allclose(sc.inverse_transform(z[:, -1:]), prices[:, -1:], rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        sc.inverse_transform(z[:, -1])               # (n,) would broadcast wrongly


def test_scaler_config_json_and_axes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    sc = MinMaxScaler(feature_range=(0, 1), axis=0).fit(x)
    z = sc.transform(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.min(0), 0, atol=1e-6)
    np.testing.assert_allclose(z.max(0), 1, atol=1e-6)
    again = MinMaxScaler.from_config(json.loads(json.dumps(sc.get_config())))
    np.testing.assert_array_equal(again.transform(x), z)
    g = MinMaxScaler(axis=None).fit(x)
    assert g.transform(x).min() == -1 and g.transform(x).max() == 1
    assert MinMaxScaler.from_config(MinMaxScaler().get_config()).data_min_ is None


def test_scaler_bad_input():
    with pytest.raises(ValueError, match="feature_range"):
        MinMaxScaler(feature_range=(1, 1))
    with pytest.raises(RuntimeError, match="fit"):
        MinMaxScaler().transform([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        MinMaxScaler().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="axis"):
        MinMaxScaler(axis=2).fit(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="numeric"):
        MinMaxScaler().fit(["a"])


def test_module_exports():
    from rnnlab.preprocessing import sequence as s
    from rnnlab.preprocessing import text as t
    assert s is sequence and hasattr(t, "Tokenizer") and hasattr(s, "pad_sequences")

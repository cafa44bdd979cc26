"""Serving one sequence at a time: ``predict`` and ``model(x)`` on a single sample run on the
calling thread alone (rnnlab.runtime.compute_scope with ``batch``), give the numbers of a batched
call, and never hand back the caller's own array."""
import numba
import numpy as np
import pytest

from rnnlab import Input, Sequential, config, runtime
from rnnlab.layers import GRU, LSTM, Dense, Embedding, Masking, SimpleRNN


@pytest.fixture(autouse=True)
def fast_kernels():
    old = config.kernels()
    config.set_kernels("fast")
    yield
    config.set_kernels(old)


def test_single_sample_scope_runs_serially_and_restores():
    before = numba.get_num_threads()
    with runtime.compute_scope(10, batch=1):
        assert numba.get_num_threads() == 1
        assert runtime.split_threads() == 0
    assert numba.get_num_threads() == before
    with runtime.compute_scope(10, batch=30):
        assert runtime.split_threads() == numba.get_num_threads() == before


def test_single_sample_scope_restores_after_an_error():
    before = numba.get_num_threads()
    with pytest.raises(RuntimeError):
        with runtime.compute_scope(10, batch=1):
            raise RuntimeError("boom")
    assert numba.get_num_threads() == before
    assert runtime.split_threads() == 0


def _models():
    yield (100,), Sequential([Input((100,)), Embedding(1001, 50), LSTM(10, return_sequences=True),
                              LSTM(1, activation="sigmoid")])
    yield (100,), Sequential([Input((100,)), Embedding(1001, 32), LSTM(128), Dense(1)])
    yield (20, 3), Sequential([Input((20, 3)), GRU(8, return_sequences=True), SimpleRNN(4)])


@pytest.mark.parametrize("k", range(3))
def test_one_sequence_per_call_equals_the_batched_call(k):
    shape, model = list(_models())[k]
    rng = np.random.default_rng(k)
    x = (rng.integers(1, 1001, size=(7,) + shape) if len(shape) == 1
         else rng.normal(size=(7,) + shape).astype("float32"))
    batched = model.predict(x, verbose=0)
    one_by_one = np.concatenate([model.predict(x[i:i + 1], verbose=0) for i in range(7)])
    called = np.concatenate([model(x[i:i + 1]) for i in range(7)])
    np.testing.assert_allclose(one_by_one, batched, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(called, batched, rtol=1e-6, atol=1e-7)


def test_predict_never_returns_the_callers_array():
    x = np.random.default_rng(0).normal(size=(4, 3, 2)).astype("float32")
    model = Sequential([Input((3, 2)), Masking()])
    for batch in (None, 1, 2):
        out = model.predict(x[:1] if batch == 1 else x, batch_size=batch, verbose=0)
        assert not np.may_share_memory(out, x)
        out[...] = 7.0
    assert not np.any(x == 7.0)

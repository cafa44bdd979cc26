"""The wide LSTM's compiled paths (units >= rnnlab.runtime.BLAS_STEP_UNITS) against the plain-NumPy
reference: the whole sequence in one parallel region over blocks of the batch with a GEMM per
block and step called from inside Numba, the same on one block on the calling thread, and the
per-step path; forward outputs and states and every gradient, float32 and float64."""
import contextlib

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

from gradcheck import rel_error
from rnnlab import config
from rnnlab.kernels.compiled import blas
from rnnlab.kernels.compiled import lstm as fast_lstm
from rnnlab.kernels.ops import get_ops
from rnnlab.kernels.reference import lstm as ref_lstm
from rnnlab.layers.recurrent import LSTM
from rnnlab.runtime import compute_scope, split_threads

TOL = {np.float64: 1e-10, np.float32: 2e-5}

pytestmark = pytest.mark.skipif(not blas.AVAILABLE,
                                reason="NumPy's BLAS has no CBLAS GEMM to call from Numba")


@contextlib.contextmanager
def _mode(mode, monkeypatch, threads=2):
    """Run the fast kernels on one path: "blocks" (inside a compute_scope, one block per Numba
    thread), "serial" (outside one: one block on the calling thread) or "step" (per step); yield
    the list of block counts the parallel sequence kernels ran with."""
    parts = []
    real_fwd, real_bwd = fast_lstm._lstm_seq_fwd, fast_lstm._lstm_seq_bwd

    def fwd(inp, o, buf, st_, sg):
        parts.append(sg.parts)
        return real_fwd(inp, o, buf, st_, sg)

    def bwd(gr, inp, o, buf, gd, sd, dhd, sg):
        parts.append(sg.parts)
        return real_bwd(gr, inp, o, buf, gd, sd, dhd, sg)
    monkeypatch.setattr(fast_lstm, "_lstm_seq_fwd", fwd)
    monkeypatch.setattr(fast_lstm, "_lstm_seq_bwd", bwd)
    if mode == "step":
        monkeypatch.setattr(fast_lstm, "SEQUENCE_KERNELS", False)
    config.set_kernels("fast")
    if mode != "blocks":
        yield parts
        return
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with compute_scope(256):
            assert split_threads() == threads
            yield parts
    finally:
        numba.set_num_threads(old)


def _case(seed, n, t, m, u, dtype, rho, sm, bias, acts=None):
    """Random inputs of one forward+backward: (args, kwargs, d_out, d_final)."""
    r = np.random.default_rng(seed)
    s = 1.0 if dtype == np.float64 else 0.5
    x = r.normal(size=(n, t, m)).astype(dtype)
    weights = {"kernel": r.normal(scale=0.5, size=(m, 4 * u)).astype(dtype),
               "recurrent_kernel": r.normal(scale=1.5 / np.sqrt(u), size=(u, 4 * u)).astype(dtype)}
    if bias:
        weights["bias"] = r.normal(scale=s, size=4 * u).astype(dtype)
    states = tuple(r.normal(scale=s, size=(n, u)).astype(dtype) for _ in range(2))
    rmask = ((r.random((n, u)) < 0.7) / 0.7).astype(dtype) if rho else None
    smask = r.random((n, t)) < 0.6 if sm else None
    d_out = r.normal(size=(n, t, u)).astype(dtype)
    d_fin = tuple(r.normal(size=(n, u)).astype(dtype) for _ in range(2))
    return (x, states, weights, rmask, smask), dict(acts or {}), d_out, d_fin


def _run(fwd, bwd, case):
    args, kw, d_out, d_fin = case
    out, finals, cache = fwd(*args, **kw)
    dx, d_init, grads = bwd(d_out, d_fin, cache)
    return [out, *finals, dx, *d_init, *(grads[k] for k in sorted(grads))]


def _assert_equal_reference(case, monkeypatch, mode, threads=2):
    dtype = case[0][0].dtype.type
    want = _run(ref_lstm.lstm_forward, ref_lstm.lstm_backward, case)
    with _mode(mode, monkeypatch, threads) as parts:
        got = _run(fast_lstm.lstm_forward, fast_lstm.lstm_backward, case)
    for i, (a, b) in enumerate(zip(want, got)):
        assert b.shape == a.shape and b.dtype == dtype, (i, a.shape, b.shape, b.dtype)
        assert rel_error(a, b) < TOL[dtype], (i, rel_error(a, b))
    return parts


@given(n=st.integers(1, 9), t=st.integers(1, 5), m=st.integers(1, 4),
       u=st.sampled_from([64, 65, 97, 128, 300]), dtype=st.sampled_from([np.float32, np.float64]),
       rho=st.booleans(), sm=st.booleans(), bias=st.booleans(), threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**16))
def test_sequence_blocks_equal_reference(n, t, m, u, dtype, rho, sm, bias, threads, seed):
    """Any batch (1, odd, fewer rows than threads), step mask, recurrent dropout, non-zero initial
    states, with or without a bias: the block-parallel kernels equal the reference."""
    with pytest.MonkeyPatch.context() as mp:
        parts = _assert_equal_reference(_case(seed, n, t, m, u, dtype, rho, sm, bias), mp,
                                        "blocks", threads)
    blocks = min(threads, n, numba.config.NUMBA_NUM_THREADS)
    assert parts == ([blocks, blocks] if blocks > 1 else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 64])
def test_batch_sizes_on_two_threads(monkeypatch, dtype, n):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one Numba thread")
    parts = _assert_equal_reference(_case(n, n, 6, 3, 128, dtype, True, True, True), monkeypatch,
                                    "blocks")
    assert parts == ([] if n == 1 else [2, 2])


@pytest.mark.parametrize("mode", ["serial", "step"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_and_step_paths_equal_reference(monkeypatch, mode, dtype):
    for seed, opts in enumerate([(False, False, True), (True, True, True), (True, False, False)]):
        parts = _assert_equal_reference(_case(seed, 5, 4, 2, 70, dtype, *opts), monkeypatch, mode)
        assert parts == []


@pytest.mark.parametrize("acts", [{"activation": "relu"},
                                  {"activation": "sigmoid"},
                                  {"activation": "elu", "recurrent_activation": "hard_sigmoid"},
                                  {"recurrent_activation": "tanh"}])
def test_other_activations_equal_reference(monkeypatch, acts):
    """Cells other than tanh/sigmoid take the general gradient (derivatives from the stored
    pre-activations) inside the blocks."""
    for dtype in (np.float64, np.float32):
        _assert_equal_reference(_case(3, 5, 4, 2, 64, dtype, True, True, True, acts),
                                monkeypatch, "blocks")


def test_scope_holds_blas_to_one_thread_and_gives_numba_its_threads():
    config.set_kernels("fast")
    with compute_scope(256):
        assert split_threads() == numba.get_num_threads()
        numpy_blas = [i for i in threadpool_info() if i["filepath"] == blas.BOUND.path]
        assert [i["num_threads"] for i in numpy_blas] == [1], threadpool_info()


def test_layer_with_masks_dropout_and_states_equals_reference(float64):
    """A whole LSTM(64) layer (go_backwards, return_state, a padding mask, dropout and recurrent
    dropout, initial states) in a training scope, against the reference kernels."""
    r = np.random.default_rng(1)
    n, t, m, u = 5, 6, 3, 64
    layer = LSTM(u, return_sequences=True, return_state=True, go_backwards=True, dropout=0.2,
                 recurrent_dropout=0.3)
    layer.ensure_built((None, t, m))
    x = r.normal(size=(n, t, m))
    mask = r.random((n, t)) > 0.3
    states = [r.normal(size=(n, u)) for _ in range(2)]
    got = {}
    for kind in ("reference", "fast"):
        config.set_kernels(kind)
        layer.zero_grads()
        layer._reseed_for_check(11)
        with compute_scope(u):
            out, back = layer.forward([x] + states, training=True, mask=mask)
            d = [np.random.default_rng(5 + i).normal(size=o.shape) for i, o in enumerate(out)]
            dins = back(d)
        got[kind] = list(out) + list(dins) + [g.copy() for g in layer.grads.values()]
    assert get_ops("fast").lstm_forward is fast_lstm.lstm_forward
    for a, b in zip(got["reference"], got["fast"]):
        assert rel_error(a, b) < 1e-10

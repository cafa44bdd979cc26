"""Shared by the split-GEMM tests: count the products the split kernel runs."""
import contextlib

import numba
import pytest

from rnnlab import config
from rnnlab.kernels.compiled import blas
from rnnlab.runtime import compute_scope, split_threads


@contextlib.contextmanager
def counting_splits(monkeypatch, split_everything: bool = False):
    """Inside a compute_scope that holds BLAS to one thread, yield the list of (m, n, k) each
    split product ran; ``split_everything`` lowers SPLIT_MIN_MACS to 0 (however small)."""
    if numba.get_num_threads() < 2:
        pytest.skip("one Numba thread: no products to split")
    calls = []
    real = blas._split

    def counted(*args):
        calls.append(args[7:10])
        return real(*args)
    monkeypatch.setattr(blas, "_split", counted)
    if split_everything:
        monkeypatch.setattr(blas, "SPLIT_MIN_MACS", 0)
    config.set_kernels("fast")
    with compute_scope(10):
        assert split_threads() >= 2
        yield calls

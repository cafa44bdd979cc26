"""Numeric cores: activations and recurrent cells' whole-sequence forward/backward passes.

Nothing here knows about layers or models; these are plain functions of arrays.
"""

import contextlib


#: Recurrent units at or above which the per-step product goes to BLAS (see kernels.fast).
BLAS_STEP_UNITS = 64


@contextlib.contextmanager
def compute_scope(max_units: int = 0):
    """Context for a whole training or inference loop: who gets the 2 cores.

    With the fast kernels, small recurrences run on Numba's threads (samples in parallel) and the
    big matrix products in BLAS; two thread pools spinning on 2 cores starve each other (measured:
    LSTM 10→1 training fell from ~5,000 to ~1,600 samples/s), so one of them is held to a single
    thread for the duration.  Models with a recurrent layer of ``max_units`` >= BLAS_STEP_UNITS
    spend their time in BLAS (per-step GEMMs), so BLAS keeps its threads and Numba gets one;
    otherwise Numba keeps its threads and BLAS gets one.  The reference kernels change nothing.
    """
    from rnnlab import config
    if config.kernels() != "fast":
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits
    if max_units >= BLAS_STEP_UNITS:
        old = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            yield
        finally:
            numba.set_num_threads(old)
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            yield

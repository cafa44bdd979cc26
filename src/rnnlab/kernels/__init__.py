"""Numeric cores: activations and recurrent cells' whole-sequence forward/backward passes.

Nothing here knows about layers or models; these are plain functions of arrays.
"""

import contextlib


def compute_scope():
    """Context for a whole training or inference loop.

    With the fast kernels, the recurrences run on Numba's threads (samples in parallel) while the
    big matrix products run in BLAS; two thread pools spinning on 2 cores starve each other
    (measured: LSTM 10→1 training fell from ~5,000 to ~1,600 samples/s), so BLAS is held to one
    thread for the duration.  With the reference kernels nothing changes.
    """
    from rnnlab import config
    if config.kernels() != "fast":
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1, user_api="blas")

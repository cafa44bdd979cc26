"""SimpleRNN over a whole sequence: the lecture's neuron, vectorised over a batch and ``u`` units.

    Ŷ_t = act(W0 + X_t·W1 + Ŷ_{t-1}·W2)    (slides: w0 bias, w1 input weight, w2 recurrent weight)

Keras layout: ``kernel`` = W1 (m, u), ``recurrent_kernel`` = W2 (u, u), ``bias`` = W0 (u,) or None.

Conventions shared by every recurrent kernel pair in this package (so that a compiled fast path can
replace the reference one-to-one):

* ``forward(x, *initial_states, kernel, recurrent_kernel, bias, <cell keywords>, rec_mask=None,
  step_mask=None)`` returns ``(outputs, *final_states, cache)``; ``outputs`` is (N, T, u) in
  processing order and ``outputs[:, t]`` is h_t.
* ``backward(d_outputs, *d_final_states, cache)`` returns
  ``(dx, *d_initial_states, dkernel, drecurrent_kernel, dbias)`` (dbias None without bias).
* ``rec_mask`` (N, u) multiplies h_{t-1} where it enters the recurrent matmul, at every step
  (recurrent dropout, one mask for all steps and gates as in Keras 3).
* ``step_mask`` (N, T) bool: at a False step the states are carried unchanged (h_t = h_{t-1}), so
  that step's output is the previous output (Keras's ``zero_output_for_mask=False``).
* The activation is passed by name; the cache is opaque and only read by the matching backward.

Backward (BPTT).  With z_t = x_t W1 + W0 + (h_{t-1}⊙ρ) W2 (ρ the recurrent mask), h̃_t = act(z_t),
h_t = m_t ? h̃_t : h_{t-1} and g_t = dL/dh_t accumulated from the output at t and from step t+1::

    dz_t      = act'(z_t) ⊙ (m_t · g_t)              (the slides' (1 - Ŷ_t²) for tanh)
    dW2      += (h_{t-1}⊙ρ)^T dz_t
    g_{t-1}  += (dz_t W2^T)⊙ρ + (1 - m_t) · g_t
    dW1 = Σ_t x_t^T dz_t,  dW0 = Σ_t dz_t,  dx_t = dz_t W1^T   (one matmul each, after the loop)
"""
from __future__ import annotations

import importlib

import numpy as np

from rnnlab import config
from rnnlab.kernels import activations as _act


# --------------------------------------------------------------------------- dispatch
class KernelRegistry:
    """The (forward, backward) pairs of one cell by kind: "reference" here, "fast" when registered.

    A compiled implementation registers itself with :meth:`register` (for instance when the module
    ``rnnlab.kernels.fast`` is imported, which :meth:`get` tries the first time "fast" is
    asked for).
    """

    def __init__(self, cell: str, forward, backward):
        self.cell = cell
        self._impls = {"reference": (forward, backward)}

    def register(self, kind: str, forward, backward) -> None:
        """Install the (forward, backward) pair of ``kind``."""
        self._impls[kind] = (forward, backward)

    def get(self, kind: str | None = None):
        """The (forward, backward) pair of ``kind`` (default: ``rnnlab.config.kernels()``)."""
        kind = kind or config.kernels()
        if kind not in self._impls and kind == "fast":
            try:
                importlib.import_module("rnnlab.kernels.fast")
            except ModuleNotFoundError as e:
                if e.name != "rnnlab.kernels.fast":
                    raise
        if kind not in self._impls:
            raise RuntimeError(
                f"No {kind!r} kernels are registered for {self.cell} (available: "
                f"{sorted(self._impls)}); call rnnlab.config.set_kernels('reference')")
        return self._impls[kind]


def _time_major(a):
    """(N, T, ...) -> (T, N, ...) view, so that a[t] is one step for the whole batch."""
    return a.transpose(1, 0, *range(2, a.ndim))


def _batch_major(a):
    """(T, N, ...) -> contiguous (N, T, ...)."""
    return np.ascontiguousarray(a.transpose(1, 0, *range(2, a.ndim)))


# --------------------------------------------------------------------------- reference
def simple_rnn_forward(x, h0, kernel, recurrent_kernel, bias, activation="tanh", rec_mask=None,
                       step_mask=None):
    """Run the whole sequence; return ``(outputs (N, T, u), h_T (N, u), cache)``."""
    act = _act.get(activation)
    xs = _time_major(x)                                  # (T, N, m)
    T = xs.shape[0]
    xw = xs @ kernel                                     # X_t·W1 for every step in one matmul
    if bias is not None:
        xw += bias                                       # + W0
    sm = None if step_mask is None else np.asarray(step_mask, dtype=bool).T[:, :, None]
    hs = np.empty((T + 1,) + h0.shape, dtype=xw.dtype)   # hs[t] is h_{t-1}; hs[0] = h0
    hs[0] = h0
    zs = np.empty_like(xw)
    ys = np.empty_like(xw)
    for t in range(T):
        h_prev = hs[t]
        hd = h_prev if rec_mask is None else h_prev * rec_mask
        z = xw[t] + hd @ recurrent_kernel                # W0 + X_t·W1 + Ŷ_{t-1}·W2
        y = act(z)
        zs[t], ys[t] = z, y
        hs[t + 1] = y if sm is None else np.where(sm[t], y, h_prev)
    cache = (xs, hs, zs, ys, kernel, recurrent_kernel, bias is not None, act.name, rec_mask, sm)
    return _batch_major(hs[1:]), hs[T].copy(), cache


def simple_rnn_backward(d_outputs, d_h_last, cache):
    """Return ``(dx, dh0, dkernel, drecurrent_kernel, dbias)`` from dL/d(outputs) and dL/dh_T."""
    xs, hs, zs, ys, kernel, recurrent_kernel, has_bias, act_name, rec_mask, sm = cache
    act = _act.get(act_name)
    T = zs.shape[0]
    d_seq = _time_major(d_outputs)
    dzs = np.empty_like(zs)
    d_rec = np.zeros_like(recurrent_kernel)
    g = np.array(d_h_last, dtype=zs.dtype)               # dL/dh_t, carried backwards
    for t in reversed(range(T)):
        g = g + d_seq[t]
        if sm is None:
            dy, g_skip = g, 0.0
        else:
            dy, g_skip = np.where(sm[t], g, 0.0), np.where(sm[t], 0.0, g)
        dz = act.backward(zs[t], ys[t], dy)
        dzs[t] = dz
        hd = hs[t] if rec_mask is None else hs[t] * rec_mask
        d_rec += hd.T @ dz
        dhd = dz @ recurrent_kernel.T
        g = (dhd if rec_mask is None else dhd * rec_mask) + g_skip
    u = zs.shape[-1]
    dz2 = dzs.reshape(-1, u)
    d_kernel = xs.reshape(-1, xs.shape[-1]).T @ dz2
    d_bias = dz2.sum(axis=0) if has_bias else None
    dx = _batch_major(dzs @ kernel.T)
    return dx, g, d_kernel, d_rec, d_bias


_REGISTRY = KernelRegistry("simple_rnn", simple_rnn_forward, simple_rnn_backward)

#: ``get_impl(kind=None)`` gives the (forward, backward) pair for ``kind`` (default:
#: ``rnnlab.config.kernels()``); ``register_impl(kind, forward, backward)`` installs another one
#: (the compiled fast path registers itself as "fast").
get_impl, register_impl = _REGISTRY.get, _REGISTRY.register

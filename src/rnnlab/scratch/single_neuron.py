"""The lecture's single-neuron RNN, written out from scratch exactly as derived on the slides.

One neuron with three weights ``w = (w0, w1, w2)`` reads a univariate series ``x_1 … x_T`` and feeds
its own previous output back in::

    ŷ_0 = 0
    o_t = w0 + w1·x_t + w2·ŷ_{t-1}
    ŷ_t = tanh(o_t)                        t = 1 … T
    L   = MSE = (1/N) Σ_i (y_i - ŷ_{iT})²

Every function works on all N series at once (vectorised over the rows of ``X``), loops over the T
time steps, and is numerically identical to the lecture's code (same operations in the same order),
so ``single_rnn(X, y, epochs=1000, alpha=0.01)`` on the Fortune 500 data reproduces the lecture's
``w = [-0.07161043, 1.15476269, 0.25800392]`` and MSE 0.03900926.

Two gradients are offered: :func:`backward` is the lecture's, which carries the derivatives
∂o_t/∂w forward in time alongside the forward pass; :func:`backward_bptt` is reverse-mode
backpropagation through time.  They compute the same exact gradient of ``L``.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["forward", "backward_t", "backward", "backward_bptt", "gradient_descent", "optimize",
           "single_rnn"]

_GRADIENTS = ("lecture", "bptt")


# ---------------------------------------------------------------------------- validation
def _check_X(X) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"X must be a numeric (N, T) array: {e}") from None
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N series, T time steps), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have at least one series and one time step, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    return X


def _check_y(y, n: int) -> np.ndarray:
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"y must be a numeric array of length N: {e}") from None
    if y.ndim == 2 and y.shape[1] == 1:  # Keras-style (N, 1) targets
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must have one target per series of X (length {n}), "
                         f"got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite values")
    return y


def _check_w(w) -> np.ndarray:
    try:
        w = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"w must be 3 numbers (w0, w1, w2): {e}") from None
    if w.shape != (3,):
        raise ValueError(f"w must be 3 numbers (w0, w1, w2), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"w must be finite, got {w}")
    return w


# ---------------------------------------------------------------------------- forward
def forward(X, y, w):
    """Run the neuron over every series; return ``(y_pred_arr, loss)``.

    ``ŷ_t = tanh(w0 + w1·x_t + w2·ŷ_{t-1})`` with ``ŷ_0 = 0``, and
    ``L = (1/N) Σ_i (y_i - ŷ_{iT})²``.
    ``y_pred_arr`` has shape (N, T+1): column t holds ŷ_t, so column 0 is the zero start state and
    the last column is the prediction.
    """
    data = _Series(X, y)
    ys, loss = _forward(data, _check_w(w))
    return np.ascontiguousarray(ys.T), loss


class _Series:
    """Validated data in time-major layout (row t = all N series at one step), built once per run.

    The lecture indexes columns ``X[:, t]``; contiguous rows do the same arithmetic faster.
    """

    def __init__(self, X, y):
        X = _check_X(X)
        self.N, self.T = X.shape
        self.y = _check_y(y, self.N)
        self.xs = np.ascontiguousarray(X.T)                     # (T, N): row t is x_{t+1}
        self._base = None

    def base(self, ys):
        """(T, 3, N) array of ∂o_{t+1}/∂w's own term (1, x_{t+1}, ŷ_t), rows t = 0 … T-1."""
        if self._base is None:
            self._base = np.empty((self.T, 3, self.N))
            self._base[:, 0] = 1.0
            self._base[:, 1] = self.xs
        self._base[:, 2] = ys[:-1]
        return self._base


def _forward(data, w):
    # The lecture's loop ``y_pred = tanh(w0 + X[:, t]*w1 + y_pred*w2)`` with the input term
    # ``w0 + x_t·w1`` formed for all t at once: the same floating-point operations in the same
    # order, so bit-for-bit the lecture's numbers.  Returns time-major ŷ, shape (T+1, N).
    inp = w[0] + data.xs * w[1]
    ys = np.zeros((data.T + 1, data.N))                       # row t is ŷ_t; ŷ_0 = 0
    for t in range(data.T):
        np.tanh(inp[t] + ys[t] * w[2], out=ys[t + 1])
    loss = np.mean((data.y - ys[data.T]) ** 2)
    return ys, float(loss)


def _time_major_pred(y_pred_arr, data):
    y_pred_arr = np.asarray(y_pred_arr, dtype=np.float64)
    if y_pred_arr.shape != (data.N, data.T + 1):
        raise ValueError(f"y_pred_arr must have shape (N, T+1) = {(data.N, data.T + 1)} as "
                         f"returned by forward, got {y_pred_arr.shape}")
    return np.ascontiguousarray(y_pred_arr.T)


# ---------------------------------------------------------------------------- lecture's backward
def backward_t(X, y_pred_arr, w, grads, t, N=None):
    """One step of the lecture's forward-accumulated derivative: ∂o_{t+1}/∂w from ∂o_t/∂w.

    With 0-based column ``t`` (``X[:, t]`` is x_{t+1}, ``y_pred_arr[:, t]`` is ŷ_t)::

        ∂o_{t+1}/∂w = (1, x_{t+1}, ŷ_t) + w2 · (1 - ŷ_t²) · ∂o_t/∂w,     ∂o_0/∂w = 0

    (the slide's ∂ŷ_t/∂w0 = (1 - ŷ_t²)(1 + w2 ∂ŷ_{t-1}/∂w0), written for o rather than ŷ).
    ``grads`` is the (N, 3) array ∂o_t/∂w; the (N, 3) array ∂o_{t+1}/∂w is returned.  ``N`` (the
    lecture passes it) may be omitted.  As the inner step of :func:`backward` it does not validate
    its arrays; the public functions do.
    """
    if N is None:
        N = X.shape[0]
    elif N != X.shape[0]:
        raise ValueError(f"N={N} does not match X's {X.shape[0]} series")
    y_t = y_pred_arr[:, t]
    if t == 0:
        grads_w0 = np.ones((N,))
        grads_w1 = X[:, t]
        grads_w2 = y_t
    else:
        dot_dyprev = w[2]                # ∂o_{t+1}/∂ŷ_t
        dyprev_doprev = 1 - y_t ** 2     # ∂ŷ_t/∂o_t = 1 - tanh²(o_t)
        grads_w0 = np.ones(N) + dot_dyprev * dyprev_doprev * grads[:, 0]
        grads_w1 = X[:, t] + dot_dyprev * dyprev_doprev * grads[:, 1]
        grads_w2 = y_t + dot_dyprev * dyprev_doprev * grads[:, 2]
    return np.stack([grads_w0, grads_w1, grads_w2], axis=1)


def backward(X, y, y_pred_arr, w):
    """The lecture's gradient ∂L/∂w (shape (3,)), accumulating ∂o_t/∂w forward in time.

    ``∂L/∂w = Σ_i -(2/N)(y_i - ŷ_{iT}) · (1 - ŷ_{iT}²) · ∂o_{iT}/∂w``, with ∂o_T/∂w from T steps of
    :func:`backward_t`.  Costs O(T·N·3) like the forward pass.
    """
    data = _Series(X, y)
    return _backward(data, _time_major_pred(y_pred_arr, data), _check_w(w))


def _backward(data, ys, w):
    N, T = data.N, data.T
    y_pred = ys[T]
    dl_dypred = -2 * (data.y - y_pred) / N     # ∂L/∂ŷ_T
    dypred_dot = 1 - y_pred ** 2               # ∂ŷ_T/∂o_T
    # The loop ``grads = backward_t(X, y_pred_arr, w, grads, t)`` for t = 0 … T-1, on (3, N)
    # rows with the per-step terms (1, x_{t+1}, ŷ_t) and w2·(1 - ŷ_t²) formed for all t at once:
    # the same floating-point operations in the same order, so bit-for-bit the lecture's.
    base = data.base(ys)                                       # (T, 3, N)
    carry = w[2] * (1 - ys[:-1] ** 2)                          # (T, N): w2 · ∂ŷ_t/∂o_t
    g = base[0].copy()                                         # t = 0: ŷ_0 = 0, no carry
    for t in range(1, T):
        g = base[t] + carry[t] * g
    grads = np.ascontiguousarray(g.T)                          # (N, 3) as the lecture's
    for j in range(3):
        grads[:, j] *= dl_dypred * dypred_dot
    return grads.sum(axis=0)


# ---------------------------------------------------------------------------- BPTT
def backward_bptt(X, y, y_pred_arr, w):
    """The same gradient ∂L/∂w by reverse-mode backpropagation through time.

    Walking back from ``δ_T = ∂L/∂ŷ_T = -(2/N)(y - ŷ_T)``, for t = T … 1::

        g_t   = δ_t · (1 - ŷ_t²)                        (∂L/∂o_t)
        ∂L/∂w0 += Σ_i g_t,  ∂L/∂w1 += Σ_i g_t·x_t,  ∂L/∂w2 += Σ_i g_t·ŷ_{t-1}
        δ_{t-1} = w2 · g_t                               (ŷ_{t-1} feeds only o_t)

    This is what the library's SimpleRNN layer does; here it checks the lecture's derivation.
    """
    data = _Series(X, y)
    return _backward_bptt(data, _time_major_pred(y_pred_arr, data), _check_w(w))


def _backward_bptt(data, ys, w):
    delta = -2.0 * (data.y - ys[data.T]) / data.N             # δ_T = ∂L/∂ŷ_T
    dtanh = 1.0 - ys[1:] ** 2                                  # row t-1 is ∂ŷ_t/∂o_t
    dL_do = np.empty((data.T, data.N))                         # row t-1 is g_t = ∂L/∂o_t
    for t in range(data.T, 0, -1):
        g = np.multiply(delta, dtanh[t - 1], out=dL_do[t - 1])
        delta = w[2] * g
    # Plain multiply-and-sum rather than BLAS dot: no thread start-up on a busy small machine.
    return np.array([dL_do.sum(), (dL_do * data.xs).sum(), (dL_do * ys[:-1]).sum()])


# ---------------------------------------------------------------------------- training
def gradient_descent(alpha, w, grad):
    """One plain gradient-descent step: ``w ← w - α·∇L``."""
    return np.asarray(w, dtype=np.float64) - alpha * np.asarray(grad, dtype=np.float64)


def optimize(X, y, alpha, w, gradient: str = "lecture"):
    """One epoch (full batch): forward, gradient, descent step.  Returns ``(loss, new_w)``.

    ``loss`` is the MSE at the weights *before* the step, as in the lecture.
    """
    data = _Series(X, y)
    w = _check_w(w)
    _check_gradient(gradient)
    alpha = _check_alpha(alpha)
    return _optimize(data, alpha, w, gradient)


def _optimize(data, alpha, w, gradient):
    ys, loss = _forward(data, w)
    back = _backward if gradient == "lecture" else _backward_bptt
    return loss, gradient_descent(alpha, w, back(data, ys, w))


def _check_gradient(gradient):
    if gradient not in _GRADIENTS:
        raise ValueError(f"gradient must be one of {_GRADIENTS}, got {gradient!r}")


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha) \
            or alpha <= 0:
        raise ValueError(f"alpha (learning rate) must be a positive finite number, got {alpha!r}")
    return float(alpha)


def single_rnn(X, y, epochs, alpha, w0=(1, 1, 1), gradient: str = "lecture"):
    """Train the single neuron by full-batch gradient descent; return ``(losses, w)``.

    ``losses[i]`` is the MSE before epoch i's step (shape (epochs,)); ``w`` the final weights.
    ``gradient="lecture"`` uses :func:`backward`, ``"bptt"`` uses :func:`backward_bptt` (same
    values up to rounding).  The run is deterministic: the lecture starts from w = (1, 1, 1).
    """
    data = _Series(X, y)
    w = _check_w(w0)
    _check_gradient(gradient)
    alpha = _check_alpha(alpha)
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    losses = np.zeros(int(epochs))
    for i in range(int(epochs)):
        loss, w = _optimize(data, alpha, w, gradient)
        if not np.isfinite(loss) or not np.all(np.isfinite(w)):
            raise FloatingPointError(f"training diverged at epoch {i} (loss {loss}, w {w}); "
                                     f"try a smaller alpha than {alpha}")
        losses[i] = loss
    return losses, w

"""Sequence preprocessing: Keras's ``pad_sequences``, time-series windows and a min-max scaler.

:func:`pad_sequences` returns exactly what keras-preprocessing 1.1.2 returns (string and object
dtypes included), vectorized for the common case of lists of numbers.  It differs only where
Keras fails: ``maxlen=0`` gives an empty second axis, an empty ``sequences`` gives shape
``(0, maxlen or 0)``, bad elements, a negative ``maxlen`` or an unknown ``padding`` /
``truncating`` raise ``ValueError`` up front with the offending position, and so do a NaN or
infinite ``value`` for an integer ``dtype`` (Keras fills with garbage such as -2147483648) and
a value that does not fit ``dtype`` (NumPy's OverflowError in Keras).  A rejected call leaves
its input as it was.

:func:`timeseries_windows` cuts series into (input window, next ``horizon`` values) pairs, the
supervised form of "predict tomorrow from the last ``window`` days".  :class:`MinMaxScaler`
scales each row (by default) to ``[-1, 1]``, like the lecture's stock prices.
``TimeseriesGenerator``, ``skipgrams`` and ``make_sampling_table`` (keras-preprocessing's) live
in their own modules and are re-exported here.
"""
from __future__ import annotations

import math
import numbers
from itertools import chain

import numpy as np

from rnnlab import checks
from rnnlab.preprocessing.skipgram import make_sampling_table, skipgrams
from rnnlab.preprocessing.timeseries_generator import (
    TimeseriesGenerator,
    timeseries_generator_from_json,
)

__all__ = ["pad_sequences", "timeseries_windows", "MinMaxScaler", "TimeseriesGenerator",
           "timeseries_generator_from_json", "skipgrams", "make_sampling_table"]

_SIDES = ("pre", "post")


def _is_str_dtype(dtype) -> bool:
    return dtype is not object and np.issubdtype(np.dtype(dtype), np.str_)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or cut) every sequence to ``maxlen`` into a ``(len(sequences), maxlen, ...)`` array.

    ``maxlen`` defaults to the longest sequence; ``truncating`` says which end loses values when
    a sequence is longer ("pre": keep the last ``maxlen``), ``padding`` which end gets ``value``
    when shorter.  Elements may themselves be sequences of equal shape (giving extra axes).
    Use ``dtype=object`` (or a str dtype) for variable-length string values, as in Keras.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be a sized iterable (e.g. a list) of sequences, got "
                         f"{type(sequences).__name__}")
    if padding not in _SIDES:
        raise ValueError(f'Padding type "{padding}" not understood: expected "pre" or "post"')
    if truncating not in _SIDES:
        raise ValueError(f'Truncating type "{truncating}" not understood: expected "pre" or '
                         '"post"')
    maxlen = checks.non_negative_int(maxlen, "maxlen", allow_none=True)
    is_str = _is_str_dtype(dtype)
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")

    seqs = sequences if isinstance(sequences, list) else list(sequences)
    lengths = []
    sample_shape = ()
    found = False
    for pos, s in enumerate(seqs):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__") \
                or not hasattr(s, "__getitem__"):
            raise ValueError(f"`sequences` must be a list of sequences (lists, tuples or "
                             f"arrays); the element at position {pos} is a "
                             f"{type(s).__name__}: {s!r:.60}")
        n = len(s)
        lengths.append(n)
        if not found and n:
            sample_shape = np.asarray(s).shape[1:]
            found = True
    if maxlen is None:
        maxlen = max(lengths, default=0)

    if (dtype is not object and np.dtype(dtype).kind in "biu" and isinstance(value, numbers.Real)
            and not math.isfinite(value)):
        raise ValueError(f"`value` {value} cannot pad an integer dtype ({np.dtype(dtype)})")
    try:
        x = np.full((len(seqs), maxlen) + sample_shape, value, dtype=dtype)
    except OverflowError as exc:
        raise ValueError(f"`value` {value!r} does not fit dtype {dtype}: {exc}") from None
    if maxlen == 0 or not seqs:
        return x
    if not sample_shape and x.dtype.kind in "biuf" and _fill_flat(x, seqs, lengths, maxlen,
                                                                  padding, truncating):
        return x
    for idx, s in enumerate(seqs):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        try:
            trunc = np.asarray(trunc, dtype=dtype)
        except OverflowError as exc:
            raise ValueError(f"sequence at position {idx} holds a value that does not fit dtype "
                             f"{dtype}: {exc}") from None
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {idx} "
                             f"is different from expected shape {sample_shape}")
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x


def _fill_flat(x, seqs, lengths, maxlen, padding, truncating) -> bool:
    """Vectorized fill for flat numeric sequences: cut each one (a slice, as Keras), convert
    them all in one ``np.asarray`` and scatter.  Returns False (x untouched) when the values
    are not flat scalars, so that the per-sequence path reports Keras's error."""
    cut = [s[-maxlen:] if truncating == "pre" else s[:maxlen] for s in seqs]
    kept = np.minimum(np.asarray(lengths, dtype=np.int64), maxlen)
    try:
        flat = np.asarray(list(chain.from_iterable(cut)), dtype=x.dtype)
    except (ValueError, TypeError, OverflowError):
        return False
    if flat.ndim != 1 or flat.size != kept.sum():
        return False
    rows = np.repeat(np.arange(len(seqs)), kept)
    starts = np.zeros(len(seqs), dtype=np.int64)
    np.cumsum(kept[:-1], out=starts[1:])
    cols = np.arange(flat.size) - np.repeat(starts, kept)
    if padding == "pre":
        cols += np.repeat(maxlen - kept, kept)
    x[rows, cols] = flat
    return True


def _positive_int(name, v):
    return checks.positive_int(v, name)


def timeseries_windows(series, window, horizon=1, stride=1, features_last=False):
    """Cut series into supervised pairs: ``window`` past values -> the next ``horizon`` values.

    Shapes (the convention for 2-D input is fixed by ``features_last``, never guessed):

    ========================  =====================  ==============================
    ``series``                inputs                 targets
    ========================  =====================  ==============================
    (T,)                      (samples, window, 1)   (samples, horizon)
    (n_series, T)             (samples, window, 1)   (samples, horizon)
    (T, features), and        (samples, window, F)   (samples, horizon, F)
    ``features_last=True``
    (n_series, T, features)   (samples, window, F)   (samples, horizon, F)
    ========================  =====================  ==============================

    So a 2-D array is a batch of univariate series, one per row (like the lecture's table of
    stocks × days), unless ``features_last=True`` makes it one multivariate series.  Window
    ``k`` of a series starts at ``t = k * stride``: inputs ``s[t : t+window]``, targets
    ``s[t+window : t+window+horizon]``; each series gives ``(T - window - horizon) // stride + 1``
    samples, series after series.  Values keep their dtype.
    """
    window = _positive_int("window", window)
    horizon = _positive_int("horizon", horizon)
    stride = _positive_int("stride", stride)
    s = np.asarray(series)
    if s.dtype.kind not in "biuf":
        raise TypeError(f"series must hold numbers, got dtype {s.dtype}")
    if s.ndim == 1:
        batch, multivariate = s[None, :, None], False
    elif s.ndim == 2:
        batch, multivariate = (s[None] if features_last else s[:, :, None]), features_last
    elif s.ndim == 3:
        batch, multivariate = s, True
    else:
        raise ValueError(f"series must be 1-D (T,), 2-D or 3-D (n_series, T, features), got "
                         f"shape {s.shape}")
    n_series, T, F = batch.shape
    if T < window + horizon:
        raise ValueError(f"series of length {T} is too short for window={window} + "
                         f"horizon={horizon} (needs at least {window + horizon} time steps; "
                         f"input shape {s.shape}, features_last={features_last})")
    starts = np.arange(0, T - window - horizon + 1, stride)
    x = batch[:, starts[:, None] + np.arange(window)]            # (n, k, window, F)
    y = batch[:, starts[:, None] + window + np.arange(horizon)]  # (n, k, horizon, F)
    x = x.reshape(-1, window, F)
    y = y.reshape(-1, horizon, F)
    if not multivariate:
        y = y[..., 0]
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


class MinMaxScaler:
    """Min-max scaling to ``feature_range`` with statistics taken along ``axis``.

    ``axis`` is the axis (or tuple of axes, or None for all) that the min and max are computed
    over.  The default ``axis=-1`` scales each row of a (n_series, T) table on its own, the way
    the lecture's stock prices were scaled (each stock to [-1, 1]); ``axis=0`` is scikit-learn's
    per-column scaling.  New data must have the fitted shape on every axis not reduced (so the
    row statistics stay with their rows); reduced axes may have any length, e.g. the predicted
    next day (n_series, 1) is mapped back with :meth:`inverse_transform`.

    ``x' = lo + (x - min) * (hi - lo) / (max - min)``.  A constant slice (max == min) maps to
    the middle of the range, ``(lo + hi) / 2`` (0 for [-1, 1]), and maps back to its constant.
    """

    def __init__(self, feature_range=(-1, 1), axis=-1):
        try:
            lo, hi = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            raise ValueError(f"feature_range must be two numbers (min, max), got "
                             f"{feature_range!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"feature_range must be finite with min < max, got {feature_range!r}")
        if axis is not None and not isinstance(axis, numbers.Integral):
            try:
                axis = tuple(int(a) for a in axis)
            except TypeError:
                raise ValueError(f"axis must be an int, a tuple of ints or None, got {axis!r}") \
                    from None
        elif isinstance(axis, numbers.Integral):
            axis = int(axis)
        self.feature_range = (lo, hi)
        self.axis = axis
        self.data_min_ = None
        self.data_max_ = None

    def _axes(self, ndim):
        axes = range(ndim) if self.axis is None else (
            (self.axis,) if isinstance(self.axis, int) else self.axis)
        out = []
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(f"MinMaxScaler axis {self.axis!r} is out of range for "
                                 f"{ndim}-D data")
            out.append(a % ndim)
        return tuple(sorted(set(out)))

    def fit(self, x):
        """Record the min and max of ``x`` along ``axis`` (kept as broadcastable arrays)."""
        x = self._numeric(x)
        if x.size == 0:
            raise ValueError("MinMaxScaler cannot fit empty data")
        if not np.all(np.isfinite(x)):
            raise ValueError("MinMaxScaler.fit: data contains NaN or infinite values")
        axes = self._axes(x.ndim)
        self.data_min_ = x.min(axis=axes, keepdims=True).astype(np.float64)
        self.data_max_ = x.max(axis=axes, keepdims=True).astype(np.float64)
        return self

    def _numeric(self, x):
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"MinMaxScaler needs numeric data, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ValueError("MinMaxScaler needs at least 1-D data, got a scalar")
        return x

    def _check(self, x):
        if self.data_min_ is None:
            raise RuntimeError("MinMaxScaler is not fitted yet: call fit() first")
        x = self._numeric(x)
        ref = self.data_min_.shape
        axes = self._axes(len(ref))
        if x.ndim != len(ref) or any(x.shape[i] != ref[i] for i in range(len(ref))
                                     if i not in axes):
            want = tuple("*" if i in axes else n for i, n in enumerate(ref))
            raise ValueError(f"MinMaxScaler was fitted on data of shape {want} (* = any "
                             f"length), got shape {x.shape}")
        return x

    def _parts(self):
        lo, hi = self.feature_range
        span = self.data_max_ - self.data_min_
        const = span == 0
        return lo, hi, span, const, np.where(const, 1.0, span)

    @staticmethod
    def _out_dtype(x):
        return x.dtype if x.dtype.kind == "f" else np.float64

    def transform(self, x):
        """Scale ``x`` with the fitted statistics."""
        x = self._check(x)
        lo, hi, _, const, safe = self._parts()
        out = np.where(const, (lo + hi) / 2, lo + (x - self.data_min_) * ((hi - lo) / safe))
        return out.astype(self._out_dtype(x), copy=False)

    def inverse_transform(self, x):
        """Map scaled values back to the original units."""
        x = self._check(x)
        lo, hi, _, const, safe = self._parts()
        out = np.where(const, self.data_min_, (x - lo) * (safe / (hi - lo)) + self.data_min_)
        return out.astype(self._out_dtype(x), copy=False)

    def fit_transform(self, x):
        """:meth:`fit` then :meth:`transform` on the same data."""
        return self.fit(x).transform(x)

    def get_config(self):
        """JSON-able settings and fitted statistics (nested lists keep their shape)."""
        return {"feature_range": list(self.feature_range),
                "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis,
                "data_min": None if self.data_min_ is None else self.data_min_.tolist(),
                "data_max": None if self.data_max_ is None else self.data_max_.tolist()}

    @classmethod
    def from_config(cls, config):
        """Rebuild a (possibly fitted) scaler from :meth:`get_config`'s dict."""
        config = dict(config)
        dmin, dmax = config.pop("data_min", None), config.pop("data_max", None)
        scaler = cls(**config)
        if (dmin is None) != (dmax is None):
            raise ValueError("MinMaxScaler config needs both data_min and data_max, or neither")
        if dmin is not None:
            scaler.data_min_ = np.asarray(dmin, dtype=np.float64)
            scaler.data_max_ = np.asarray(dmax, dtype=np.float64)
            if scaler.data_min_.shape != scaler.data_max_.shape or scaler.data_min_.ndim == 0:
                raise ValueError("MinMaxScaler config: data_min and data_max must be arrays of "
                                 "the same shape")
        return scaler

"""keras-preprocessing's ``TimeseriesGenerator``: batches of (past ``length`` steps, the step's
target) read from a series by index, a :class:`~rnnlab.data.PyDataset` that ``fit`` takes, with
its JSON round trip (``to_json`` / :func:`timeseries_generator_from_json`).

Same batches as keras-preprocessing 1.1.2 (its tests pass here).  Two differences: the JSON
keeps the ``start_index`` that was given (keras-preprocessing writes ``start_index + length``,
so its round trip shifts the windows by ``length``); and ``shuffle`` draws its rows from
rnnlab's seeded generator rather than NumPy's global one."""
from __future__ import annotations

import json

import numpy as np

from rnnlab import checks, config
from rnnlab.data import PyDataset

_WHO = "TimeseriesGenerator()"


class TimeseriesGenerator(PyDataset):
    """Batch ``index``: rows ``i = start_index + length + index * batch_size * stride``, ...
    (every ``stride``-th, up to ``end_index``); each sample ``data[i - length:i:sampling_rate]``
    (reversed if ``reverse``), its target ``targets[i]``.  ``shuffle``: each batch draws
    ``batch_size`` rows at random instead."""

    def __init__(self, data, targets, length, sampling_rate=1, stride=1, start_index=0,
                 end_index=None, shuffle=False, reverse=False, batch_size=128, **kwargs):
        super().__init__(**kwargs)
        if len(data) != len(targets):
            raise ValueError(f"{_WHO} Data and targets have to be of same length. Data length "
                             f"is {len(data)} while target length is {len(targets)}")
        self.data, self.targets = data, targets
        self.length = checks.positive_int(length, "length", who=_WHO)
        self.sampling_rate = checks.positive_int(sampling_rate, "sampling_rate", who=_WHO)
        self.stride = checks.positive_int(stride, "stride", who=_WHO)
        self._start = checks.non_negative_int(start_index, "start_index", who=_WHO)
        self.start_index = self._start + self.length
        end_index = len(data) - 1 if end_index is None else end_index
        self.end_index = checks.integer(end_index, "end_index", high=len(data) - 1, who=_WHO)
        for name, flag in (("shuffle", shuffle), ("reverse", reverse)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{_WHO} {name} must be True or False, got {flag!r}")
        self.shuffle, self.reverse = bool(shuffle), bool(reverse)
        self.batch_size = checks.positive_int(batch_size, "batch_size", who=_WHO)
        if self.start_index > self.end_index:
            raise ValueError(f"`start_index+length={self.start_index} > end_index="
                             f"{self.end_index}` is disallowed, as no part of the sequence "
                             "would be left to be used as current step.")

    def __len__(self) -> int:
        span = self.batch_size * self.stride
        return (self.end_index - self.start_index + span) // span

    def __getitem__(self, index):
        if self.shuffle:
            rows = config.rng().integers(self.start_index, self.end_index + 1,
                                         size=self.batch_size)
        else:
            index = checks.integer(index, "index", low=0, high=len(self) - 1,
                                   who="TimeseriesGenerator[]")
            i = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(i, min(i + self.batch_size * self.stride, self.end_index + 1),
                             self.stride)
        samples = np.array([self.data[row - self.length:row:self.sampling_rate]
                            for row in rows])
        targets = np.array([self.targets[row] for row in rows])
        if self.reverse:
            return samples[:, ::-1, ...], targets
        return samples, targets

    def get_config(self) -> dict:
        """The settings and the series (as JSON text), keras-preprocessing's keys."""
        return {"data": _json_array(self.data, "Data"),
                "targets": _json_array(self.targets, "Targets"),
                "length": self.length, "sampling_rate": self.sampling_rate,
                "stride": self.stride, "start_index": self._start,
                "end_index": self.end_index, "shuffle": self.shuffle,
                "reverse": self.reverse, "batch_size": self.batch_size}

    def to_json(self, **kwargs) -> str:
        """``{"class_name": "TimeseriesGenerator", "config": get_config()}`` as JSON text;
        ``kwargs`` go to ``json.dumps``."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)


def _json_array(values, what) -> str:
    values = values.tolist() if isinstance(values, np.ndarray) else values
    try:
        return json.dumps(values)
    except TypeError:
        raise TypeError(f"{what} not JSON serializable: {str(values)[:80]}") from None


def timeseries_generator_from_json(json_string) -> TimeseriesGenerator:
    """The generator that ``to_json`` wrote (the series come back as NumPy arrays)."""
    if not isinstance(json_string, (str, bytes)):
        raise TypeError("timeseries_generator_from_json() takes a JSON string, got "
                        f"{type(json_string).__name__}")
    full = json.loads(json_string)
    if not isinstance(full, dict) or not isinstance(full.get("config"), dict):
        raise ValueError("timeseries_generator_from_json() expects "
                         '{"class_name": "TimeseriesGenerator", "config": {...}}')
    cfg = dict(full["config"])
    try:
        cfg["data"] = np.asarray(json.loads(cfg.pop("data")))
        cfg["targets"] = np.asarray(json.loads(cfg.pop("targets")))
    except KeyError as exc:
        raise ValueError(f"timeseries_generator_from_json(): the config has no {exc}") from None
    return TimeseriesGenerator(**cfg)

"""The lecture's text models as Dask trials on a LocalCluster of two worker processes: each
(model, seed) is one task with the same accuracy, history and summary as the serial run, the
padded reviews are scattered once (not carried by every task), and each task pins its threads."""
import sys

import cloudpickle
import numba
import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from threadpoolctl import threadpool_info  # noqa: E402

from rnnlab import runtime  # noqa: E402
from rnnlab.lecture import reproduce as lect_reproduce  # noqa: E402
from rnnlab.lecture import text as lect_text  # noqa: E402
from rnnlab.lecture.timeseries import serial_map  # noqa: E402

# the workers do not have tests/ on their path: this module's functions travel by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TINY = {"dataset": "synthetic", "num_train": 200, "num_test": 100, "epochs": 1,
        "max_features": 2000, "seq_len": 40}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c
    cluster.close()


def _dask_map(client):
    """The map `rnnlab reproduce --workers` uses, on this module's cluster."""
    def map_trials(fn, calls):
        calls = lect_reproduce._scatter_shared(client, calls)
        futures = [client.submit(runtime.call_pinned, 1, fn, *args, pure=False)
                   for args in calls]
        return client.gather(futures)
    return map_trials


@pytest.fixture(scope="module")
def serial():
    # the tasks run on one thread each; Numba's thread split changes the SimpleRNN kernels'
    # sums in the last digits, so the serial reference runs on one thread too
    with runtime.pinned_threads(1):
        return lect_text.run(seeds=(0, 1), **TINY)


def test_text_trials_as_dask_tasks_equal_the_serial_run(client, serial):
    calls = []

    def counting(fn, c):
        calls.extend(c)
        return _dask_map(client)(fn, c)

    got = lect_text.run(seeds=(0, 1), map_trials=counting, **TINY)
    assert len(calls) == len(lect_text.ALL_MODELS) * 2        # one task per model and seed
    assert [c[:2] for c in calls] == [(k, s) for k in lect_text.ALL_MODELS for s in (0, 1)]
    assert got.accuracies == serial.accuracies
    assert got.histories == serial.histories
    assert got.summaries == serial.summaries
    assert got.epochs == serial.epochs
    assert [(r.rnnlab, r.extra) for r in got.rows] == [(r.rnnlab, r.extra) for r in serial.rows]
    assert all(s > 0 for s in got.seconds.values())
    for row in serial.rows:                                   # two seeds: median and each seed
        assert row.extra["seeds"] == [0, 1] and len(row.extra["accuracies"]) == 2


def test_one_seed_is_the_former_single_run(serial):
    one = lect_text.run(models=("mlp", "lstm_masked"), **TINY)          # seed 0 by default
    for kind in ("mlp", "lstm_masked"):     # the two-seed run reports its first seed's history
        assert one.histories[kind] == serial.histories[kind]
        assert one.summaries[kind] == serial.summaries[kind]
    assert "accuracies" not in one.rows[0].extra
    accs = serial.rows[0].extra["accuracies"]
    assert one.accuracies["mlp"] == accs[0] and serial.accuracies["mlp"] == np.median(accs)


def test_the_padded_reviews_are_scattered_once(client):
    captured = []

    def capture(fn, calls):
        captured.extend(calls)
        return serial_map(fn, calls)

    lect_text.run(seeds=(0, 1), map_trials=capture, **{**TINY, "num_train": 60, "num_test": 20})
    arrays = {id(a) for args in captured for a in args if isinstance(a, np.ndarray)}
    assert len(arrays) == 6     # post- and pre-padded train and test, train and test labels
    sent = lect_reproduce._scatter_shared(client, captured)
    keys = {a.key for args in sent for a in args if isinstance(a, distributed.Future)}
    assert len(keys) == len(arrays)
    assert not any(isinstance(a, np.ndarray) for args in sent for a in args)
    for before, after in zip(captured, sent):                # same trial, same data behind it
        for a, b in zip(before, after):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(b.result(), a)
            else:
                assert b == a


def _threads():
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS, blas


def test_each_trial_pins_its_threads(client):
    numba_free, numba_max, _ = client.submit(_threads, pure=False).result()
    numba_pinned, _, blas = client.submit(runtime.call_pinned, 1, _threads,
                                          pure=False).result()
    assert numba_pinned == 1 and all(n == 1 for n in blas)
    assert numba_free == numba_max                   # the nanny leaves Numba at every core
    assert client.submit(_threads, pure=False).result()[0] == numba_free   # and is put back


def test_pinned_threads_checks_its_argument():
    with pytest.raises((TypeError, ValueError), match="threads"):
        with runtime.pinned_threads(0):
            pass


def test_unknown_model_is_refused_before_any_work():
    def never(fn, calls):
        raise AssertionError("no trial may run")
    with pytest.raises(ValueError, match="'gru'"):
        lect_text.run(models=("mlp", "gru"), map_trials=never, **TINY)


def _accuracy_rows(md: str) -> list:
    """The report's text rows: (experiment, lecture, rnnlab) without the timing note."""
    rows = [line.split("|") for line in md.splitlines() if "test accuracy" in line]
    return [tuple(c.strip() for c in r[1:4]) for r in rows]


def test_reproduce_with_workers_writes_the_serial_text_table(tmp_path, monkeypatch):
    monkeypatch.setattr(lect_reproduce, "QUICK", {"seeds": 1, "num_train": 100, "num_test": 50,
                                                  "text_epochs": 1})
    monkeypatch.setattr(lect_reproduce, "yelp_present", lambda: False)   # IMDB only
    lines = []
    with runtime.pinned_threads(1):                 # one thread, as each task (see serial())
        serial = lect_reproduce.reproduce(part="text", quick=True, out=tmp_path / "serial",
                                          echo=lambda m: None)
    tasks = lect_reproduce.reproduce(part="text", quick=True, out=tmp_path / "dask", workers=2,
                                     echo=lines.append)
    got = _accuracy_rows(tasks["markdown"].read_text(encoding="utf-8"))
    assert len(got) == len(lect_text.ALL_MODELS)
    assert got == _accuracy_rows(serial["markdown"].read_text(encoding="utf-8"))
    assert any("5 trials (5 models x 1 seeds) as tasks" in line for line in lines)
    assert "text models run as Dask tasks" in tasks["markdown"].read_text(encoding="utf-8")

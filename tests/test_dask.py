"""rnnlab.dask on a LocalCluster of two worker processes: the distributed Tokenizer is the
single-machine one, distributed predictions are the in-process ones bit for bit (even when a
worker dies mid-run), predictions reach Parquet, bad addresses and failing trials are clear."""
import os
import signal
import sys

import cloudpickle
import joblib
import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import dask.array as da  # noqa: E402
import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import rnnlab.dask as rd  # noqa: E402
from rnnlab import Sequential, config  # noqa: E402
from rnnlab.datasets import imdb  # noqa: E402
from rnnlab.layers.core import Dense  # noqa: E402
from rnnlab.layers.embedding import Embedding  # noqa: E402
from rnnlab.layers.recurrent.lstm import LSTM  # noqa: E402
from rnnlab.lecture import timeseries as lect_ts  # noqa: E402
from rnnlab.lecture.reproduce import ReproduceError, reproduce  # noqa: E402
from rnnlab.preprocessing.sequence import pad_sequences  # noqa: E402
from rnnlab.preprocessing.text import Tokenizer  # noqa: E402
from rnnlab.sklearn import ModelBuildError, RNNClassifier  # noqa: E402

# the workers do not have tests/ on their path: this module's functions travel by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

MAXLEN = 40


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def reviews():
    (texts, labels), _ = imdb.load_data(num_train=2000, num_test=1, seed=0)
    return texts, np.asarray(labels)


@pytest.fixture(autouse=True)
def _reference_kernels():
    config.set_kernels("reference")   # shipped with the model: the workers run the same kernels


def _lstm(vocabulary=3000):
    config.set_random_seed(1)
    model = Sequential([Embedding(vocabulary, 8), LSTM(6), Dense(1, activation="sigmoid")])
    model.build((None, MAXLEN))
    return model


def _same_tokenizer(got: Tokenizer, ref: Tokenizer, texts):
    assert got.word_index == ref.word_index and got.index_word == ref.index_word
    assert list(got.word_counts.items()) == list(ref.word_counts.items())
    assert list(got.word_docs.items()) == list(ref.word_docs.items())
    assert dict(got.index_docs) == dict(ref.index_docs)
    assert got.document_count == ref.document_count
    assert got.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


def test_distributed_tokenizer_is_the_single_machine_one(client, reviews):
    texts, _ = reviews
    ref = Tokenizer(num_words=3000, oov_token="<unk>")
    ref.fit_on_texts(texts)
    bag = db.from_sequence(texts, npartitions=5)
    _same_tokenizer(rd.fit_tokenizer(bag, num_words=3000, oov_token="<unk>"), ref, texts)
    frame = dd.from_pandas(pd.DataFrame({"text": texts}), npartitions=3)
    _same_tokenizer(rd.fit_tokenizer(frame["text"], num_words=3000, oov_token="<unk>"), ref,
                    texts)
    plain = Tokenizer(lower=False, filters="")
    plain.fit_on_texts(texts[:500])
    _same_tokenizer(rd.fit_tokenizer(frame[["text"]].head(500, compute=False), lower=False,
                                     filters=""), plain, texts[:500])
    with pytest.raises(ValueError, match="num_words"):
        rd.fit_tokenizer(bag, num_words=0)


def test_padded_arrays_and_distributed_predict_are_bit_for_bit(client, reviews, tmp_path):
    texts, _ = reviews
    tok = rd.fit_tokenizer(db.from_sequence(texts, npartitions=4), num_words=3000)
    padded = rd.texts_to_padded(dd.from_pandas(pd.Series(texts), npartitions=4), tok, MAXLEN,
                                padding="post")
    x = padded.compute()
    np.testing.assert_array_equal(
        x, pad_sequences(tok.texts_to_sequences(texts), maxlen=MAXLEN, padding="post"))
    model = _lstm()
    expected = model.predict(x, batch_size=50, verbose=0)
    got = rd.predict(model, da.from_array(x, chunks=(500, MAXLEN)), batch_size=50).compute()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    frame = dd.from_pandas(pd.DataFrame(x.astype(np.int64)), npartitions=6)
    np.testing.assert_array_equal(rd.predict(model, frame, batch_size=50).compute(), expected)
    rd.to_parquet(rd.predict(model, da.from_array(x, chunks=(1000, MAXLEN)), batch_size=50),
                  tmp_path / "scores", columns=["positive"])
    written = pd.read_parquet(tmp_path / "scores")
    np.testing.assert_array_equal(written["positive"].to_numpy(), expected[:, 0])


def _rows_or_die(rows, marker):
    """A partition that kills its own worker process the first time (marked by a file)."""
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return rows


def test_a_worker_killed_mid_predict_still_gives_the_complete_result(client, reviews, tmp_path):
    texts, _ = reviews
    tok = Tokenizer(num_words=3000)
    tok.fit_on_texts(texts)
    x = pad_sequences(tok.texts_to_sequences(texts), maxlen=MAXLEN)
    model = _lstm()
    expected = model.predict(x, batch_size=50, verbose=0)
    marker = str(tmp_path / "killed")
    blocks = [da.from_delayed(dask.delayed(_rows_or_die if i == 3 else np.asarray)(
        *((x[s:s + 500], marker) if i == 3 else (x[s:s + 500],))), shape=(500, MAXLEN),
        dtype=x.dtype) for i, s in enumerate(range(0, len(x), 500))]
    got = rd.predict(model, da.concatenate(blocks), batch_size=50).compute()
    assert os.path.exists(marker)                     # a worker did die
    np.testing.assert_array_equal(got, expected)


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConnectionError, match=r"cannot reach the Dask scheduler at "
                                              r"'tcp://127.0.0.1:9' within 2 s"):
        rd.connect("tcp://127.0.0.1:9", timeout=2)
    with pytest.raises(ValueError, match="timeout"):
        rd.connect("tcp://127.0.0.1:9", timeout=0)


def build_broken(units=4):
    raise RuntimeError(f"cannot build {units} units")


def test_a_failing_trial_on_the_dask_backend_names_its_parameters(client):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 2, 40)
    search = GridSearchCV(RNNClassifier(build_broken, epochs=1), {"model__units": [3, 5]},
                          cv=2, error_score="raise")
    with joblib.parallel_backend("dask"):
        with pytest.raises(ModelBuildError, match=r"build_broken \(called with units=[35].*"
                                                  r"cannot build [35] units"):
            search.fit(X, y)


def test_time_series_seeds_as_dask_tasks_equal_the_serial_run(client):
    rng = np.random.default_rng(0)
    X3, y2 = rng.normal(size=(40, 12, 1)), rng.normal(size=(40, 1))
    settings = (config.floatx(), config.kernels())
    calls = [(stack, 2, seed, X3, y2, settings) for stack in (False, True) for seed in (0, 1)]
    serial = lect_ts.serial_map(lect_ts.seed_trial, calls)
    remote = client.gather([client.submit(lect_ts.seed_trial, *c, pure=False) for c in calls])
    for a, b in zip(serial, remote):
        assert a["mse"] == b["mse"] and a["params"] == b["params"]
        assert a["history"] == b["history"]
        np.testing.assert_array_equal(a["prediction"], b["prediction"])


def test_reproduce_refuses_an_unreachable_scheduler(tmp_path):
    with pytest.raises(ReproduceError, match=r"cannot reach the Dask scheduler at "
                                             r"'tcp://127.0.0.1:9' within 2 s"):
        reproduce(part="timeseries", quick=True, out=tmp_path, scheduler="tcp://127.0.0.1:9",
                  timeout=2, echo=lambda msg: None)
    with pytest.raises(ReproduceError, match="not both"):
        reproduce(part="timeseries", out=tmp_path, scheduler="tcp://127.0.0.1:9", workers=2)

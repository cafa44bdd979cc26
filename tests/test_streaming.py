"""Streaming input (issue 18): fit, evaluate and predict take generators, iterables of batches and
PyDatasets as Keras 3 does; the same batches in the same order give bit-identical weights to
the array path; each streamed batch is checked before its update and a failure rolls back."""
import itertools
import threading
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from rnnlab import Input, Model, Sequential, config
from rnnlab.data import bucket_by_sequence_length
from rnnlab.data.text_files import TextFileDataset
from rnnlab.layers import LSTM, Concatenate, Dense, Embedding, SimpleRNN
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer
from rnnlab.utils import PyDataset, timeseries_dataset_from_array

N, T, F, B = 40, 6, 3, 8
#: Keras warns that shuffle=True (fit's default) is ignored for generators; tested once below
pytestmark = pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")


def _data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, F)).astype(np.float32)
    y = rng.normal(size=(n, 1)).astype(np.float32)
    return x, y


def _model(seed=1):
    config.set_random_seed(seed)
    model = Sequential([Input((T, F)), LSTM(4), Dense(1)])
    model.compile(Adam(0.01), "mse")
    return model


def _gen(x, y, batch=B, sw=None):
    for i in range(0, len(x), batch):
        if sw is None:
            yield x[i:i + batch], y[i:i + batch]
        else:
            yield x[i:i + batch], y[i:i + batch], sw[i:i + batch]


class Batches(PyDataset):
    """x, y in batches by index; records the indices asked for."""

    def __init__(self, x, y, batch=B, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch = x, y, batch
        self.asked, self.epochs_ended = [], 0

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        self.asked.append(i)
        sl = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[sl], self.y[sl]

    def on_epoch_end(self):
        self.epochs_ended += 1


class Again:
    """A restartable iterable of batches (each iter() a new pass), with a len()."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // B)

    def __iter__(self):
        return _gen(self.x, self.y)


def _same(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(u, v) for u, v in zip(wa, wb))


# ------------------------------------------------------------------ results equal
@pytest.mark.parametrize("source", ["generator", "iterable", "pydataset", "threads"])
def test_streamed_batches_give_bit_identical_weights_to_arrays(source):
    x, y = _data()
    ref = _model()
    ref.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    model = _model()
    data = {"generator": lambda: _gen(x, y), "iterable": lambda: Again(x, y),
            "pydataset": lambda: Batches(x, y),
            "threads": lambda: Batches(x, y, workers=3, max_queue_size=2)}[source]()
    hist = model.fit(data, epochs=1, shuffle=False, verbose=0)
    assert _same(ref, model)
    assert hist.history["loss"] == pytest.approx(ref.history.history["loss"], rel=0, abs=0)


def test_several_epochs_of_a_restartable_source_equal_arrays():
    x, y = _data()
    ref = _model()
    ref.fit(x, y, batch_size=B, epochs=3, shuffle=False, verbose=0)
    for data in (Again(x, y), Batches(x, y, workers=2)):
        model = _model()
        model.fit(data, epochs=3, shuffle=False, verbose=0)
        assert _same(ref, model)
    assert data.epochs_ended == 3


def test_sample_weights_and_class_weights_in_batches_equal_arrays():
    x, _ = _data()
    y = (np.arange(N) % 2).astype(np.float32)
    sw = np.linspace(0.5, 2.0, N)
    ref, model = _model(), _model()
    ref.fit(x, y, sample_weight=sw, batch_size=B, shuffle=False, verbose=0)
    model.fit(_gen(x, y, sw=sw), shuffle=False, verbose=0)
    assert _same(ref, model)
    ref, model = _model(), _model()
    ref.fit(x, y, class_weight={0: 1.0, 1: 3.0}, batch_size=B, shuffle=False, verbose=0)
    model.fit(_gen(x, y), class_weight={0: 1.0, 1: 3.0}, shuffle=False, verbose=0)
    assert _same(ref, model)


def test_evaluate_predict_and_validation_data_stream():
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=B, verbose=0)
    assert model.evaluate(_gen(x, y), verbose=0) == pytest.approx(
        model.evaluate(x, y, batch_size=B, verbose=0), rel=1e-6)
    assert np.array_equal(model.predict(_gen(x, y), verbose=0),
                          model.predict(x, batch_size=B, verbose=0))
    # x alone, and (x,) batches
    assert np.array_equal(model.predict((b[0] for b in _gen(x, y)), verbose=0),
                          model.predict(x, batch_size=B, verbose=0))
    assert model.predict(((b[0],) for b in _gen(x, y)), steps=2, verbose=0).shape == (16, 1)
    ref = _model()
    h_ref = ref.fit(x, y, batch_size=B, epochs=2, validation_data=(x, y), shuffle=False,
                    verbose=0)
    m = _model()
    h = m.fit(x, y, batch_size=B, epochs=2, validation_data=Batches(x, y), shuffle=False,
              verbose=0)
    assert h.history["val_loss"] == pytest.approx(h_ref.history["val_loss"], rel=1e-6)
    m = _model()
    h = m.fit(Batches(x, y), epochs=2, validation_data=Again(x, y), shuffle=False, verbose=0)
    assert h.history["val_loss"] == pytest.approx(h_ref.history["val_loss"], rel=1e-6)


def test_dicts_of_named_inputs_stream_as_with_arrays():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(N, T, 2)), rng.normal(size=(N, 4))
    y = rng.normal(size=(N, 1))

    def build():
        config.set_random_seed(5)
        ia, ib = Input((T, 2), name="seq"), Input((4,), name="meta")
        out = Dense(1)(Concatenate()([SimpleRNN(3)(ia), ib]))
        model = Model([ia, ib], out)
        model.compile(Adam(0.01), "mse")
        return model

    ref, model = build(), build()
    ref.fit({"seq": a, "meta": b}, y, batch_size=B, shuffle=False, verbose=0)
    batches = (({"meta": b[i:i + B], "seq": a[i:i + B]}, y[i:i + B]) for i in range(0, N, B))
    model.fit(batches, shuffle=False, verbose=0)
    assert _same(ref, model)


# ------------------------------------------------------------------ steps and epochs
def test_an_endless_generator_takes_steps_per_epoch_batches_per_epoch():
    x, y = _data()
    served = []

    def forever():
        for i in itertools.count():
            served.append(i)
            j = (i % 5) * B
            yield x[j:j + B], y[j:j + B]

    model = _model()
    hist = model.fit(forever(), steps_per_epoch=3, epochs=4, verbose=0)
    assert len(hist.history["loss"]) == 4
    assert hist.params["steps"] == 3
    assert len(served) <= 12 + 2          # a pass continues across epochs (2 peeked ahead)
    ref = _model()                        # the same 12 batches as arrays, in order
    idx = np.concatenate([np.arange((i % 5) * B, (i % 5) * B + B) for i in range(12)])
    ref.fit(x[idx], y[idx], batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert _same(ref, model)


@pytest.mark.parametrize("make", [lambda x, y: itertools.cycle(list(_gen(x, y))),
                                  lambda x, y: type("Endless", (Batches,), {
                                      "num_batches": property(lambda self: None)})(x, y)])
def test_an_endless_source_without_steps_is_a_clear_error(make):
    x, y = _data()
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="endless.*steps_per_epoch"):
        model.fit(make(x, y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="endless.*steps"):
        model.predict(make(x, y), verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(before, model.get_weights()))
    model.fit(make(x, y), steps_per_epoch=2, epochs=2, shuffle=False, verbose=0)


def test_a_generator_over_several_epochs_needs_steps_per_epoch():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="read once.*2 passes.*steps_per_epoch"):
        model.fit(_gen(x, y), epochs=2, verbose=0)
    with pytest.raises(ValueError, match="validation_steps"):
        model.fit(x, y, epochs=2, validation_data=_gen(x, y), verbose=0)


def test_a_generator_that_runs_out_stops_training_with_keras_warning():
    x, y = _data()
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        hist = model.fit(_gen(x, y), steps_per_epoch=3, epochs=4, shuffle=False, verbose=0)
    assert len(hist.history["loss"]) == 2     # 5 batches: 3, then 2 and the warning


def test_pydataset_shuffle_permutes_batches_and_epoch_end_is_called():
    x, y = _data()
    ds = Batches(x, y)
    _model().fit(ds, epochs=2, shuffle=True, verbose=0)
    first, second = ds.asked[2:7], ds.asked[7:12]       # after the two spec batches
    assert sorted(first) == sorted(second) == list(range(5))
    assert first != list(range(5)) or second != list(range(5))
    assert ds.epochs_ended == 2


def test_pydataset_workers_load_ahead_of_training():
    """Batch 0 waits until batch 1 is loaded: it only returns because another worker loads
    ahead while the first is still loading (one worker would wait for ever)."""
    x, y = _data()
    loaded = threading.Event()

    class Waiting(Batches):
        def __getitem__(self, i):
            if i == 1 and len(self.asked) >= 2:              # not the spec peek
                loaded.set()
            elif i == 0 and len(self.asked) >= 2:          # not the spec peek
                assert loaded.wait(timeout=30), "batch 1 was not loaded in the background"
            return super().__getitem__(i)

    ds = Waiting(x, y, workers=2, max_queue_size=3)
    loaded.clear()
    ds.asked.clear()
    model = _model()
    model.fit(ds, epochs=1, shuffle=False, verbose=0)
    ref = _model()
    ref.fit(x, y, batch_size=B, shuffle=False, verbose=0)
    assert _same(ref, model)


def test_pydataset_in_processes_gives_the_same_weights():
    x, y = _data()
    ref = _model()
    ref.fit(x, y, batch_size=B, shuffle=False, verbose=0)
    model = _model()
    model.fit(Batches(x, y, workers=2, use_multiprocessing=True), shuffle=False, verbose=0)
    assert _same(ref, model)


@pytest.mark.parametrize("kwargs, message", [
    (dict(workers=0), "workers"), (dict(max_queue_size=0), "max_queue_size"),
    (dict(use_multiprocessing="yes"), "use_multiprocessing")])
def test_pydataset_arguments_are_checked(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Batches(*_data(), **kwargs)


# ------------------------------------------------------------------ checks and rollback
def _bad_at(x, y, k, change):
    for i, (bx, by) in enumerate(_gen(x, y)):
        yield (change(bx), by) if i == k else (bx, by)


@pytest.mark.parametrize("change, message", [
    (lambda b: b[:, :-1], r"batch 3: x has shape \(8, 5, 3\).*\(batch, 6, 3\)"),
    (lambda b: b.astype(np.int64), r"batch 3: x .*int64 \(integer\).*float values"),
    (lambda b: np.where(b > 1, np.nan, b), r"batch 3: .*non-finite")])
def test_a_bad_batch_is_refused_before_its_update_and_rolled_back(change, message):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=B, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    iterations = model.optimizer.iterations
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(_bad_at(x, y, 3, change), shuffle=False, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(before, model.get_weights()))
    assert model.optimizer.iterations == iterations


def test_a_bad_token_id_in_a_late_streamed_batch_names_it():
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 20, size=(N, T)), rng.integers(0, 2, N)
    x[35, 2] = 20
    model = Sequential([Embedding(20, 4), SimpleRNN(3), Dense(1, activation="sigmoid")])
    model.compile(Adam(0.01), "binary_crossentropy")
    with pytest.raises(ValueError, match=r"x: batch 4: .*20"):
        model.fit(_gen(x, y), shuffle=False, verbose=0)


def test_variable_length_batches_stream_when_the_model_or_the_data_allows():
    """Per-batch padding: the time axis differs between the first two batches (Keras's rule)
    or the model declares it None; a later batch of another rank is still refused."""
    rng = np.random.default_rng(0)
    lengths = [5, 7, 3, 9]
    batches = [(rng.integers(1, 20, size=(4, t)), rng.integers(0, 2, 4)) for t in lengths]
    for first in (Embedding(20, 4), ):
        model = Sequential([first, LSTM(3), Dense(1, activation="sigmoid")])
        model.compile(Adam(0.01), "binary_crossentropy")
        hist = model.fit(iter(batches), shuffle=False, verbose=0)
        assert np.isfinite(hist.history["loss"][0])
    model = Sequential([Input((None,), dtype="int32"), Embedding(20, 4), LSTM(3), Dense(1)])
    model.compile(Adam(0.01), "mse")
    same_first = [batches[0], (batches[0][0] % 19 + 1, batches[0][1])] + batches[1:]
    model.fit(iter(same_first), shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"batch 2: x has shape \(4, 7, 1\)"):
        model.fit(iter(batches[:2] + [(batches[1][0][..., None], batches[1][1])]),
                  shuffle=False, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(y=np.zeros(N)), "y must not be passed"),
    (dict(sample_weight=np.ones(N)), "sample_weight must not be passed"),
    (dict(batch_size=8), "batch_size must not be passed"),
    (dict(validation_split=0.2), "validation_split is only supported for arrays")])
def test_arguments_that_belong_to_the_batches_are_refused(kwargs, message):
    x, y = _data()
    with pytest.raises(ValueError, match=message):
        _model().fit(_gen(x, y), verbose=0, **kwargs)


def test_batches_without_targets_and_empty_sources_are_clear_errors():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="batch 0: the batch has no targets"):
        model.fit((b[0] for b in _gen(x, y)), verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        model.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="tuple of 4 items"):
        model.fit(iter([(x, y, y, y)]), verbose=0)


def test_shuffle_with_a_generator_warns_as_keras():
    x, y = _data()
    with pytest.warns(UserWarning, match="shuffle=True.*ignored"):
        _model().fit(_gen(x, y), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _model().fit(_gen(x, y), shuffle=False, verbose=0)


def test_timeseries_dataset_trains_as_its_windows_do():
    series = np.sin(np.arange(120) / 7.0).astype(np.float32)[:, None].repeat(F, axis=1)
    ds = timeseries_dataset_from_array(series[:-T], series[T:, 0], sequence_length=T,
                                       batch_size=B)
    n = 120 - T - (T - 1)                 # Keras: len(data) - (sequence_length - 1) windows
    windows = np.stack([series[i:i + T] for i in range(n)])
    targets = series[T:T + n, 0]
    assert len(ds) == -(-n // B)
    ref, model = _model(), _model()
    ref.fit(windows, targets, batch_size=B, epochs=2, shuffle=False, verbose=0)
    model.fit(ds, epochs=2, shuffle=False, verbose=0)
    assert _same(ref, model)


# ------------------------------------------------------------------ text files and bucketing
REVIEWS = ["a good film", "bad", "a very very good and long film indeed", "not good at all",
           "good", "the worst film of the year, bad bad bad", "fine", "a film", "long and bad",
           "very good"]


def _tokenizer():
    tok = Tokenizer(num_words=20)
    tok.fit_on_texts(REVIEWS)
    return tok


def _review_files(tmp_path):
    table = pa.table({"label": [i % 2 for i in range(len(REVIEWS))], "rating": [7] * 10,
                      "text": REVIEWS})
    pa_csv.write_csv(table, str(tmp_path / "r.csv"))
    with pa.CompressedOutputStream(str(tmp_path / "r.csv.gz"), "gzip") as out:
        pa_csv.write_csv(table, out)
    pq.write_table(table, str(tmp_path / "r.parquet"), row_group_size=3)
    return [tmp_path / "r.csv", tmp_path / "r.csv.gz", tmp_path / "r.parquet"]


def _expected_batches(tok, batch, maxlen):
    seqs = tok.texts_to_sequences(REVIEWS)
    out = []
    for i in range(0, len(seqs), batch):
        part = seqs[i:i + batch]
        longest = min(max(len(s) for s in part), maxlen)
        x = pad_sequences(part, maxlen=longest, padding="post", truncating="post")
        out.append((x, np.arange(i, i + len(part)) % 2))
    return out


@pytest.mark.parametrize("chunk_rows", [2, 65536])
def test_text_files_stream_tokenized_batches_padded_per_batch(tmp_path, chunk_rows):
    tok = _tokenizer()
    expected = _expected_batches(tok, 4, 6)
    for path in _review_files(tmp_path):
        ds = TextFileDataset(path, tok, batch_size=4, maxlen=6, chunk_rows=chunk_rows)
        for _ in range(2):                               # iterable again: a pass per epoch
            got = list(ds)
            assert len(got) == len(expected)
            for (x, y), (ex, ey) in zip(got, expected):
                assert np.array_equal(x, ex) and np.array_equal(y, ey)


def test_text_file_errors_are_clear(tmp_path):
    path = _review_files(tmp_path)[0]
    with pytest.raises(ValueError, match=r"no column\(s\) \['review'\]"):
        TextFileDataset(path, _tokenizer(), text_column="review")
    with pytest.raises(ValueError, match="fitted Tokenizer"):
        TextFileDataset(path, Tokenizer())
    with pytest.raises(FileNotFoundError):
        TextFileDataset(tmp_path / "none.csv", _tokenizer())
    with pytest.raises(ValueError, match="batch_size"):
        TextFileDataset(path, _tokenizer(), batch_size=0)


def _masked_model():
    config.set_random_seed(4)
    model = Sequential([Embedding(20, 4, mask_zero=True), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(Adam(0.01), "binary_crossentropy")
    return model


def test_per_batch_padding_with_masking_trains_as_padding_to_maxlen(tmp_path):
    """A masked LSTM skips padded steps, so padding each batch to its own longest review gives
    the weights that padding every review to maxlen gives (up to float rounding)."""
    tok = _tokenizer()
    x = pad_sequences(tok.texts_to_sequences(REVIEWS), maxlen=6, padding="post",
                      truncating="post")
    y = np.arange(len(REVIEWS)) % 2
    ref = _masked_model()
    ref.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model = _masked_model()
    ds = TextFileDataset(_review_files(tmp_path)[2], tok, batch_size=4, maxlen=6)
    model.fit(ds, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ref.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bucket_by_sequence_length_groups_as_tf_data():
    samples = [([1] * n, n) for n in (1, 5, 2, 7, 3, 9, 4, 2, 8, 1)]
    # buckets: n < 3 -> 0 (batches of 2), 3 <= n < 6 -> 1 (2), n >= 6 -> 2 (3)
    batches = list(bucket_by_sequence_length(samples, [3, 6], [2, 2, 3]))
    got = [(x.shape, list(y)) for x, y in batches]
    assert got == [((2, 2), [1, 2]), ((2, 5), [5, 3]), ((3, 9), [7, 9, 8]),
                   ((2, 2), [2, 1]), ((1, 4), [4])]
    assert np.array_equal(batches[1][0], [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    padded = list(bucket_by_sequence_length(samples, [3, 6, 10], [2, 2, 3, 1],
                                            pad_to_bucket_boundary=True, drop_remainder=True))
    assert [x.shape for x, _ in padded] == [(2, 2), (2, 5), (3, 9), (2, 2)]
    with pytest.raises(ValueError, match="len\\(bucket_boundaries\\) \\+ 1"):
        bucket_by_sequence_length(samples, [3, 6], [2, 2])
    with pytest.raises(ValueError, match="increasing"):
        bucket_by_sequence_length(samples, [6, 3], [2, 2, 2])
    with pytest.raises(ValueError, match="sample 3 has length 7"):
        list(bucket_by_sequence_length(samples, [3, 6], [2, 2, 3], pad_to_bucket_boundary=True))


def test_bucketed_text_trains_with_masking(tmp_path):
    samples = TextFileDataset(_review_files(tmp_path)[0], _tokenizer(), batch_size=None)
    buckets = bucket_by_sequence_length(samples, [3], [3, 2])
    assert sum(len(x) for x, _ in buckets) == len(REVIEWS)
    hist = _masked_model().fit(buckets, epochs=2, shuffle=False, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()


def test_a_bad_batch_from_worker_threads_stops_the_pool_and_rolls_back():
    x, y = _data()

    class Broken(Batches):
        def __getitem__(self, i):
            bx, by = super().__getitem__(i)
            return (bx[:, :-1], by) if i == 3 else (bx, by)

    model = _model()
    before = [w.copy() for w in model.get_weights()]
    threads = threading.active_count()
    with pytest.raises(ValueError, match="x: batch 3: x has shape"):
        model.fit(Broken(x, y, workers=3, max_queue_size=4), shuffle=False, verbose=0)
    assert threading.active_count() == threads                # the pool was shut down
    assert all(np.array_equal(u, v) for u, v in zip(before, model.get_weights()))


def test_an_unknown_length_stream_shows_a_bar_and_gives_callbacks_steps_none(capsys):
    x, y = _data()
    model = _model()
    hist = model.fit(_gen(x, y), shuffle=False, verbose=1)
    assert hist.params["steps"] is None
    assert "Epoch 1/1" in capsys.readouterr().out
    hist = model.fit(Batches(x, y), shuffle=False, verbose=0)
    assert hist.params["steps"] == 5

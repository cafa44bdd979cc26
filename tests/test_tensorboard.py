"""The TensorBoard callback writes event files that TensorBoard's own reader loads: epoch
scalars in train/ and validation/ (as Keras names them), batch scalars with update_freq, weight
histograms with histogram_freq, the model summary as text; a clear error without the extra."""
import os
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlab import optimizers, schedules
from rnnlab.callbacks import TensorBoard
from rnnlab.layers import LSTM, Dense
from rnnlab.models import Sequential


def _read(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0,
                                                       "tensors": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _fit(tmp_path, epochs=3, validation=True, **kw):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5, 2)), rng.normal(size=(40, 1))
    model = Sequential([LSTM(3, input_shape=(5, 2)), Dense(2, activation="tanh"), Dense(1)])
    model.compile(optimizer=optimizers.Adam(
        learning_rate=schedules.ExponentialDecay(0.01, decay_steps=5, decay_rate=0.5)),
        loss="mse", metrics=["mae"])
    cb = TensorBoard(log_dir=tmp_path / "logs", **kw)
    hist = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[cb],
                     validation_split=0.25 if validation else 0.0)
    return model, hist


def test_epoch_scalars_in_train_and_validation(tmp_path):
    model, hist = _fit(tmp_path)
    train = _read(tmp_path / "logs" / "train")
    val = _read(tmp_path / "logs" / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_mae", "epoch_learning_rate"}
    assert set(val.Tags()["scalars"]) == {"epoch_loss", "epoch_mae",
                                          "evaluation_loss_vs_iterations",
                                          "evaluation_mae_vs_iterations"}
    for tag, key, acc in [("epoch_loss", "loss", train), ("epoch_mae", "mae", train),
                          ("epoch_loss", "val_loss", val), ("epoch_mae", "val_mae", val)]:
        got = _scalars(acc, tag)
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], hist.history[key], rtol=1e-6)
    # 30 training samples, batch 8: 4 steps per epoch; the rate after each epoch's steps
    lrs = [v for _, v in _scalars(train, "epoch_learning_rate")]
    np.testing.assert_allclose(lrs, [0.01 * 0.5 ** (4 * (e + 1) / 5) for e in range(3)],
                               rtol=1e-6)
    assert [s for s, _ in _scalars(val, "evaluation_loss_vs_iterations")] == [4, 8, 12]
    assert not train.Tags()["histograms"]


def test_histograms_of_every_weight(tmp_path):
    model, _ = _fit(tmp_path, epochs=3, validation=False, histogram_freq=2)
    train = _read(tmp_path / "logs" / "train")
    tags = sorted(train.Tags()["histograms"])
    names = sorted(f"{layer.name}/{p}/histogram" for layer in model.layers for p in layer.params)
    assert tags == names and len(tags) == 7     # LSTM kernel, recurrent, bias; 2 Dense 2 each
    assert not os.path.exists(tmp_path / "logs" / "validation")
    kernel = model.layers[1].params["kernel"]
    events = train.Histograms(f"{model.layers[1].name}/kernel/histogram")
    assert [e.step for e in events] == [0, 2]
    last = events[-1].histogram_value
    assert last.num == kernel.size
    assert last.min == pytest.approx(kernel.min()) and last.max == pytest.approx(kernel.max())
    assert last.sum == pytest.approx(kernel.sum(), abs=1e-5)


@pytest.mark.parametrize("update_freq,expected", [("batch", list(range(1, 11))),
                                                  (3, [3, 6, 9])])
def test_batch_scalars(tmp_path, update_freq, expected):
    """40 samples, batch 8: 5 batches an epoch, counted on across epochs (as Keras)."""
    _fit(tmp_path, epochs=2, validation=False, update_freq=update_freq)
    train = _read(tmp_path / "logs" / "train")
    assert [s for s, _ in _scalars(train, "batch_loss")] == expected
    assert [s for s, _ in _scalars(train, "epoch_loss")] == [0, 1]


def test_epoch_only_by_default_and_summary_as_text(tmp_path):
    model, _ = _fit(tmp_path, epochs=1, validation=False)
    train = _read(tmp_path / "logs" / "train")
    assert "batch_loss" not in train.Tags()["scalars"]
    text = train.Tensors("model_summary/text_summary")[0].tensor_proto.string_val[0].decode()
    assert model.layers[0].name in text and "Total params" in text


def test_no_graph_text_when_write_graph_is_off(tmp_path):
    _fit(tmp_path, epochs=1, validation=False, write_graph=False)
    assert not _read(tmp_path / "logs" / "train").Tags()["tensors"]


@pytest.mark.parametrize("kw,exc,match", [
    (dict(histogram_freq=-1), ValueError, "histogram_freq must be a non-negative integer"),
    (dict(update_freq="epochs"), ValueError, "update_freq must be 'epoch', 'batch'"),
    (dict(update_freq=0), ValueError, "update_freq"),
    (dict(write_graph="yes"), TypeError, "write_graph must be True or False"),
    (dict(write_images=True), ValueError, "write_images=True is not supported"),
    (dict(profile_batch=5), ValueError, "profile_batch=5 is not supported"),
    (dict(embeddings_freq=1), ValueError, "embeddings_freq"),
])
def test_bad_arguments(tmp_path, kw, exc, match):
    with pytest.raises(exc, match=match):
        TensorBoard(log_dir=tmp_path, **kw)


def test_missing_writer_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)     # as if not installed
    with pytest.raises(ImportError, match=r"rnnlab\[tensorboard\]"):
        TensorBoard(log_dir=tmp_path)

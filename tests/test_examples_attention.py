"""examples/imdb_attention.py (issue 16's example) on a slice of the real IMDB reviews: the frozen
embeddings stay as stage 1 left them, the BiLSTM + attention model beats chance by a wide margin
and the lecture's plain LSTM on test AUC, its AUC equals the exact ROC AUC to the 200-threshold
interpolation's accuracy, and TensorBoard reads the logs it wrote."""
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import imdb_attention  # noqa: E402

from rnnlab import config  # noqa: E402


def test_the_example_learns_and_logs(data_dir, tmp_path):
    lines = []
    results = imdb_attention.run("imdb", num_train=1500, num_test=600, epochs=2,
                                 logdir=tmp_path / "logs", say=lines.append)
    assert lines[0].startswith("data: imdb (1,500 train / 600 test")
    attention, plain = results["bilstm_attention"], results["plain_lstm"]
    assert attention["auc"] > 0.8 and attention["auc"] > plain["auc"]
    assert 0.5 < attention["f1"] <= 1.0
    acc = EventAccumulator(str(tmp_path / "logs" / "train"))
    acc.Reload()
    assert {"epoch_loss", "epoch_auc", "epoch_f1", "epoch_learning_rate"} <= set(
        acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("epoch_auc")] == [0, 1]


def test_frozen_embeddings_stay_and_auc_matches_sklearn(data_dir):
    xtr, ytr, xte, yte, _, _ = imdb_attention.text.load("imdb", None, 600, 300, 0)
    tok = imdb_attention.Tokenizer(num_words=2000)
    tok.fit_on_texts(xtr)
    X = imdb_attention.text.sequences(tok, xtr, 60, "pre", "pre")
    Xt = imdb_attention.text.sequences(tok, xte, 60, "pre", "pre")
    y, yt = ytr.astype("float32")[:, None], yte.astype("float32")[:, None]
    config.set_random_seed(0)
    matrix = imdb_attention.pretrain_embeddings(X, y, 2001, 8, epochs=1)
    model = imdb_attention.attention_model(matrix, 60, units=4, decay_steps=20, warmup_steps=2)
    emb = model.get_layer("frozen_embedding")
    assert emb.count_params() == matrix.size and model.count_params() - matrix.size == sum(
        w.size for w in model.trainable_weights)
    before = model.get_weights()
    model.fit(X, y, epochs=1, batch_size=64, verbose=0)
    assert np.array_equal(emb.get_weights()[0], matrix)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    p = model.predict(Xt, verbose=0)
    auc = model.evaluate(Xt, yt, return_dict=True, verbose=0)["auc"]
    assert abs(auc - roc_auc_score(yt.ravel(), p.ravel())) < 0.01

"""The course's Siamese LSTM on 1,000 Quora question pairs: are two questions duplicates?

Both questions go through the *same* Embedding and the *same* LSTM (one set of weights, two calls,
so the functional graph sums their gradients); the cosine similarity of the two encodings
(``Dot(axes=1, normalize=True)``) feeds a ``Dense(1, sigmoid)``, started steep (see build_model:
with the default small slope the encoder memorises the 800 training pairs before the head can use
the similarity, and validation accuracy falls below the baseline).  Trained with binary
cross-entropy, Adam and ``EarlyStopping(monitor="val_loss", restore_best_weights=True)`` on a
validation split; the validation accuracy is compared with the trivial baseline that always answers
the training majority class ("not a duplicate").  Early stopping picks its epoch on the same
validation rows, so that accuracy is slightly optimistic, as in the course.

    python examples/siamese_quora.py [--units 128] [--epochs 30] [--seed 0] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

from rnnlab import Input, Model, config
from rnnlab.callbacks import EarlyStopping
from rnnlab.datasets import data_dirs
from rnnlab.initializers import Constant
from rnnlab.layers import LSTM, Dense, Dot, Embedding
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer
from rnnlab.regularizers import l2

FILE = "quora_small.csv"
COLUMNS = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]


def find_data(data_dir=None, fname=FILE) -> Path:
    """``fname`` in ``data_dir`` (a directory or the file itself), else in ``$RNNLAB_DATA_DIR``."""
    if data_dir is not None:
        p = Path(data_dir).expanduser()
        cand = p if p.is_file() else p / fname
        if not cand.is_file():
            raise FileNotFoundError(f"{fname} not found: {str(cand)!r} does not exist")
        return cand
    for d in data_dirs():
        if (d / fname).is_file():
            return d / fname
    raise FileNotFoundError(f"{fname} not found: pass --data-dir DIR or set $RNNLAB_DATA_DIR to "
                            f"the directory holding it (now {os.environ.get('RNNLAB_DATA_DIR')!r})")


def read_pairs(path):
    """``(question1 list, question2 list, is_duplicate int64 array)`` from the Quora CSV."""
    q1, q2, y = [], [], []
    with open(path, encoding="utf-8-sig", newline="") as f:   # the file starts with a BOM
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{str(path)!r}: missing column(s) {missing}; got "
                             f"{reader.fieldnames}")
        for row in reader:
            label = row["is_duplicate"].strip()
            if label not in ("0", "1"):
                raise ValueError(f"{str(path)!r} line {reader.line_num}: is_duplicate must be 0 "
                                 f"or 1, got {label!r}")
            q1.append(row["question1"])
            q2.append(row["question2"])
            y.append(int(label))
    if not y:
        raise ValueError(f"{str(path)!r} has no question pairs")
    return q1, q2, np.array(y, dtype=np.int64)


def build_model(vocab_size, seq_len=20, embed_dim=50, units=128, l2_weight=1e-4, mask_zero=True,
                head_slope=5.0):
    """Two integer inputs → shared Embedding → shared LSTM → cosine → Dense(1, sigmoid).

    The head starts as ``sigmoid(head_slope * (cosine - 0.5))``: a cosine lies in [-1, 1], so a
    default (about unit) slope can only say 0.27-0.73, and Adam steepens a two-weight head by only
    ~lr per step, while the 200k embedding weights memorise the 800 training pairs within a few
    epochs.  Starting steep lets the head use the similarity that a random shared encoder already
    gives (validation AUC ~0.7, mostly word overlap) before that happens.
    """
    q1_in = Input((seq_len,), name="question1", dtype="int64")
    q2_in = Input((seq_len,), name="question2", dtype="int64")
    embed = Embedding(vocab_size, embed_dim, mask_zero=mask_zero, name="shared_embedding")
    encode = LSTM(units, kernel_regularizer=l2(l2_weight), recurrent_regularizer=l2(l2_weight),
                  name="shared_lstm")
    v1, v2 = encode(embed(q1_in)), encode(embed(q2_in))
    cosine = Dot(axes=1, normalize=True, name="cosine")([v1, v2])
    out = Dense(1, activation="sigmoid", kernel_initializer=Constant(head_slope),
                bias_initializer=Constant(-0.5 * head_slope), name="is_duplicate")(cosine)
    return Model([q1_in, q2_in], out, name="siamese_lstm")


def roc_auc(score, y) -> float:
    """Area under the ROC curve: P(score of a random positive > that of a random negative)."""
    score, y = np.asarray(score, dtype=np.float64), np.asarray(y) == 1
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inv, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inv]      # average ranks of ties, 1-based
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def run(data_dir=None, units=128, embed_dim=50, seq_len=20, epochs=30, batch_size=32,
        validation_split=0.2, patience=3, l2_weight=1e-4, learning_rate=1e-3, num_pairs=None,
        seed=0, verbose=0, print_fn=None):
    """Train the Siamese model; return a dict of results (accuracies, baseline, sizes, timings).

    ``num_pairs`` keeps the first pairs of the shuffled file (None: all); ``print_fn`` receives the
    model summary (None: no summary).
    """
    t0 = time.perf_counter()
    config.set_random_seed(seed)
    q1, q2, y = read_pairs(find_data(data_dir))
    order = np.random.default_rng(seed).permutation(len(y))   # the file order is not random
    if num_pairs is not None:
        if not 10 <= int(num_pairs) <= len(y):
            raise ValueError(f"num_pairs must be in [10, {len(y)}], got {num_pairs}")
        order = order[:int(num_pairs)]
    q1, q2, y = [q1[i] for i in order], [q2[i] for i in order], y[order]

    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(q1 + q2)                            # the vocabulary of all questions
    vocab_size = len(tokenizer.word_index) + 1                 # + the padding index 0
    pad = dict(maxlen=seq_len, padding="post", truncating="post")   # as the lecture pads
    x1 = pad_sequences(tokenizer.texts_to_sequences(q1), **pad).astype(np.int64)
    x2 = pad_sequences(tokenizer.texts_to_sequences(q2), **pad).astype(np.int64)

    model = build_model(vocab_size, seq_len, embed_dim, units, l2_weight)
    model.compile(optimizer=Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    if print_fn is not None:
        model.summary(print_fn=print_fn)

    n_train = int(len(y) * (1.0 - validation_split))           # fit() holds out the last rows
    stopper = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    t_fit = time.perf_counter()
    history = model.fit([x1, x2], y, validation_split=validation_split, epochs=epochs,
                        batch_size=batch_size, callbacks=[stopper], verbose=verbose)
    fit_seconds = time.perf_counter() - t_fit

    y_train, y_val = y[:n_train], y[n_train:]
    p_val = model.predict([x1[n_train:], x2[n_train:]], verbose=0)[:, 0]
    val_acc = float(np.mean((p_val > 0.5) == (y_val == 1)))
    majority = int(np.mean(y_train) >= 0.5)
    return {
        "val_accuracy": val_acc,
        "baseline_accuracy": float(np.mean(y_val == majority)),   # always the training majority
        "val_auc": roc_auc(p_val, y_val),
        "majority_class": majority,
        "train_accuracy": float(history.history["accuracy"][stopper.best_epoch]),
        "best_val_loss": float(stopper.best),
        "best_epoch": int(stopper.best_epoch) + 1,
        "epochs_run": len(history.history["loss"]),
        "n_train": n_train,
        "n_val": int(len(y) - n_train),
        "vocab_size": vocab_size,
        "params": model.count_params(),
        "fit_seconds": fit_seconds,
        "seconds": time.perf_counter() - t0,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", help=f"directory holding {FILE} (default: $RNNLAB_DATA_DIR)")
    ap.add_argument("--units", type=int, default=128, help="LSTM units (default 128)")
    ap.add_argument("--embed-dim", type=int, default=50, help="embedding size (default 50)")
    ap.add_argument("--epochs", type=int, default=30, help="maximum epochs (default 30)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--patience", type=int, default=3, help="early-stopping patience")
    ap.add_argument("--l2", type=float, default=1e-4, help="l2 weight on the LSTM kernels")
    ap.add_argument("--num-pairs", type=int, help="use only this many pairs (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", type=int, default=2, help="fit() verbosity 0/1/2")
    args = ap.parse_args(argv)
    res = run(args.data_dir, units=args.units, embed_dim=args.embed_dim, epochs=args.epochs,
              batch_size=args.batch_size, patience=args.patience, l2_weight=args.l2,
              num_pairs=args.num_pairs, seed=args.seed, verbose=args.verbose, print_fn=print)
    print(f"\n{'':28s}{'accuracy':>10s}")
    print(f"{'majority class (baseline)':28s}{res['baseline_accuracy']:>10.3f}")
    print(f"{'Siamese LSTM, validation':28s}{res['val_accuracy']:>10.3f}")
    print(f"{'Siamese LSTM, training':28s}{res['train_accuracy']:>10.3f}")
    print(f"{'Siamese LSTM, validation AUC':28s}{res['val_auc']:>10.3f}   (0.5 = chance)")
    print(f"\n{res['n_train']} train / {res['n_val']} validation pairs, vocabulary "
          f"{res['vocab_size']}, {res['params']:,} parameters; best epoch {res['best_epoch']} of "
          f"{res['epochs_run']}; {res['seconds']:.1f} s")
    return res


if __name__ == "__main__":
    main(sys.argv[1:])

"""The lecture's "Play with it!": an LSTM over the text and an MLP over numbers, in one model.

The lecture combines an LSTM with "the old MLP" to predict a price; here the same two-branch graph
predicts the 1-10 star rating of an IMDB review.  The text branch is Embedding(mask_zero=True) →
LSTM; the tabular branch is a Dense layer over numeric features of the review (its length in tokens
and its number of "!", both log-scaled and standardised with the training statistics); the two are
joined by Concatenate → Dense → one linear output, trained with mean squared error and reported by
mean absolute error.  The trivial baseline predicts the training mean rating for every review (the
training median, the constant that minimises MAE, is printed too).

    python examples/text_plus_tabular.py [--num-train N] [--epochs 10] [--seed 0] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rnnlab import Input, Model, config
from rnnlab.callbacks import EarlyStopping
from rnnlab.datasets import imdb
from rnnlab.initializers import Constant
from rnnlab.layers import LSTM, Concatenate, Dense, Embedding
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer

FEATURES = ["log_tokens", "log_exclamations"]


def numeric_features(texts, sequences):
    """Raw per-review numbers, one row each: log(1 + tokens), log(1 + count of '!')."""
    tokens = np.array([len(s) for s in sequences], dtype=np.float64)
    bangs = np.array([t.count("!") for t in texts], dtype=np.float64)
    return np.stack([np.log1p(tokens), np.log1p(bangs)], axis=1)


class Standardizer:
    """Subtract the training mean and divide by the training standard deviation, per column."""

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0          # a constant column stays at 0
        return self

    def transform(self, x):
        return (np.asarray(x, dtype=np.float64) - self.mean_) / self.scale_


def build_model(max_features, maxlen, n_numeric, embed_dim=32, units=32, dense_units=16,
                rating_mean=0.0):
    """Text ids → Embedding(mask_zero) → LSTM; numbers → Dense; Concatenate → Dense → Dense(1).

    The output bias starts at the training mean rating, so training starts from the trivial
    baseline instead of spending its first thousands of Adam steps moving a bias from 0 to ~5.5.
    """
    text_in = Input((maxlen,), name="review", dtype="int64")
    num_in = Input((n_numeric,), name="numbers")
    h_text = LSTM(units, name="text_lstm")(
        Embedding(max_features, embed_dim, mask_zero=True, name="word_embedding")(text_in))
    h_num = Dense(dense_units // 2 or 1, activation="relu", name="numbers_dense")(num_in)
    h = Dense(dense_units, activation="relu", name="joint_dense")(
        Concatenate(name="concat")([h_text, h_num]))
    out = Dense(1, bias_initializer=Constant(rating_mean), name="rating")(h)
    return Model([text_in, num_in], out, name="text_plus_tabular")


def run(data_dir=None, num_train=None, num_test=None, max_features=10000, maxlen=200,
        embed_dim=32, units=32, dense_units=16, epochs=10, batch_size=32, validation_split=0.1,
        patience=2, learning_rate=1e-3, seed=0, verbose=0, print_fn=None):
    """Train the two-branch model; return a dict with the test MAE, the baselines and timings.

    ``num_train``/``num_test``: random subsets of the IMDB splits (None: all 25,000 each);
    ``print_fn`` receives the model summary (None: no summary).
    """
    t0 = time.perf_counter()
    config.set_random_seed(seed)
    (x_tr, _, r_tr), (x_te, _, r_te) = imdb.load_data(path=data_dir, num_train=num_train,
                                                      num_test=num_test, seed=seed,
                                                      with_ratings=True)
    order = np.random.default_rng(seed).permutation(len(x_tr))   # full splits are neg then pos
    x_tr, r_tr = [x_tr[i] for i in order], r_tr[order].astype(np.float64)
    r_te = r_te.astype(np.float64)

    tokenizer = Tokenizer(num_words=max_features)
    tokenizer.fit_on_texts(x_tr)
    s_tr, s_te = tokenizer.texts_to_sequences(x_tr), tokenizer.texts_to_sequences(x_te)
    ids_tr = pad_sequences(s_tr, maxlen=maxlen).astype(np.int64)   # keep each review's end
    ids_te = pad_sequences(s_te, maxlen=maxlen).astype(np.int64)
    scaler = Standardizer().fit(numeric_features(x_tr, s_tr))
    num_tr = scaler.transform(numeric_features(x_tr, s_tr))
    num_te = scaler.transform(numeric_features(x_te, s_te))

    mean, median = float(r_tr.mean()), float(np.median(r_tr))
    model = build_model(max_features, maxlen, num_tr.shape[1], embed_dim, units, dense_units,
                        rating_mean=mean)
    model.compile(optimizer=Adam(learning_rate), loss="mse", metrics=["mae"])
    if print_fn is not None:
        model.summary(print_fn=print_fn)
    stopper = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    t_fit = time.perf_counter()
    history = model.fit([ids_tr, num_tr], r_tr, validation_split=validation_split, epochs=epochs,
                        batch_size=batch_size, callbacks=[stopper], verbose=verbose)
    fit_seconds = time.perf_counter() - t_fit

    pred = model.predict([ids_te, num_te], verbose=0)[:, 0]
    return {
        "test_mae": float(np.mean(np.abs(pred - r_te))),
        "test_rmse": float(np.sqrt(np.mean((pred - r_te) ** 2))),
        "baseline_mae": float(np.mean(np.abs(mean - r_te))),      # predict the training mean
        "median_baseline_mae": float(np.mean(np.abs(median - r_te))),
        "train_mean_rating": mean,
        "best_epoch": int(stopper.best_epoch) + 1,
        "epochs_run": len(history.history["loss"]),
        "best_val_mae": float(history.history["val_mae"][stopper.best_epoch]),
        "n_train": len(x_tr),
        "n_test": len(x_te),
        "params": model.count_params(),
        "fit_seconds": fit_seconds,
        "seconds": time.perf_counter() - t0,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", help="directory holding imdb_{train,test}.csv.gz "
                                       "(default: $RNNLAB_DATA_DIR, cache)")
    ap.add_argument("--num-train", type=int, help="random training subset (default all 25,000)")
    ap.add_argument("--num-test", type=int, help="random test subset (default all 25,000)")
    ap.add_argument("--max-features", type=int, default=10000, help="vocabulary size")
    ap.add_argument("--maxlen", type=int, default=200, help="tokens kept per review (the last)")
    ap.add_argument("--embed-dim", type=int, default=32)
    ap.add_argument("--units", type=int, default=32, help="LSTM units (default 32)")
    ap.add_argument("--epochs", type=int, default=10, help="maximum epochs (default 10)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", type=int, default=2, help="fit() verbosity 0/1/2")
    args = ap.parse_args(argv)
    res = run(args.data_dir, num_train=args.num_train, num_test=args.num_test,
              max_features=args.max_features, maxlen=args.maxlen, embed_dim=args.embed_dim,
              units=args.units, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
              verbose=args.verbose, print_fn=print)
    print(f"\n{'test set, rating 1-10':34s}{'MAE':>8s}")
    print(f"{'predict the training mean':34s}{res['baseline_mae']:>8.3f}")
    print(f"{'predict the training median':34s}{res['median_baseline_mae']:>8.3f}")
    print(f"{'LSTM text + Dense numbers':34s}{res['test_mae']:>8.3f}")
    print(f"\n{res['n_train']} train / {res['n_test']} test reviews, {res['params']:,} parameters; "
          f"best epoch {res['best_epoch']} of {res['epochs_run']}; {res['seconds']:.1f} s")
    return res


if __name__ == "__main__":
    main(sys.argv[1:])

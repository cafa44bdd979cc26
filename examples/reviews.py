"""The lecture's text half with rnnlab: an MLP, a SimpleRNN, a Conv1D+SimpleRNN and an LSTM (plus
the LSTM with Embedding(mask_zero=True) on pre-padded reviews) with the lecture's hyperparameters,
trained on the IMDB train reviews and evaluated on the IMDB test reviews; on Yelp too when its
files are present.  Prints lecture vs rnnlab accuracy, epochs and seconds.

    python examples/reviews.py [--models mlp,simple_rnn,...] [--num-train N --num-test N]
                               [--epochs 100] [--seed 0] [--dataset imdb|yelp|synthetic]
"""
import argparse
import time

from rnnlab.lecture import text
from rnnlab.lecture.results import table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="imdb", choices=["imdb", "yelp", "synthetic"])
    ap.add_argument("--models", default=",".join(text.ALL_MODELS),
                    help=f"comma-separated subset of {','.join(text.ALL_MODELS)}")
    ap.add_argument("--num-train", type=int, default=None, help="subset of training reviews")
    ap.add_argument("--num-test", type=int, default=None, help="subset of test reviews")
    ap.add_argument("--epochs", type=int, default=100,
                    help="maximum epochs (EarlyStopping, patience 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", type=int, default=0, choices=[0, 1, 2])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = text.run(args.dataset, models=tuple(args.models.split(",")), num_train=args.num_train,
                   num_test=args.num_test, epochs=args.epochs, seed=args.seed,
                   verbose=args.verbose, progress=lambda m: print(f"... {m}", flush=True))
    print(f"\ndata: {res.dataset}{' (synthetic stand-in)' if res.synthetic else ''}; "
          f"seed {args.seed}\n")
    print(table(res.rows))
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")
    return res


if __name__ == "__main__":
    main()

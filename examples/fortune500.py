"""The lecture's Fortune 500 half with rnnlab: baselines, the from-scratch neuron, SimpleRNN(1) and
the 10→5→1 stack over seeds 0-4, printed as a table of lecture vs rnnlab values.

    python examples/fortune500.py [--quick] [--data PATH]
"""
import argparse

from rnnlab.lecture import timeseries
from rnnlab.lecture.results import table


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs and seeds")
    ap.add_argument("--data", help="the lecture's CSV (default: $RNNLAB_DATA_DIR, cache, download)")
    args = ap.parse_args()
    kw = dict(seeds=(0, 1), rnn_epochs=10, stack_epochs=10) if args.quick else {}
    res = timeseries.run(args.data, progress=lambda m: print(f"... {m}", flush=True), **kw)
    print(f"\ndata: {res.source}\n")
    print(table(res.rows))
    print("\nseconds: " + ", ".join(f"{k} {v:.1f}" for k, v in res.seconds.items()))


if __name__ == "__main__":
    main()

"""Tokenizer speed: rnnlab vs keras-preprocessing 1.1.2 on the 50,000 IMDB reviews.

Times ``fit_on_texts`` + ``texts_to_sequences`` (the lecture's pipeline, ``num_words=10000``),
median of 3 runs each, alternating the two libraries so that a busy machine slows both alike.
Asserts that both produce the same vocabulary and sequences, then prints the speed ratio, and
also times rnnlab's texts_to_sequences on new copies of the texts (which cannot reuse the fit's
token ids, as for a test set).

    python benchmarks/tokenizer_speed.py [--repeats 3] [--limit N] [--num-words 10000]

The data is read with csv+gzip from ``$RNNLAB_DATA_DIR`` (default /work/shared/data).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

from keras_preprocessing import text as keras_text

from rnnlab.preprocessing import indexer
from rnnlab.preprocessing import text as rnnlab_text


def load_imdb_texts(data_dir: Path) -> list[str]:
    """The ``text`` column of imdb_train.csv.gz then imdb_test.csv.gz."""
    csv.field_size_limit(sys.maxsize)
    texts = []
    for name in ("imdb_train.csv.gz", "imdb_test.csv.gz"):
        path = data_dir / name
        if not path.is_file():
            raise SystemExit(f"{path} not found: set RNNLAB_DATA_DIR to the folder holding it")
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            texts.extend(row["text"] for row in csv.DictReader(fh))
    return texts


def run(module, texts, num_words):
    """One fit + transform; returns (fit seconds, transform seconds, tokenizer, sequences)."""
    t0 = time.perf_counter()
    tok = module.Tokenizer(num_words=num_words)
    tok.fit_on_texts(texts)
    t1 = time.perf_counter()
    seqs = tok.texts_to_sequences(texts)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, tok, seqs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N reviews")
    ap.add_argument("--num-words", type=int, default=10000)
    args = ap.parse_args(argv)

    data_dir = Path(os.environ.get("RNNLAB_DATA_DIR", "/work/shared/data"))
    texts = load_imdb_texts(data_dir)[: args.limit]
    print(f"{len(texts)} reviews, {sum(map(len, texts)):,} characters")
    compiled = indexer.compiled_indexer(rnnlab_text.DEFAULT_FILTERS, " ", False) is not None
    print(f"rnnlab indexes the corpus with the {'compiled' if compiled else 'reference'} path "
          "(rnnlab.preprocessing.indexer, following rnnlab.config.kernels())")

    times = {"rnnlab": [], "keras": []}
    results = {}
    for _ in range(args.repeats):
        for name, module in (("rnnlab", rnnlab_text), ("keras", keras_text)):
            fit, tr, tok, seqs = run(module, texts, args.num_words)
            times[name].append((fit, tr))
            results[name] = (tok, seqs)
            print(f"  {name:7s} fit {fit:6.2f} s  texts_to_sequences {tr:6.2f} s")

    (mine, my_seqs), (ref, ref_seqs) = results["rnnlab"], results["keras"]
    assert my_seqs == ref_seqs, "texts_to_sequences differs from keras-preprocessing"
    assert mine.word_index == ref.word_index, "word_index differs"
    assert list(mine.word_counts.items()) == list(ref.word_counts.items()), "word_counts differ"
    assert dict(mine.word_docs) == dict(ref.word_docs), "word_docs differ"
    assert dict(mine.index_docs) == dict(ref.index_docs), "index_docs differ"
    assert mine.document_count == ref.document_count

    # The same transform on new string objects (e.g. a test set): no reuse of the fit's tokens.
    copies = [(t + " ")[:-1] for t in texts]
    t0 = time.perf_counter()
    fresh = mine.texts_to_sequences(copies)
    fresh_time = time.perf_counter() - t0
    assert fresh == ref_seqs

    med = {k: statistics.median(f + t for f, t in v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:7s} median fit+transform {med[k]:6.2f} s "
              f"(fit {statistics.median(f for f, _ in v):.2f}, "
              f"transform {statistics.median(t for _, t in v):.2f})")
    print(f"rnnlab texts_to_sequences on new text objects (no fit cache): {fresh_time:.2f} s "
          f"({statistics.median(t for _, t in times['keras']) / fresh_time:.2f}x keras)")
    print(f"identical output; rnnlab is {med['keras'] / med['rnnlab']:.2f}x faster "
          f"than keras-preprocessing")
    return med["keras"] / med["rnnlab"]


if __name__ == "__main__":
    main()

"""Streamed fit from a large Parquet/CSV file against the in-memory fit (issue 18).

    python benchmarks/stream_fit.py --repeat 20 --steps 150       # 500,000 reviews on disk

Builds a corpus of ``--repeat`` copies of the IMDB training reviews (25,000 each) as Parquet
(and CSV with --csv) in --workdir, fits a Tokenizer on the 25,000 reviews, then in separate
subprocesses (so that each peak RSS is its own) trains the same masked LSTM for ``--steps``
batches of 64 (``--steps 0``: the whole file, one epoch):

- ``stream``: ``fit(TextFileDataset(file, tokenizer, batch_size=64, maxlen=200))``;
- ``memory``: the first 50,000 reviews tokenized and padded to 200 in memory, ``fit(x, y)``.

(``stream:N``: with ``prefetch=N``, the chunks read ahead by a background thread.)

It prints samples/s over the whole fit, samples/s after the first 10 batches (without the fixed
start-up: the stream's first chunk, Numba loading its cached kernels) and peak RSS (ru_maxrss).
Needs pyarrow (``rnnlab[arrow]``) and RNNLAB_DATA_DIR pointing at the IMDB files.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rnnlab import Sequential, config
from rnnlab.callbacks import LambdaCallback
from rnnlab.data.text_files import TextFileDataset
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer, tokenizer_from_json

BATCH, MAXLEN, VOCAB = 64, 200, 10000
WARM = 10           # batches left out of the steady rate


def imdb_table():
    path = Path(os.environ.get("RNNLAB_DATA_DIR", "../shared/data")) / "imdb_train.csv.gz"
    source = pa.input_stream(str(path), compression="detect")
    return pa_csv.read_csv(source, convert_options=pa_csv.ConvertOptions(
        include_columns=["label", "text"]))


def build_corpus(workdir: Path, repeat: int, csv: bool) -> Path:
    table = imdb_table()
    target = workdir / (f"imdb_x{repeat}.csv" if csv else f"imdb_x{repeat}.parquet")
    if target.exists():
        return target
    tmp = target.with_suffix(target.suffix + ".tmp")
    if csv:
        with pa_csv.CSVWriter(str(tmp), table.schema) as writer:
            for _ in range(repeat):
                writer.write_table(table)
    else:
        with pq.ParquetWriter(str(tmp), table.schema) as writer:
            for _ in range(repeat):
                writer.write_table(table, row_group_size=5000)
    tmp.rename(target)
    return target


def model():
    config.set_random_seed(0)
    m = Sequential([Embedding(VOCAB, 32, mask_zero=True), LSTM(32),
                    Dense(1, activation="sigmoid")])
    m.compile(Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    return m


def fit_tokenizer(workdir: Path) -> Path:
    """The vocabulary of the 25,000 reviews, fitted once and saved (each run loads it)."""
    path = workdir / "tokenizer.json"
    if not path.exists():
        tok = Tokenizer(num_words=VOCAB)
        tok.fit_on_texts(imdb_table().column("text").to_pylist())
        path.write_text(tok.to_json())
    return path


def run(mode: str, path: Path, steps: int) -> dict:
    tok = tokenizer_from_json(path.with_name("tokenizer.json").read_text())
    m = model()
    if mode.startswith("stream"):
        extra = {} if mode == "stream" else {"prefetch": int(mode.split(":")[1])}
        data = TextFileDataset(path, tok, batch_size=BATCH, maxlen=MAXLEN, **extra)
        kwargs = dict(steps_per_epoch=steps or None, shuffle=False)
        args = (data,)
    else:
        table = pq.read_table(path).slice(0, 50000) if path.suffix == ".parquet" else \
            pa_csv.read_csv(str(path)).slice(0, 50000)
        x = pad_sequences(tok.texts_to_sequences(table.column("text").to_pylist()),
                          maxlen=MAXLEN, padding="post", truncating="post")
        y = table.column("label").to_numpy()
        del table
        args = (x, y)
        kwargs = dict(batch_size=BATCH, steps_per_epoch=steps or None)
    rows = (pq.ParquetFile(path).metadata.num_rows if mode.startswith("stream")
            and path.suffix == ".parquet" else len(args[0]) if mode == "memory" else None)
    batches, ends = [], []

    def batch_end(batch, logs):
        batches.append(batch)
        ends.append(time.perf_counter())
    count = LambdaCallback(on_train_batch_end=batch_end)
    t0 = time.perf_counter()
    hist = m.fit(*args, epochs=1, verbose=0, callbacks=[count], **kwargs)
    seconds = time.perf_counter() - t0
    samples = len(batches) * BATCH if rows is None else min(len(batches) * BATCH, rows)
    # the rate after the first WARM batches: without the fixed start-up costs (the stream's
    # first reads, Numba loading its cached kernels), which a short run would otherwise weigh
    steady = ((len(ends) - 2 - WARM) * BATCH / (ends[-2] - ends[WARM])
              if len(ends) > WARM + 2 else float("nan"))
    return {"mode": mode, "samples_per_s": samples / seconds, "seconds": seconds,
            "steady_samples_per_s": steady,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loss": hist.history["loss"][-1]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--csv", action="store_true", help="a CSV corpus rather than Parquet")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/rnnlab_stream"))
    p.add_argument("--modes", default="memory,stream",
                   help="runs in this order, e.g. memory,stream,memory to bracket a long stream "
                        "run between two in-memory ones on a machine whose load drifts; "
                        "stream:N prefetches N chunks (stream:0: none)")
    p.add_argument("--child", help="one run: memory, stream or stream:N (N chunks prefetched)")
    p.add_argument("--path", type=Path)
    a = p.parse_args()
    if a.child:
        print(json.dumps(run(a.child, a.path, a.steps)))
        return
    a.workdir.mkdir(parents=True, exist_ok=True)
    path = build_corpus(a.workdir, a.repeat, a.csv)
    fit_tokenizer(a.workdir)
    print(f"corpus: {path} ({path.stat().st_size / 1e6:.0f} MB, {a.repeat * 25000:,} reviews)")
    for mode in a.modes.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--path", str(path),
                              "--steps", str(a.steps)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{mode:8s} {r['samples_per_s']:8.1f} samples/s (after batch {WARM}: "
              f"{r['steady_samples_per_s']:7.1f})  {r['seconds']:7.1f} s  "
              f"peak RSS {r['peak_rss_mb']:6.0f} MB  loss {r['loss']:.4f}  load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

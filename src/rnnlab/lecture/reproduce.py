"""``rnnlab reproduce``: run the lecture's experiments and write the report.

:func:`reproduce` is the whole run behind the command (the command only parses its options and
passes ``echo`` for the console): it checks the data, notes at the top whatever stands in for a
missing dataset or a quick run, runs the time-series and text experiments, and writes report.md,
report.html and the figures with :mod:`rnnlab.report`.
"""
from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from rnnlab import __version__, config, report, runtime
from rnnlab.datasets import cache_dir, data_dirs, yelp_polarity
from rnnlab.lecture import language as lect_language
from rnnlab.lecture import text as lect_text
from rnnlab.lecture import timeseries as lect_ts
from rnnlab.lecture import ts_tables
from rnnlab.lecture.results import table

__all__ = ["FULL", "PARTS", "QUICK", "ReproduceError", "reproduce", "versions", "yelp_present"]

QUICK = {"seeds": 1, "num_train": 8000, "num_test": 4000, "text_epochs": 6}
FULL = {"seeds": 5, "num_train": None, "num_test": None, "text_epochs": 100}
PARTS = ("timeseries", "text", "language", "all")


class ReproduceError(Exception):
    """The run cannot start or finish (bad data folder, unwritable report folder)."""


def versions() -> dict:
    """The versions of everything that shapes the numbers, for the report."""
    def ver(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"
    return {"python": platform.python_version(), "numpy": np.__version__, "numba": ver("numba"),
            "rnnlab": __version__, "matplotlib": ver("matplotlib"), "click": ver("click"),
            "kernels": config.kernels(), "platform": platform.platform()}


def yelp_present() -> bool:
    """Whether Yelp polarity files are on disk ($RNNLAB_DATA_DIR or the cache); no download."""
    return any(yelp_polarity._find_local(p) for p in [*data_dirs(), cache_dir()])


def _check_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".rnnlab-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ReproduceError(f"cannot write the report to {str(out)!r}: "
                             f"{e.strerror or e}") from None


def _scatter_shared(client, calls) -> list:
    """``calls`` with each distinct NumPy array in them scattered to the cluster once and
    replaced by its future: the trials that share the data (the padded reviews, the series)
    do not each carry a copy in their task."""
    arrays = {}
    for args in calls:
        for a in args:
            if isinstance(a, np.ndarray):
                arrays.setdefault(id(a), a)
    if not arrays:
        return list(calls)
    futures = dict(zip(arrays, client.scatter(list(arrays.values()), hash=False)))
    return [tuple(futures[id(a)] if isinstance(a, np.ndarray) else a for a in args)
            for args in calls]


def _dask_map(workers, scheduler, timeout, echo):
    """(map_trials, close) running each trial as a Dask task: on a new local cluster of
    ``workers`` one-thread processes, or on the scheduler at ``scheduler``."""
    try:
        from dask.distributed import Client, LocalCluster  # optional extra: rnnlab[dask]
    except ImportError:
        raise ReproduceError("--workers/--scheduler need Dask: pip install 'rnnlab[dask]'") \
            from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ReproduceError(f"cannot reach the Dask scheduler at {scheduler!r} within "
                                 f"{timeout:g} s ({type(exc).__name__}: {exc})") from None
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster, set_as_default=False)
    echo(f"Dask: {len(client.scheduler_info().get('workers', {}))} workers at "
         f"{client.scheduler.address}")

    def map_trials(fn, calls):
        calls = _scatter_shared(client, calls)
        futures = [client.submit(runtime.call_pinned, 1, fn, *args, pure=False)
                   for args in calls]
        return client.gather(futures)

    def close():
        client.close()
        if cluster is not None:
            cluster.close()

    return map_trials, close


def reproduce(part="all", quick=False, out=Path("rnnlab-report"), data_dir=None, seed=0,
              command="rnnlab reproduce", echo=print, corpus=None, workers=None, scheduler=None,
              timeout=10.0) -> dict:
    """Run the lecture's ``part`` ("timeseries", "text", "language" or "all") and write the
    report into ``out``; return :func:`rnnlab.report.write_report`'s paths.  ``corpus`` is a
    UTF-8 text file for the language model (default: the IMDB training reviews).

    ``quick`` uses :data:`QUICK` (one seed, review subsets, few text epochs) instead of
    :data:`FULL`; ``data_dir`` sets ``$RNNLAB_DATA_DIR`` for the run; ``command`` is the command
    line shown in the report; ``echo`` prints a console line.  ``workers`` (a local cluster of
    that many processes) or ``scheduler`` (an address) run the time-series seeds and the text
    models as Dask tasks, ``timeout`` seconds being the most waited for the scheduler to
    answer."""
    if part not in PARTS:
        raise ReproduceError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    out = Path(out)
    if data_dir is not None:
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise ReproduceError(f"--data-dir {str(data_dir)!r} is not an existing folder")
        os.environ["RNNLAB_DATA_DIR"] = str(data_dir.resolve())
    if corpus is not None and not Path(corpus).is_file():
        raise ReproduceError(f"--corpus {str(corpus)!r} is not an existing file")
    if workers is not None and scheduler is not None:
        raise ReproduceError("give --workers or --scheduler, not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ReproduceError(f"--workers must be a positive integer, got {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
        raise ReproduceError(f"--scheduler must be an address such as tcp://host:8786, got "
                             f"{scheduler!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ReproduceError(f"timeout must be a positive number of seconds, got {timeout!r}")
    _check_out(out)
    mode = QUICK if quick else FULL
    seeds = tuple(range(seed, seed + mode["seeds"]))
    started = datetime.datetime.now().astimezone()
    t_start = time.perf_counter()

    def say(prefix):
        return lambda msg: echo(f"[{time.perf_counter() - t_start:6.1f}s] {prefix}: {msg}")

    echo(f"rnnlab {__version__} reproduce: {'quick' if quick else 'full'} run, part {part}, "
         f"seeds {list(seeds)}, report in {out}")
    echo("checking data ...")
    notes, datasets = [], []
    ts_data = None
    if part in ("timeseries", "all"):
        ts_data, ts_synth = lect_ts.load()
        if ts_synth:
            notes.append("Note: the Fortune 500 file (fortune500_100_days.csv) was not found and "
                         "could not be downloaded; the time-series results below use rnnlab's "
                         "synthetic series, so they will not match the lecture's numbers.")
    if part in ("text", "all"):
        *_, synth = lect_text.load("imdb", None, mode["num_train"], mode["num_test"], seed)
        datasets.append("imdb")
        if synth:
            notes.append("Note: the IMDB review files (imdb_train.csv.gz, imdb_test.csv.gz) were "
                         "not found and could not be downloaded; the text results below use "
                         "rnnlab's synthetic reviews, so they will not match the lecture's or "
                         "Keras's accuracies.")
        if yelp_present():
            datasets.append("yelp")
        else:
            notes.append("Note: the Yelp polarity files were not found, so the lecture's Yelp "
                         "models ran on IMDB reviews only; the lecture's accuracies in the table "
                         "are for Yelp and are shown for reference.")
    if quick:
        parts = [f"{len(seeds)} seed"]
        if part in ("timeseries", "all"):
            q = ts_tables.QUICK
            parts.append(f"ARIMA on the first {q['arima_series']} series and "
                         f"{q['direction_epochs']} epochs for the up/down classifiers")
        if part in ("text", "all"):
            parts.append(f"review subsets of {mode['num_train']:,} train / "
                         f"{mode['num_test']:,} test and {mode['text_epochs']} text epochs")
        if part in ("language", "all"):
            lm = lect_language.QUICK
            parts.append(f"a language model on {lm['chars']:,} characters for up to "
                         f"{lm['epochs']} epochs")
        notes.append("Note: this is a quick run (--quick): " + ", ".join(parts) + ". The "
                     "deterministic numbers (baselines, from-scratch neuron) are exact; trained "
                     "models' numbers are rougher than a full run's.")
    for n in notes:
        echo(n)

    ctx = report.ReportContext(command=command, started=started.isoformat(timespec="seconds"),
                               quick=quick, seed=seed, notes=notes, versions=versions())
    ctx.settings.append(("seeds", ", ".join(map(str, seeds))))
    ctx.settings.append(("RNNLAB_DATA_DIR", os.environ.get("RNNLAB_DATA_DIR", "(not set)")))
    if part in ("timeseries", "all"):
        t0 = time.perf_counter()
        tables = ts_tables.QUICK if quick else ts_tables.FULL
        if workers is None and scheduler is None:
            res = lect_ts.run(seeds=seeds, progress=say("time series"), tables=tables)
        else:
            map_trials, close = _dask_map(workers, scheduler, timeout, echo)
            try:
                res = lect_ts.run(seeds=seeds, progress=say("time series"), map_trials=map_trials,
                                  tables=tables)
            finally:
                close()
            ctx.settings.append(("time-series seeds run as Dask tasks",
                                 scheduler or f"a local cluster of {workers} processes"))
        ctx.timings["time series"] = time.perf_counter() - t0
        ctx.timeseries = res
        tickers = list(ts_data.tickers)
        ctx.goog_index = tickers.index("GOOG") if "GOOG" in tickers else 0
        ctx.goog_name = tickers[ctx.goog_index]
        ctx.settings.append(("time-series epochs", ("from scratch 1000, SimpleRNN(1) 50, "
                                                   "stack 30 (the lecture's)")))
        echo(table(res.rows))
    text_dask = bool(datasets) and (workers is not None or scheduler is not None)
    map_text, close_text = (_dask_map(workers, scheduler, timeout, echo) if text_dask
                            else (lect_ts.serial_map, lambda: None))
    if text_dask:
        ctx.settings.append(("text models run as Dask tasks",
                             scheduler or f"a local cluster of {workers} processes"))
    for ds in datasets:
        t0 = time.perf_counter()
        # live per-epoch progress bars (tqdm) on a terminal; plain lines in logs
        try:
            res = lect_text.run(ds, num_train=mode["num_train"], num_test=mode["num_test"],
                                epochs=mode["text_epochs"], seed=seed,
                                progress=say(f"text/{ds}"), map_trials=map_text,
                                verbose=1 if sys.stdout.isatty() and not text_dask else 0)
        except BaseException:
            close_text()
            raise
        ctx.timings[f"text ({ds})"] = time.perf_counter() - t0
        ctx.texts.append(res)
        sizes = (f"{mode['num_train']:,} train / {mode['num_test']:,} test reviews"
                 if mode["num_train"] else "the full splits")
        ctx.settings.append((f"text ({res.dataset})",
                             (f"{sizes}, up to {mode['text_epochs']} epochs (EarlyStopping on "
                             "val_loss, patience 5), batch 30, max_features 10000, seq_len 100, "
                             f"seed {seed}")))
        echo(table(res.rows))
    close_text()
    if part in ("language", "all"):
        t0 = time.perf_counter()
        res = lect_language.run(quick=quick, path=corpus, seed=seed,
                                progress=say("language model"),
                                verbose=1 if sys.stdout.isatty() else 0)
        ctx.timings["language model"] = time.perf_counter() - t0
        ctx.language = res
        if res.synthetic:
            notes.append("Note: the IMDB review files were not found; the language model was "
                         "trained on rnnlab's synthetic reviews.")
        z, lm_mode = res.sizes, lect_language.QUICK if quick else lect_language.FULL
        ctx.settings.append(("language model", (
            f"{res.source}: {z['train_chars']:,} training / {z['held_chars']:,} held-out "
            f"characters, {z['symbols']} symbols, Embedding(32) → LSTM({z['units']}) → "
            f"softmax, up to {lm_mode['epochs']} epochs (EarlyStopping, patience 2), "
            f"seed {seed}")))
        echo(table(res.rows))
    config.set_random_seed(seed)
    echo(f"[{time.perf_counter() - t_start:6.1f}s] writing the report ...")
    ctx.seconds_total = time.perf_counter() - t_start
    try:
        paths = report.write_report(ctx, out)
    except OSError as e:
        raise ReproduceError(f"cannot write the report to {str(out)!r}: "
                             f"{e.strerror or e}") from None
    for n in notes:
        echo(n)
    echo(f"done in {time.perf_counter() - t_start:.1f}s: {paths['html']} and {paths['markdown']} "
         f"({len(paths['figures'])} figures)")
    return paths

"""The ``rnnlab`` command: reproduce the lecture end to end, train on a CSV, predict from a model.

This module only parses options (click) and prints: the lecture's run is
:func:`rnnlab.lecture.reproduce.reproduce`, training and prediction are the jobs of
:mod:`rnnlab.app`.  Bad input (missing file or column, empty CSV, non-numeric series, non-binary
labels, unwritable output, a series shorter than the window) ends with one line ``Error: ...`` on
stderr and exit code 1, never a traceback, and never leaves a partial model file behind.  An
``--out`` that is one of the command's inputs (the same file, a hard link or a symlink to it) is
refused before any work.
"""
from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

from rnnlab import __version__, app
from rnnlab.app import backtest as app_backtest
from rnnlab.app import export as app_export
from rnnlab.lecture import reproduce as lecture_reproduce


class _Group(click.Group):
    """A click group that remembers its argument list (for the report's command line)."""

    def make_context(self, info_name, args, parent=None, **extra):
        given = list(args)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["rnnlab.args"] = given
        return ctx


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="rnnlab",
                      message="%(prog)s %(version)s")
def main():
    """rnnlab: recurrent neural networks from scratch on NumPy, behind the Keras API.

    `reproduce` runs the lecture's experiments and writes a report; `train` fits a forecasting
    or text-classification model on a CSV file (or a language model on a text file); `predict`
    applies it to another CSV; `backtest` scores a forecaster and classical baselines over
    rolling origins; `generate` continues a prompt with a language model; `export`
    writes a model as ONNX or as a Keras 3 .keras file.  Run
    `rnnlab COMMAND --help` for the options of each command.
    """


def _command_line() -> str:
    """The exact command line of this run (as given, whether from a shell or CliRunner)."""
    args = click.get_current_context().find_root().meta.get("rnnlab.args", [])
    return "rnnlab " + " ".join(shlex.quote(a) for a in args)


# ----------------------------------------------------------------------------- reproduce
@main.command()
@click.option("--part", type=click.Choice(list(lecture_reproduce.PARTS)), default="all",
              show_default=True,
              help="Which half of the lecture to run: the Fortune 500 time series, the text "
                   "models, or both.")
@click.option("--quick", is_flag=True,
              help="A run of a few minutes: one seed, an IMDB (and Yelp) subset of 8,000 train "
                   "/ 4,000 test reviews and 6 text epochs, a language model on 300,000 "
                   "characters for 3 epochs.  The from-scratch neuron still runs its 1000 "
                   "epochs, so its exact numbers stay comparable.  The report says so.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("rnnlab-report"), show_default=True,
              help="Folder for report.html, report.md and the PNG figures (created if needed).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the data files (fortune500_100_days.csv, imdb_*.csv.gz, "
                   "Yelp CSVs); sets RNNLAB_DATA_DIR for this run.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="First random seed; a full run uses seeds N..N+4 for the Keras-style models.")
@click.option("--corpus", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A UTF-8 text file for the language model (the lecture's \"What is he going "
                   "to say next?\").  [default: the IMDB training reviews]")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Run the time-series seeds and text models as Dask tasks on a local cluster "
                   "of N one-thread processes (needs rnnlab[dask]).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the time-series seeds and text models as Dask tasks on the scheduler "
                   "at ADDRESS (tcp://host:8786); its workers need rnnlab installed.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Seconds to wait for --scheduler to answer.")
def reproduce(part, quick, out, data_dir, seed, corpus, workers, scheduler, timeout):
    """Run every experiment of the lecture and write a report comparing with its numbers.

    Time series: the mean and last-value baselines, the single-neuron RNN from scratch (1000
    epochs), SimpleRNN(1) and the SimpleRNN 10→5→1 stack.  Text: the Embedding→Dense MLP,
    SimpleRNN, Conv1D+SimpleRNN and LSTM models and the masked LSTM on IMDB, and on Yelp too
    when its files are present.  Language: "What is he going to say next?", a character LSTM
    on review text, its held-out bits per character next to the unigram and bigram baselines,
    and sample continuations at two temperatures.  When a dataset is missing and cannot be
    downloaded, that part runs on rnnlab's synthetic data and the console and report say so at
    the top.
    """
    try:
        lecture_reproduce.reproduce(part=part, quick=quick, out=out, data_dir=data_dir, seed=seed,
                                    command=_command_line(), echo=click.echo, corpus=corpus,
                                    workers=workers, scheduler=scheduler, timeout=timeout)
    except lecture_reproduce.ReproduceError as e:
        raise click.ClickException(str(e)) from None


# ----------------------------------------------------------------------------- train / predict
def _fail(err):
    raise click.ClickException(str(err)) from None


_MISSING_HELP = ("What a blank cell becomes: error names its line and column; drop skips it "
                 "(forecast: the value; classify: the row); ffill repeats the series' previous "
                 "value (forecast only).  Every other row is kept.")


@main.command()
@click.option("--data", required=True, metavar="FILE.csv",
              help="Training data, a CSV file with a header line.")
@click.option("--task", required=True, type=click.Choice(list(app.TASKS)),
              help="forecast: predict the next value(s) of numeric series; classify: binary "
                   "text classification; language-model: the next character (or word) of a "
                   "UTF-8 text file, for `rnnlab generate`.")
@click.option("--level", type=click.Choice(["char", "word"]), default=None,
              help="language-model: predict characters or words.  [default: char]")
@click.option("--model", "kind", type=click.Choice(list(app.MODELS)), default=None,
              help="Network: a recurrent layer (simple_rnn, lstm, gru), Conv1D then SimpleRNN "
                   "(conv1d_rnn) or a dense network (mlp), then a Dense output layer.  "
                   "[default: simple_rnn for forecast, lstm for classify]")
@click.option("--text-column", metavar="C", help="classify: the column holding the texts.")
@click.option("--label-column", metavar="L",
              help="classify: the column holding the labels; exactly two distinct values "
                   "(numbers: smaller = negative; words: alphabetical, e.g. neg < pos).")
@click.option("--window", type=int, metavar="W",
              help="forecast: how many past values the model sees.  Without --column it "
                   "defaults to each row's length minus --horizon when all rows are equally long "
                   "(the lecture's file: 100 days -> day 101).")
@click.option("--horizon", type=int, metavar="H",
              help="forecast: how many values to predict after each window.  [default: 1]")
@click.option("--column", metavar="C",
              help="forecast: the column holding one series (top to bottom).  Without it, each "
                   "row is a series, left to right; a first column with any non-numeric cell "
                   "is the row's name (e.g. a ticker).")
@click.option("--missing", type=click.Choice(["error", "drop", "ffill"]), default="error",
              show_default=True, help=_MISSING_HELP)
@click.option("--epochs", type=int, metavar="N",
              help="Training epochs.  [default: 20 for forecast, 5 for classify]")
@click.option("--batch-size", type=int, default=32, show_default=True, metavar="B",
              help="Mini-batch size.")
@click.option("--units", type=int, metavar="U",
              help="Cells of the recurrent (or hidden) layer.  [default: 16]")
@click.option("--learning-rate", type=float, metavar="LR",
              help="Adam's learning rate.  [default: 0.01 for forecast, 0.005 for classify]")
@click.option("--max-features", type=int, default=10000, show_default=True, metavar="F",
              help="classify: vocabulary size (the F most frequent words of the training texts).")
@click.option("--seq-len", type=int, default=100, show_default=True, metavar="L",
              help="classify: words per text; longer texts keep their last L words, shorter "
                   "ones are padded at the front (padding is masked).  language-model: tokens "
                   "per training window.")
@click.option("--seed", type=int, default=0, show_default=True, metavar="N",
              help="Random seed (initial weights, shuffling): the same seed gives the same model.")
@click.option("--out", required=True, metavar="MODEL",
              help="Where to save the model bundle: one file holding the model, the "
                   "tokenizer or scaler and the task settings (written atomically; never "
                   "the --data file).")
def train(data, task, level, kind, text_column, label_column, window, horizon, column, missing,
          epochs, batch_size, units, learning_rate, max_features, seq_len, seed, out):
    """Fit a model on a CSV file and save it, with its preprocessing, as one bundle file.

    \b
    forecast: windows of --window values -> the next --horizon values, scaled to [-1, 1].
      rnnlab train --data prices.csv --task forecast --window 100 --out prices.model
      rnnlab train --data sales.csv --task forecast --column units --window 12 --out s.model
    classify: texts -> Tokenizer -> padded sequences -> probability of the second label.
      rnnlab train --data reviews.csv --task classify --text-column text \\
          --label-column label --out reviews.model
    language-model: a UTF-8 text file -> the next character (--level word: word) at each step.
      rnnlab train --data corpus.txt --task language-model --out lm.model
    """
    t0 = time.perf_counter()

    def on_epoch(epoch, total, logs):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
        click.echo(f"epoch {epoch}/{total}: {shown}", err=True)
    try:
        s = app.train(data, task, out, model=kind, epochs=epochs, batch_size=batch_size,
                      seed=seed, units=units, learning_rate=learning_rate, column=column,
                      window=window, horizon=horizon, text_column=text_column,
                      label_column=label_column, max_features=max_features, seq_len=seq_len,
                      missing=missing, level=level, on_epoch=on_epoch,
                      progress=app.TrainProgress())
    except app.AppError as e:
        _fail(e)
    extra = "".join(f", {k} {v:.4f}" for k, v in s.extra.items())
    click.echo(f"trained {s.model} ({s.task}) on {s.samples:,} samples for {s.epochs} epochs: "
               f"loss {s.loss:.4f}{extra}; {time.perf_counter() - t0:.1f}s; saved {out}",
               err=True)


@main.command()
@click.option("--model", "model_path", required=True, metavar="MODEL",
              help="A model bundle written by `rnnlab train`.")
@click.option("--data", required=True, metavar="FILE.csv",
              help="Input CSV in the training file's layout (classify: the text column; the "
                   "label column is optional and, when present, gives an accuracy line).")
@click.option("--missing", type=click.Choice(["error", "drop", "ffill"]), default=None,
              help=_MISSING_HELP + "  [default: the model's --missing at training]")
@click.option("--out", default=None, metavar="FILE.csv",
              help="Where to write the predictions (atomically; never the --model or --data "
                   "file).  [default: standard output]")
def predict(model_path, data, missing, out):
    """Predict with a saved model: one output row per input row.

    \b
    forecast, one series per row: the row's name (or number) and forecast_1..forecast_H, the
      H values after the end of that row's series (from its last W values).
    forecast with a column: row, the value, and forecast_1..forecast_H, the H values after
      that row (from the W values ending at it; empty for the first W-1 rows, and for a blank
      row skipped by --missing drop).  The last row holds the forecast after the end of the
      series.
    classify: row, probability (of the second label) and the predicted label.
    """
    try:
        result = app.predict(model_path, data, out, missing=missing,
                             echo=lambda text: click.echo(text, nl=False))
    except app.AppError as e:
        _fail(e)
    if result.note:
        click.echo(result.note, err=True)
    if out is not None:
        click.echo(f"wrote {result.rows:,} predictions to {out}", err=True)


@main.command()
@click.option("--model", "model_path", required=True, metavar="MODEL",
              help="A language-model bundle (`rnnlab train --task language-model`).")
@click.option("--prompt", required=True, metavar="TEXT",
              help="The text to continue; every character (word) must occur in the training "
                   "text, since the model has no input for one it never saw.")
@click.option("--length", type=int, default=300, show_default=True, metavar="N",
              help="How many characters (or words) to generate.")
@click.option("--temperature", type=float, default=1.0, show_default=True, metavar="T",
              help="Sampling temperature (> 0): lower is more conservative.")
@click.option("--top-k", type=int, default=None, metavar="K",
              help="Sample among the K most likely tokens only.")
@click.option("--top-p", type=float, default=None, metavar="P",
              help="Sample among the most likely tokens whose probabilities sum to P, in (0, 1].")
@click.option("--greedy", is_flag=True, help="Always take the most likely token (no sampling).")
@click.option("--seed", type=int, default=None, metavar="N",
              help="Random seed: the same seed gives the same text.")
def generate(model_path, prompt, length, temperature, top_k, top_p, greedy, seed):
    """Continue a prompt with a language model, printing the text as it is made.

    \b
      rnnlab generate --model lm.model --prompt "The movie was" --length 300 --temperature 0.8
    """
    try:
        tokens = app.generate(model_path, prompt, length, temperature=temperature, top_k=top_k,
                              top_p=top_p, greedy=greedy, seed=seed)
    except app.AppError as e:
        _fail(e)
    click.echo(prompt, nl=False)
    for token in tokens:
        click.echo(token, nl=False)
        click.get_text_stream("stdout").flush()
    click.echo()


# ----------------------------------------------------------------------------- backtest
@main.command()
@click.option("--data", required=True, metavar="FILE.csv",
              help="A CSV file with a header line; --column holds the series, top to bottom.")
@click.option("--column", required=True, metavar="C", help="The column holding the series.")
@click.option("--horizon", required=True, type=int, metavar="H",
              help="Values forecast from each origin (the network has one output per step).")
@click.option("--folds", required=True, type=int, metavar="K",
              help="Forecast origins; the last fold ends with the series.")
@click.option("--stride", type=int, default=1, show_default=True, metavar="S",
              help="Values between two origins.")
@click.option("--window", type=int, default=12, show_default=True, metavar="W",
              help="Past values the network (and the linear autoregression) sees.")
@click.option("--train-size", type=int, default=None, metavar="N",
              help="Fit each fold on the last N values before its origin (a sliding window).  "
                   "[default: all of them, an expanding window]")
@click.option("--model", "kind", type=click.Choice(list(app_backtest.MODELS)), default="lstm",
              show_default=True, help="The network (one recurrent layer, then Dense(H)), or none.")
@click.option("--baselines", is_flag=True,
              help="Add naive, seasonal naive (with --season M > 1), drift, a linear "
                   "autoregression on the last W values, and ETS (if statsmodels is installed).")
@click.option("--season", type=int, default=None, metavar="M",
              help="The season's length: seasonal naive, ETS's season and MASE's scale.  "
                   "[default: 1, no season]")
@click.option("--epochs", type=int, default=20, show_default=True, metavar="N",
              help="The network's training epochs per fold.")
@click.option("--units", type=int, default=16, show_default=True, metavar="U",
              help="Cells of the recurrent layer.")
@click.option("--learning-rate", type=float, default=0.01, show_default=True, metavar="LR",
              help="Adam's learning rate.")
@click.option("--batch-size", type=int, default=32, show_default=True, metavar="B",
              help="Mini-batch size.")
@click.option("--seed", type=int, default=0, show_default=True, metavar="N",
              help="Random seed of the network's weights (the same in every fold).")
@click.option("--missing", type=click.Choice(["error", "drop", "ffill"]), default="error",
              show_default=True, help=_MISSING_HELP)
@click.option("--out", default=None, metavar="FILE.csv",
              help="Where to write the metrics, one row per model and fold plus an overall "
                   "row per model (atomically; never the --data file).  "
                   "[default: standard output]")
@click.option("--plot", default=None, metavar="FILE.png",
              help="Draw the series and each fold's forecast of the network (with --model "
                   "none: of the baseline with the lowest MASE).")
def backtest(data, column, horizon, folds, stride, window, train_size, kind, baselines, season,
             epochs, units, learning_rate, batch_size, seed, missing, out, plot):
    """Rolling-origin backtest: refit at each origin, forecast H values, score them.

    \b
    Metrics per fold and overall: MAE, RMSE, MAPE and sMAPE (percent), MASE (MAE over the
    in-sample MAE of the seasonal naive forecast) and the seconds each fold took.
      rnnlab backtest --data co2.csv --column ppm --horizon 12 --folds 5 --stride 12 \\
          --season 52 --baselines --out metrics.csv --plot folds.png
    """
    t0 = time.perf_counter()
    try:
        run = app_backtest.backtest(
            data, column, horizon, folds, stride=stride, window=window, train_size=train_size,
            baselines=baselines, season=season, model=kind, epochs=epochs, units=units,
            learning_rate=learning_rate, batch_size=batch_size, seed=seed, missing=missing,
            out=out, plot=plot, echo=lambda text: click.echo(text, nl=False))
    except app.AppError as e:
        _fail(e)
    for note in run.notes:
        click.echo(note, err=True)
    for name, res in run.results.items():
        o = res.overall()
        click.echo(f"{name}: MASE {o['mase']:.3f}, MAE {o['mae']:.4g}, sMAPE {o['smape']:.2f}% "
                   f"over {len(res.folds)} folds ({o['seconds']:.1f}s)", err=True)
    done = [f"wrote {out}"] if out is not None else []
    done += [f"plotted {run.plotted}'s folds in {plot}"] if plot is not None else []
    click.echo("; ".join(done + [f"{time.perf_counter() - t0:.1f}s"]), err=True)


# ----------------------------------------------------------------------------- export
@main.command()
@click.option("--model", "model_path", required=True, metavar="MODEL",
              help="A model bundle written by `rnnlab train`, an rnnlab model file, or a Keras "
                   ".keras / tf.keras .h5 file.")
@click.option("--out", required=True, metavar="FILE",
              help="Where to write the model (atomically; never the --model file).")
@click.option("--format", "fmt", type=click.Choice(sorted(app_export.FORMATS)), default=None,
              help="onnx (ONNX's own LSTM/GRU/RNN operators, for ONNX Runtime) or keras (a "
                   "Keras 3 .keras archive).  [default: from --out's suffix]")
def export(model_path, out, fmt):
    """Export a model's network for use outside rnnlab (a bundle's tokenizer or scaler is not
    part of it: the exported model takes token ids or scaled windows)."""
    try:
        written = app_export.export(model_path, out, fmt)
    except app.AppError as e:
        _fail(e)
    click.echo(f"wrote {out} ({written})", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

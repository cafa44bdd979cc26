"""The report of ``rnnlab reproduce``: report.md and report.html plus the PNG figures beside them.

The HTML is self-contained apart from those PNGs (inline CSS, no scripts, fonts or external
links), so it opens offline in any browser.  Both files carry the same content: notes first (e.g.
that synthetic data stood in for a missing dataset), the table lecture vs rnnlab, the figures
(loss curves, predicted-vs-true scatter plots, the GOOG series with each model's day-101
prediction), model summaries, seeds, versions, timings and the exact command line.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab import io as rio
from rnnlab import plotting

__all__ = ["Figure", "ReportContext", "Table", "make_figures", "results_table", "tables",
           "write_report"]


@dataclass
class Figure:
    file: str      # PNG name inside the report folder
    caption: str
    part: str      # "timeseries" or a text dataset's key


@dataclass
class ReportContext:
    """Everything the report shows; filled by the ``reproduce`` command."""
    command: str
    started: str
    quick: bool
    seed: int
    notes: list = field(default_factory=list)        # plain-words warnings shown at the top
    settings: list = field(default_factory=list)     # (name, value) lines
    versions: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)      # part -> seconds
    seconds_total: float = 0.0
    timeseries: object = None                        # lecture.timeseries.TimeSeriesResult
    goog_index: int = 0
    goog_name: str = "GOOG"
    texts: list = field(default_factory=list)        # lecture.text.TextResult per dataset
    language: object = None                          # lecture.language.LanguageResult
    figures: list = field(default_factory=list)
    figure_error: str = ""


_TS_LABELS = {"scratch": "from-scratch neuron", "simple_rnn": "SimpleRNN(1)",
              "stack": "SimpleRNN 10→5→1"}
_MARKERS = {"scratch": ("s", "tab:green"), "simple_rnn": ("^", "tab:orange"),
            "stack": ("o", "tab:red")}


def _text_key(res) -> str:
    return "text_" + "".join(c if c.isalnum() else "_" for c in res.dataset.split()[0].lower())


def make_figures(ctx: ReportContext, out: Path) -> list:
    """Draw every PNG into ``out``; returns the Figure entries (empty, with ``figure_error`` set,
    when matplotlib is not installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:  # plots are an optional extra
        ctx.figure_error = (f"Figures were not drawn: matplotlib is not installed ({e}); "
                            "install it with pip install rnnlab[plots].")
        return []
    figs = []
    ts = ctx.timeseries
    if ts is not None:
        if ts.scratch_losses is not None:
            plotting.plot_losses(ts.scratch_losses, path=out / "ts_scratch_losses.png")
            figs.append(Figure("ts_scratch_losses.png", "From-scratch neuron: MSE per epoch "
                               "(the lecture's plt.plot(mses))", "timeseries"))
        for key in ("simple_rnn", "stack"):
            if key in ts.histories:
                name = f"ts_{key}_history.png"
                plotting.plot_history(ts.histories[key], path=out / name)
                figs.append(Figure(name, f"{_TS_LABELS[key]}: training loss per epoch "
                                   f"(seed {ctx.seed})", "timeseries"))
        for key, pred in ts.predictions.items():
            name = f"ts_{key}_predictions.png"
            mse = float(np.mean((np.asarray(ts.y) - np.asarray(pred)) ** 2))
            plotting.plot_predictions(ts.y, pred, path=out / name,
                                      title=f"{_TS_LABELS.get(key, key)}: MSE {mse:.4f}")
            figs.append(Figure(name, f"{_TS_LABELS.get(key, key)}: predicted vs true day 101 "
                               "over all series", "timeseries"))
        if ts.goog is not None:
            figs.append(_goog_figure(ctx, out, plotting))
    for res in ctx.texts:
        key = _text_key(res)
        for kind, hist in res.histories.items():
            name = f"{key}_{kind}_history.png"
            plotting.plot_history(hist, path=out / name)
            figs.append(Figure(name, f"{res.dataset}: {kind} — loss and accuracy per epoch "
                               "(dashed: validation)", key))
    if ctx.language is not None and ctx.language.history:
        plotting.plot_history(ctx.language.history, path=out / "lm_history.png")
        figs.append(Figure("lm_history.png", "Character LSTM: training and validation loss "
                           "(cross-entropy in nats per character) per epoch", "language"))
    ctx.figures = figs
    return figs


def _goog_figure(ctx, out, plotting) -> Figure:
    """The lecture's plot_series(GOOG) with every model's prediction for day 101 added."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    ts = ctx.timeseries
    series = np.asarray(ts.goog, dtype=np.float64)
    fig = MplFigure(figsize=(8, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    n = series.size - 1
    for key, pred in ts.predictions.items():
        marker, color = _MARKERS.get(key, ("d", "tab:purple"))
        ax.plot([n], [float(np.asarray(pred)[ctx.goog_index])], marker, color=color,
                markersize=8, linestyle="none", label=f"{_TS_LABELS.get(key, key)}")
    ax.plot([], [], "bx", markersize=10, linestyle="none", label="true day 101")
    ax.legend(loc="upper left")
    name = "ts_goog_series.png"
    plotting.plot_series(series[:n], n_steps=n, y=series[n], ax=ax, path=out / name)
    return Figure(name, f"{ctx.goog_name}: days 1-100, the true day 101 (blue x) and each "
                  f"model's prediction for it (seed {ctx.seed})", "timeseries")


# ----------------------------------------------------------------------------- content
def _rows(ctx):
    """(part, experiment, lecture, rnnlab, note) for the main table."""
    return _result_rows(ctx.timeseries, ctx.texts, ctx.language)


def _result_rows(timeseries, texts, language):
    out = []
    if timeseries is not None:
        for r in timeseries.rows:
            out.append((f"time series ({timeseries.source})", r.experiment, r.lecture,
                        r.rnnlab, r.note))
    for res in texts:
        for r in res.rows:
            out.append((f"text ({res.dataset})", r.experiment, r.lecture, r.rnnlab, r.note))
    if language is not None:
        for r in language.rows:
            out.append((f"next character ({language.source})", r.experiment, r.lecture,
                        r.rnnlab, r.note))
    return out


@dataclass
class Table:
    """One of the report's tables: Markdown in report.md and in ``str()``, HTML in report.html
    and in a notebook (``_repr_html_``).  ``num``: the columns holding numbers (monospaced)."""
    head: tuple
    rows: list
    num: tuple = ()
    title: str = ""
    intro: str = ""
    verdict: str = ""

    def markdown(self) -> list:
        L = [f"## {self.title}", ""] if self.title else []
        L += [self.intro, ""] if self.intro else []
        L += _md_table(self.head, self.rows)
        return L + (["", f"**{self.verdict}**"] if self.verdict else [])

    def html(self) -> list:
        e = html.escape
        H = [f"<h2>{e(self.title)}</h2>"] if self.title else []
        H += [f"<p>{e(self.intro)}</p>"] if self.intro else []
        H += _html_table(self.head, self.rows, self.num)
        return H + ([f"<p><b>{e(self.verdict)}</b></p>"] if self.verdict else [])

    def _repr_html_(self) -> str:
        return "\n".join(self.html()).replace(
            'class="num"', 'class="num" style="font-family:monospace;text-align:right"')

    def __str__(self) -> str:
        return "\n".join(self.markdown())


_MAIN_HEAD = ("part", "experiment", "lecture", "rnnlab", "note")


def results_table(timeseries=None, texts=(), language=None, rows=(), part="") -> Table:
    """The table "Lecture vs rnnlab" of the lecture's results (``rnnlab.lecture`` results, or
    ``rows`` of :class:`rnnlab.lecture.results.Row` under the heading ``part``)."""
    cells = _result_rows(timeseries, list(texts), language)
    cells += [(part, r.experiment, r.lecture, r.rnnlab, r.note) for r in rows]
    return Table(_MAIN_HEAD, cells, num=(2, 3), title="Lecture vs rnnlab")


def tables(ctx) -> list:
    """The report's tables as :class:`Table` objects, in the report's order."""
    out = [results_table(ctx.timeseries, ctx.texts, ctx.language)]
    cls = _classification(ctx)
    if cls is not None:
        out.append(Table(_CLS_HEAD, cls[1], num=(1, 2, 3),
                         title="Time series: the classification setting", intro=cls[0]))
    wheel = _wheel(ctx)
    if wheel is not None:
        out.append(Table(_WHEEL_HEAD, wheel[1], num=(1, 3),
                         title="Time series: don't invent the wheel", intro=wheel[0],
                         verdict=wheel[2]))
    return out


_CLS_INTRO = ("The lecture's classification setting: will day 101 close above day 100? One "
              "example per ticker, a random {test} of {total} tickers held out; accuracy at 0.5 "
              "and ROC AUC on them (AUC 0.5: no better than chance). {up:.0%} of the held-out "
              "tickers closed up.")
_WHEEL_INTRO = ("“Time Series Analysis is a big deal in Statistics. Don't invent the wheel!” - "
                "classical forecasts of day 101 on the same 502 series next to the lecture's "
                "RNNs. Per series: fitted on that series' days 1-100 only, a true forecast. "
                "Pooled: one model over all series' (days → day 101) pairs, scored on the same "
                "pairs, as the lecture scores its RNNs. Seasonal naive is left out: 100 daily "
                "closes hold no season. Time: fitting and forecasting all series here.")


def _num(v, digits=4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _secs(v) -> str:
    return "-" if v is None else f"{v:.2f} s"


def _classification(ctx):
    """(intro, rows of cells) of the classification table, or None."""
    ts = ctx.timeseries
    rows = getattr(ts, "classification", None) if ts is not None else None
    if not rows:
        return None
    r0 = rows[0]
    intro = _CLS_INTRO.format(test=r0["test_series"], total=r0["test_series"] + r0["train_series"],
                              up=r0["test_up_share"])
    epochs = ts.table_settings.get("direction_epochs")
    if epochs is not None:
        intro += f" The RNNs trained for {epochs} epochs (seed {ctx.seed})."
    return intro, [(r["model"], _num(r["accuracy"], 3), _num(r["auc"], 3), _secs(r["seconds"]))
                   for r in rows]


def _wheel(ctx):
    """(intro, rows of cells, verdict) of the "Don't invent the wheel" table, or None."""
    ts = ctx.timeseries
    rows = getattr(ts, "wheel", None) if ts is not None else None
    if not rows:
        return None
    cells = [(r["model"], _num(r["mse"]), r["fit"], _secs(r["seconds"]), r["note"]) for r in rows]
    return _WHEEL_INTRO, cells, ts.wheel_verdict


_CLS_HEAD = ("approach", "accuracy", "AUC", "time")
_WHEEL_HEAD = ("approach", "MSE, day 101", "fitted on", "time", "note")


_NEXT_INTRO = ("The lecture opens with “What is he going to say next?”. A character-level "
               "LSTM answers one character at a time: below, its continuations of the same "
               "prompt at two sampling temperatures (lower: safer, more repetitive), one model "
               "step per new character. Its held-out bits per character are in the table "
               "above, next to the unigram and bigram baselines.")


def _samples(ctx):
    """(temperature, prompt, continuation) of the language model's samples."""
    lm = ctx.language
    if lm is None:
        return []
    return [(t, lm.prompt, text) for t, text in lm.samples.items()]


def _summaries(ctx):
    out = []
    if ctx.timeseries is not None:
        for k, s in ctx.timeseries.summaries.items():
            out.append((f"time series: {_TS_LABELS.get(k, k)}", s))
    for res in ctx.texts:
        for k, s in res.summaries.items():
            out.append((f"{res.dataset}: {k}", s))
    if ctx.language is not None:
        out.append(("language model: character LSTM", ctx.language.summary))
    return out


def _timings(ctx):
    out = [(f"part: {part}", f"{sec:.1f} s") for part, sec in ctx.timings.items()]
    if ctx.timeseries is not None:
        out += [(f"time series: {_TS_LABELS.get(k, k)}", f"{v:.1f} s")
                for k, v in ctx.timeseries.seconds.items()]
    for res in ctx.texts:
        out += [(f"{res.dataset}: {k} ({res.epochs.get(k, '?')} epochs)", f"{v:.1f} s")
                for k, v in res.seconds.items()]
    if ctx.language is not None:
        out.append((f"language model ({ctx.language.sizes.get('epochs', '?')} epochs)",
                    f"{ctx.language.seconds:.1f} s"))
    out.append(("total", f"{ctx.seconds_total:.1f} s"))
    return out


def _sources(ctx):
    out = []
    if ctx.timeseries is not None:
        out.append(("time series data", ctx.timeseries.source))
    for res in ctx.texts:
        out.append(("text data", res.dataset))
    return out


def _md_cell(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _markdown(ctx) -> str:
    L = ["# rnnlab reproduces the lecture", ""]
    for note in ctx.notes:
        L += [f"> **{note}**", ""]
    L += [f"Command: `{ctx.command}`  ", f"Started: {ctx.started}; experiments took "
          f"{ctx.seconds_total:.1f} s; mode: {'quick (--quick)' if ctx.quick else 'full'}", ""]
    for i, table in enumerate(tables(ctx)):
        L += ([] if i == 0 else [""]) + table.markdown()
    if ctx.language is not None:
        L += ["", "## What is he going to say next?", "", _NEXT_INTRO, ""]
        for t, prompt, text in _samples(ctx):
            L += [f"**temperature {t}**", "", "```", prompt + text, "```", ""]
    L += ["", "## Data and settings", ""]
    L += [f"- {k}: {v}" for k, v in _sources(ctx) + list(ctx.settings)]
    L += ["", "## Figures", ""]
    if ctx.figure_error:
        L += [ctx.figure_error, ""]
    for f in ctx.figures:
        L += [f"![{f.caption}]({f.file})", "", f"*{f.caption}*", ""]
    L += ["## Model summaries", ""]
    for title, s in _summaries(ctx):
        L += [f"### {title}", "", "```", s, "```", ""]
    L += ["## Timings", "", "| what | time |", "| --- | --- |"]
    L += [f"| {_md_cell(a)} | {b} |" for a, b in _timings(ctx)]
    L += ["", "## Versions", ""] + [f"- {k}: {v}" for k, v in ctx.versions.items()]
    L += ["", "## Reproduce this report", "", "```", ctx.command, "```", ""]
    return "\n".join(L)


def _md_table(head, rows) -> list:
    return (["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
            + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows])


def _html_table(head, rows, num=()) -> list:
    e = html.escape
    H = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        H.append("<tr>" + "".join(
            f'<td class="num">{e(str(c))}</td>' if i in num else f"<td>{e(str(c))}</td>"
            for i, c in enumerate(row)) + "</tr>")
    return H + ["</table>"]


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{font-family:monospace;white-space:nowrap}
.note{background:#fff4e5;border-left:5px solid #e69500;padding:.6em 1em;margin:.6em 0;
font-weight:600}
pre,code{font-family:Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto}
pre.sample{white-space:pre-wrap}
figure{display:inline-block;margin:.6em;vertical-align:top;max-width:48%}
figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.85em;color:#555}
"""


def _html(ctx) -> str:
    e = html.escape
    H = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         "<title>rnnlab reproduces the lecture</title>", f"<style>{_CSS}</style></head><body>",
         "<h1>rnnlab reproduces the lecture</h1>"]
    H += [f'<p class="note">{e(n)}</p>' for n in ctx.notes]
    H += [f"<p>Command: <code>{e(ctx.command)}</code><br>"
          f"Started: {e(ctx.started)}; experiments took "
          f"{ctx.seconds_total:.1f} s; mode: {'quick (--quick)' if ctx.quick else 'full'}</p>"]
    for table in tables(ctx):
        H += table.html()
    if ctx.language is not None:
        H += ["<h2>What is he going to say next?</h2>", f"<p>{e(_NEXT_INTRO)}</p>"]
        for t, prompt, text in _samples(ctx):
            H += [f"<h3>temperature {t}</h3>",
                  f'<pre class="sample"><b>{e(prompt)}</b>{e(text)}</pre>']
    H += ["<h2>Data and settings</h2>", "<ul>"]
    H += [f"<li>{e(k)}: {e(str(v))}</li>" for k, v in _sources(ctx) + list(ctx.settings)]
    H += ["</ul>", "<h2>Figures</h2>"]
    if ctx.figure_error:
        H.append(f"<p>{e(ctx.figure_error)}</p>")
    for f in ctx.figures:
        H.append(f'<figure><img src="{e(f.file)}" alt="{e(f.caption)}">'
                 f"<figcaption>{e(f.caption)}</figcaption></figure>")
    H.append("<h2>Model summaries</h2>")
    for title, s in _summaries(ctx):
        H += [f"<h3>{e(title)}</h3>", f"<pre>{e(s)}</pre>"]
    H += ["<h2>Timings</h2>", "<table><tr><th>what</th><th>time</th></tr>"]
    H += [f'<tr><td>{e(a)}</td><td class="num">{e(b)}</td></tr>' for a, b in _timings(ctx)]
    H += ["</table>", "<h2>Versions</h2>", "<ul>"]
    H += [f"<li>{e(k)}: {e(str(v))}</li>" for k, v in ctx.versions.items()]
    H += ["</ul>", "<h2>Reproduce this report</h2>", f"<pre>{e(ctx.command)}</pre>",
          '<p>The same content as Markdown: <a href="report.md">report.md</a>.</p>',
          "</body></html>", ""]
    return "\n".join(H)


def _write_text(path: Path, text: str) -> None:
    rio.write_text(path, text)


def write_report(ctx: ReportContext, out) -> dict:
    """Draw the figures and write report.md and report.html into ``out`` (created if needed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    make_figures(ctx, out)
    md, page = out / "report.md", out / "report.html"
    _write_text(md, _markdown(ctx))
    _write_text(page, _html(ctx))
    return {"markdown": md, "html": page, "figures": [out / f.file for f in ctx.figures]}

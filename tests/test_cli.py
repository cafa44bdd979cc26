"""The ``rnnlab`` command: reproduce writes a faithful report, train/predict round trips, bad input.

The expected lecture numbers below are the lecture's own printed values (DESIGN.md), not outputs of
rnnlab.  Everything runs in-process through click's CliRunner, so the download addresses can be
pointed at a closed local port (fast, deterministic "offline").
"""
import csv
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rnnlab import __version__, cli
from rnnlab.datasets import fortune500, imdb, synthetic, yelp_polarity
from rnnlab.lecture import language as lecture_language
from rnnlab.lecture import reproduce as lecture_reproduce

PNG = b"\x89PNG\r\n\x1a\n"
DEAD_URL = "http://127.0.0.1:9/nothing-here"  # the discard port: connection refused at once


def invoke(args):
    return CliRunner().invoke(cli.main, args, catch_exceptions=False)


class _Page(HTMLParser):
    """Collects table rows (as cell texts), referenced files and note paragraphs of a page."""

    def __init__(self):
        super().__init__()
        self.rows, self.refs, self.notes, self.tags = [], [], [], []
        self._row = self._cell = None
        self._in_note = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href"):
            if key in a:
                self.refs.append(a[key])
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "p" and "note" in (a.get("class") or ""):
            self._in_note = True
            self.notes.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)
            self._row = None
        elif tag == "p":
            self._in_note = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in_note:
            self.notes[-1] += data


def _page(path):
    p = _Page()
    p.feed(Path(path).read_text(encoding="utf-8"))
    return p


def _check_files_referenced(out: Path, page: _Page):
    assert page.refs, "the report references no figure"
    for ref in page.refs:
        assert "://" not in ref and not ref.startswith("/"), f"external reference {ref!r}"
        assert (out / ref).is_file(), f"report.html references missing {ref!r}"
    for png in out.glob("*.png"):
        data = png.read_bytes()
        assert data[:8] == PNG and data[12:16] == b"IHDR", png
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 100 and height > 100
    assert "script" not in page.tags and "link" not in page.tags


# ----------------------------------------------------------------------------- reproduce
def test_reproduce_timeseries_report_has_lecture_numbers(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "elsewhere"))  # --data-dir overrides
    out = tmp_path / "report"
    res = invoke(["reproduce", "--quick", "--part", "timeseries", "--out", str(out),
                  "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert "synthetic" not in res.output
    page = _page(out / "report.html")
    by_name = {r[1]: r for r in page.rows if len(r) == 5}
    expect = {  # the lecture's printed values
        "MSE, predict day 101 by the mean": "0.3516210",
        "MSE, predict day 101 by day 100": "0.0332892",
        "from-scratch neuron: w": "[-0.07161043, 1.15476269, 0.25800392]",
        "from-scratch neuron: MSE": "0.03900926",
        "SimpleRNN 10→5→1: parameters": "207",
    }
    for name, value in expect.items():
        assert by_name[name][2] == value and by_name[name][3] == value, by_name[name]
    assert any(name.startswith("SimpleRNN(1)") for name in by_name)
    _check_files_referenced(out, page)
    names = {p.name for p in out.glob("*.png")}
    assert {"ts_scratch_losses.png", "ts_goog_series.png", "ts_stack_predictions.png"} <= names
    md = (out / "report.md").read_text(encoding="utf-8")
    for value in expect.values():
        assert f"| {value} | {value} |" in md
    for needle in ("rnnlab reproduce --quick --part timeseries", "numpy", "numba", "python",
                   __version__, "quick", "seeds: 0", 'Model: "'):
        assert needle in md, needle
    assert page.notes and "quick run" in page.notes[0]


def test_reproduce_offline_says_synthetic_at_the_top(tmp_path, monkeypatch):
    empty, cache = tmp_path / "data", tmp_path / "cache"
    empty.mkdir()
    cache.mkdir()
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(empty))
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(cache))
    monkeypatch.setattr(fortune500, "URL", DEAD_URL)
    monkeypatch.setattr(imdb, "ARCHIVE_URL", DEAD_URL)
    monkeypatch.setattr(yelp_polarity, "URL", DEAD_URL)
    monkeypatch.setattr(lecture_reproduce, "QUICK", {"seeds": 1, "num_train": 60, "num_test": 40,
                                                     "text_epochs": 1})  # text half: seconds
    monkeypatch.setattr(lecture_language, "QUICK", {"chars": 6000, "units": 8, "epochs": 1,
                                                    "seq_len": 40, "batch_size": 32,
                                                    "learning_rate": 0.01})
    out = tmp_path / "report"
    res = invoke(["reproduce", "--quick", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    first_progress = next(i for i, line in enumerate(lines) if line.startswith("["))
    head = "\n".join(lines[:first_progress])
    assert "Fortune 500 file" in head and "synthetic series" in head
    assert "IMDB" in head and "synthetic reviews" in head
    md = (out / "report.md").read_text(encoding="utf-8")
    top = md.split("## Lecture vs rnnlab")[0]
    assert "synthetic series" in top and "will not match the lecture" in top
    assert "synthetic reviews" in top
    assert "language model was trained on rnnlab's synthetic reviews" in top
    page = _page(out / "report.html")
    assert any("synthetic series" in n for n in page.notes[:3])
    _check_files_referenced(out, page)
    # nothing was left in the cache by the failed downloads
    assert not [p for p in cache.rglob("*") if p.is_file()]


# ----------------------------------------------------------------------------- train / predict
def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_forecast_round_trip_rows_and_column(tmp_path):
    d = synthetic.time_series(n_series=12, n_steps=25, seed=3)
    series = _write_csv(tmp_path / "series.csv", ["Fortune500", *d.dates],
                        [[t, *x, y] for t, x, y in zip(d.tickers, d.X, d.y)])
    model = tmp_path / "s.model"
    res = invoke(["train", "--data", str(series), "--task", "forecast", "--window", "8",
                  "--epochs", "3", "--seed", "1", "--out", str(model)])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(model) as zf:
        assert sorted(zf.namelist()) == ["bundle.json", "manifest.json", "model.rnnlab"]
    preds = tmp_path / "p.csv"
    res = invoke(["predict", "--model", str(model), "--data", str(series), "--out", str(preds)])
    assert res.exit_code == 0, res.output
    header, rows = _read_csv(preds)
    assert header == ["Fortune500", "forecast_1"]
    assert [r[0] for r in rows] == list(d.tickers)          # one row per input row
    values = np.array([float(r[1]) for r in rows])
    assert np.all(np.isfinite(values)) and values.std() > 0
    # same seed, same data -> the same model and predictions (stdout this time)
    again = tmp_path / "s2.model"
    invoke(["train", "--data", str(series), "--task", "forecast", "--window", "8", "--epochs",
            "3", "--seed", "1", "--out", str(again)])
    res = invoke(["predict", "--model", str(again), "--data", str(series)])
    assert res.stdout == preds.read_text(encoding="utf-8")

    # one series in a column: a smooth sine the model must beat "repeat the last value" on
    t = np.arange(90)
    col = _write_csv(tmp_path / "col.csv", ["day", "units"],
                     [[i, f"{v:.6f}"] for i, v in zip(t, 20 + 10 * np.sin(t / 4))])
    res = invoke(["train", "--data", str(col), "--task", "forecast", "--column", "units",
                  "--window", "12", "--horizon", "2", "--model", "gru", "--epochs", "40",
                  "--out", str(model)])
    assert res.exit_code == 0, res.output
    res = invoke(["predict", "--model", str(model), "--data", str(col)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(res.stdout.splitlines()))
    assert rows[0] == ["row", "units", "forecast_1", "forecast_2"] and len(rows) == 1 + 90
    body = rows[1:]
    assert all(r[2] == "" for r in body[:11]) and all(r[2] for r in body[11:])
    s = np.array([float(r[1]) for r in body])
    f1 = np.array([float(r[2]) for r in body[11:-1]])       # forecast for the next row
    model_err = np.mean((f1 - s[12:]) ** 2)
    naive_err = np.mean((s[11:-1] - s[12:]) ** 2)
    assert model_err < naive_err, (model_err, naive_err)


def test_classify_round_trip(tmp_path):
    texts, labels = synthetic.reviews(n=200, seed=5)
    data = _write_csv(tmp_path / "reviews.csv", ["id", "review", "sentiment"],
                      [[i, t, ["negative", "positive"][y]]
                       for i, (t, y) in enumerate(zip(texts, labels))])
    model = tmp_path / "r.model"
    res = invoke(["train", "--data", str(data), "--task", "classify", "--text-column", "review",
                  "--label-column", "sentiment", "--epochs", "8", "--out", str(model)])
    assert res.exit_code == 0, res.output
    unlabeled = _write_csv(tmp_path / "new.csv", ["review"], [[t] for t in texts])
    res = invoke(["predict", "--model", str(model), "--data", str(unlabeled)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(res.stdout.splitlines()))
    assert rows[0] == ["row", "probability", "label"] and len(rows) == 201
    p = np.array([float(r[1]) for r in rows[1:]])
    assert np.all((p >= 0) & (p <= 1))
    assert [r[2] for r in rows[1:]] == ["positive" if q >= 0.5 else "negative" for q in p]
    acc = np.mean((p >= 0.5) == (labels == 1))
    assert acc > 0.65, acc                                   # it learnt something


# ----------------------------------------------------------------------------- bad input
@pytest.fixture
def bad_files(tmp_path):
    f = {}
    f["empty"] = tmp_path / "empty.csv"
    f["empty"].write_text("")
    f["header_only"] = _write_csv(tmp_path / "header.csv", ["a", "b"], [])
    f["words"] = _write_csv(tmp_path / "words.csv", ["name", "d1", "d2", "d3"],
                            [["A", "1", "2", "3"], ["B", "4", "oops", "6"]])
    f["short"] = _write_csv(tmp_path / "short.csv", ["name", "d1", "d2", "d3"],
                            [["A", "1", "2", "3"], ["B", "4", "5", "6"]])
    f["col"] = _write_csv(tmp_path / "col.csv", ["v"], [[i] for i in range(20)])
    f["three"] = _write_csv(tmp_path / "three.csv", ["text", "label"],
                            [["good", "pos"], ["bad", "neg"], ["meh", "neutral"]])
    f["one"] = _write_csv(tmp_path / "one.csv", ["text", "label"], [["good", "1"], ["ok", "1"]])
    return f


def _bad_cases(f, tmp):
    fc = ["--task", "forecast"]
    cl = ["--task", "classify", "--text-column", "text", "--label-column", "label"]
    out = ["--out", str(tmp / "m.model")]
    return {
        "missing file": (["train", "--data", str(tmp / "nope.csv"), *fc, "--window", "2", *out],
                         "does not exist"),
        "missing column": (["train", "--data", str(f["col"]), *fc, "--column", "x",
                            "--window", "2", *out], "column 'x'"),
        "missing text column": (["train", "--data", str(f["three"]), "--task", "classify",
                                 "--text-column", "body", "--label-column", "label", *out],
                                "column 'body'"),
        "empty csv": (["train", "--data", str(f["empty"]), *fc, "--window", "2", *out], "empty"),
        "header only": (["train", "--data", str(f["header_only"]), *cl, *out], "no data rows"),
        "non-numeric": (["train", "--data", str(f["words"]), *fc, "--window", "1", *out],
                        "'oops' is not a number"),
        "three labels": (["train", "--data", str(f["three"]), *cl, *out], "not binary"),
        "one label": (["train", "--data", str(f["one"]), *cl, *out], "not binary"),
        "unwritable out": (["train", "--data", str(f["col"]), *fc, "--column", "v", "--window",
                            "2", "--out", str(tmp / "no" / "such" / "dir" / "m.model")],
                           "does not exist"),
        "out is a folder": (["train", "--data", str(f["col"]), *fc, "--column", "v", "--window",
                             "2", "--out", str(tmp)], "is a directory"),
        "too short": (["train", "--data", str(f["short"]), *fc, "--window", "3", *out],
                      "too short"),
        "too short column": (["train", "--data", str(f["col"]), *fc, "--column", "v",
                              "--window", "19", "--horizon", "2", *out], "too short"),
        "predict missing model": (["predict", "--model", str(tmp / "m.model"), "--data",
                                   str(f["col"])], "does not exist"),
        "predict not a model": (["predict", "--model", str(f["col"]), "--data", str(f["col"])],
                                "not an rnnlab model"),
    }


def _assert_clean_failure(res, needle, folder, before, progress=False):
    """Exit code != 0, one "Error:" line (after training progress lines, if any), no traceback,
    and the folder holds exactly what it held before (no model, no temporary file)."""
    assert res.exit_code == 1, (res.exit_code, res.output)
    assert isinstance(res.exception, SystemExit), res.exception   # ClickException, not a crash
    assert "Traceback" not in res.output
    err = [line for line in res.stderr.splitlines() if line.strip()]
    if progress:
        err = [line for line in err if not line.startswith("epoch ")]
    assert len(err) == 1 and err[0].startswith("Error: "), res.stderr
    assert needle in err[0], err[0]
    assert sorted(p.name for p in folder.iterdir()) == before  # no model, no temp file


def test_bad_input_gives_one_line_error_and_no_file(tmp_path, bad_files):
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, (args, needle) in _bad_cases(bad_files, tmp_path).items():
        res = CliRunner().invoke(cli.main, args)
        _assert_clean_failure(res, needle, tmp_path, before)


def test_failed_write_leaves_no_partial_file(tmp_path, bad_files, monkeypatch):
    from rnnlab import io
    series = bad_files["col"]
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(io.os, "replace", broken_replace)  # the atomic writer's
    res = CliRunner().invoke(cli.main, ["train", "--data", str(series), "--task", "forecast",
                                        "--column", "v", "--window", "3", "--epochs", "1",
                                        "--out", str(tmp_path / "m.model")])
    _assert_clean_failure(res, "No space left on device", tmp_path, before, progress=True)


def test_predict_unwritable_out_and_short_series(tmp_path, bad_files):
    model = tmp_path / "m.model"
    res = invoke(["train", "--data", str(bad_files["col"]), "--task", "forecast", "--column",
                  "v", "--window", "5", "--epochs", "1", "--out", str(model)])
    assert res.exit_code == 0, res.output
    before = sorted(p.name for p in tmp_path.iterdir())
    short = _write_csv(tmp_path / "s.csv", ["v"], [[1], [2]])
    before.append("s.csv")
    before.sort()
    res = CliRunner().invoke(cli.main, ["predict", "--model", str(model), "--data", str(short)])
    _assert_clean_failure(res, "too short", tmp_path, before)
    res = CliRunner().invoke(cli.main, ["predict", "--model", str(model), "--data",
                                        str(bad_files["col"]), "--out",
                                        str(tmp_path / "nodir" / "p.csv")])
    _assert_clean_failure(res, "does not exist", tmp_path, before)


def test_help_and_version():
    res = invoke(["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"rnnlab {__version__}"
    res = invoke(["--help"])
    assert all(c in res.output for c in ("reproduce", "train", "predict"))
    for cmd in ("reproduce", "train", "predict"):
        res = invoke([cmd, "--help"])
        assert res.exit_code == 0
        command = cli.main.commands[cmd]
        for param in command.params:
            assert param.help, f"{cmd} {param.name} has no help text"
            assert param.opts[0] in res.output

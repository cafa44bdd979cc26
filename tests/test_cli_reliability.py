"""The ``rnnlab`` command's reliability (issue 15, item 2): it never writes over one of its inputs,
keeps every data row (a blank cell is an error naming its line, or ``--missing`` says what to
do), names physical lines, refuses duplicate column names, streams its files (memory does not
grow with the file when predicting) and leaves files as they were when it rejects a call.

Everything runs in-process through click's CliRunner on small generated files.
"""
import csv
import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from rnnlab import cli
from rnnlab.app import load_bundle, tasks
from rnnlab.io import archive_bytes


def run(args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def ok(args):
    res = run(args)
    assert res.exit_code == 0, res.output
    return res


def error(args, *needles):
    """The call fails with one ``Error:`` line holding every needle, and no traceback."""
    res = run(args)
    assert res.exit_code == 1, (res.exit_code, res.output)
    assert isinstance(res.exception, SystemExit), res.exception
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("epoch ")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert res.stdout == ""
    return lines[0]


def snapshot(folder):
    """Every file of ``folder`` (names, bytes): a rejected call must leave it equal."""
    return {p.name: p.read_bytes() if p.is_file() and not p.is_symlink() else os.readlink(p)
            for p in sorted(folder.iterdir())}


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def series_csv(path, values, header="v"):
    lines = [header] + [f"{v:.6f}" if isinstance(v, float) else v for v in values]
    return write(path, "\r\n".join(lines) + "\r\n")


def sine(n, start=0):
    return [float(20 + 10 * np.sin(t / 4)) for t in range(start, start + n)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A forecast model (window 5, one column) and its training file, shared read-only."""
    folder = tmp_path_factory.mktemp("trained")
    data = series_csv(folder / "train.csv", sine(40))
    model = folder / "m.model"
    ok(["train", "--data", data, "--task", "forecast", "--column", "v", "--window", 5,
        "--epochs", 1, "--out", model])
    return data, model


# ----------------------------------------------------------------------------- inputs kept
def test_train_refuses_out_that_is_its_data(tmp_path):
    data = series_csv(tmp_path / "s.csv", sine(30))
    os.link(data, tmp_path / "hard.csv")
    os.symlink("s.csv", tmp_path / "sym.csv")
    before = snapshot(tmp_path)
    train = ["train", "--task", "forecast", "--column", "v", "--window", 3, "--epochs", 1]
    for out in (data, tmp_path / "." / "s.csv", tmp_path / "hard.csv", tmp_path / "sym.csv"):
        error(train + ["--data", data, "--out", out], "--out", "same file as --data")
        assert snapshot(tmp_path) == before
    # the data given through the link, the output by its real name: the same file too
    error(train + ["--data", tmp_path / "hard.csv", "--out", data], "same file as --data")
    assert snapshot(tmp_path) == before


def test_predict_refuses_out_that_is_its_model_or_data(tmp_path, trained):
    data, model = trained
    d = tmp_path / "data.csv"
    d.write_bytes(data.read_bytes())
    m = tmp_path / "m.model"
    m.write_bytes(model.read_bytes())
    os.link(m, tmp_path / "model-link")
    os.symlink("data.csv", tmp_path / "data-link.csv")
    before = snapshot(tmp_path)
    for out, option in ((d, "--data"), (m, "--model"), (tmp_path / "model-link", "--model"),
                        (tmp_path / "data-link.csv", "--data"),
                        (tmp_path / ".." / tmp_path.name / "data.csv", "--data")):
        error(["predict", "--model", m, "--data", d, "--out", out], f"same file as {option}")
        assert snapshot(tmp_path) == before
    ok(["predict", "--model", m, "--data", d, "--out", tmp_path / "p.csv"])   # others are fine


# ----------------------------------------------------------------------------- blank cells
def _one_column_with_blanks(path):
    """60 data rows; rows 11 and 31 blank: one written by csv ("") and one an empty line."""
    vals = sine(60)
    lines = ["v"] + [f"{v:.6f}" for v in vals]
    lines[11] = '""'
    lines[31] = ""
    write(path, "\n".join(lines) + "\n\n")          # a trailing empty line is not a row
    return vals


def test_blank_cell_is_an_error_naming_its_line(tmp_path, trained):
    _, model = trained
    data = tmp_path / "one.csv"
    _one_column_with_blanks(data)
    train = ["train", "--data", data, "--task", "forecast", "--column", "v", "--window", 5,
             "--epochs", 1, "--out", tmp_path / "m.model"]
    before = snapshot(tmp_path)
    error(train, "line 12, column 'v' is blank", "--missing drop", "--missing ffill")
    error(["predict", "--model", model, "--data", data], "line 12, column 'v' is blank")
    error(["predict", "--model", model, "--data", data, "--out", tmp_path / "p.csv"],
          "line 12")
    assert snapshot(tmp_path) == before
    # a blank in a wider file too (the cell between two commas)
    wide = write(tmp_path / "wide.csv", "day,v\n1,2\n2,\n3,4\n")
    error(train[:2] + [wide] + train[3:], "line 3, column 'v' is blank")


def test_missing_drop_and_ffill_keep_every_row(tmp_path, trained):
    _, model = trained
    data = tmp_path / "one.csv"
    vals = _one_column_with_blanks(data)
    rows = {}
    for how in ("drop", "ffill"):
        res = ok(["predict", "--model", model, "--data", data, "--missing", how])
        body = list(csv.reader(io.StringIO(res.stdout)))[1:]
        assert len(body) == 60 and [r[0] for r in body] == [str(i) for i in range(1, 61)]
        rows[how] = body
    drop, ffill = rows["drop"], rows["ffill"]
    assert drop[10] == ["11", "", ""] and drop[30] == ["31", "", ""]   # blank rows stay blank
    assert float(drop[11][1]) == pytest.approx(vals[11], abs=1e-6)
    assert ffill[10][1] == ffill[9][1] and ffill[30][1] == ffill[29][1]  # the previous value
    assert all(r[2] for r in ffill[4:]) and not any(r[2] for r in ffill[:4])
    # drop: a forecast needs 5 values ending at its row (blanks skipped): none on row 11 only
    assert [bool(r[2]) for r in drop[4:16]] == [True] * 6 + [False] + [True] * 5
    # the forecast at a row uses the 5 values ending at it, blanks skipped
    m, meta = load_bundle(model)
    task = tasks.ForecastTask.from_config(meta["forecast"])
    window = np.array([float(drop[i][1]) for i in (6, 7, 8, 9, 11)])   # rows 7-10 and 12
    assert drop[11][2] == format(float(task._run(m, window[None])[0, 0]), ".7g")
    # training: drop gives the 58 values' windows, ffill all 60
    for how, samples in (("drop", 58 - 5), ("ffill", 60 - 5)):
        out = tmp_path / f"{how}.model"
        res = ok(["train", "--data", data, "--task", "forecast", "--column", "v", "--window", 5,
                  "--epochs", 1, "--missing", how, "--out", out])
        assert f"on {samples} samples" in res.stderr
        # and predict uses the model's own setting by default
        assert ok(["predict", "--model", out, "--data", data]).stdout.count("\n") == 61
    # ffill cannot fill a blank first value
    first = series_csv(tmp_path / "first.csv", [""] + sine(10))
    error(["predict", "--model", model, "--data", first, "--missing", "ffill"],
          "line 2, column 'v' is blank", "no earlier value")


def test_rows_layout_blank_cells(tmp_path):
    data = write(tmp_path / "rows.csv", "name,d1,d2,d3,d4\nA,1,2,3,4\nB,5,,7,8\nC,1,2,,\n")
    train = ["train", "--data", data, "--task", "forecast", "--window", 1, "--epochs", 1]
    error(train + ["--out", tmp_path / "m"], "line 3, column 'd2' is blank")
    res = ok(train + ["--missing", "drop", "--out", tmp_path / "m"])
    assert "on 6 samples" in res.stderr      # windows of A (1-4): 3, B (5,7,8): 2, C (1,2): 1
    res = ok(["predict", "--model", tmp_path / "m", "--data", data])     # drop, from the model
    assert [r[0] for r in csv.reader(io.StringIO(res.stdout))] == ["name", "A", "B", "C"]


def test_classify_blank_text_or_label(tmp_path):
    texts = ["good fun", "bad plot", "great cast", "awful", "nice", "boring"] * 3
    rows = [[t, ["neg", "pos"][i % 2]] for i, t in enumerate(texts)]
    rows[4][0] = "   "
    rows[7][1] = ""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["text", "label"]] + rows)
    data = write(tmp_path / "r.csv", buf.getvalue())
    train = ["train", "--data", data, "--task", "classify", "--text-column", "text",
             "--label-column", "label", "--epochs", 1, "--model", "mlp"]
    error(train + ["--out", tmp_path / "m"], "line 6, column 'text' is blank",
          "--missing drop")
    error(train + ["--missing", "ffill", "--out", tmp_path / "m"], "ffill is for --task forecast")
    res = ok(train + ["--missing", "drop", "--out", tmp_path / "m"])
    assert "on 16 samples" in res.stderr
    out = list(csv.reader(io.StringIO(ok(["predict", "--model", tmp_path / "m", "--data",
                                          data]).stdout)))
    assert len(out) == 19 and out[5] == ["5", "", ""] and out[8][1]   # blank label: predicted
    third = write(tmp_path / "three.csv", "text,label\n\na,x\nb,y\n\nc,z\n")
    error(["train", "--data", third, "--task", "classify", "--text-column", "text",
           "--label-column", "label", "--out", tmp_path / "m3"], "not binary", "line 6", "'z'")


# ----------------------------------------------------------------------------- lines, headers
def test_errors_name_the_physical_line(tmp_path):
    train = ["--task", "forecast", "--window", 1, "--epochs", 1, "--out", tmp_path / "m"]
    text = ('\n\nnote,v\n"two\nlines",1\n\n\n"three\nlines\nhere",2\n\nx,oops\n')
    data = write(tmp_path / "a.csv", text)                  # 'oops' is on line 12
    error(["train", "--data", data, "--column", "v", *train], "line 12, column 'v'", "'oops'")
    # the bad cell after a multi-line field of the same record
    data = write(tmp_path / "b.csv", 'note,v\n"a",1\n"x\ny\nz",bad\n')
    error(["train", "--data", data, "--column", "v", *train], "line 5, column 'v'")
    # one series per row: the row's line and the column's name
    data = write(tmp_path / "c.csv", "name,d1,d2\n\nA,1,2\n\n\nB,3,x\n")
    error(["train", "--data", data, *train], "line 6, column 'd2'", "'x' is not a number")
    bad = tmp_path / "d.csv"
    bad.write_bytes(b"v\n1\n2\n3\n\xff\xfe4\n")
    error(["train", "--data", bad, "--column", "v", *train], "not UTF-8", "line 5")


def test_duplicate_column_names_are_refused(tmp_path, trained):
    _, model = trained
    data = write(tmp_path / "dup.csv", "day,v,v\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n")
    error(["train", "--data", data, "--task", "forecast", "--column", "v", "--window", 1,
           "--out", tmp_path / "m"], "column name 'v' appears twice", "columns 2 and 3")
    error(["predict", "--model", model, "--data", data], "'v' appears twice")
    texts = write(tmp_path / "t.csv", "text,label,text\na,1,b\nc,0,d\n")
    error(["train", "--data", texts, "--task", "classify", "--text-column", "text",
           "--label-column", "label", "--out", tmp_path / "m"], "'text' appears twice")
    assert not (tmp_path / "m").exists()


# ----------------------------------------------------------------------------- streaming
def _predict_rows(model, values):
    """What predict must write for a one-column series: every window at once, in one
    ``model.predict`` call with Keras's default batches of 32."""
    m, meta = load_bundle(model)
    scaler = tasks.MinMaxScaler.from_config(meta["forecast"]["scaler"])
    w = meta["forecast"]["window"]
    s = scaler.transform(np.array(values))
    x = np.lib.stride_tricks.sliding_window_view(s, w)[:, :, None]
    p = scaler.inverse_transform(np.asarray(m.predict(x, verbose=0), dtype=np.float64)[:, 0])
    rows = [[str(i + 1), format(v, ".7g"), ""] for i, v in enumerate(values)]
    for i, f in enumerate(p):
        rows[i + w - 1][2] = format(float(f), ".7g")
    return rows


def test_streamed_prediction_equals_one_call(tmp_path, trained, monkeypatch):
    """Small chunks and predict groups (so that the file crosses many of both) and large
    batches give exactly the rows of one model.predict over the whole series."""
    _, model = trained
    monkeypatch.setattr(tasks, "CHUNK", 37)
    monkeypatch.setattr(tasks, "PREDICT_ROWS", 64)
    values = [round(v, 6) for v in sine(1000, start=7)]
    data = series_csv(tmp_path / "long.csv", values)
    out = tmp_path / "p.csv"
    ok(["predict", "--model", model, "--data", data, "--out", out])
    got = list(csv.reader(io.StringIO(out.read_text())))
    assert got[0] == ["row", "v", "forecast_1"]
    assert got[1:] == _predict_rows(model, values)
    res = ok(["predict", "--model", model, "--data", data])          # stdout: the same bytes
    assert res.stdout == out.read_text()


def test_rejected_predict_writes_nothing(tmp_path, trained, monkeypatch):
    """A bad value after many rows were already predicted: --out keeps its old bytes, no
    temporary file stays, nothing is printed."""
    _, model = trained
    monkeypatch.setattr(tasks, "CHUNK", 50)
    monkeypatch.setattr(tasks, "PREDICT_ROWS", 32)
    data = series_csv(tmp_path / "late.csv", sine(500) + ["1e999"])
    out = tmp_path / "p.csv"
    out.write_text("precious\n")
    before = snapshot(tmp_path)
    error(["predict", "--model", model, "--data", data, "--out", out], "line 502",
          "not a number")
    assert snapshot(tmp_path) == before
    error(["predict", "--model", model, "--data", data], "line 502")


def _peak(args):
    tracemalloc.start()
    try:
        ok(args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_memory_does_not_grow_with_the_file(tmp_path, trained, monkeypatch):
    """Peak traced memory (NumPy buffers included) of predict on 2,000 and 16,000 rows: the
    same order, since rows are streamed (reading every row first would need 8 times more)."""
    _, model = trained
    monkeypatch.setattr(tasks, "CHUNK", 1024)
    monkeypatch.setattr(tasks, "PREDICT_ROWS", 512)
    warm = series_csv(tmp_path / "warm.csv", sine(1_000))
    ok(["predict", "--model", model, "--data", warm, "--out", tmp_path / "p.csv"])
    peaks = []
    for n in (2_000, 16_000):
        data = series_csv(tmp_path / f"{n}.csv", sine(n))
        peaks.append(_peak(["predict", "--model", model, "--data", data, "--out",
                            tmp_path / "p.csv"]))
    assert peaks[1] < 2 * peaks[0], peaks


def test_train_windows_are_views(tmp_path):
    """One series in a column: the windows are views of the scaled series (no copy per window):
    train's peak stays far below one float64 copy of all windows."""
    n, window = 20_000, 64
    data = series_csv(tmp_path / "s.csv", sine(n))
    peak = _peak(["train", "--data", data, "--task", "forecast", "--column", "v", "--window",
                  window, "--units", 2, "--epochs", 1, "--batch-size", 512, "--out",
                  tmp_path / "m.model"])
    windows_bytes = (n - window) * window * 8
    assert peak < windows_bytes, (peak, windows_bytes)


def test_train_and_predict_help_show_missing():
    for cmd in ("train", "predict"):
        res = ok([cmd, "--help"])
        assert "--missing" in res.output and "ffill" in res.output


def test_bundle_records_missing(tmp_path):
    data = series_csv(tmp_path / "s.csv", sine(20))
    ok(["train", "--data", data, "--task", "forecast", "--column", "v", "--window", 3,
        "--epochs", 1, "--missing", "ffill", "--out", tmp_path / "m"])
    with zipfile.ZipFile(tmp_path / "m") as zf:
        assert json.loads(zf.read("bundle.json"))["forecast"]["missing"] == "ffill"


# ----------------------------------------------------------------------------- hostile bundles
def _rezip(path, members):
    """A bundle with ``members`` replaced (and a manifest that matches, so only the size and
    content checks stand between the file and the reader)."""
    with zipfile.ZipFile(path) as zf:
        old = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
    old.update(members)
    path.write_bytes(archive_bytes(old))


def test_a_bombed_bundle_is_refused_before_inflating(tmp_path, trained):
    data, model = trained
    bomb = tmp_path / "bomb.model"
    bomb.write_bytes(model.read_bytes())
    _rezip(bomb, {"model.rnnlab": bytes(256 << 20)})        # 256 MiB of zeros: ~250 KB packed
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        message = error(["predict", "--model", bomb, "--data", data], "bomb.model",
                        "model.rnnlab", "more than")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 16 << 20, peak
    assert "would inflate to 268,435,456 bytes" in message


@pytest.mark.parametrize("meta", [{"format": "rnnlab-bundle", "format_version": 1, "task": ["x"]},
                                  {"format": "rnnlab-bundle", "format_version": 1,
                                   "task": "forecast", "forecast": [1, 2]},
                                  {"format": "rnnlab-bundle", "format_version": 1,
                                   "task": "forecast", "forecast": {"window": 5}}])
def test_a_malformed_bundle_json_is_one_error_line(tmp_path, trained, meta):
    data, model = trained
    bad = tmp_path / "bad.model"
    bad.write_bytes(model.read_bytes())
    _rezip(bad, {"bundle.json": json.dumps(meta).encode()})
    error(["predict", "--model", bad, "--data", data], "bad.model")

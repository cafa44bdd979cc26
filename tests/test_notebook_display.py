"""What a notebook shows: summary() as an HTML table with the printed table's rows and counts
(and the printed table unchanged outside a kernel), the report's tables as HTML, LivePlot's
curves equal to the history, and, in a real Jupyter kernel, summary() displayed as HTML, tqdm's
widget bar and LivePlot's one image updated in place."""
import re
from html.parser import HTMLParser

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from rnnlab import Input, Model, Sequential, config, report
from rnnlab.layers import LSTM, Concatenate, Dense, Embedding, SimpleRNN
from rnnlab.lecture import text as lecture_text
from rnnlab.lecture.results import Row
from rnnlab.notebook import LivePlot


class _Cells(HTMLParser):
    """The text of each <tr>'s cells, per table."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _html_tables(html):
    p = _Cells()
    p.feed(html)
    return p.tables


def _stack():
    return Sequential([SimpleRNN(10, return_sequences=True, input_shape=[None, 1]),
                       SimpleRNN(5, return_sequences=True), SimpleRNN(1)], name="stack")


def _two_inputs():
    a, b = Input((4,), name="a"), Input((3,), name="b")
    return Model([a, b], Dense(2, name="out")(Concatenate()([Dense(5, name="da")(a), b])),
                 name="two")


@pytest.mark.parametrize("build", [_stack, lambda: lecture_text.build_model("lstm"),
                                   lambda: lecture_text.build_model("conv1d_rnn"), _two_inputs])
def test_summary_html_holds_the_printed_rows_and_counts(build):
    model = build()
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    layer_rows, totals = _html_tables(model.summary_table()._repr_html_())
    head, body = layer_rows[0], layer_rows[1:]
    assert head[:3] == ["Layer (type)", "Output Shape", "Param #"]
    printed = [l for l in text.splitlines() if l and l[0].isalpha() and "(" in l
               and not l.startswith(("Model:", "Layer (type)", "Total", "Trainable", "Non-"))]
    assert len(body) == len(printed) == len(model.layers) + (2 if _is_functional(model) else 0)
    for cells, line in zip(body, printed):   # same layer, shape, count on the same row
        assert line.startswith(cells[0]) and cells[1] in line, (cells, line)
        assert re.search(rf"\s{re.escape(cells[2])}(\s|$)", line), (cells, line)
    counts = {label.rstrip(":"): n for label, n in totals}
    for label in ("Total params", "Trainable params", "Non-trainable params"):
        assert f"{label}: {counts[label]}" in text
    assert counts["Total params"] == f"{model.count_params():,}"
    assert f'Model: "{model.name}"' in model.summary_table()._repr_html_()


def _is_functional(model):
    return not isinstance(model, Sequential)


def test_lecture_lstm_summary_html_has_the_lectures_numbers():
    html = lecture_text.build_model("lstm").summary_table()._repr_html_()
    body = _html_tables(html)[0][1:]
    assert [r[2] for r in body] == ["500,050", "2,440", "48"]
    assert "502,538" in html


STACK_PRINTED = """Model: "stack"
________________________________________________________
Layer (type)               Output Shape       Param #
========================================================
simple_rnn (SimpleRNN)     (None, None, 10)   120

simple_rnn_1 (SimpleRNN)   (None, None, 5)    80

simple_rnn_2 (SimpleRNN)   (None, 1)          7
========================================================
Total params: 207
Trainable params: 207
Non-trainable params: 0
________________________________________________________
"""


def test_summary_prints_the_same_table_outside_a_kernel(capsys):
    config.set_random_seed(0)
    model = Sequential([
        SimpleRNN(10, return_sequences=True, input_shape=[None, 1], name="simple_rnn"),
        SimpleRNN(5, return_sequences=True, name="simple_rnn_1"),
        SimpleRNN(1, name="simple_rnn_2")], name="stack")
    assert model.summary() is None
    assert capsys.readouterr().out == STACK_PRINTED
    model.summary(80)                                  # Keras's first positional: line_length
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "_" * 80 and out[2] == "Layer (type)               Output Shape       Param #"


def test_summary_positions_place_the_columns():
    lines = []
    _stack().summary(line_length=60, positions=[0.45, 0.8, 1.0], print_fn=lines.append)
    out = lines[0].splitlines()
    assert out[1] == "_" * 60
    head = out[2]
    assert head.index("Output Shape") == 27 and head.index("Param #") == 48
    lines = []
    _stack().summary(positions=[30, 50, 60], print_fn=lines.append)
    assert lines[0].splitlines()[2].index("Param #") == 50


@pytest.mark.parametrize("kwargs,error", [
    (dict(positions=[0.5, 1.0]), "one entry per column"),
    (dict(positions=[0.6, 0.5, 1.0]), "increasing"),
    (dict(positions="abc"), "positions"),
    (dict(line_length=0), "line_length"),
    (dict(print_fn="print"), "print_fn must be callable"),
])
def test_summary_rejects_bad_arguments(kwargs, error, capsys):
    with pytest.raises((TypeError, ValueError), match=error):
        _stack().summary(**kwargs)
    assert capsys.readouterr().out == ""


def test_report_tables_render_as_html():
    rows = [Row("SimpleRNN 10→5→1: MSE", "0.0262", "0.0251", "a <note>"),
            Row("SimpleRNN 10→5→1: parameters", "207", "207")]
    table = report.results_table(rows=rows, part="time series")
    head, *body = _html_tables(table._repr_html_())[0]
    assert head == ["part", "experiment", "lecture", "rnnlab", "note"]
    assert body == [["time series", "SimpleRNN 10→5→1: MSE", "0.0262", "0.0251", "a <note>"],
                    ["time series", "SimpleRNN 10→5→1: parameters", "207", "207", ""]]
    assert "a &lt;note&gt;" in table._repr_html_()
    assert "| time series | SimpleRNN 10→5→1: MSE | 0.0262 | 0.0251 | a <note> |" in str(table)


def _xy(ax, label):
    line = next(l for l in ax.get_lines() if l.get_label() == label)
    return list(line.get_xdata()), list(line.get_ydata())


def test_live_plot_draws_the_history(capsys):
    config.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(60, 7))
    y = (x[:, 0] > 10).astype("float32")
    model = Sequential([Embedding(20, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    live = LivePlot()
    hist = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, validation_freq=2,
                     verbose=0, callbacks=[live])
    assert capsys.readouterr().out == ""                      # no kernel: nothing displayed
    loss_ax, acc_ax = live.figure.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    xs, ys = _xy(loss_ax, "loss")
    assert xs == [1, 2, 3, 4] and np.allclose(ys, hist.history["loss"])
    xs, ys = _xy(loss_ax, "val_loss")
    assert xs == [2, 4] and np.allclose(ys, hist.history["val_loss"])   # the epochs it was run
    xs, ys = _xy(acc_ax, "accuracy")
    assert np.allclose(ys, hist.history["accuracy"])
    live.figure.canvas.draw()                                  # it really renders (Agg)
    assert np.asarray(live.figure.canvas.buffer_rgba()).std() > 0


def test_live_plot_metrics_choose_the_panels():
    config.set_random_seed(0)
    x, y = np.random.default_rng(1).normal(size=(32, 5, 2)), np.zeros((32, 1))
    model = Sequential([SimpleRNN(2, input_shape=(5, 2)), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    live = LivePlot(metrics="val_loss")
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[live])
    (ax,) = live.figure.axes
    assert {l.get_label() for l in ax.get_lines()} == {"loss", "val_loss"}


@pytest.mark.parametrize("kwargs,error", [(dict(metrics=[]), "metrics"),
                                          (dict(metrics=[3]), "metrics"),
                                          (dict(figsize=(4,)), "figsize"),
                                          (dict(figsize=(4, -1)), "figsize")])
def test_live_plot_rejects_bad_arguments(kwargs, error):
    with pytest.raises((TypeError, ValueError), match=error):
        LivePlot(**kwargs)


KERNEL_CELLS = [
    "from rnnlab import Sequential\nfrom rnnlab.layers import SimpleRNN\n"
    "from rnnlab.notebook import LivePlot\nfrom rnnlab.models.training import notebook_bars\n"
    "import numpy as np\n"
    "model = Sequential([SimpleRNN(10, return_sequences=True, input_shape=[None, 1]),\n"
    "                    SimpleRNN(5, return_sequences=True), SimpleRNN(1)])\n"
    "model.compile(optimizer='adam', loss='mse')",
    "model.summary()",
    "lines = []\nmodel.summary(print_fn=lines.append)\nprint(len(lines))",
    "print(notebook_bars())\n"
    "x = np.random.default_rng(0).normal(size=(40, 6, 1)); y = x[:, -1]\n"
    "h = model.fit(x, y, epochs=3, batch_size=20, verbose=1, callbacks=[LivePlot()])",
]


def test_in_a_jupyter_kernel():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in KERNEL_CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    summary, printed, fit = (c.outputs for c in nb.cells[1:])
    (shown,) = summary
    assert shown.output_type == "display_data"
    html = shown.data["text/html"]
    body = _html_tables(html)[0][1:]
    assert [r[2] for r in body] == ["120", "80", "7"] and "207" in html
    assert shown.data["text/plain"].startswith('Model: "sequential')   # the printed table
    assert printed[0].text == "1\n"                  # print_fn still gets the text, not HTML
    kinds = [(o.output_type, sorted(o.get("data", {}))) for o in fit]
    assert fit[0].text.startswith("True")            # tqdm.auto chose the widget bar
    bars = [o for o in fit if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(bars) == 3, kinds                     # one bar per epoch
    images = [o for o in fit if "image/png" in o.get("data", {})]
    assert len(images) == 1, kinds                   # one curve, redrawn in place

"""Plots render headless to real PNGs, show what they claim, and reject bad input clearly."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnnlab import plotting

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=5000):
    """A real, non-blank PNG: signature, size, and pixels that are not all one colour."""
    import matplotlib.image as mpimg

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert len(data) > min_bytes
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    rgb = img[..., :3]
    assert rgb.std() > 0.01, "image is blank"
    # something other than white and light grid: dark or coloured pixels from the data
    assert np.mean(rgb.min(axis=2) < 0.5) > 0.001


def _lines(ax):
    return [ln for ln in ax.get_lines()]


def test_plot_series_like_the_lecture(tmp_path):
    t = np.arange(100)
    series = np.sin(t / 10)
    path = tmp_path / "sub" / "dir" / "series.png"   # parents created
    fig = plotting.plot_series(series, 100, 0.3, 0.25, y_label="MMM", path=path)
    assert_png(path)
    ax = fig.axes[0]
    lines = _lines(ax)
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_ydata(), series)
    assert lines[0].get_marker() == "." and lines[0].get_linestyle() == "-"
    assert lines[1].get_color() == "b" and lines[1].get_marker() == "x"
    assert list(lines[1].get_xdata()) == [100] and list(lines[1].get_ydata()) == [0.3]
    assert lines[2].get_color() == "r" and lines[2].get_marker() == "o"
    assert list(lines[2].get_ydata()) == [0.25]
    assert ax.get_xlim() == (0, 101) and ax.get_ylim() == (-1, 1)
    assert ax.get_ylabel() == "MMM" and ax.get_xlabel() == "$t$"


def test_plot_series_lecture_call_with_object_row(tmp_path):
    # the lecture's ``df[df['Fortune500'] == 'GOOG'].values[0][1:]`` is an object array
    row = np.array(["GOOG"] + list(np.linspace(-1, 1, 101)), dtype=object)
    google = row[1:]
    fig = plotting.plot_series(google[:-1], 100, google[-1], y_label=" ", path=tmp_path / "g.png")
    assert_png(tmp_path / "g.png")
    assert len(_lines(fig.axes[0])) == 2


def test_plot_series_into_given_axes_and_wide_data(tmp_path):
    from matplotlib.figure import Figure

    host = Figure()
    ax = host.add_subplot(1, 2, 2)
    fig = plotting.plot_series(np.linspace(0, 3, 20), ax=ax)
    assert fig is host
    lo, hi = ax.get_ylim()
    assert lo < -1 + 1e-9 and hi > 3  # widened for data beyond [-1, 1]
    assert ax.get_xlim() == (0, 21)


def test_plot_history_draws_val_curves(tmp_path):
    hist = {"loss": [0.9, 0.5, 0.4, 0.35], "val_loss": [1.0, 0.7, 0.6, 0.58],
            "mae": [0.8, 0.6, 0.5, 0.45], "val_mae": [0.85, 0.7, 0.65, 0.6]}
    fig = plotting.plot_history(hist, path=tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    assert len(fig.axes) == 2
    assert [ln.get_label() for ln in _lines(fig.axes[0])] == ["loss", "val_loss"]
    assert [ln.get_label() for ln in _lines(fig.axes[1])] == ["mae", "val_mae"]
    np.testing.assert_array_equal(_lines(fig.axes[0])[1].get_ydata(), hist["val_loss"])
    np.testing.assert_array_equal(_lines(fig.axes[0])[0].get_xdata(), [1, 2, 3, 4])


def test_plot_history_without_val_and_history_object(tmp_path):
    class History:  # Keras's History carries the dict in .history
        history = {"mae": [0.3, 0.2], "loss": [1.0, 0.5]}

    fig = plotting.plot_history(History(), path=tmp_path / "h.png")
    assert_png(tmp_path / "h.png", min_bytes=3000)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "mae"]  # loss first
    assert all(len(_lines(ax)) == 1 for ax in fig.axes)
    fig = plotting.plot_history({"loss": [1, 0.5], "val_loss": [2, 1], "mae": [1, 1]},
                                metrics="loss")
    assert len(fig.axes) == 1 and len(_lines(fig.axes[0])) == 2


def test_plot_predictions(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, 80)
    p = y + 0.1 * rng.normal(size=80)
    fig = plotting.plot_predictions(y[:, None], p, path=tmp_path / "p.png", title="SimpleRNN")
    assert_png(tmp_path / "p.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "y_true" and ax.get_ylabel() == "y_pred"
    assert ax.get_title() == "SimpleRNN"
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(offsets), np.column_stack([y, p]))
    identity = _lines(ax)[0]
    np.testing.assert_array_equal(identity.get_xdata(), identity.get_ydata())


def test_plot_losses(tmp_path):
    losses = 0.5 * np.exp(-np.arange(1000) / 200) + 0.04
    fig = plotting.plot_losses(losses, path=tmp_path / "l.png")
    assert_png(tmp_path / "l.png")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "MSE-Loss" and ax.get_xlabel() == "Epoch"
    np.testing.assert_array_equal(_lines(ax)[0].get_ydata(), losses)


def test_no_path_returns_figure_without_writing(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    figs = [plotting.plot_series([0.1, 0.2]), plotting.plot_history({"loss": [1.0]}),
            plotting.plot_predictions([1, 2], [1, 2]), plotting.plot_losses([1.0, 0.5])]
    assert all(isinstance(f, Figure) for f in figs)
    assert list(tmp_path.iterdir()) == []


def test_headless_without_mplbackend_and_lazy_import(tmp_path):
    """In a fresh process with no MPLBACKEND and no DISPLAY: importing rnnlab does not import
    matplotlib, and plotting never touches pyplot (so no GUI backend and no window)."""
    code = textwrap.dedent(f"""
        import sys
        import rnnlab, rnnlab.plotting as P
        assert "matplotlib" not in sys.modules, "import rnnlab pulled in matplotlib"
        P.plot_series([0.1, -0.2, 0.3], 3, 0.4, 0.35, path={str(tmp_path / 's.png')!r})
        P.plot_history({{"loss": [1, 0.5], "val_loss": [1.2, 0.8]}},
                       path={str(tmp_path / 'h.png')!r})
        P.plot_predictions([0, 1], [0.1, 0.9], path={str(tmp_path / 'p.png')!r})
        P.plot_losses([1.0, 0.5, 0.25], path={str(tmp_path / 'l.png')!r})
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
    for name in ("s", "h", "p", "l"):
        assert_png(tmp_path / f"{name}.png", min_bytes=3000)


def test_bad_input():
    with pytest.raises(ValueError, match="same number of values, got 3 and 2"):
        plotting.plot_predictions([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_predictions([], [])
    with pytest.raises(ValueError, match="history is empty"):
        plotting.plot_history({})

    class Empty:
        history = {}

    with pytest.raises(ValueError, match="history is empty"):
        plotting.plot_history(Empty())
    with pytest.raises(TypeError, match="history must be a dict"):
        plotting.plot_history([0.5, 0.4])
    with pytest.raises(ValueError, match=r"history\['loss'\] must be a non-empty list"):
        plotting.plot_history({"loss": []})
    with pytest.raises(KeyError, match="metric 'acc' is not in the history"):
        plotting.plot_history({"loss": [1.0]}, metrics=["acc"])
    with pytest.raises(TypeError, match="history\\['loss'\\] must be numeric"):
        plotting.plot_history({"loss": ["a", "b"]})
    with pytest.raises(ValueError, match="series must be a non-empty 1-D"):
        plotting.plot_series(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="series must be a non-empty 1-D"):
        plotting.plot_series([])
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        plotting.plot_series([0.1, 0.2], n_steps=0)
    with pytest.raises(ValueError, match="losses must be a non-empty 1-D"):
        plotting.plot_losses([])
    with pytest.raises(TypeError, match="y_true must be numeric"):
        plotting.plot_predictions(["a"], [1.0])

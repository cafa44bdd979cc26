"""``rnnlab backtest``: a CSV of per-fold metrics (checked against forecasts and metrics computed
by hand), a plot, baselines, and one clear ``Error:`` line for each bad input, with no file
written or changed; ``rnnlab train --task forecast --horizon H`` round trip."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from rnnlab import cli

PNG = b"\x89PNG\r\n\x1a\n"


def invoke(args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def _series(path, values, column="v", blank_at=None):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["t", column])
        for i, v in enumerate(values):
            w.writerow([i, "" if i == blank_at else repr(float(v))])
    return path


def _seasonal(n=60, m=6):
    t = np.arange(n)
    return 10 + 0.1 * t + 2 * np.sin(2 * np.pi * t / m) + np.random.default_rng(0).normal(0, .2, n)


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_baselines_metrics_match_hand_computation(tmp_path):
    y = _seasonal()
    data, out = _series(tmp_path / "s.csv", y), tmp_path / "metrics.csv"
    res = invoke(["backtest", "--data", data, "--column", "v", "--horizon", 4, "--folds", 3,
                  "--stride", 5, "--season", 6, "--baselines", "--model", "none",
                  "--window", 3, "--out", out])
    assert res.exit_code == 0, res.output
    rows = _read(out)
    models = list(dict.fromkeys(r["model"] for r in rows))
    assert models[:4] == ["naive", "seasonal_naive(m=6)", "drift", "linear_ar(k=3)"]
    assert any(m.startswith("ets(") for m in models)                     # statsmodels is here
    naive = [r for r in rows if r["model"] == "naive"]
    assert [r["fold"] for r in naive] == ["0", "1", "2", "overall"]
    origins = [60 - 4 - 5 * (3 - 1 - i) for i in range(3)]
    assert [int(r["origin"]) for r in naive[:3]] == origins
    maes, mases = [], []
    for r, o in zip(naive, origins):
        err = y[o:o + 4] - y[o - 1]                                     # naive: the last value
        scale = np.mean(np.abs(y[6:o] - y[:o - 6]))                     # in-sample, season 6
        maes.append(np.mean(np.abs(err)))
        mases.append(maes[-1] / scale)
        assert float(r["mae"]) == pytest.approx(maes[-1], rel=1e-12)
        assert float(r["rmse"]) == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-12)
        assert float(r["mase"]) == pytest.approx(mases[-1], rel=1e-12)
        assert int(r["train_size"]) == o
    assert float(naive[3]["mae"]) == pytest.approx(np.mean(maes), rel=1e-12)
    assert float(naive[3]["mase"]) == pytest.approx(np.mean(mases), rel=1e-12)
    snaive = [r for r in rows if r["model"] == "seasonal_naive(m=6)"]
    for r, o in zip(snaive, origins):
        pred = np.resize(y[o - 6:o], 4)
        assert float(r["mae"]) == pytest.approx(np.mean(np.abs(y[o:o + 4] - pred)), rel=1e-12)
    assert "seasonal_naive(m=6): MASE" in res.output        # the console summary (stderr)


def test_network_writes_metrics_and_a_plot_with_a_sliding_window(tmp_path):
    data = _series(tmp_path / "s.csv", _seasonal(40))
    out, plot = tmp_path / "m.csv", tmp_path / "folds.png"
    res = invoke(["backtest", "--data", data, "--column", "v", "--horizon", 3, "--folds", 2,
                  "--window", 4, "--train-size", 20, "--model", "simple_rnn", "--epochs", 1,
                  "--units", 2, "--out", out, "--plot", plot])
    assert res.exit_code == 0, res.output
    rows = _read(out)
    assert [r["model"] for r in rows] == ["simple_rnn"] * 3
    assert [r["train_size"] for r in rows[:2]] == ["20", "20"]              # sliding
    assert all(np.isfinite(float(r["mase"])) for r in rows)
    assert plot.read_bytes().startswith(PNG)
    assert "plotted simple_rnn's folds" in res.output


def test_metrics_go_to_standard_output_without_out(tmp_path):
    data = _series(tmp_path / "s.csv", _seasonal(30))
    res = invoke(["backtest", "--data", data, "--column", "v", "--horizon", 2, "--folds", 2,
                  "--model", "none", "--baselines", "--window", 2])
    assert res.exit_code == 0, res.output
    assert "model,fold,origin,train_size,mae,rmse,mape,smape,mase,seconds" in res.output
    assert "drift,overall," in res.output


@pytest.mark.parametrize("args, blank_at, values, message", [
    (["--horizon", 60, "--folds", 1], None, None,
     "--horizon 60 is not shorter than the series (30 values"),
    (["--horizon", 5, "--folds", 30], None, None,
     "--folds 30 with --stride 1 and --horizon 5 leave 0 training values in the first fold"),
    (["--horizon", 2, "--folds", 2], None, [4.0] * 30, "is constant (every value is 4)"),
    (["--horizon", 2, "--folds", 2], 7, None, "line 9, column 'v' is blank (a missing value)"),
    (["--horizon", 0, "--folds", 2], None, None, "--horizon must be a positive integer"),
    (["--horizon", 2, "--folds", 2, "--model", "none"], None, None, "leaves nothing to backtest"),
    (["--horizon", 2, "--folds", 2, "--season", 4], None, None, "--season is for --baselines"),
    (["--horizon", 2, "--folds", 2, "--train-size", 3, "--baselines", "--model", "none"], None,
     None, "--train-size 3 is below the"),
    (["--horizon", 2, "--folds", 2, "--column", "nope"], None, None, "column 'nope' (--column)"),
])
def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, args, blank_at, values,
                                                        message):
    values = _seasonal(30) if values is None else values
    data = _series(tmp_path / "s.csv", values, blank_at=blank_at)
    out = tmp_path / "m.csv"
    out.write_text("keep me\n")
    base = ["backtest", "--data", data, "--column", "v", "--window", 3, "--out", out]
    res = invoke(base + args)            # a later --column overrides the first
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert out.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "s.csv"]


def test_never_writes_over_the_data(tmp_path):
    data = _series(tmp_path / "s.csv", _seasonal(30))
    before = data.read_bytes()
    for option in ("--out", "--plot"):
        res = invoke(["backtest", "--data", data, "--column", "v", "--horizon", 2, "--folds", 2,
                      "--model", "none", "--baselines", option, data])
        assert res.exit_code == 1 and f"{option} " in res.output and "never writes over" \
            in res.output
    assert data.read_bytes() == before


def test_train_forecast_with_a_horizon_round_trips(tmp_path):
    data = _series(tmp_path / "s.csv", _seasonal(40))
    model, preds = tmp_path / "s.model", tmp_path / "p.csv"
    res = invoke(["train", "--data", data, "--task", "forecast", "--column", "v", "--window", 5,
                  "--horizon", 3, "--epochs", 1, "--units", 2, "--out", model])
    assert res.exit_code == 0, res.output
    res = invoke(["predict", "--model", model, "--data", data, "--out", preds])
    assert res.exit_code == 0, res.output
    rows = _read(preds)
    assert len(rows) == 40 and {"forecast_1", "forecast_2", "forecast_3"} <= set(rows[0])
    assert rows[3]["forecast_3"] == "" and all(np.isfinite(float(rows[-1][f"forecast_{j}"]))
                                               for j in (1, 2, 3))

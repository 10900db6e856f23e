"""Time series end to end on small generated data: train, forecast, evaluate, resume, bad input.

These runs pin the recursive strategy, one model and no transform (TINY), the pipeline as it
was before the defaults were chosen from the data; test_series_forecasting.py covers those."""
import json

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.data.series import generate_series, write_csv
from rnnlab.training.run_folder import load_tensors

TINY = ["--hidden", "8", "--layers", "1", "--batch", "16", "--eval-every", "10",
        "--lookback", "12", "--horizon", "6", "--val-fraction", "0.2", "--lr", "0.01",
        "--dtype", "float64", "--strategy", "recursive", "--ensemble", "1", "--no-log",
        "--no-difference", "--patience", "0"]


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    d = tmp_path_factory.mktemp("series")
    y = generate_series("seasonal", 156, seed=3)
    x = np.cos(np.arange(156) / 3.0)
    write_csv(d / "train.csv", {"y": y[:132], "x": x[:132]},
              time=[f"2020-01-{i % 28 + 1:02d}" for i in range(132)])
    write_csv(d / "holdout.csv", {"y": y[132:]})
    return d


@pytest.fixture(scope="module")
def run(series, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(series / "train.csv"), "--out", str(out), *TINY,
                 "--target", "y", "--features", "y", "--steps", "20"]) == 0
    return out


def test_forecast_api_and_cli(run, tmp_path, capsys):
    m = rnnlab.load(run)
    f = m.forecast(8)
    assert len(f["forecast"]) == len(f["lower"]) == len(f["upper"]) == 8
    assert all(lo <= hi for lo, hi in zip(f["lower"], f["upper"]))
    assert f["target"] == "y" and f["held_features"] == {}     # univariate (--features y)
    capsys.readouterr()
    png = tmp_path / "f.png"
    assert main(["forecast", str(run), "--horizon", "8", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert np.allclose(out["forecast"], f["forecast"]) and png.stat().st_size > 1000
    assert main(["forecast", str(run), "--horizon", "0"]) == 2


def test_meta_scaler_fit_on_training_part_only(run, series):
    cfg = json.loads((run / "config.json").read_text())
    data = cfg["data"]
    y = np.array(data["target_history"])
    n_train = len(y) - data["n_val"]
    assert data["n_val"] == int(132 * 0.2)
    assert np.isclose(data["scaler"]["mean"][0], y[:n_train].mean())
    assert len(data["tail"]) == data["lookback"] + data["n_val"]


def test_forecast_is_the_recursion_by_hand(run):
    """Step 1 by hand: the model on the last lookback rows; step 2 with the prediction fed in."""
    m = rnnlab.load(run)
    L = m.lookback
    z = m.scaler.transform(m.tail)[-L:]
    out, _ = m.model.forward(z[:, None, :])
    p1 = out[-1, 0, 0]
    z2 = np.vstack([z[1:], z[-1:]])
    z2[-1, 0] = p1
    out2, _ = m.model.forward(z2[:, None, :])
    p2 = out2[-1, 0, 0]
    expect = np.array([p1, p2]) * m.scaler.std[0] + m.scaler.mean[0]
    assert np.allclose(m.forecast(2)["forecast"], expect, rtol=1e-12, atol=1e-12)


def test_evaluate_reports_baselines(run, series, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(series / "holdout.csv"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["horizon"] == 24 and res["season"] == 12 and res["season_detected"]
    for k in ("rmse", "mae", "mase"):
        assert res[k] > 0 and res["naive"][k] > 0 and res["seasonal_naive"][k] > 0
    assert isinstance(res["beats_seasonal_naive"], bool)
    assert res["beats_seasonal_naive"] == (res["mae"] < res["seasonal_naive"]["mae"])
    assert main(["evaluate", str(run), str(series / "holdout.csv"), "--season", "6"]) == 0
    text = capsys.readouterr().out
    assert "season 6, given" in text
    res6 = rnnlab.load(run).evaluate(series / "holdout.csv", season=6)
    if not res6["beats_seasonal_naive"]:
        assert "does NOT beat the seasonal naive" in text


def test_features_differencing_and_resume(series, tmp_path):
    """Two columns, --difference; 10 + 10 resumed steps give the weights of 20 straight."""
    args = ["train", str(series / "train.csv"), *TINY, "--features", "y,x", "--difference"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*args, "--out", str(a), "--steps", "20"]) == 0
    assert main([*args, "--out", str(b), "--steps", "10"]) == 0
    assert main(["train", str(series / "train.csv"), "--out", str(b), "--resume",
                 "--steps", "20"]) == 0
    wa, wb = load_tensors(a / "model.safetensors"), load_tensors(b / "model.safetensors")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    m = rnnlab.load(a)
    assert m.cfg.input_size == 2
    f = m.forecast(3)
    assert list(f["held_features"]) == ["x"]
    # differenced: level = last level + cumulative sum of the predicted changes
    assert np.isfinite(f["forecast"]).all()


BAD = {
    "no_numeric": ("name,city\na,b\nc,d\n", [], "no numeric column"),
    "wrong_column": ("y\n1\n2\n", ["--target", "sales"], "no column 'sales'"),
    "text_in_numbers": ("y\n" + "1\n" * 50 + "abc\n" + "2\n" * 80, [], "expected a number"),
    "too_few_rows": ("y\n" + "".join(f"{i % 5}\n" for i in range(20)), [], "too few"),
    "horizon_zero": ("y\n" + "".join(f"{i % 5}\n" for i in range(200)), ["--horizon", "0"],
                     "--horizon"),
    "constant": ("y\n" + "3\n" * 200, [], "constant"),
    "missing": ("y\n" + "".join(f"{i % 5}\n" for i in range(100)) + "nan\n" + "1\n" * 50,
                [], "--fill"),
    "music_option": ("y\n" + "".join(f"{i % 5}\n" for i in range(200)), ["--grid", "8th"],
                     "--grid"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_and_writes_nothing(case, tmp_path, capsys):
    text, extra, needle = BAD[case]
    f = tmp_path / "data.csv"
    f.write_text(text)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", str(f), "--out", str(out), *TINY, "--steps", "2", *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_evaluate_on_a_short_flat_holdout_and_a_wrong_one(run, tmp_path, capsys):
    flat = tmp_path / "flat.csv"
    flat.write_text("y\n20\n20\n")
    res = rnnlab.load(run).evaluate(flat)
    assert res["horizon"] == 2
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("sales\n1\n2\n")
    capsys.readouterr()
    assert main(["evaluate", str(run), str(wrong)]) == 2
    assert "no column 'y'" in capsys.readouterr().err


def test_a_series_input_of_the_wrong_width_is_one_line(run):
    """model_input (what `rnnlab serve` reads a series through) names the columns it wants."""
    model = rnnlab.load(run)
    with pytest.raises(rnnlab.RnnlabError, match=r"a series input is a list of rows of 1 value\(s\) \(y\)"):
        model.model_input([[1.0, 2.0, 3.0]])

"""Panels (many series in the long format, one global model) end to end on small generated
data: the CLI and rnnlab.Forecaster, the per-series fallback, a global model against local
ones, and bad panels (exit 2, one line). Tiny models and a few steps: these check the
plumbing and the choices, not the accuracy (benchmarks/bench_m4.py measures that)."""
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import rnnlab  # noqa: E402
from rnnlab.app.cli import main  # noqa: E402
from rnnlab.tasks import registry  # noqa: E402

H, N = 12, 120
TINY = ["--hidden", "16", "--steps", "80", "--eval-every", "40", "--horizon", str(H),
        "--ensemble", "1"]


def frame(n_series=6, n=N, noise_id=None, seed=0, start="2024-01-01", freq="h"):
    """Sines of period 12 at different levels; `noise_id`: a series of pure white noise with
    a tiny amplitude (seasonal naive is near exact there; a global network is not)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_series):
        t = np.arange(n)
        y = 40 + 15 * k + 10 * np.sin(2 * np.pi * t / 12 + k) + rng.normal(0, 0.5, n)
        if k == noise_id:
            y = 100 + rng.normal(0, 0.001, n)
        ds = pd.date_range(start, periods=n, freq=freq)
        rows.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    d = tmp_path_factory.mktemp("panel")
    df = frame(noise_id=5)
    df[df.groupby("unique_id").cumcount() < N - H].to_csv(d / "train.csv", index=False)
    df[df.groupby("unique_id").cumcount() >= N - H].to_csv(d / "holdout.csv", index=False)
    out = d / "run"
    assert main(["train", str(d / "train.csv"), "--out", str(out), *TINY]) == 0
    return d, out


def test_cli_train_forecast_evaluate(panel, capsys):
    d, run = panel
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["kind"] == "panel" and cfg["chosen"]["season"]["value"] == 24
    # every series is validated every time (a sample of them chose worse weights on M4)
    assert cfg["chosen"]["val_sample"]["value"] == 0 and cfg["train"]["val_sample"] == 0
    capsys.readouterr()
    assert main(["forecast", str(run), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert sorted(res["forecasts"]) == [f"s{k}" for k in range(6)]
    s0 = res["forecasts"]["s0"]
    assert len(s0["forecast"]) == len(s0["lower"]) == len(s0["upper"]) == H
    assert s0["dates"][0] == "2024-01-05T12:00:00"         # 108 hours after the start
    assert all(lo <= f <= hi for lo, f, hi in zip(s0["lower"], s0["forecast"], s0["upper"]))
    assert main(["forecast", str(run), "--horizon", "30"]) == 0     # longer: fed back
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "unique_id,ds,forecast,lo-95,hi-95,used" and len(lines) == 1 + 6 * 30
    assert main(["evaluate", str(run), str(d / "holdout.csv"), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["series"] == 6 and ev["horizon"] == H and 0 <= ev["model"]["coverage"] <= 1
    # scored for every series (accuracy is the benchmark's business, not this tiny run's)
    assert np.isfinite(ev["model"]["mase"]) and np.isfinite(ev["model"]["msis"])
    assert main(["backtest", str(d / "train.csv"), "--horizon", str(H), "--folds", "1",
                 "--steps", "20", "--hidden", "8", "--ensemble", "1", "--json"]) == 0
    folds = json.loads(capsys.readouterr().out)
    assert len(folds) == 1 and folds[0]["series"] == 6 and folds[0]["horizon"] == H


def test_noise_series_falls_back_and_no_series_ends_worse(panel):
    model = rnnlab.load(panel[1])
    v = model.validation()
    used = v["mae"][np.arange(6), v["choice"]]
    assert (used <= v["mae"][:, 1]).all()                   # never worse than seasonal naive
    assert model.choices()["s5"] != "network"               # the noise series falls back
    assert v["mae"][5, 0] > v["mae"][5, 1]                  # because the network lost there
    raw = model.validation(fallback=False)
    assert (raw["choice"] == 0).all()                       # --no-fallback: the raw network
    res = model.forecast(fallback=False)
    assert res["counts"] == {"network": 6, "seasonal naive": 0, "combination": 0}


def test_forecaster_fit_predict_cross_validation():
    df = frame(4, n=80, freq="D")
    df["size"] = df["unique_id"].str[1:].astype(int)           # a static exogenous column
    df["temp"] = np.cos(np.arange(len(df)) / 5.0)              # a time-varying one
    fc = rnnlab.Forecaster(horizon=7, steps=40, hidden=8, eval_every=20, ensemble=2).fit(df)
    assert fc.model.meta["columns"]["exog"] == ["size", "temp"]
    assert len(fc.model.members) == 2                           # the median of two networks
    out = fc.predict()
    assert list(out.columns) == ["unique_id", "ds", "rnnlab", "rnnlab-lo-95", "rnnlab-hi-95"]
    assert len(out) == 4 * 7 and out["ds"].min() == pd.Timestamp("2024-03-21")
    cv = fc.cross_validation(df, h=7, n_windows=2)
    assert len(cv) == 4 * 7 * 2 and cv["rnnlab"].notna().all()
    assert sorted(cv["cutoff"].unique()) == [pd.Timestamp("2024-03-06"),
                                             pd.Timestamp("2024-03-13")]
    assert (cv["ds"] > cv["cutoff"]).all()


def test_global_model_beats_local_ones(tmp_path):
    """40 short series that share one shape (a skewed cycle of 8) at different levels, with
    noise: the global network, trained on all of them, forecasts three of them better than
    the same network trained on each alone (raw networks, no fallback)."""
    rng = np.random.default_rng(1)
    shape = np.array([0, 1, 3, 6, 2, -1, -3, -2], float)
    n, h = 48, 8
    frames = []
    for k in range(40):
        t = np.arange(n + h)
        y = 50 + 3 * k + 2 * shape[(t + k) % 8] + rng.normal(0, 1.0, n + h)
        frames.append(pd.DataFrame({"unique_id": f"s{k}", "ds": t, "y": y}))
    df = pd.concat(frames, ignore_index=True)
    train = df[df["ds"] < n]
    opts = dict(horizon=h, season=8, steps=150, hidden=16, eval_every=50, fallback=False,
                ensemble=1)
    glob = rnnlab.Forecaster(**opts).fit(train).predict()
    err_global, err_local = [], []
    for k in range(3):
        sid = f"s{k}"
        actual = df[(df["unique_id"] == sid) & (df["ds"] >= n)]["y"].to_numpy()
        loc = rnnlab.Forecaster(**opts).fit(train[train["unique_id"] == sid]).predict()
        err_global.append(np.mean(np.abs(glob[glob["unique_id"] == sid]["rnnlab"] - actual)))
        err_local.append(np.mean(np.abs(loc["rnnlab"].to_numpy() - actual)))
    assert np.mean(err_global) < np.mean(err_local)


def bad(tmp_path, df, capsys, *extra):
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    capsys.readouterr()
    code = main(["train", str(p), "--out", str(tmp_path / "run"), *extra, *TINY])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not (tmp_path / "run").exists()
    return err[0]


def test_bad_panels_exit_2_with_one_line(tmp_path, capsys):
    df = frame(2, n=60)
    assert "duplicate rows for series 's0'" in bad(tmp_path, pd.concat([df, df.iloc[:1]]),
                                                   capsys)
    short = pd.concat([df, frame(1, n=10).assign(unique_id="tiny")])
    assert "series 'tiny' has 10 rows, too short for --horizon 12" in bad(tmp_path, short, capsys)
    assert "no id column" in bad(tmp_path, df.rename(columns={"unique_id": "who"}), capsys,
                                 "--task", "panel")
    mixed = pd.concat([df, frame(1, n=60, freq="D").assign(unique_id="daily")])
    assert "mixes frequencies" in bad(tmp_path, mixed, capsys)
    # a window shorter than a season gave "x contains NaN" from deep inside
    assert "--lookback 8 is not longer than a season (12 rows)" in bad(
        tmp_path, df, capsys, "--lookback", "8", "--season", "12")


def test_a_single_series_csv_is_still_the_series_task(tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("date,y\n2020-01-01,1\n2020-01-02,2\n")
    assert registry.task_for_file(p) == "series"
    q = tmp_path / "many.csv"
    q.write_text("unique_id,ds,y\na,1,1\n")
    assert registry.task_for_file(q) == "panel"

"""The forecaster a practitioner gets by default, end to end on generated series: the choices
printed and saved, the direct head and the ensemble by hand, dated forecasts and plots, the
warning when the model loses to seasonal naive, and runs written before these changes."""
import json

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.data.series import generate_series, write_csv
from rnnlab.nn.optim import make_optimizer
from rnnlab.training.run_folder import RunFolder
from rnnlab.tasks.model import ModelConfig, SequenceModel

FAST = ["--steps", "40", "--dtype", "float64"]


def monthly(n, start=2001):
    return [f"{start + i // 12}-{i % 12 + 1:02d}-01" for i in range(n)]


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc")
    y = generate_series("seasonal", 150, seed=4)
    write_csv(d / "sales.csv", {"sales": y}, time=monthly(150))
    return d / "sales.csv"


@pytest.fixture(scope="module")
def run(csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(csv), "--out", str(out), *FAST]) == 0
    return out


def test_defaults_are_printed_saved_and_used(csv, tmp_path, capfd):
    out = tmp_path / "r"
    assert main(["train", str(csv), "--out", str(out), *FAST, "--ensemble", "2"]) == 0
    err = capfd.readouterr().err
    assert "series defaults chosen from the data" in err
    for line in ("--season 12: the autocorrelation peaks at lag 12", "--lookback 24: two "
                 "seasons", "--difference: KPSS", "--no-log:", "--strategy direct",
                 "--hidden 32"):
        assert line in err
    chosen = err.split("series defaults chosen from the data", 1)[1].split("\ndata:", 1)[0]
    assert "--ensemble" not in chosen and "--steps" not in chosen      # given, not chosen
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["chosen"]["lookback"]["value"] == 24 and "why" in cfg["chosen"]["difference"]
    assert cfg["train"]["task_options"]["strategy"] == "direct"
    # --steps given: exactly 40 steps, no early stopping (the one stopping rule, stopping.py)
    assert cfg["train"]["patience"] is None and cfg["model"]["layers"] == 1
    assert "stopping rule: 40 steps (--steps)\n" in err
    assert cfg["model"]["output_size"] == 12                            # the direct head
    assert cfg["members"] == ["members/1"]
    assert json.loads((out / "members/1/config.json").read_text())["train"]["seed"] == 1


def test_an_option_given_wins(csv, tmp_path):
    out = tmp_path / "r"
    rnnlab.train(csv, out=out, steps=20, hidden=8, progress=False, log=lambda m: None,
                 task_options={"difference": False, "log": True, "lookback": 13,
                               "strategy": "recursive", "ensemble": 1})
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["transform"] == {"log": True, "difference": False, "seasonal": 0}
    assert cfg["data"]["lookback"] == 13 and cfg["model"]["hidden"] == 8
    assert cfg["model"]["output_size"] == 1 and "members" not in cfg
    assert not {"difference", "log", "lookback", "strategy", "hidden"} & set(cfg["chosen"])


def test_direct_forecast_by_hand_and_the_ensemble_median(run):
    m = rnnlab.load(run)
    assert len(m.members) == 3 and m.strategy == "direct"
    L, H = m.lookback, m.meta["horizon"]
    z = m.scale_rows(m.tail)[-L:]
    by_member = []
    for net in m.members:
        out, _ = net.forward(z[:, None, :])
        dz = out[-1, 0] * m.scaler.std[0] + m.scaler.mean[0]           # predicted changes
        by_member.append(m.tail[-1, 0] + np.cumsum(dz))                 # differenced: levels
    f = m.forecast(H)
    assert np.allclose(f["forecast"], np.median(by_member, axis=0), rtol=1e-10)
    # each member is a run of its own: the median of the members' forecasts is the forecast
    single = [rnnlab.load(run / sub).forecast(H)["forecast"] for sub in ("members/1",
                                                                           "members/2")]
    assert np.allclose(single[0], by_member[1], rtol=1e-10)
    assert np.allclose(single[1], by_member[2], rtol=1e-10)
    # longer than the head: the first block is the same, the rest feeds it back
    long = m.forecast(2 * H + 3)["forecast"]
    assert len(long) == 2 * H + 3 and np.allclose(long[:H], f["forecast"], rtol=1e-10)


def test_forecast_json_has_dates_and_the_plot_draws_them(run, tmp_path, capsys):
    capsys.readouterr()
    png = tmp_path / "f.png"
    assert main(["forecast", str(run), "--horizon", "14", "--json", "--plot", str(png)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["dates"][:2] == ["2013-07-01", "2013-08-01"] and len(res["dates"]) == 14
    assert res["frequency"] == "monthly" and res["members"] == 3
    assert png.stat().st_size > 1000
    assert main(["forecast", str(run), "--horizon", "2"]) == 0
    assert "2013-07-01" in capsys.readouterr().out
    # the plot shows a window of history, with dates: that window, then the forecast
    from rnnlab.viz.plots import forecast_figure, history_window
    m = rnnlab.load(run)
    k = history_window(len(m.history), 14, m.season)
    assert k == 42 < len(m.history)
    fig = forecast_figure(m.history[-k:], res["forecast"], res["lower"], res["upper"],
                          dates=m.dates(14, history=k))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "date"
    assert ax.lines[0].get_xdata()[0].isoformat().startswith("2010-01-01")
    assert main(["forecast", str(run), "--plot", str(png), "--history", "0"]) == 2


def test_a_csv_without_dates_forecasts_without_them(tmp_path):
    write_csv(tmp_path / "y.csv", {"y": generate_series("ar", 120, seed=1)})
    rnnlab.train(tmp_path / "y.csv", out=tmp_path / "r", steps=20, progress=False,
                 log=lambda m: None, task_options={"ensemble": 1})
    f = rnnlab.load(tmp_path / "r").forecast(3)
    assert f["dates"] is None and f["frequency"] is None


def test_losing_to_seasonal_naive_is_warned_at_train_and_evaluate(tmp_path, capfd):
    """A series that repeats exactly and a model trained for 3 steps: it must lose, and
    say so, with what to try."""
    y = generate_series("pure_seasonal", 96)
    write_csv(tmp_path / "p.csv", {"y": y[:84]})
    write_csv(tmp_path / "hold.csv", {"y": y[84:]})
    out = tmp_path / "r"
    assert main(["train", str(tmp_path / "p.csv"), "--out", str(out), "--steps", "3",
                 "--ensemble", "1"]) == 0
    err = capfd.readouterr().err
    assert "WARNING: on the validation part" in err and "seasonal naive" in err
    assert "try:" in err and "--ensemble 5" in err
    assert main(["evaluate", str(out), str(tmp_path / "hold.csv")]) == 0
    text = capfd.readouterr().out
    assert "WARNING: on the validation part" in text
    res = rnnlab.load(out).evaluate(tmp_path / "hold.csv")
    assert res["validation"]["loses"] is True and res["validation"]["season"] == 12


def _legacy_run(folder, y, lookback=6, difference=True):
    """A run folder as rnnlab wrote it before the chosen defaults: no transform, strategy,
    season or members in config.json; a recursive model with one output."""
    cfg = ModelConfig(task="series", input_size=1, output_size=1, hidden=5, layers=1,
                      dtype="float64", seed=3)
    model = SequenceModel(cfg)
    z = np.diff(y) if difference else y
    n_val = int(len(z) * 0.2)
    mean, std = z[:len(z) - n_val].mean(), z[:len(z) - n_val].std()
    opt = make_optimizer("adam", model.params, 0.01)
    for _ in range(5):                       # a few steps so that the weights are not random
        model.zero_grad()
        x = ((z[:lookback] - mean) / std)[:, None, None]
        out, _ = model.forward(x)
        _, dout = model.loss(out, ((z[1:lookback + 1] - mean) / std)[:, None, None])
        model.backward(dout)
        opt.step(model.grads)
    run = RunFolder(folder).create()
    tail = y[len(y) - (n_val + lookback + int(difference)):]
    data = {"kind": "series", "target": "y", "columns": ["y"], "features": [], "fill": None,
            "lookback": lookback, "horizon": 4, "difference": difference,
            "scaler": {"mean": [mean], "std": [std]}, "n_rows": len(y), "n_val": n_val,
            "last_time": None, "target_history": y.tolist(), "tail": tail[:, None].tolist()}
    write_csv(folder.parent / "old.csv", {"y": y})
    train = {"data": str(folder.parent / "old.csv"), "task": "series", "val_fraction": 0.2,
             "batch": 50, "task_options": {"lookback": lookback, "horizon": 4,
                                           "difference": difference}}
    run.write_config({"model": cfg.to_json(), "train": train, "data": data})
    run.save_weights("best", model.state_dict())
    return model, mean, std


def test_a_run_from_before_loads_and_forecasts_as_it_did(tmp_path):
    y = generate_series("seasonal", 60, seed=2)
    model, mean, std = _legacy_run(tmp_path / "old", y)
    m = rnnlab.load(tmp_path / "old")
    assert m.strategy == "recursive" and len(m.members) == 1 and not m.transform.log
    # the recursion by hand: 2 steps of predicted changes added to the last level
    z = (np.diff(m.tail[:, 0]) - mean) / std
    ctx = z[-6:]
    p1 = model.forward(ctx[:, None, None])[0][-1, 0, 0]
    p2 = model.forward(np.r_[ctx[1:], p1][:, None, None])[0][-1, 0, 0]
    want = y[-1] + np.cumsum(np.array([p1, p2]) * std + mean)
    f = m.forecast(2)
    assert np.allclose(f["forecast"], want, rtol=1e-12) and f["dates"] is None
    hold = tmp_path / "hold.csv"
    write_csv(hold, {"y": generate_series("seasonal", 64, seed=2)[60:]})
    assert rnnlab.load(tmp_path / "old").evaluate(hold)["horizon"] == 4
    # --resume rebuilds its task as it was: recursive, one output, a one-step validation loss
    from rnnlab.training.api import TrainConfig, build_task
    cfg = RunFolder(tmp_path / "old").read_config()
    task = build_task(TrainConfig(**cfg["train"]), cfg["data"])
    assert (task.strategy, task.output_size, task.val_steps, task.ensemble) == ("recursive", 1,
                                                                                1, 1)
    assert task.meta()["tail"] == cfg["data"]["tail"]


def test_an_ensemble_resumes_member_by_member(csv, tmp_path):
    """20 + 20 resumed steps give every member the weights of 40 straight steps."""
    opts = dict(hidden=6, eval_every=10, patience=0, progress=False, log=lambda m: None,
                task_options={"ensemble": 2})
    a, b = tmp_path / "a", tmp_path / "b"
    rnnlab.train(csv, out=a, steps=40, **opts)
    rnnlab.train(csv, out=b, steps=20, **opts)
    rnnlab.train(csv, out=b, steps=40, resume=True, progress=False, log=lambda m: None)
    for sub in ("", "members/1"):
        wa = RunFolder(a / sub).load_weights("model")
        wb = RunFolder(b / sub).load_weights("model")
        assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert np.allclose(rnnlab.load(a).forecast(3)["forecast"],
                       rnnlab.load(b).forecast(3)["forecast"])


def test_seasonal_differences_undo_to_the_season(tmp_path):
    """--seasonal-difference on a series that repeats exactly: every seasonal difference is 0,
    so whatever small value the model predicts, the forecast is last season plus it."""
    y = generate_series("pure_seasonal", 120)
    write_csv(tmp_path / "p.csv", {"y": y[:108]})
    rnnlab.train(tmp_path / "p.csv", out=tmp_path / "r", steps=60, progress=False,
                 log=lambda m: None, task_options={"seasonal_difference": True, "ensemble": 1})
    m = rnnlab.load(tmp_path / "r")
    assert m.transform.to_json() == {"log": False, "difference": False, "seasonal": 12}
    f = np.array(m.forecast(24)["forecast"])
    z = m.scale_rows(m.tail)[-m.lookback:]
    out, _ = m.model.forward(z[:, None, :])
    dz = out[-1, 0] * m.scaler.std[0] + m.scaler.mean[0]                # (H,) seasonal diffs
    H = m.meta["horizon"]
    assert H == 10 and np.allclose(f[:H], y[96:96 + H] + dz, rtol=1e-10)
    assert np.abs(f - np.r_[y[108:], y[96:108]]).max() < 0.1 * np.ptp(y)

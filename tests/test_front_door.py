"""What a new user sees is true (issue 26): each test drives the command line on generated
data and reads back what it printed. Runs are tiny (a few steps; one model, small hidden)."""
import json
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import build_parser, main
from rnnlab.data.series import generate_series, write_csv
from rnnlab.errors import install_line
from rnnlab.tasks import series_defaults

QUICK = ["--hidden", "8", "--ensemble", "1", "--eval-every", "5", "--patience", "0"]
ROOT = Path(__file__).parents[1]


def months(n, skip=()):
    """Month-start dates from 2001-01, without the months at the indexes in `skip`."""
    out = [f"{2001 + k // 12}-{k % 12 + 1:02d}-01" for k in range(n)]
    return [d for k, d in enumerate(out) if k not in skip]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("front")
    y = generate_series("seasonal", 96, seed=0)
    write_csv(d / "y.csv", {"y": y, "x": np.cos(np.arange(96)), "z": np.arange(96.0) % 7},
              time=months(96))
    gaps = [k for k in range(96) if k not in (20, 41, 42)]
    write_csv(d / "gaps.csv", {"y": y[gaps]}, time=months(96, skip=(20, 41, 42)))
    write_csv(d / "short.csv", {"y": y[:10]})
    write_csv(d / "near.csv", {"y": y[:30]})
    return d


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    """A series run with no stopping option given: the task chooses --steps."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(data / "y.csv"), "--out", str(out), *QUICK, "--lr", "0.01",
                 "--patience", "1"]) == 0
    return out


def test_features_help_says_what_is_done(data, tmp_path, capsys):
    """Item 4: the help's default for --features is what training does: every other numeric
    column (the 3-column CSV trains on 2 feature columns)."""
    for cmd in ("train", "backtest"):
        parser = build_parser()._subparsers._group_actions[0].choices[cmd]
        line = next(a.help for a in parser._actions if a.dest == "features")
        assert "(default: every other numeric column)" in line and "none" not in line, line
    assert main(["train", str(data / "y.csv"), "--out", str(tmp_path / "o1"), *QUICK, "--steps", "2"]) == 0
    assert "'y' and 2 feature column(s)" in capsys.readouterr().err


def test_stopping_rule_rate_and_overlap_are_true(run, data, tmp_path, capsys):
    """Item 5: the chosen step count is not called --steps; a series counts windows/s, not
    tokens; the training file evaluated as a holdout is flagged; the loses-to-naive advice
    names no option the run did not set."""
    capsys.readouterr()
    assert main(["train", str(data / "y.csv"), "--out", str(tmp_path / "o2"), *QUICK, "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    rule = next(ln for ln in err.splitlines() if ln.startswith("stopping rule: "))
    assert "--epochs" in rule and "(--steps)" not in rule
    assert main(["train", str(data / "y.csv"), "--out", str(tmp_path / "o3"), *QUICK, "--steps", "10"]) == 0
    err = capsys.readouterr().err
    assert "stopping rule: 10 steps (--steps)" in err
    assert re.search(r"\d windows/s", err) and "tok/s" not in err
    assert main(["evaluate", str(run), str(data / "y.csv")]) == 0
    out = capsys.readouterr().out
    assert "WARNING: the holdout's first 96 rows are the training data's first rows" in out
    assert main(["evaluate", str(run), str(data / "y.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overlap_rows"] == 96
    model = rnnlab.load(run)
    assert not any("drop" in t for t in model._what_to_try())


def test_the_chosen_step_count_is_not_called_given(run, data, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", str(data / "y.csv"), "--out", str(out), *QUICK, "--patience", "1",
                 "--lookback", "5"]) == 0
    err = capsys.readouterr().err
    rule = next(ln for ln in err.splitlines() if ln.startswith("stopping rule: "))
    assert "(--steps)" not in rule and "for 1 validations in a row" in rule
    assert "steps" not in json.loads((out / "config.json").read_text())["chosen"]
    assert any("drop --lookback)" in t for t in rnnlab.load(out)._what_to_try())


def test_evaluate_before_the_first_checkpoint_says_how_to_continue(data, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", str(data / "y.csv"), "--out", str(out), *QUICK, "--steps", "2"]) == 0
    for f in out.glob("*.safetensors"):
        f.unlink()
    (out / "state.json").unlink(missing_ok=True)
    capsys.readouterr()
    assert main(["evaluate", str(out), str(data / "y.csv")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "has no checkpoint yet" in err, err
    assert f"rnnlab train {data / 'y.csv'} --out {out} --resume" in err


def test_missing_months_are_explained_and_fill_puts_them_back(data, tmp_path, capsys):
    """Item 2: three missing months: the dates are dropped with the reason and --fill named;
    with --fill the rows come back and the forecast is dated."""
    out = tmp_path / "gaps"
    assert main(["train", str(data / "gaps.csv"), "--out", str(out), *QUICK,
                 "--steps", "2"]) == 0
    err = capsys.readouterr().err
    assert ("WARNING: the dates are dropped and forecasts are numbered by step: 2 of 92 steps "
            "are not the usual 1 month (the first: 2002-08-01 to 2002-10-01); pass --fill "
            "interpolate") in err, err
    assert main(["forecast", str(out), "--horizon", "2"]) == 0
    assert "the dates are dropped" in capsys.readouterr().err
    filled = tmp_path / "filled"
    assert main(["train", str(data / "gaps.csv"), "--out", str(filled), *QUICK, "--steps", "2",
                 "--fill", "interpolate"]) == 0
    assert "dates are dropped" not in capsys.readouterr().err
    res = rnnlab.load(filled).forecast(2)
    assert res["dates"] == ["2009-01-01", "2009-02-01"] and res["frequency"] == "monthly"
    assert rnnlab.load(filled).meta["n_rows"] == 96


def test_short_series_refused_below_the_minimum_and_warned_near_it(data, tmp_path, capsys):
    """Item 3: 10 rows: exit 2, one line with the minimum and why; 30 rows: a warning, a
    small model, and reasons whose numbers are the ones used; backtest with --horizon 1 does
    not ask for a shorter horizon."""
    assert main(["train", str(data / "short.csv"), "--out", str(tmp_path / "o0")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert f"10 rows: too few, a forecaster needs at least {series_defaults.MIN_ROWS} (" in err
    assert main(["train", str(data / "near.csv"), "--out", str(tmp_path / "o4"), "--ensemble",
                 "1", "--eval-every", "5", "--patience", "1"]) == 0
    err = capsys.readouterr().err
    assert f"WARNING: the series has 30 rows, close to the minimum of " \
           f"{series_defaults.MIN_ROWS}" in err
    assert f"--hidden {series_defaults.SHORT_HIDDEN}:" in err
    h = re.search(r"--horizon (\d+): 12 steps without a season, cut to (\d+): a tenth of the "
                  r"(\d+) rows, rounded down", err)
    assert h and int(h[1]) == int(h[2]) == int(h[3]) // 10 and int(h[3]) == 30
    lb = re.search(r"--lookback (\d+): .*, cut to (\d+): a third of the (\d+) training rows",
                   err)
    assert lb and int(lb[1]) == int(lb[2]) == int(lb[3]) // 3
    windows = int(re.search(r"(\d+) training windows of (\d+) rows", err)[1])
    assert windows == int(lb[3]) - int(lb[1])
    # the step cap is the trainer's rule, said from its numbers (test_stopping.py)
    rule = next(ln for ln in err.splitlines() if ln.startswith("stopping rule: "))
    assert f"over the {windows} training windows" in rule
    assert main(["backtest", str(data / "near.csv"), "--horizon", "1", "--folds", "12",
                 "--baselines", "naive"]) == 2
    err = capsys.readouterr().err
    assert "shorter --horizon" not in err and "use at most 9 folds" in err, err
    assert main(["backtest", str(data / "short.csv"), "--horizon", "1", "--folds", "1",
                 "--baselines", "naive"]) == 2
    err = capsys.readouterr().err
    assert "shorter --horizon" not in err and "use a longer series" in err, err


def test_every_needs_message_names_the_exact_install_line(tmp_path, capsys, monkeypatch):
    """Item 7: export to .pt without torch stops with the command that installs the extra
    into this environment; the README's setup names the extras [all] leaves out, and every
    extra a message names exists."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert "torch" not in " ".join(extras["all"])
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## ")[0]
    for extra in ("torch", "forecast"):
        assert f"pip install -e '.[{extra}]'" in setup
    src = "\n".join(p.read_text() for p in (ROOT / "src" / "rnnlab").rglob("*.py")
                    if p.name != "errors.py")               # install_line's own home
    assert "pip install 'rnnlab[" not in src
    for name in set(re.findall(r"install_line\('(\w+)'\)", src)):
        assert name in extras, name
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "torch", None)         # import torch -> ImportError
    assert main(["export", str(run), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.rstrip().endswith(install_line("torch")), err
    assert f"{sys.executable} -m pip install -e '{ROOT}[torch]'" == install_line("torch")
    from rnnlab.data.baselines import missing_reason
    from rnnlab.errors import RnnlabError
    from rnnlab.interop.onnx import _onnx
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(RnnlabError, match=re.escape(install_line("onnx"))):
        _onnx()
    monkeypatch.setitem(sys.modules, "statsforecast", None)
    monkeypatch.setitem(sys.modules, "statsforecast.models", None)
    assert missing_reason("ets").endswith(install_line("forecast"))


def test_melody_overfit_is_named_and_greedy_loops_are_explained(tmp_path, capsys):
    """Item 6 (and 5: a MIDI file is evaluated whole, "all", as the docs say): two training
    melodies and six others to validate on: the validation loss climbs, and the run says it
    overfit and which step's weights it keeps; --help says that --temperature 0 loops."""
    from rnnlab.data.music import write_midi
    from rnnlab.data.synthetic import melodies
    (tmp_path / "m.json").write_text(json.dumps({"train": melodies(2, seed=0),
                                                 "valid": melodies(6, seed=1)}))
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "m.json"), "--out", str(out), "--music-mode",
                 "melody", "--hidden", "64", "--batch", "4", "--seq-len", "16", "--lr", "0.03",
                 "--steps", "60", "--eval-every", "15"]) == 0
    history = json.loads((out / "history.json").read_text())
    best = min(history, key=lambda r: r["val_loss"])
    assert history[-1]["val_loss"] > 1.5 * best["val_loss"]          # it did overfit
    err = capsys.readouterr().err
    assert (f"WARNING: the run overfit: the validation loss rose from {best['val_loss']:.4g} at "
            f"step {best['step']} (its best) to {history[-1]['val_loss']:.4g} at step 60; the "
            f"best weights (step {best['step']}) are kept") in err, err
    write_midi(melodies(3, seed=2)[0], tmp_path / "held.mid")
    assert main(["evaluate", str(out), str(tmp_path / "held.mid")]) == 0
    assert "of 1 pieces (every piece of the file)" in capsys.readouterr().out
    assert main(["evaluate", str(out), str(tmp_path / "held.mid"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["split"] == "all"
    sample = build_parser()._subparsers._group_actions[0].choices["sample"]
    text = next(a.help for a in sample._actions if a.dest == "temperature")
    assert "0 = greedy" in text and "loops" in text and "(default: 1.0)" in text
    greedy = rnnlab.load(out).sample_tokens(12, temperature=0)
    assert len(set(greedy[-8:])) <= 4                  # what the help warns of: a loop

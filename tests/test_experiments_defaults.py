"""`rnnlab experiment`'s defaults and cell options: the step cap follows the documented rule
(max(1000, 15*T)) without running a long experiment, the forget bias reaches the LSTM only by
default, every registered cell runs, and the cells' own options reach the cells that take them.
Nothing here times anything; every run is a few steps of a tiny model."""
import argparse
import json

import pytest

from rnnlab import experiments as E
from rnnlab.errors import RnnlabError
from rnnlab.experiments import options as O
from rnnlab.experiments import runner
from rnnlab.experiments import tasks as X
from rnnlab.nn import registry


@pytest.mark.parametrize("T,cap", [(2, 1000), (50, 1000), (66, 1000), (67, 1005), (100, 1500),
                                   (200, 3000), (400, 6000)])
def test_default_step_cap_follows_the_documented_rule(T, cap):
    assert O.default_steps(T) == cap == max(O.STEPS_MIN, O.STEPS_PER_T * T)
    assert O.STEP_RULE == "max(1000, 15*T)"


def test_a_run_without_steps_gets_the_cap_of_its_T(monkeypatch):
    """run_one without steps or time budget hands TrainConfig default_steps(T); the Trainer is
    replaced by one that records its config and trains nothing."""
    seen = []

    class Recorder:
        def __init__(self, model, task, cfg, run=None, log=None):
            seen.append((task.T, cfg.steps, cfg.time_budget))
            self.model, self.step = model, 0

        def fit(self, progress=False, stop=None):
            return None
    monkeypatch.setattr(runner, "Trainer", Recorder)
    for T in (10, 200, 400):
        r = E.run_one("adding", T, "rnn", 0, hidden=2, batch=2, test_size=2)
        assert r["step_cap"] == O.default_steps(T) and r["steps"] == 0
    E.run_one("adding", 200, "rnn", 0, hidden=2, batch=2, test_size=2, steps=7)
    E.run_one("adding", 200, "rnn", 0, hidden=2, batch=2, test_size=2, time_budget=5.0)
    assert seen == [(10, 1000, None), (200, 3000, None), (400, 6000, None), (200, 7, None),
                    (200, None, 5.0)]


def test_cli_defaults_are_the_documented_ones():
    args = E.add_arguments(argparse.ArgumentParser()).parse_args(["adding", "--T", "200"])
    assert args.steps is None and args.time_budget is None and args.forget_bias is None
    assert (args.hidden, args.lr, args.batch, args.clip, args.seeds, args.cell) == \
        (64, 0.01, 64, 1.0, "3", "rnn,lstm")
    assert E.run_experiments.__defaults__[0] is None          # steps: the rule


def test_forget_bias_default_reaches_the_lstm_only():
    task = X.Adding(10, test_size=2)
    assert task.model_config("lstm", 8, 0).forget_bias == X.LSTM_FORGET_BIAS == 1.0
    assert task.model_config("lstm-peephole", 8, 0).forget_bias == 1.0
    for cell in ("slstm", "mlstm"):
        assert task.model_config(cell, 8, 0).forget_bias is None     # their own init
        assert task.model_config(cell, 8, 0, forget_bias=2.0).forget_bias == 2.0


@pytest.mark.parametrize("cell", sorted(registry.choices()))
def test_every_registered_cell_runs(cell):
    r = E.run_one("adding", 6, cell, seed=1, hidden=4, steps=2, batch=3, test_size=4)
    assert r["cell"] == cell and r["steps"] == 2 and r["test_metric"] is not None


@pytest.mark.parametrize("cell,opts", [
    ("lstm", {"layer_norm": True}), ("lstm", {"proj_size": 2}), ("lstm", {"zoneout": (0.1, 0.05)}),
    ("gru", {"recurrent_dropout": 0.2}), ("mingru", {"mode": "recurrent"}),
    ("minlstm", {"mode": "recurrent"}), ("slstm", {"num_heads": 2, "forget_gate": "exp"}),
    ("mlstm", {"num_heads": 2, "mode": "recurrent"})])
def test_cell_options_reach_the_layer(cell, opts):
    r = E.run_one("temporal-order", 10, cell, seed=0, hidden=4, steps=2, batch=3, test_size=4,
                  cell_options=opts)
    assert r["cell_options"] == opts
    from rnnlab.experiments.report import cell_label
    assert cell_label(r).startswith(cell + " ") and all(k in cell_label(r) for k in opts)


def test_cli_cell_options_go_to_the_cells_that_take_them(tmp_path, capsys):
    parser = E.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["adding", "--T", "6", "--cell", "rnn,lstm,mingru", "--hidden", "4",
                              "--seeds", "1", "--steps", "2", "--batch", "3", "--test-size", "4",
                              "--layer-norm", "--mode", "recurrent", "--recurrent-dropout",
                              "0.1", "--json", "--out", str(tmp_path)])
    assert E.run_from_args(args) == 0
    recs = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert [(r["cell"], r["cell_options"]) for r in recs] == [
        ("rnn", {"recurrent_dropout": 0.1}),
        ("lstm", {"layer_norm": True, "recurrent_dropout": 0.1}),
        ("mingru", {"mode": "recurrent"})]
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["step_rule"] is None and meta["steps"] == 2


@pytest.mark.parametrize("cells,opts,match", [
    ("rnn,gru", {"layer_norm": True}, "--layer-norm is not an option of rnn, gru; it is an "
                                      "option of lstm"),
    ("lstm-peephole", {"layer_norm": True}, "standard LSTM"),
    ("slstm", {"num_heads": 3}, "divide"),
    ("lstm", {"zoneout": 1.5}, "zoneout"),
    ("lstm", {"proj_size": 64}, "proj_size"),
])
def test_bad_cell_options_fail_before_any_run(cells, opts, match, monkeypatch):
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("a run started"))
    with pytest.raises(RnnlabError, match=match) as e:
        E.run_experiments("adding", "10", cells, 4 if "proj_size" not in opts else 64, 1,
                          steps=1, progress=None, cell_options=opts)
    assert "\n" not in str(e.value)


def test_experiment_help_lives_in_the_experiments_package():
    """Every option's own help line (before the CLI's formatter adds anything) gives its
    default; the command module adds none."""
    parser = E.add_arguments(argparse.ArgumentParser())
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            assert action.help and "default" in action.help, action.option_strings
    from rnnlab.app.commands import experiment
    assert not hasattr(experiment, "HELP")

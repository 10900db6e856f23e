"""Long-memory experiments: the task data in the model's form, the losses against the old
formulas, the record schema, a tiny end-to-end run on the Trainer, the shared gradient norms
against finite differences, and option validation. Nothing here is timed."""
import argparse
import importlib.util
import json
import math
import os

import numpy as np
import pytest

import rnnlab
from rnnlab import experiments as E
from rnnlab.errors import RnnlabError
from rnnlab.experiments import tasks as X
from rnnlab.nn import registry
from rnnlab.nn.losses import mse, softmax_cross_entropy
from rnnlab.tasks.model import SequenceModel
from rnnlab.viz.gradients import loss_grad_norms


# ----------------------------------------------------------------------------- task data

def test_adding_data():
    T, n = 20, 300
    task = X.Adding(T, batch=4, test_size=8)
    x, targets, mask = task.data(n, np.random.default_rng(0))
    assert x.shape == (T, n, 2) and x.dtype == np.float32 and targets.shape == (T, n, 1)
    assert np.array_equal(mask, np.eye(T)[-1][:, None] * np.ones(n)) and not targets[:-1].any()
    y = targets[-1]
    marks = x[:, :, 1]
    assert set(np.unique(marks)) <= {0.0, 1.0}
    assert np.all(marks.sum(0) == 2)
    assert np.all(marks[: T // 2].sum(0) == 1) and np.all(marks[T // 2:].sum(0) == 1)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] <= 1))
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(0), rtol=1e-6)
    assert task.baseline() == pytest.approx(1 / 6) and task.kind == "series"
    assert task.solved(0.009, None) and not task.solved(0.011, None)


def test_copy_data():
    T, n, L = 7, 50, E.COPY_LENGTH
    task = X.Copy(T, batch=4, test_size=8)
    ids, y, mask = task.data(n, np.random.default_rng(1))
    assert ids.shape == (T + 2 * L, n) and ids.dtype == np.int64 and mask is None
    assert task.kind == "text" and (task.input_size, task.output_size) == (10, 9)
    assert np.all((ids[:L] >= 1) & (ids[:L] <= E.COPY_SYMBOLS))     # the symbols
    assert np.all(ids[L:L + T - 1] == 0)                            # the wait
    assert np.all(ids[L + T - 1] == E.COPY_SYMBOLS + 1)             # the delimiter
    assert np.all(ids[L + T:] == 0)
    assert np.all(y[:-L] == 0) and np.array_equal(y[-L:], ids[:L])  # copy after the delimiter
    assert y.max() < task.output_size
    assert task.baseline() == pytest.approx(10 * math.log(8) / (T + 20))
    # a model that outputs the right symbols scores accuracy 1
    perfect = np.eye(task.output_size)[y] * 10
    assert task.accuracy(perfect, y) == 1.0 and task.solved(0.0, 1.0)


def test_temporal_order_data():
    T, n = 40, 400
    task = X.TemporalOrder(T, batch=4, test_size=8)
    ids, targets, mask = task.data(n, np.random.default_rng(2))
    y = targets[-1]
    assert ids.shape == (T, n) and targets.shape == (T, n) and not targets[:-1].any()
    assert mask[-1].all() and not mask[:-1].any()
    assert np.all(ids[0] == 6) and np.all(ids[-1] == 7)
    for b in range(n):
        pos = np.flatnonzero((ids[:, b] == 4) | (ids[:, b] == 5))
        assert len(pos) == 2
        t1, t2 = pos
        assert round(0.1 * T) <= t1 <= round(0.2 * T) and round(0.5 * T) <= t2 <= round(0.6 * T)
        assert y[b] == 2 * (ids[t1, b] - 4) + (ids[t2, b] - 4)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert task.baseline() == pytest.approx(math.log(4))


def test_test_set_is_fixed_and_batches_are_pure():
    a, b = X.Adding(12, test_size=5, seed=0), X.Adding(12, test_size=5, seed=3)
    np.testing.assert_array_equal(a.test[0], b.test[0])          # the same for every seed
    assert not np.array_equal(X.Adding(14, test_size=5).test[0][:12], a.test[0])
    np.testing.assert_array_equal(a.batch(7)[0], X.Adding(12, test_size=5).batch(7)[0])
    assert not np.array_equal(a.batch(7)[0], a.batch(8)[0])       # fresh data every step
    assert not np.array_equal(a.batch(7)[0], b.batch(7)[0])       # seeded by the run's seed
    assert a.quick[0].shape[1] == 1 and a.carries_state is False


@pytest.mark.parametrize("name", E.TASKS)
def test_losses_equal_the_old_formulas(name):
    """The SequenceModel's loss with the task's mask is what the old head-on-the-last-output
    code computed: MSE of the last output against the sum, the mean CE over every copy step,
    the CE of the last step; and so is its gradient."""
    task = X.TASK_CLASSES[name](12, test_size=4)
    model = SequenceModel(task.model_config("lstm", 6, seed=1))
    inputs, targets, mask = task.data(5, np.random.default_rng(9))
    out, _ = model.forward(inputs)
    loss, dout = model.loss(out, targets, mask)
    if name == "copy":
        old, dold = softmax_cross_entropy(out, targets)
    else:
        old_loss = mse if name == "adding" else softmax_cross_entropy
        old, dlast = old_loss(out[-1], targets[-1])
        dold = np.zeros_like(dout)
        dold[-1] = dlast
    assert loss == pytest.approx(old, rel=1e-6) and loss > 0
    np.testing.assert_allclose(dout, dold, rtol=1e-5, atol=1e-9)


def test_cells_come_from_the_registry():
    from rnnlab.experiments.options import cell_names
    assert cell_names() == list(registry.choices())
    assert "rnn-relu" in cell_names()
    task = X.Adding(10, test_size=4)
    cfg = task.model_config("lstm-coupled", 8, seed=2, forget_bias=1.0)
    assert (cfg.cell, cfg.variant, cfg.forget_bias, cfg.task) == ("lstm", "coupled", 1.0, "series")
    cfg = task.model_config("rnn-relu", 8, seed=2, forget_bias=1.0)
    assert (cfg.cell, cfg.nonlinearity, cfg.forget_bias) == ("rnn", "relu", None)


# ----------------------------------------------------------------------------- end to end

RECORD_TYPES = dict(task=str, T=int, cell=str, seed=int, test_metric=float, baseline=float,
                    solved=bool, wall_s=float)


def _check_record(r):
    for k in E.RECORD_KEYS:
        assert k in r, k
    for k, t in RECORD_TYPES.items():
        assert isinstance(r[k], t), (k, r[k])
    assert r["steps_to_solve"] is None or isinstance(r["steps_to_solve"], int)
    assert (r["steps_to_solve"] is not None) == r["solved"]
    json.loads(json.dumps(r))                          # JSON-ready


def test_tiny_experiment_end_to_end(tmp_path, capsys):
    pytest.importorskip("matplotlib")        # test_outputs_without_matplotlib covers its absence
    recs = E.run_experiments("adding", "10,12", "rnn,lstm", hidden=8, seeds=2, steps=6,
                             batch=8, eval_every=3, test_size=40, out_dir=tmp_path,
                             json_lines=True, progress=None, grad_norm_batch=4)
    assert [(r["T"], r["cell"], r["seed"]) for r in recs] == [
        (T, c, s) for T in (10, 12) for c in ("rnn", "lstm") for s in (0, 1)]
    for r in recs:
        _check_record(r)
        assert r["steps"] <= 6 and r["metric"] == "mse"
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert lines == recs
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["records"] == recs and saved["meta"]["task"] == "adding"
    g = saved["grad_norms"]
    assert set(g) == {"rnn", "lstm"} and g["rnn"]["T"] == 12
    assert len(g["lstm"]["init"]) == 12 and len(g["lstm"]["trained"]) == 12
    assert (tmp_path / "metric_vs_T.png").stat().st_size > 0
    assert (tmp_path / "grad_norms.png").stat().st_size > 0
    table = E.format_table(recs)
    assert "adding" in table and "lstm" in table and len(table.splitlines()) == 2 + 4


def test_outputs_without_matplotlib(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    E.run_experiments("adding", [10], ["rnn"], hidden=4, seeds=1, steps=1, batch=4,
                      test_size=8, out_dir=tmp_path, progress=None, grad_norm_batch=2)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert "matplotlib" in saved["meta"]["plots_skipped"] and len(saved["records"]) == 1
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("task,cell", [("copy", "gru"), ("temporal-order", "lstm-peephole"),
                                       ("temporal-order", "lstm-coupled")])
def test_symbol_tasks_run(task, cell):
    r = E.run_one(task, 10, cell, seed=3, hidden=8, steps=2, batch=4, test_size=16)
    _check_record(r)
    assert 0 <= r["test_accuracy"] <= 1 and r["forget_bias"] == (1.0 if "lstm" in cell else None)


def test_solved_stops_early(monkeypatch):
    monkeypatch.setattr(X.Adding, "solved", lambda self, m, a: True)
    r = E.run_one("adding", 10, "rnn", 0, hidden=4, steps=50, batch=4, eval_every=5,
                  test_size=8)
    assert r["solved"] and r["steps_to_solve"] == 5 and r["steps"] == 5


def test_divergence_is_recorded(monkeypatch):
    real = X.Adding.batch

    def poisoned(self, k):
        inputs, targets, mask = real(self, k)
        return inputs, np.full_like(targets, np.nan), mask
    monkeypatch.setattr(X.Adding, "batch", poisoned)
    r = E.run_one("adding", 10, "lstm", 0, hidden=4, steps=20, batch=4, test_size=8)
    _check_record(r)
    assert r["diverged"] and not r["solved"] and r["steps"] == 0
    from rnnlab.experiments.report import describe
    assert "DIVERGED" in describe(r)


def test_trainer_stop_hook_runs_after_each_evaluation():
    """Trainer.fit(stop=...): called with the Trainer after every evaluation; True ends the run."""
    from rnnlab.training.api import TrainConfig, Trainer
    task = X.Adding(10, batch=4, test_size=8)
    model = SequenceModel(task.model_config("gru", 4, seed=0))
    seen = []

    def stop(trainer):
        seen.append((trainer.step, trainer.history[-1]["step"]))
        return trainer.step >= 6
    result = Trainer(model, task, TrainConfig(steps=20, eval_every=3, lr=0.01),
                     log=lambda m: None).fit(progress=False, stop=stop)
    assert seen == [(3, 3), (6, 6)] and result.stopped == "stop hook" and result.steps == 6
    assert task.last_eval[0] == pytest.approx(result.history[-1]["val_loss"])


def test_cli_wrapper(tmp_path, capsys):
    parser = E.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["adding", "--T", "10", "--cell", "rnn", "--hidden", "4",
                              "--seeds", "1", "--steps", "2", "--batch", "4",
                              "--test-size", "8", "--json", "--out", str(tmp_path)])
    assert E.run_from_args(args) == 0
    out = capsys.readouterr()
    rec, = [json.loads(s) for s in out.out.splitlines()]
    _check_record(rec)
    assert "steps to solve" in out.err                     # the table goes to stderr with --json


# ----------------------------------------------------------------------------- gradient norms

@pytest.mark.parametrize("task,cell", [("adding", "rnn"), ("adding", "lstm"),
                                       ("copy", "gru"), ("temporal-order", "lstm-peephole")])
def test_grad_norms_match_finite_differences(task, cell):
    """dL/dh_t from viz.gradients.loss_grad_norms (the step-by-step backward the experiments
    use), L the task's masked loss, against central differences on h_t, computed by running
    the layer on x[:t+1], nudging h_t, and running on x[t+1:]."""
    spec = X.TASK_CLASSES[task](10 if task != "copy" else 2, test_size=2)
    cfg = spec.model_config(cell, 3, seed=5)
    cfg.dtype = "float64"
    model = SequenceModel(cfg)
    inputs, targets, mask = spec.data(2, np.random.default_rng(4))
    norms = loss_grad_norms(model, inputs, targets, mask)
    x = model.encode(inputs)
    Ttot = x.shape[0]
    assert norms.shape == (Ttot,)
    layer, eps = model.rnn, 1e-6

    def loss_from(t, h_t, c_t):
        state = (h_t[None], c_t[None]) if c_t is not None else h_t[None]
        y_tail, _ = layer(x[t + 1:], state) if t + 1 < Ttot else (np.zeros((0,) + h_t.shape), None)
        y_head, _ = layer(x[:t + 1])
        y_head = y_head.copy()
        y_head[t] = h_t                                  # h_t is also the output y_t
        out = model.head(np.concatenate([y_head, y_tail]))
        return model.loss(out, targets, mask)[0]

    for t in range(Ttot):
        _, s = layer(x[:t + 1])
        h_t, c_t = (s[0][0], s[1][0]) if layer.has_cell_state else (s[0], None)
        g = np.zeros_like(h_t)
        for idx in np.ndindex(h_t.shape):
            hp, hm = h_t.copy(), h_t.copy()
            hp[idx] += eps
            hm[idx] -= eps
            g[idx] = (loss_from(t, hp, c_t) - loss_from(t, hm, c_t)) / (2 * eps)
        np.testing.assert_allclose(norms[Ttot - 1 - t], np.linalg.norm(g), rtol=1e-5,
                                   atol=1e-10)


def test_an_exploding_gradient_is_inf_not_an_error(tmp_path):
    """A gradient that overflows float32 on its way back (a ReLU RNN with w_hh = 2 doubles it at
    every step: 2^128 > float32's max) ends the step-by-step backward with inf rows, where the
    layer's own NaN/inf check used to abort the experiment; results.json gets null for them,
    and the plot leaves a gap."""
    from rnnlab.experiments.runner import _json_norms
    from rnnlab.viz.gradients import backprop_states
    from rnnlab.viz.plots import plot_grad_norms
    layer = rnnlab.RNN(1, 1, nonlinearity="relu", dtype=np.float32)
    layer.load_state_dict({"weight_ih_l0": np.zeros((1, 1), np.float32),
                           "weight_hh_l0": np.full((1, 1), 2.0, np.float32),
                           "bias_ih_l0": np.full(1, 1e-30, np.float32),
                           "bias_hh_l0": np.zeros(1, np.float32)})
    T = 200                                          # forward: h_T = 1e-30 * 2^T, finite
    g = backprop_states(layer, np.zeros((T, 1, 1), np.float32), np.ones((T, 1, 1), np.float32))
    norms = np.abs(g["h"][1:, 0, 0])[::-1]            # by distance from the last step
    finite = np.isfinite(norms)
    assert finite[:100].all() and not finite[-50:].any()
    assert np.all(finite[:finite.sum()])              # finite up to the overflow, then inf
    np.testing.assert_allclose(norms[:20], 2.0 ** (np.arange(20) + 1) - 1, rtol=1e-6)
    assert _json_norms(norms)[-1] is None and _json_norms(norms)[0] == 1.0
    assert os.path.getsize(plot_grad_norms({"relu": _json_norms(norms)},
                                           str(tmp_path / "g.png"))) > 0


def test_grad_norms_keep_model_grads():
    task = X.Adding(8, test_size=3)
    model = SequenceModel(task.model_config("lstm", 4, seed=0))
    for g in model.grads.values():
        g[...] = 7.0
    params = {k: v.copy() for k, v in model.params.items()}
    model.forward(task.test[0])
    context = model.rnn._ctx
    loss_grad_norms(model, *task.test)
    assert all(np.all(g == 7.0) for g in model.grads.values())
    assert all(np.array_equal(v, params[k]) for k, v in model.params.items())
    assert model.rnn._ctx is context and model.training


# ----------------------------------------------------------------------------- bad options

@pytest.mark.parametrize("kw,match", [
    (dict(task="add"), "unknown task"),
    (dict(Ts="50,abc"), "T must be"),
    (dict(Ts="0,10"), "T must be"),
    (dict(Ts=""), "T must be"),
    (dict(Ts="10,10"), "distinct"),
    (dict(task="temporal-order", Ts="5"), ">= 10"),
    (dict(cells="rnn,transformer"), "unknown cell 'transformer'"),
    (dict(hidden=0), "hidden must be a positive integer"),
    (dict(seeds=0), "seeds"),
    (dict(seeds="a,b"), "seeds"),
    (dict(steps=-1), "steps"),
    (dict(time_budget=0.0), "time budget"),
    (dict(lr=-0.1), "lr"),
    (dict(clip=-1.0), "clip"),
    (dict(batch=0), "batch"),
    (dict(optimizer="lbfgs"), "unknown optimizer"),
    (dict(backend="cuda"), "backend"),
])
def test_bad_options_raise(kw, match):
    args = dict(task="adding", Ts="10", cells="rnn", hidden=4, seeds=1, steps=1)
    args.update(kw)
    with pytest.raises(RnnlabError, match=match) as e:
        E.run_experiments(args.pop("task"), args.pop("Ts"), args.pop("cells"), args.pop("hidden"),
                          args.pop("seeds"), progress=None, **args)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- package layout

def test_public_api():
    """The package face re-exports its public API and nothing internal (app/demo.py and
    app/commands/experiment.py import from it); the old model module is gone."""
    from rnnlab.experiments import add_arguments, run_from_args, run_quick_demo  # noqa: F401
    from rnnlab.experiments import cli, options, report, runner, tasks
    assert set(E.__all__) == {
        "run_experiments", "run_one", "run_quick_demo", "add_arguments", "run_from_args",
        "format_table", "summary_rows", "write_outputs", "parse_int_list", "TASKS", "DEFAULTS",
        "RECORD_KEYS", "SOLVED_RULES", "COPY_LENGTH", "COPY_SYMBOLS"}
    for name in E.__all__:
        assert hasattr(E, name), name
    for gone in ("CELLS", "grad_norms", "_Model", "_TASKS", "_test_set", "_Adding"):
        assert not hasattr(E, gone), gone
    assert importlib.util.find_spec("rnnlab.experiments.model") is None
    assert E.run_one is runner.run_one and E.run_experiments is runner.run_experiments
    assert E.format_table is report.format_table and E.write_outputs is report.write_outputs
    assert E.add_arguments is cli.add_arguments and E.parse_int_list is options.parse_int_list
    assert E.TASKS == tasks.TASKS == tuple(tasks.TASK_CLASSES)

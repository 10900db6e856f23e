"""Long-memory experiments: the task data, the record schema, a tiny end-to-end run, the gradient
norms against finite differences, and option validation. Nothing here is timed."""
import argparse
import importlib.util
import json
import math

import numpy as np
import pytest

from rnnlab import experiments as E
from rnnlab.errors import RnnlabError


# ----------------------------------------------------------------------------- task data

def test_adding_data():
    task = E._TASKS["adding"]
    T, n = 20, 300
    x, y = task.data(T, n, np.random.default_rng(0))
    assert x.shape == (T, n, 2) and x.dtype == np.float32 and y.shape == (n, 1)
    marks = x[:, :, 1]
    assert set(np.unique(marks)) <= {0.0, 1.0}
    assert np.all(marks.sum(0) == 2)
    assert np.all(marks[: T // 2].sum(0) == 1) and np.all(marks[T // 2:].sum(0) == 1)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] <= 1))
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(0), rtol=1e-6)
    assert task.baseline(T) == pytest.approx(1 / 6)
    assert task.solved(0.009, None) and not task.solved(0.011, None)


def test_copy_data():
    task = E._TASKS["copy"]
    T, n, L = 7, 50, E.COPY_LENGTH
    x, y = task.data(T, n, np.random.default_rng(1))
    assert x.shape == (T + 2 * L, n, E.COPY_SYMBOLS + 2)
    ids = x.argmax(-1)
    assert np.all(x.sum(-1) == 1)                                  # one-hot
    assert np.all((ids[:L] >= 1) & (ids[:L] <= E.COPY_SYMBOLS))     # the symbols
    assert np.all(ids[L:L + T - 1] == 0)                            # the wait
    assert np.all(ids[L + T - 1] == E.COPY_SYMBOLS + 1)             # the delimiter
    assert np.all(ids[L + T:] == 0)
    assert np.all(y[:-L] == 0) and np.array_equal(y[-L:], ids[:L])  # copy after the delimiter
    assert y.max() < task.output_size
    assert task.baseline(T) == pytest.approx(10 * math.log(8) / (T + 20))
    # a model that outputs the right symbols scores accuracy 1
    perfect = np.eye(task.output_size)[y] * 10
    assert task.accuracy(perfect, y) == 1.0 and task.solved(0.0, 1.0)


def test_temporal_order_data():
    task = E._TASKS["temporal-order"]
    T, n = 40, 400
    x, y = task.data(T, n, np.random.default_rng(2))
    ids = x.argmax(-1)
    assert x.shape == (T, n, 8) and y.shape == (n,)
    assert np.all(ids[0] == 6) and np.all(ids[-1] == 7)
    for b in range(n):
        pos = np.flatnonzero(ids[:, b] >= 4)[1:-1] if False else np.flatnonzero(
            (ids[:, b] == 4) | (ids[:, b] == 5))
        assert len(pos) == 2
        t1, t2 = pos
        assert round(0.1 * T) <= t1 <= round(0.2 * T) and round(0.5 * T) <= t2 <= round(0.6 * T)
        assert y[b] == 2 * (ids[t1, b] - 4) + (ids[t2, b] - 4)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert task.baseline(T) == pytest.approx(math.log(4))


def test_test_set_is_fixed():
    task = E._TASKS["adding"]
    a, b = E._test_set(task, 12, 5), E._test_set(task, 12, 5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(E._test_set(task, 14, 5)[0][:12], a[0])


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
    monkeypatch.setattr(E._Adding, "solved", lambda self, m, a: True)
    r = E.run_one("adding", 10, "rnn", 0, hidden=4, steps=50, batch=4, eval_every=5,
                  test_size=8)
    assert r["solved"] and r["steps_to_solve"] == 5 and r["steps"] == 5


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
    """dL/dh_t from grad_norms' step-by-step backward against central differences on h_t,
    computed by running the layer on x[:t+1], nudging h_t, and running on x[t+1:]."""
    spec = E._TASKS[task]
    T = 10 if task != "copy" else 2
    model = E._Model(spec, cell, 3, seed=5, dtype=np.float64)
    x, y = spec.data(T, 2, np.random.default_rng(4))
    x = x.astype(np.float64)
    if task == "adding":
        y = y.astype(np.float64)
    norms = E.grad_norms(model, x, y)
    Ttot = x.shape[0]
    assert norms.shape == (Ttot,)
    layer, eps = model.rnn, 1e-6

    def loss_from(t, h_t, c_t):
        state = (h_t[None], c_t[None]) if c_t is not None else h_t[None]
        y_tail, _ = layer(x[t + 1:], state) if t + 1 < Ttot else (np.zeros((0,) + h_t.shape), None)
        y_head, _ = layer(x[:t + 1])
        y_head = y_head.copy()
        y_head[t] = h_t                                  # h_t is also the output y_t
        ys = np.concatenate([y_head, y_tail])
        out = model.head(ys[-1] if spec.readout == "last" else ys)
        return spec.loss(out, y)[0]

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


def test_grad_norms_keep_model_grads():
    spec = E._TASKS["adding"]
    model = E._Model(spec, "lstm", 4, seed=0)
    x, y = spec.data(8, 3, 0)
    for g in model.grads.values():
        g[...] = 7.0
    E.grad_norms(model, x, y)
    assert all(np.all(g == 7.0) for g in model.grads.values())


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

def test_public_api_is_reexported():
    """The package keeps the old module's API (cli.py and demo.py import from it)."""
    from rnnlab.experiments import add_arguments, run_from_args, run_quick_demo  # noqa: F401
    for name in E.__all__:
        assert hasattr(E, name), name
    from rnnlab.experiments import cli, model, options, report, runner, tasks
    assert E.run_one is runner.run_one and E.grad_norms is model.grad_norms
    assert E._TASKS is tasks._TASKS and E.format_table is report.format_table
    assert E.add_arguments is cli.add_arguments and E.parse_int_list is options.parse_int_list

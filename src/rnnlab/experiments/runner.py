"""Training and evaluation: one run (``run_one``), the grid (``run_experiments``), the demo.

A run is the library's own training: the task (tasks.py) in the trainer's Task protocol, a
SequenceModel built from its ModelConfig, and ``rnnlab.training.trainer.Trainer`` (optimizer, clip, lr,
evaluation every ``eval_every`` steps; no run folder). Every step sees fresh training batches
(seeded by (seed, T, task, step)); every run is evaluated on one fixed held-out test set per
(task, T) (``test_size`` sequences, the same for every cell and seed). After each evaluation
the Trainer's stop hook checks "solved" (the quarter of the test set just scored, then all of
it) and ends the run once solved, so the budget goes to the runs that still need it. A
non-finite loss or gradient ends a run as ``diverged`` (recorded, never raised). The gradient
norms come from ``rnnlab.viz.gradients.loss_grad_norms``.
"""
from __future__ import annotations

import datetime
import json
import math
import time

from ..nn import backend as _backend
from ..tasks.model import SequenceModel
from ..training.api import TrainConfig
from ..training.trainer import Diverged, Trainer
from ..viz.gradients import loss_grad_norms
from .options import STEP_RULE, check_grid, default_steps, options_for
from .report import describe, format_table, write_outputs
from .tasks import SOLVED_RULES, subset, task_class

RECORD_KEYS = ("task", "T", "cell", "seed", "test_metric", "baseline", "solved",
               "steps_to_solve", "wall_s")


def _json_norms(norms):
    """Gradient norms for results.json: an overflowed one (inf) becomes null, as strict JSON
    has no infinity."""
    return [float(v) if math.isfinite(v) else None for v in norms]


def run_one(task, T, cell, seed, hidden=64, steps=None, time_budget=None, lr=0.01, clip=1.0,
            batch=64, optimizer="adam", forget_bias=None, eval_every=100, test_size=1000,
            backend=None, grad_norm_batch=0, cell_options=None):
    """Train one model and return its record (see RECORD_KEYS; plus metric, test_accuracy,
    steps, step_cap, diverged, cell_options and the settings). Without steps and time_budget
    the run is capped at default_steps(T) = max(1000, 15*T) steps; either way it stops once
    solved. forget_bias None: 1.0 for the LSTM, the sLSTM's and mLSTM's own init for those.
    cell_options: the cell's own options ({'layer_norm': True}). With grad_norm_batch > 0 the
    record also holds 'grad_norms': {'init': [...], 'trained': [...]} measured on that many
    test sequences."""
    if steps is None and time_budget is None:
        steps = default_steps(T)
    spec = task_class(task)(T, batch, seed, test_size)
    model = SequenceModel(spec.model_config(cell, hidden, seed, forget_bias, cell_options))
    probe = subset(spec.test, grad_norm_batch) if grad_norm_batch else None
    gn = {"init": _json_norms(loss_grad_norms(model, *probe))} if probe else {}
    tcfg = TrainConfig(task=spec.kind, steps=steps, time_budget=time_budget, lr=lr,
                       clip=clip or 0.0, batch=batch, optimizer=optimizer,
                       eval_every=eval_every, seed=seed, backend=backend,
                       val_sample=0).validate()      # its quick part is already small
    trainer = Trainer(model, spec, tcfg, run=None, log=lambda msg: None)
    t0, c0 = time.perf_counter(), time.process_time()
    solved_at, diverged = {}, False
    try:
        trainer.fit(progress=False, stop=_stop_when_solved(spec, solved_at))
    except Diverged:
        diverged = True
    train_s = time.perf_counter() - t0
    test_metric, test_acc = spec.evaluate(model)
    finite = math.isfinite(test_metric)
    solved = bool(finite and spec.solved(test_metric, test_acc))
    steps_to_solve = solved_at.get("step", trainer.step) if solved else None
    if probe:
        gn["trained"] = _json_norms(loss_grad_norms(model, *probe))
    rec = dict(task=task, T=int(T), cell=cell, seed=int(seed),
               test_metric=float(test_metric) if finite else None,
               baseline=float(spec.baseline()), solved=solved, steps_to_solve=steps_to_solve,
               wall_s=round(time.perf_counter() - t0, 3), metric=spec.metric,
               test_accuracy=test_acc, steps=trainer.step, step_cap=steps,
               train_s=round(train_s, 3),
               cpu_s=round(time.process_time() - c0, 3), diverged=diverged or not finite,
               hidden=hidden, lr=lr, clip=clip, batch=batch, optimizer=optimizer,
               forget_bias=model.cfg.forget_bias, cell_options=dict(model.cfg.cell_options),
               backend=backend or _backend.get_backend())
    if probe:
        rec["grad_norms"] = gn
    return rec


def _stop_when_solved(task, solved_at):
    """The Trainer's stop hook: solved on the quick part the evaluation just scored
    (task.last_eval), then on the whole test set; records the step in solved_at['step']."""
    def stop(trainer):
        if not task.solved(*task.last_eval) or not task.solved(*task.evaluate(trainer.model)):
            return False
        solved_at["step"] = trainer.step
        return True
    return stop


# ----------------------------------------------------------------------------- the grid

def run_experiments(task, Ts, cells, hidden, seeds, steps=None, time_budget=None, lr=0.01,
                    clip=1.0, batch=64, optimizer="adam", out_dir=None, json_lines=False,
                    progress=print, forget_bias=None, eval_every=100, test_size=1000,
                    backend=None, grad_norm_batch=64, cell_options=None, grad_norms=None):
    """Run every (T, cell, seed) and return the records, in that order.

    Ts: list of ints or '50,100'; cells: list or 'rnn,lstm' (the cell registry's names);
    seeds: a count n (seeds 0..n-1) or a list. steps and/or time_budget (wall-clock seconds)
    bound each run (neither: max(1000, 15*T) steps, options.default_steps); every run stops
    once solved. clip 0 or None disables clipping. cell_options ({'layer_norm': True}) go to
    the cells that take them (each option must suit at least one). json_lines prints each record
    as one JSON line on stdout as it finishes. out_dir: writes results.json, metric_vs_T.png
    and grad_norms.png there. The gradient norms are measured for the first seed of each cell
    at the largest T; pass a dict as grad_norms to receive them ({cell: {'T', 'seed', 'init',
    'trained'}}, the norms indexed by the distance from the last step)."""
    o = check_grid(task, Ts, cells, hidden, seeds, steps, time_budget, lr, clip, batch,
                   optimizer, eval_every, test_size, backend, forget_bias, cell_options)
    progress = progress or (lambda *a, **k: None)
    settings = {k: o[k] for k in ("hidden", "steps", "time_budget", "lr", "clip", "batch",
                                  "optimizer", "eval_every", "test_size", "backend")}
    records, grad = [], {} if grad_norms is None else grad_norms
    runs = [(T, c, s) for T in o["Ts"] for c in o["cells"] for s in o["seeds"]]
    started, cpu_started = time.perf_counter(), time.process_time()
    for i, (T, cell, seed) in enumerate(runs, 1):
        want_gn = grad_norm_batch if (T == max(o["Ts"]) and seed == o["seeds"][0]) else 0
        rec = run_one(task, T, cell, seed, forget_bias=o["forget_bias"],
                      grad_norm_batch=want_gn,
                      cell_options=options_for(cell, o["cell_options"]), **settings)
        if "grad_norms" in rec:
            grad[cell] = dict(T=T, seed=seed, **rec.pop("grad_norms"))
        records.append(rec)
        progress(f"[{i}/{len(runs)}] {describe(rec)}")
        if json_lines:
            print(json.dumps(rec), flush=True)
    meta = dict(o, backend=backend or _backend.get_backend(),
                step_rule=None if o["steps"] or o["time_budget"] else STEP_RULE,
                total_cpu_s=round(time.process_time() - cpu_started, 3),
                solved_rule=SOLVED_RULES[task], metric=task_class(task).metric,
                date=datetime.date.today().isoformat(),
                total_wall_s=round(time.perf_counter() - started, 3))
    if out_dir is not None:
        paths = write_outputs(out_dir, meta, records, grad)
        progress("wrote " + ", ".join(paths))
    return records


def run_quick_demo(out_dir=None, progress=print):
    """Adding problem at T=50, one seed, RNN and LSTM, hidden 32, a 1000-step budget, stopping
    once solved (a few seconds of CPU: the LSTM solves it, the RNN does not).
    Returns {'records': [...], 'table': str, 'out_dir': ..., 'grad_norms': {cell: {'T', 'seed',
    'init', 'trained'}}} (||dL/dh_t|| on 32 test sequences, indexed by distance)."""
    grad = {}
    recs = run_experiments("adding", [50], ["rnn", "lstm"], hidden=32, seeds=1, steps=1000,
                           lr=0.01, clip=1.0, batch=32, eval_every=50, test_size=500,
                           out_dir=out_dir, progress=progress, grad_norm_batch=32,
                           grad_norms=grad)
    return {"records": recs, "table": format_table(recs), "out_dir": out_dir, "grad_norms": grad}

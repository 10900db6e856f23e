"""Training and evaluation: one run (``run_one``), the grid (``run_experiments``), the demo.

Every run sees fresh training batches (stream seeded by (seed, T)), is evaluated on one fixed
held-out test set per (task, T) (``test_size`` sequences, the same for every cell and seed),
checks "solved" every ``eval_every`` steps (first on a quarter of the test set, then on all
of it) and stops early once solved, so the budget goes to the runs that still need it.
"""
from __future__ import annotations

import datetime
import json
import math
import time

import numpy as np

from ..nn import backend as _backend
from ..errors import RnnlabError
from ..nn.layers import LSTM
from ..nn.optim import OPTIMIZERS, clip_grad_norm, make_optimizer
from .model import CELLS, _Model, grad_norms
from .options import (DEFAULTS, _check_cells, _check_seeds, _positive_float, _positive_int,
                      parse_int_list)
from .report import _describe, format_table, write_outputs
from .tasks import SOLVED_RULES, TASKS, _check_task, _test_set

RECORD_KEYS = ("task", "T", "cell", "seed", "test_metric", "baseline", "solved",
               "steps_to_solve", "wall_s")


def _evaluate(model, task, x, target, chunk=250):
    """Mean test loss and accuracy over x (in chunks, to bound the forward cache)."""
    n = x.shape[1]
    tot_loss, outs = 0.0, []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        xs = x[:, a:b]
        ts = target[a:b] if task.readout == "last" else target[:, a:b]
        out = model.forward(xs)
        loss, _ = task.loss(out, ts)
        tot_loss += loss * (b - a)
        outs.append(out)
    out = np.concatenate(outs, axis=0 if task.readout == "last" else 1)
    return tot_loss / n, task.accuracy(out, target)


def _subset(task, x, target, n):
    return x[:, :n], (target[:n] if task.readout == "last" else target[:, :n])


def run_one(task, T, cell, seed, hidden=64, steps=None, time_budget=None, lr=0.01, clip=1.0,
            batch=64, optimizer="adam", forget_bias=1.0, eval_every=100, test_size=1000,
            backend=None, grad_norm_batch=0):
    """Train one model and return its record (see RECORD_KEYS; plus metric, test_accuracy,
    steps, diverged, and the settings). With grad_norm_batch > 0 the record also holds
    'grad_norms': {'init': [...], 'trained': [...]} measured on that many test sequences."""
    spec = _check_task(task)
    if steps is None and time_budget is None:
        steps = DEFAULTS["steps"]
    model = _Model(spec, cell, hidden, seed, forget_bias)
    model.backend = backend
    x_test, y_test = _test_set(spec, T, test_size)
    quick = _subset(spec, x_test, y_test, max(1, test_size // 4))
    gn = {}
    if grad_norm_batch:
        gx, gy = _subset(spec, x_test, y_test, grad_norm_batch)
        gn["init"] = grad_norms(model, gx, gy).tolist()
    opt = make_optimizer(optimizer, model.params, lr)
    rng = np.random.default_rng([seed, T, TASKS.index(task)])
    t0, c0 = time.perf_counter(), time.process_time()
    step, steps_to_solve, diverged = 0, None, False
    while True:
        if steps is not None and step >= steps:
            break
        if time_budget is not None and time.perf_counter() - t0 >= time_budget:
            break
        x, target = spec.data(T, batch, rng)
        model.zero_grad()
        loss, dout = spec.loss(model.forward(x), target)
        if not math.isfinite(loss):
            diverged = True
            break
        model.backward(dout)
        if clip:
            clip_grad_norm(model.grads, clip)
        opt.step(model.grads)
        step += 1
        if step % eval_every == 0:
            m, acc = _evaluate(model, spec, *quick)
            if spec.solved(m, acc):
                m, acc = _evaluate(model, spec, x_test, y_test)
                if spec.solved(m, acc):
                    steps_to_solve = step
                    break
    train_s = time.perf_counter() - t0
    test_metric, test_acc = _evaluate(model, spec, x_test, y_test)
    if not math.isfinite(test_metric):
        diverged = True
    solved = bool(math.isfinite(test_metric) and spec.solved(test_metric, test_acc))
    if solved and steps_to_solve is None:      # solved only at the final evaluation
        steps_to_solve = step
    if grad_norm_batch:
        gn["trained"] = grad_norms(model, gx, gy).tolist()
    rec = dict(task=task, T=int(T), cell=cell, seed=int(seed),
               test_metric=float(test_metric) if math.isfinite(test_metric) else None,
               baseline=float(spec.baseline(T)), solved=solved,
               steps_to_solve=steps_to_solve, wall_s=round(time.perf_counter() - t0, 3),
               metric=spec.metric, test_accuracy=test_acc, steps=step,
               train_s=round(train_s, 3), cpu_s=round(time.process_time() - c0, 3),
               diverged=diverged, hidden=hidden, lr=lr, clip=clip,
               batch=batch, optimizer=optimizer,
               forget_bias=forget_bias if CELLS[cell][0] is LSTM else None,
               backend=backend or _backend.get_backend())
    if grad_norm_batch:
        rec["grad_norms"] = gn
    return rec


# ----------------------------------------------------------------------------- the grid

def run_experiments(task, Ts, cells, hidden, seeds, steps=None, time_budget=None, lr=0.01,
                    clip=1.0, batch=64, optimizer="adam", out_dir=None, json_lines=False,
                    progress=print, forget_bias=1.0, eval_every=100, test_size=1000,
                    backend=None, grad_norm_batch=64):
    """Run every (T, cell, seed) and return the records, in that order.

    Ts: list of ints or '50,100'; cells: list or 'rnn,lstm'; seeds: a count n (seeds 0..n-1)
    or a list. steps and/or time_budget (seconds) bound each run (default 1000 steps); clip 0
    or None disables clipping. json_lines prints each record as one JSON line on stdout as it
    finishes. out_dir: writes results.json, metric_vs_T.png and grad_norms.png there. The
    gradient norms are measured for the first seed of each cell at the largest T."""
    spec = _check_task(task)
    Ts = parse_int_list("T", Ts, "--T 50,100,200")
    if min(Ts) < spec.min_T:
        raise RnnlabError(f"--T for {task} must be >= {spec.min_T}, got {min(Ts)}")
    cells = _check_cells(cells)
    hidden = _positive_int("hidden", hidden, "--hidden 64")
    seeds = _check_seeds(seeds)
    if steps is not None:
        steps = _positive_int("steps", steps, "--steps 2000")
    if time_budget is not None:
        time_budget = _positive_float("time budget", time_budget, "--time-budget 60")
    lr = _positive_float("lr", lr, "--lr 0.01")
    if clip is not None and clip != 0:
        clip = _positive_float("clip", clip, "--clip 1")
    else:
        clip = None
    batch = _positive_int("batch", batch, "--batch 64")
    if optimizer not in OPTIMIZERS:
        raise RnnlabError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    eval_every = _positive_int("eval_every", eval_every, "--eval-every 100")
    test_size = _positive_int("test_size", test_size, "--test-size 1000")
    if backend is not None and backend not in _backend.BACKENDS:
        raise RnnlabError(f"backend {backend!r} is unknown; choose one of "
                          f"{', '.join(_backend.BACKENDS)}")
    if progress is None:
        progress = lambda *a, **k: None  # noqa: E731
    records, grad = [], {}
    runs = [(T, c, s) for T in Ts for c in cells for s in seeds]
    started = time.perf_counter()
    for i, (T, cell, seed) in enumerate(runs, 1):
        want_gn = grad_norm_batch if (T == max(Ts) and seed == seeds[0]) else 0
        rec = run_one(task, T, cell, seed, hidden, steps, time_budget, lr, clip, batch,
                      optimizer, forget_bias, eval_every, test_size, backend, want_gn)
        if "grad_norms" in rec:
            grad[cell] = dict(T=T, seed=seed, **rec.pop("grad_norms"))
        records.append(rec)
        progress(f"[{i}/{len(runs)}] {_describe(rec)}")
        if json_lines:
            print(json.dumps(rec), flush=True)
    meta = dict(task=task, Ts=Ts, cells=cells, hidden=hidden, seeds=seeds, steps=steps,
                time_budget=time_budget, lr=lr, clip=clip, batch=batch, optimizer=optimizer,
                forget_bias=forget_bias, eval_every=eval_every, test_size=test_size,
                backend=backend or _backend.get_backend(), solved_rule=SOLVED_RULES[task],
                metric=spec.metric, date=datetime.date.today().isoformat(),
                total_wall_s=round(time.perf_counter() - started, 3))
    if out_dir is not None:
        paths = write_outputs(out_dir, meta, records, grad)
        progress("wrote " + ", ".join(paths))
    return records


def run_quick_demo(out_dir=None, progress=print):
    """Adding problem at T=50, one seed, RNN and LSTM, hidden 32, a 1000-step budget, stopping
    once solved (about 5 s of CPU on 2 cores: the LSTM solves it at step 550, the RNN does not).
    Returns {'records': [...], 'table': str, 'out_dir': ...}."""
    recs = run_experiments("adding", [50], ["rnn", "lstm"], hidden=32, seeds=1, steps=1000,
                           lr=0.01, clip=1.0, batch=32, eval_every=50, test_size=500,
                           out_dir=out_dir, progress=progress, grad_norm_batch=32)
    return {"records": recs, "table": format_table(recs), "out_dir": out_dir}


"""Long memory, measured: the plain RNN against the LSTM (and GRU) on the classic long-range tasks.

    records = run_experiments("adding", Ts=[100, 200], cells=["rnn", "lstm"], hidden=64,
                              seeds=3, time_budget=60)

Tasks (data from rnnlab.data.synthetic; inputs one-hot for the symbol tasks):

- ``adding``: two channels (value U[0, 1], marker), one marked step in each half; a Linear head
  on the last output predicts the sum. Loss and test metric: MSE. Baseline: always predicting
  1.0 gives 1/6 ~ 0.167. Solved: test MSE < 0.01.
- ``copy``: 10 symbols out of 8, T-1 blanks, a delimiter, 10 blanks; the model must output the
  10 symbols in the last 10 steps (and blanks before). Loss and test metric: the mean softmax
  cross-entropy per step (all T+20 steps). Baseline: 10 ln 8 / (T + 20), the loss of emitting
  blanks and guessing the symbols uniformly. Solved: accuracy on the 10 copied symbols > 0.99.
- ``temporal-order``: noise with X/Y at two early positions; 4-class classification of their
  order from the last output. Loss and test metric: cross-entropy; baseline ln 4; the accuracy
  is recorded too (baseline 0.25). Solved: test accuracy > 0.95.

So ``test_metric`` is always the test loss (lower is better) and ``baseline`` is the loss of the
best model that remembers nothing; ``test_accuracy`` is added for the two symbol tasks.

Every run sees fresh training batches (stream seeded by (seed, T)), is evaluated on one fixed
held-out test set per (task, T) (``test_size`` sequences, the same for every cell and seed),
checks "solved" every ``eval_every`` steps (first on a quarter of the test set, then on all
of it) and stops early once solved, so the budget goes to the runs that still need it.

``grad_norms``: ||dL/dh_t|| for every t, computed with the layer's own backward one step at a
time (no edits to the cells): after the forward pass the loss gradient is put on the outputs
and carried backwards; each step's backward returns dstate0 = the gradient on the state before
it. Recorded at initialisation and after training, against the distance T_total - 1 - t from
the end of the sequence (where the loss is read).
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import math
import os
import sys
import tempfile
import time

import numpy as np

from . import backend as _backend
from .blocks import Linear, softmax_cross_entropy, mse
from .data import synthetic
from .errors import RnnlabError
from .layers import GRU, LSTM, RNN
from .optim import OPTIMIZERS, clip_grad_norm, make_optimizer

TASKS = ("adding", "copy", "temporal-order")
CELLS = {
    "rnn": (RNN, {}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "lstm-peephole": (LSTM, {"variant": "peephole"}),
    "lstm-coupled": (LSTM, {"variant": "coupled"}),
}
RECORD_KEYS = ("task", "T", "cell", "seed", "test_metric", "baseline", "solved",
               "steps_to_solve", "wall_s")
COPY_LENGTH, COPY_SYMBOLS = 10, 8
DEFAULTS = dict(Ts="50,100,200,400", cells="rnn,lstm", hidden=64, seeds=3, lr=0.01, clip=1.0,
                batch=64, optimizer="adam", steps=1000, forget_bias=1.0, eval_every=100,
                test_size=1000)


# ----------------------------------------------------------------------------- tasks

class _Task:
    """What a task needs: data, head size, where the loss is read, loss, metric, solved."""
    name = ""
    metric = ""            # the test metric's name (a loss)
    input_size = 0
    output_size = 0
    readout = "last"       # 'last': the head reads the last output; 'all': every step
    min_T = 1

    def data(self, T, n, rng):
        """Returns (x float32 (T_total, n, input_size), target)."""
        raise NotImplementedError

    def loss(self, out, target):
        raise NotImplementedError

    def accuracy(self, out, target):
        return None

    def baseline(self, T):
        raise NotImplementedError

    def solved(self, metric, accuracy):
        raise NotImplementedError


class _Adding(_Task):
    name, metric, input_size, output_size, min_T = "adding", "mse", 2, 1, 2
    threshold = 0.01

    def data(self, T, n, rng):
        return synthetic.adding_problem(T, n, rng)

    def loss(self, out, target):
        return mse(out, target)

    def baseline(self, T):
        return 1.0 / 6.0

    def solved(self, metric, accuracy):
        return metric < self.threshold


def _one_hot(ids, V):
    return np.eye(V, dtype=np.float32)[ids]


class _Copy(_Task):
    name, metric, readout = "copy", "cross-entropy per step", "all"
    input_size, output_size, min_T = COPY_SYMBOLS + 2, COPY_SYMBOLS + 1, 1
    threshold = 0.99

    def data(self, T, n, rng):
        x, y = synthetic.copy_memory(T, n, rng, n_symbols=COPY_SYMBOLS, length=COPY_LENGTH)
        return _one_hot(x, self.input_size), y

    def loss(self, out, target):
        return softmax_cross_entropy(out, target)

    def accuracy(self, out, target):
        """Accuracy on the copied symbols (the last COPY_LENGTH steps)."""
        pred = out[-COPY_LENGTH:].argmax(-1)
        return float((pred == target[-COPY_LENGTH:]).mean())

    def baseline(self, T):
        return synthetic.copy_baseline(COPY_LENGTH, T, COPY_SYMBOLS)

    def solved(self, metric, accuracy):
        return accuracy > self.threshold


class _TemporalOrder(_Task):
    name, metric = "temporal-order", "cross-entropy"
    input_size, output_size, min_T = len(synthetic.TEMPORAL_ORDER_ALPHABET), 4, 10
    threshold = 0.95

    def data(self, T, n, rng):
        x, y = synthetic.temporal_order(T, n, rng)
        return _one_hot(x, self.input_size), y

    def loss(self, out, target):
        return softmax_cross_entropy(out, target)

    def accuracy(self, out, target):
        return float((out.argmax(-1) == target).mean())

    def baseline(self, T):
        return math.log(4)

    def solved(self, metric, accuracy):
        return accuracy > self.threshold


_TASKS = {"adding": _Adding(), "copy": _Copy(), "temporal-order": _TemporalOrder()}

SOLVED_RULES = {"adding": "test MSE < 0.01",
                "copy": "accuracy on the 10 copied symbols > 0.99",
                "temporal-order": "test accuracy > 0.95"}


# ----------------------------------------------------------------------------- model

class _Model:
    """One recurrent layer and a Linear head; params/grads keyed 'rnn.*' and 'head.*' (views
    of the children's arrays, so the optimizer updates the children in place)."""

    def __init__(self, task, cell, hidden, seed, forget_bias=1.0, dtype=np.float32):
        cls, kw = CELLS[cell]
        if cls is LSTM and forget_bias is not None:
            kw = dict(kw, forget_bias=float(forget_bias))
        self.task, self.cell = task, cell
        self.rnn = cls(task.input_size, hidden, seed=seed, dtype=dtype, **kw)
        self.head = Linear(hidden, task.output_size, dtype=dtype, seed=seed + 10_000)
        self.params = {**{"rnn." + k: v for k, v in self.rnn.params.items()},
                       **{"head." + k: v for k, v in self.head.params.items()}}
        self.grads = {**{"rnn." + k: v for k, v in self.rnn.grads.items()},
                      **{"head." + k: v for k, v in self.head.grads.items()}}
        self.backend = None

    def zero_grad(self):
        for g in self.grads.values():
            g.fill(0)

    def forward(self, x):
        y, _ = self.rnn(x, backend=self.backend)
        self._y_shape = y.shape
        return self.head(y[-1] if self.task.readout == "last" else y)

    def backward(self, dout):
        dh = self.head.backward(dout)
        if self.task.readout == "last":
            dy = np.zeros(self._y_shape, dh.dtype)
            dy[-1] = dh
        else:
            dy = dh
        self.rnn.backward(dy)
        return dy

    def outputs_grad(self, x, target):
        """Forward on x, the loss, and dL/dy (T, B, H) on the layer's outputs (no param grads
        are kept)."""
        saved = {k: g.copy() for k, g in self.head.grads.items()}
        out = self.forward(x)
        loss, dout = self.task.loss(out, target)
        dy = self.head.backward(dout)
        for k, g in self.head.grads.items():
            g[...] = saved[k]
        if self.task.readout == "last":
            full = np.zeros(self._y_shape, dy.dtype)
            full[-1] = dy
            dy = full
        return loss, dy


def grad_norms(model, x, target):
    """||dL/dh_t|| (Frobenius norm over the batch and hidden units; L the batch-mean loss) for
    every step t, indexed by distance d = T_total - 1 - t from the end of the sequence.

    Uses the layer's own forward/backward one step at a time: the states s_t are recorded in a
    forward pass; then from the last step back, step t is re-run from s_{t-1} and its backward,
    given dy_t and the gradient carried from the future, returns dstate0 = dL/ds_{t-1} (the part
    through the recurrence). dL/dh_t = carried + dy_t (h_t is also the output y_t).
    For the LSTM the h part of the state is reported (the c part is carried along)."""
    layer = model.rnn
    _, dy = model.outputs_grad(x, target)
    T = x.shape[0]
    lstm = layer.has_cell_state
    states, s = [], None
    for t in range(T):                           # s_{t-1} before step t, in layer shape (1, B, H)
        states.append(s)
        _, s = layer(x[t:t + 1], s, backend=model.backend)
    norms = np.empty(T)
    carried = None                               # dL/ds_t from steps after t
    saved = {k: g.copy() for k, g in layer.grads.items()}
    for t in reversed(range(T)):
        dh_total = dy[t] + (carried[0][0] if lstm else carried[0]) if carried is not None \
            else dy[t]
        norms[T - 1 - t] = float(np.linalg.norm(dh_total))
        layer(x[t:t + 1], states[t], backend=model.backend)
        _, carried = layer.backward(dy[t:t + 1], carried)
    for k, g in layer.grads.items():             # leave the model's gradients as they were
        g[...] = saved[k]
    return norms


# ----------------------------------------------------------------------------- checks

def _positive_int(name, v, flag):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise RnnlabError(f"{name} must be a positive integer, got {v!r}; pass e.g. {flag}")
    return int(v)


def _positive_float(name, v, flag):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
            or not math.isfinite(v) or v <= 0:
        raise RnnlabError(f"{name} must be a positive number, got {v!r}; pass e.g. {flag}")
    return float(v)


def parse_int_list(name, text, flag):
    """'50,100,200' -> [50, 100, 200]; each a positive integer, no duplicates."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        items = [s.strip() for s in str(text).split(",")]
    out = []
    for s in items:
        try:
            v = int(s) if not isinstance(s, (int, np.integer)) or isinstance(s, bool) else s
        except (TypeError, ValueError):
            raise RnnlabError(f"{name} must be a comma-separated list of positive integers, got "
                              f"{text!r}; pass e.g. {flag}") from None
        if isinstance(v, bool) or v < 1:
            raise RnnlabError(f"{name} must be a comma-separated list of positive integers, got "
                              f"{text!r}; pass e.g. {flag}")
        out.append(int(v))
    if not out or len(set(out)) != len(out):
        raise RnnlabError(f"{name} must list distinct positive integers, got {text!r}; "
                          f"pass e.g. {flag}")
    return out


def _check_task(task):
    if task not in _TASKS:
        raise RnnlabError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return _TASKS[task]


def _check_cells(cells):
    items = cells.split(",") if isinstance(cells, str) else list(cells)
    items = [str(c).strip().lower() for c in items]
    bad = [c for c in items if c not in CELLS]
    if bad or not items:
        raise RnnlabError(f"unknown cell {bad[0] if bad else cells!r} in --cell; choose from "
                          f"{', '.join(CELLS)} (e.g. --cell rnn,lstm)")
    if len(set(items)) != len(items):
        raise RnnlabError(f"--cell lists a cell twice: {cells!r}")
    return items


def _check_seeds(seeds):
    """An int n means seeds 0..n-1; a list (or '0,5,7') lists them."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return list(range(_positive_int("seeds", seeds, "--seeds 3")))
    if isinstance(seeds, str) and "," not in seeds:
        try:
            return list(range(_positive_int("seeds", int(seeds), "--seeds 3")))
        except ValueError:
            raise RnnlabError(f"--seeds must be a count (3) or a list (0,1,2), got {seeds!r}") \
                from None
    items = seeds.split(",") if isinstance(seeds, str) else list(seeds)
    try:
        out = [int(s) for s in items]
    except (TypeError, ValueError):
        raise RnnlabError(f"--seeds must be a count (3) or a list (0,1,2), got {seeds!r}") \
            from None
    if not out or min(out) < 0 or len(set(out)) != len(out):
        raise RnnlabError(f"--seeds must be a count (3) or distinct seeds >= 0, got {seeds!r}")
    return out


# ----------------------------------------------------------------------------- one run

def _test_set(task, T, n):
    """The held-out test set of (task, T): fixed, the same for every cell and seed."""
    return task.data(T, n, np.random.default_rng([20261126, TASKS.index(task.name), T]))


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


def _describe(r):
    acc = f", acc {r['test_accuracy']:.3f}" if r.get("test_accuracy") is not None else ""
    met = "nan" if r["test_metric"] is None else f"{r['test_metric']:.4g}"
    how = (f"solved at step {r['steps_to_solve']}" if r["solved"]
           else ("DIVERGED" if r.get("diverged") else f"not solved in {r['steps']} steps"))
    return (f"{r['task']} T={r['T']} {r['cell']} seed={r['seed']}: {how} (test {r['metric']} "
            f"{met} vs baseline {r['baseline']:.4g}{acc}; {r['wall_s']:.1f} s)")


def summary_rows(records):
    """One row per (task, T, cell): solved count, mean test metric, median steps_to_solve."""
    rows = {}
    for r in records:
        rows.setdefault((r["task"], r["T"], r["cell"]), []).append(r)
    out = []
    for (task, T, cell), rs in rows.items():
        ms = [r["test_metric"] for r in rs if r["test_metric"] is not None]
        accs = [r["test_accuracy"] for r in rs if r.get("test_accuracy") is not None]
        sts = [r["steps_to_solve"] for r in rs if r["steps_to_solve"] is not None]
        out.append(dict(task=task, T=T, cell=cell, solved=sum(r["solved"] for r in rs),
                        runs=len(rs), mean_metric=float(np.mean(ms)) if ms else None,
                        mean_accuracy=float(np.mean(accs)) if accs else None,
                        baseline=rs[0]["baseline"],
                        median_steps_to_solve=float(np.median(sts)) if sts else None,
                        mean_wall_s=float(np.mean([r["wall_s"] for r in rs]))))
    return out


def format_table(records):
    """The end-of-run table, one line per (task, T, cell)."""
    head = f"{'task':<15}{'T':>5}  {'cell':<14}{'solved':>7}  {'test metric':>11}  " \
           f"{'baseline':>9}  {'accuracy':>8}  {'steps to solve':>14}  {'wall s':>7}"
    lines = [head, "-" * len(head)]
    for r in summary_rows(records):
        met = "nan" if r["mean_metric"] is None else f"{r['mean_metric']:.4g}"
        acc = "-" if r["mean_accuracy"] is None else f"{r['mean_accuracy']:.3f}"
        sts = "-" if r["median_steps_to_solve"] is None else f"{r['median_steps_to_solve']:.0f}"
        lines.append(f"{r['task']:<15}{r['T']:>5}  {r['cell']:<14}"
                     f"{str(r['solved']) + '/' + str(r['runs']):>7}  {met:>11}  "
                     f"{r['baseline']:>9.4g}  {acc:>8}  {sts:>14}  {r['mean_wall_s']:>7.1f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- outputs

def _atomic_write_text(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_outputs(out_dir, meta, records, grad):
    """results.json (meta, records, grad_norms), metric_vs_T.png, grad_norms.png. Returns the
    paths written. The plots are skipped (with a note in meta) when matplotlib is missing."""
    os.makedirs(out_dir, exist_ok=True)
    if importlib.util.find_spec("matplotlib") is None:       # an optional dependency
        meta = dict(meta, plots_skipped="matplotlib is not installed: pip install 'rnnlab[viz]'")
    p = os.path.join(out_dir, "results.json")                # first: the numbers are what count
    _atomic_write_text(p, json.dumps(dict(meta=meta, records=records, grad_norms=grad),
                                     indent=1) + "\n")
    written = [p]
    if "plots_skipped" in meta:
        return written
    from .viz import plots
    pts = [dict(cell=r["cell"], T=r["T"], metric=r["mean_metric"], baseline=r["baseline"])
           for r in summary_rows(records) if r["mean_metric"] is not None]
    if pts:
        p = os.path.join(out_dir, "metric_vs_T.png")
        plots.plot_metric_vs_T(pts, p, metric=f"test {meta['metric']} (mean over seeds)",
                               title=f"{meta['task']}: test {meta['metric']} vs T")
        written.append(p)
    curves = {}
    for cell, g in grad.items():
        curves[f"{cell} init"] = g["init"]
        curves[f"{cell} trained"] = g["trained"]
    if curves:
        T = next(iter(grad.values()))["T"]
        p = os.path.join(out_dir, "grad_norms.png")
        plots.plot_grad_norms(curves, p, title=f"{meta['task']}, T={T}: "
                              "\u2016\u2202L/\u2202h_t\u2016 at init and after training")
        written.append(p)
    return written


# ----------------------------------------------------------------------------- demo, CLI

def run_quick_demo(out_dir=None, progress=print):
    """Adding problem at T=50, one seed, RNN and LSTM, hidden 32, a 1000-step budget, stopping
    once solved (about 5 s of CPU on 2 cores: the LSTM solves it at step 550, the RNN does not).
    Returns {'records': [...], 'table': str, 'out_dir': ...}."""
    recs = run_experiments("adding", [50], ["rnn", "lstm"], hidden=32, seeds=1, steps=1000,
                           lr=0.01, clip=1.0, batch=32, eval_every=50, test_size=500,
                           out_dir=out_dir, progress=progress, grad_norm_batch=32)
    return {"records": recs, "table": format_table(recs), "out_dir": out_dir}


def add_arguments(parser):
    """Add `rnnlab experiment`'s options to an argparse (sub)parser."""
    parser.add_argument("task", help="adding | copy | temporal-order")
    parser.add_argument("--T", default=DEFAULTS["Ts"], help="sequence lengths, comma-separated "
                        "(default %(default)s)")
    parser.add_argument("--cell", default=DEFAULTS["cells"], help="cells, comma-separated: "
                        f"{', '.join(CELLS)} (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    parser.add_argument("--seeds", default=str(DEFAULTS["seeds"]),
                        help="number of seeds (3 = seeds 0,1,2) or a list like 0,4,7")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps per run (default {DEFAULTS['steps']} unless "
                        "--time-budget is given)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="wall-clock budget per run; with --steps, whichever ends first")
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    parser.add_argument("--clip", type=float, default=DEFAULTS["clip"],
                        help="gradient-norm clip (0 disables)")
    parser.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    parser.add_argument("--optimizer", default=DEFAULTS["optimizer"],
                        help=f"{', '.join(OPTIMIZERS)} (default %(default)s)")
    parser.add_argument("--forget-bias", type=float, default=DEFAULTS["forget_bias"],
                        help="LSTM forget-gate bias at init (default %(default)s)")
    parser.add_argument("--eval-every", type=int, default=DEFAULTS["eval_every"],
                        help="check 'solved' every N steps (default %(default)s)")
    parser.add_argument("--test-size", type=int, default=DEFAULTS["test_size"])
    parser.add_argument("--backend", default=None, help="numba | numpy (default: the global)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record per run on stdout (progress on stderr)")
    parser.add_argument("--out", default="rnnlab-experiments", metavar="DIR",
                        help="results.json, metric_vs_T.png, grad_norms.png (default ./%(default)s)")
    return parser


def run_from_args(args) -> int:
    """Run `rnnlab experiment` from parsed args. Returns the exit code (0). Bad options raise
    RnnlabError (the CLI turns it into exit code 2)."""
    if args.json:
        progress = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    else:
        progress = lambda s: print(s, flush=True)  # noqa: E731
    records = run_experiments(
        args.task, args.T, args.cell, args.hidden, args.seeds, steps=args.steps,
        time_budget=args.time_budget, lr=args.lr, clip=args.clip, batch=args.batch,
        optimizer=args.optimizer, out_dir=args.out, json_lines=args.json, progress=progress,
        forget_bias=args.forget_bias, eval_every=args.eval_every, test_size=args.test_size,
        backend=args.backend)
    (progress if args.json else print)(format_table(records))
    return 0

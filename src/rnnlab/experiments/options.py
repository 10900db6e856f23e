"""Option checks for the experiments (each bad value raises a one-line RnnlabError naming the
flag and an example), and the defaults shared by the API and the CLI. The cells are the
command-line names of the cell registry (rnnlab.nn.registry.choices()): a new cell there is a
new --cell choice here."""
from __future__ import annotations


import numpy as np

from ..errors import RnnlabError
from ..validate import number, positive_int
from ..nn import backend as _backend
from ..nn import registry
from ..nn.optim import OPTIMIZERS
from ..tasks.model import SequenceModel
from .tasks import task_class

DEFAULTS = dict(Ts="50,100,200,400", cells="rnn,lstm", hidden=64, seeds=3, lr=0.01, clip=1.0,
                batch=64, optimizer="adam", steps=None, forget_bias=None, eval_every=100,
                test_size=1000)

# The default step cap of a run (no --steps, no --time-budget): max(STEPS_MIN, STEPS_PER_T * T).
# A run stops earlier once solved, so the cap is spent only by the runs that fail. Measured
# (docs/long-memory.md, adding, hidden 64, lr 0.01, batch 64): the LSTM needed 8-12 steps per
# unit of T at T = 100 and 200 (slowest seeds 1200 and 2400), so 15*T leaves it a quarter
# again, a narrow margin; a fixed 1000 left it unsolved at T = 200.
STEPS_MIN, STEPS_PER_T = 1000, 15
STEP_RULE = f"max({STEPS_MIN}, {STEPS_PER_T}*T)"


def default_steps(T):
    """The step cap of a run at sequence length T when neither steps nor a time budget is
    given: max(STEPS_MIN, STEPS_PER_T * T), e.g. 1000 at T = 50, 3000 at T = 200."""
    return max(STEPS_MIN, STEPS_PER_T * int(T))


def _positive_int(name, v, flag):
    return positive_int(name, v, hint=f"pass e.g. {flag}")


def _positive_float(name, v, flag):
    return number(name, v, lo=0, lo_open=True, hint=f"pass e.g. {flag}")


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


def cell_names():
    """The --cell choices: every command-line name of the cell registry."""
    return list(registry.choices())


def _check_cells(cells):
    items = cells.split(",") if isinstance(cells, str) else list(cells)
    items = [str(c).strip().lower() for c in items]
    known = cell_names()
    bad = [c for c in items if c not in known]
    if bad or not items:
        raise RnnlabError(f"unknown cell {bad[0] if bad else cells!r} in --cell; choose from "
                          f"{', '.join(known)} (e.g. --cell rnn,lstm)")
    if len(set(items)) != len(items):
        raise RnnlabError(f"--cell lists a cell twice: {cells!r}")
    return items


def check_cell_options(cells, cell_options):
    """{option: value} of the cells' own options (the registry's CellOptions, e.g.
    {'layer_norm': True}) -> the same dict; each option must be one that at least one of the
    cells takes (it applies to those that take it), and each cell must accept what it gets
    (the layer checks the values: a model of each is built once, small, before any run)."""
    cell_options = dict(cell_options or {})
    if not cell_options:
        return cell_options
    takes = {c: {o.name for o in registry.choices()[c][0].options} for c in cells}
    for name in cell_options:
        if not any(name in t for t in takes.values()):
            which = [spec.name for spec in registry.CELLS.values()
                     if any(o.name == name for o in spec.options)]
            flag = "--" + name.replace("_", "-")
            raise RnnlabError(f"{flag} is not an option of {', '.join(cells)}; it is an option "
                              f"of {', '.join(which) or 'no cell'}: add one to --cell or drop "
                              f"{flag}")
    return cell_options


def options_for(cell, cell_options):
    """The part of cell_options that `cell` (a --cell name) takes."""
    takes = {o.name for o in registry.choices()[cell][0].options}
    return {k: v for k, v in (cell_options or {}).items() if k in takes}


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


def check_grid(task, Ts, cells, hidden, seeds, steps, time_budget, lr, clip, batch, optimizer,
               eval_every, test_size, backend, forget_bias=None, cell_options=None):
    """Every option of run_experiments checked and normalised: a dict of the same names (Ts,
    cells and seeds as lists, clip None when off). The first bad one raises."""
    spec = task_class(task)
    Ts = parse_int_list("T", Ts, "--T 50,100,200")
    if min(Ts) < spec.min_T:
        raise RnnlabError(f"--T for {task} must be >= {spec.min_T}, got {min(Ts)}")
    out = dict(task=task, Ts=Ts, cells=_check_cells(cells),
               hidden=_positive_int("hidden", hidden, "--hidden 64"), seeds=_check_seeds(seeds))
    out["steps"] = None if steps is None else _positive_int("steps", steps, "--steps 2000")
    out["time_budget"] = (None if time_budget is None else
                          _positive_float("time budget", time_budget, "--time-budget 60"))
    out["lr"] = _positive_float("lr", lr, "--lr 0.01")
    out["clip"] = _positive_float("clip", clip, "--clip 1") if clip else None
    out["batch"] = _positive_int("batch", batch, "--batch 64")
    if optimizer not in OPTIMIZERS:
        raise RnnlabError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    out["optimizer"] = optimizer
    out["eval_every"] = _positive_int("eval_every", eval_every, "--eval-every 100")
    out["test_size"] = _positive_int("test_size", test_size, "--test-size 1000")
    if backend is not None and backend not in _backend.BACKENDS:
        raise RnnlabError(f"backend {backend!r} is unknown; choose one of "
                          f"{', '.join(_backend.BACKENDS)}")
    out["backend"] = backend
    out["forget_bias"] = None if forget_bias is None else _finite("forget bias", forget_bias)
    out["cell_options"] = check_cell_options(out["cells"], cell_options)
    probe = spec(max(Ts[0], spec.min_T), batch=1, seed=0, test_size=1)
    for cell in out["cells"]:     # the layers' own checks (ranges, combinations) before any run
        SequenceModel(probe.model_config(cell, out["hidden"], 0, out["forget_bias"],
                                         options_for(cell, out["cell_options"])))
    return out


def _finite(name, v):
    return number(name, v, expected="a number", hint="pass e.g. --forget-bias 1")

"""`rnnlab train`: train a model on a text, CSV, notes JSON or MIDI file.

The options are the ModelConfig and TrainConfig fields, plus each task's own (its OPTIONS in
the task registry); the cell choices come from the cell registry; the default stopping rule
of each task (its STOP_RULE) is listed in the help's epilog. A task may choose its own
defaults for some of them (Task.defaults, e.g. the music task's, measured on chorales; or
Task.choose_defaults, from the data, e.g. the series task's): those options are None here
unless given, and each help line shows both defaults.
"""
import argparse
import sys
import textwrap

from ...defaults import ALL as DEFAULTS     # the one table; the help prints it, train() applies it

EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}    # 128 + the signal's number, as shells do


def _epilog():
    from ...tasks import registry

    def wrap(text, indent=""):
        return textwrap.fill(text, 79, initial_indent=indent, break_on_hyphens=False,
                             subsequent_indent=indent + "  " if indent else "")
    rules = [wrap(e.task.STOP_RULE, "  ") for e in registry.TASKS.values()
             if hasattr(e.task, "STOP_RULE")]
    return "\n".join([
        wrap("When no --steps, --epochs or --time-budget is given, the task chooses how long to "
             "train from the size of its data (a step reads one batch; a pass reads all the "
             "training data once):"), *rules,
        wrap("The rule chosen is printed when training starts, with the data, the parameter "
             "count and a memory estimate; a model that cannot fit in memory is refused."),
        wrap("Ctrl-C or SIGTERM: the run finishes its step, saves a checkpoint and stops "
             "(exit 130 or 143); --resume continues it.")])


def add_parser(sub):
    t = sub.add_parser("train", help="train a model on a text, CSV, notes JSON or MIDI file",
                       description="The task follows the file type (.txt text, .csv series, "
                       ".json/.mid music; --task overrides it). A series chooses the options "
                       "marked 'series: chosen from the data' from its data, prints them and "
                       "saves them in config.json; any option given wins.", epilog=_epilog())
    t.add_argument("file", help="the training data")
    t.add_argument("--out", required=True,
                   help="run folder to create (or continue with --resume) (default: none, "
                   "required)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out where its last checkpoint stopped (a folder "
                   "without one starts at step 0 with its saved config); --steps, --epochs or "
                   "--time-budget then replace the saved stopping rule")
    _model_options(t)
    _cell_options(t)
    _train_options(t)
    _task_options(t)
    t.set_defaults(func=run)


def _model_options(p):
    from ...nn import registry
    g = p.add_argument_group("model")
    g.add_argument("--cell", default=None, choices=list(registry.choices()),
                   help=f"the recurrent cell (default: {DEFAULTS['cell']})")
    _tunable(g, "--hidden", int, "hidden units per layer (H)")
    _tunable(g, "--layers", int, "stacked recurrent layers")
    _tunable(g, "--dropout", float, "dropout between stacked layers (0 = off)")
    _tunable(g, "--input-dropout", float, "dropout on the input x, before the first layer")
    _tunable(g, "--output-dropout", float, "dropout on the top layer's output h, before the "
             "output layer (non-recurrent: the state carried in time is never dropped)")
    g.add_argument("--embed", type=int, default=None,
                   help=f"text: embedding size; 0 = one-hot input (default: {DEFAULTS['embed']})")
    g.add_argument("--forget-bias", type=float, default=None,
                   help="LSTM, sLSTM, mLSTM: initial forget-gate bias (default: LSTM torch's "
                        "uniform init; sLSTM, mLSTM spread so that sigma(b) runs from 0.95 to "
                        "0.9975)")
    g.add_argument("--dtype", default=None, choices=["float32", "float64"],
                   help=f"floating-point precision (default: {DEFAULTS['dtype']})")


def _tunable(group, flag, kind, text):
    """An option whose default a task may choose: None unless given; the help shows the
    general default and each task's own."""
    name = flag[2:].replace("-", "_")
    group.add_argument(flag, type=kind, default=None, help=f"{text} ({_defaults_text(name)})")


def _defaults_text(name):
    from ...tasks import registry
    own = []
    for entry in registry.TASKS.values():
        for mode in _modes(entry.task):
            d = registry.task_defaults(entry.name, {"music_mode": mode} if mode else None)
            if name in d and d[name] != DEFAULTS[name]:
                own.append(f"{entry.name}{' ' + mode if mode else ''}: {d[name]}")
        if name in getattr(entry.task, "CHOSEN", ()):
            own.append(f"{entry.name}: chosen from the data")
    general = "the task's rule below" if DEFAULTS[name] is None else DEFAULTS[name]
    return f"default: {general}" + (f"; {', '.join(own)}" if own else "")


def _modes(task):
    """The task's modes, when its defaults depend on one (--music-mode), else [None]."""
    for o in task.OPTIONS:
        if o.name == "music_mode":
            return list(o.choices)
    return [None]


def _cell_options(p):
    """Each cell's own options, from the cell registry (an option several cells share, such
    as recurrent dropout, appears once)."""
    from ...nn import registry
    seen = registry.options_by_name()
    if not seen:
        return
    g = p.add_argument_group("cell options (each names the cells that take it)")
    for name, (o, cells) in seen.items():
        _add_option(g, o, f"{', '.join(cells)}: {o.help}")


def _add_option(group, o, text):
    """A registry option (CellOption or TaskOption) as an argparse option; None = not given."""
    flag = "--" + o.name.replace("_", "-")
    if o.default is not None and o.default is not False and "default" not in text:
        text += f" (default: {o.default})"
    if o.flag:            # --x / --no-x; not given (None): the task's default
        group.add_argument(flag, dest=o.name, action=argparse.BooleanOptionalAction,
                           default=None, help=text)
    else:
        group.add_argument(flag, dest=o.name, type=o.type, default=None, choices=o.choices,
                           metavar=getattr(o, "metavar", None), help=text)


def _given(a, options):
    return {o.name: getattr(a, o.name) for o in options if getattr(a, o.name, None) is not None}


def _train_options(p):
    from ...nn.optim import OPTIMIZERS
    from ...tasks import registry
    g = p.add_argument_group("training")
    g.add_argument("--tokens", default=None, choices=["char", "word"],
                   help=f"text: token level (default: {DEFAULTS['tokens']})")
    g.add_argument("--encoding", default=None,
                   help=f"text: the file's encoding (default: {DEFAULTS['encoding']})")
    g.add_argument("--task", default=None, choices=list(registry.TASKS),
                   help="the task (default: from the file type: .txt text, .csv series, "
                   ".json/.mid music, other files text)")
    _tunable(g, "--seq-len", int, "steps per truncated-BPTT window (T)")
    _tunable(g, "--batch", int, "sequences per batch (B)")
    _tunable(g, "--val-fraction", float, "the end of the data held out for validation")
    g.add_argument("--optimizer", default=None, choices=list(OPTIMIZERS),
                   help=f"the optimizer (default: {DEFAULTS['optimizer']})")
    _tunable(g, "--lr", float, "learning rate")
    _tunable(g, "--lr-decay", float,
             "multiply the learning rate by this every --lr-decay-every steps")
    _tunable(g, "--lr-decay-every", int, "steps between decays")
    g.add_argument("--clip", type=float, default=None,
                   help=f"global grad-norm clip; 0 = off (default: {DEFAULTS['clip']})")
    g.add_argument("--weight-decay", type=float, default=None,
                   help=f"L2 penalty (torch's form) (default: {DEFAULTS['weight_decay']})")
    g.add_argument("--steps", type=int, default=None,
                   help="optimizer steps to train (default: the task's rule below, from the "
                   "size of the data; series: chosen from the data)")
    _tunable(g, "--epochs", float, "passes over the training data")
    g.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this much wall-clock time (default: none)")
    _tunable(g, "--eval-every", int, "steps between validation, history record and checkpoint")
    _tunable(g, "--patience", int,
             "early stopping after this many evaluations without improvement; 0 = off")
    g.add_argument("--on-nan", default=None, choices=["stop", "skip"],
                   help=f"on a NaN loss or gradient: stop, or skip the batch (default: "
                   f"{DEFAULTS['on_nan']})")
    g.add_argument("--seed", type=int, default=None,
                   help=f"random seed: the same seed, the same run (default: {DEFAULTS['seed']})")
    g.add_argument("--backend", default=None, choices=["numba", "numpy"],
                   help="the cells' implementation (default: numba when installed)")


def _task_options(p):
    """Each task's own options, from the task registry."""
    from ...tasks import registry
    seen = set()           # an option two tasks share (--target, --horizon) appears once
    for entry in registry.TASKS.values():
        own = [o for o in entry.task.OPTIONS if o.name not in seen]
        if not own:
            continue
        g = p.add_argument_group(f"{entry.name} ({', '.join(entry.suffixes)})")
        for o in own:
            seen.add(o.name)
            _add_option(g, o, o.help)


def run(a):
    """Pass on what was given (None: not given); train() fills in the rest, in the one order
    of precedence (given, the task's defaults, chosen from the data, the table)."""
    from ...nn import registry
    from ...tasks import registry as tasks
    from ...training.api import train
    if a.resume:
        opts = {k: getattr(a, k) for k in ("steps", "epochs", "time_budget")}
    else:
        opts = {k: getattr(a, k, None) for k in DEFAULTS if k != "cell"}
        opts["task"] = a.task
        if a.cell is not None:
            opts.update(registry.from_choice(a.cell))
        task_opts = _given(a, [o for e in tasks.TASKS.values() for o in e.task.OPTIONS])
        if task_opts:
            opts["task_options"] = task_opts
        cell_opts = _given(a, [o for spec in registry.CELLS.values() for o in spec.options])
        if cell_opts:
            opts["cell_options"] = cell_opts
    res = train(a.file, out=a.out, resume=a.resume, **opts)
    best = "-" if res.best_val_loss is None else f"{res.best_val_loss:.4f}"
    of = "" if res.total is None else f" of {res.total:,}"
    if res.interrupted:
        print(f"interrupted by {res.interrupted}: saved a checkpoint of step {res.steps:,}{of} "
              f"in {a.out} ({res.steps_run:,} steps this run); continue with: rnnlab train "
              f"{a.file} --out {a.out} --resume", file=sys.stderr)
        return EXIT_SIGNAL.get(res.interrupted, 130)
    steps = f"{res.steps_run:,} step" + ("" if res.steps_run == 1 else "s")
    print(f"trained {steps} this run, {res.steps:,}{of} in all ({res.stopped}); "
          f"best val loss {best}; run saved in {a.out}")
    return 0

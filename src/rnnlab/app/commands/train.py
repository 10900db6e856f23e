"""`rnnlab train`: train a model on a text, CSV, notes JSON or MIDI file.

The options are the ModelConfig and TrainConfig fields, plus each task's own (its OPTIONS in
the task registry); the cell choices come from the cell registry; the default stopping rule
of each task (its STOP_RULE) is listed in the help's epilog.
"""
import argparse
import sys
import textwrap

EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}    # 128 + the signal's number, as shells do


def _epilog():
    from ...tasks import registry

    def wrap(text, indent=""):
        return textwrap.fill(text, 79, initial_indent=indent,
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
    g.add_argument("--cell", default="lstm", choices=list(registry.choices()),
                   help="the recurrent cell")
    g.add_argument("--hidden", type=int, default=None,
                   help="hidden units per layer (H) (default: 128; series: chosen from the data)")
    g.add_argument("--layers", type=int, default=None,
                   help="stacked recurrent layers (default: 2; series: chosen from the data)")
    g.add_argument("--dropout", type=float, default=0.0,
                   help="dropout between stacked layers (0 = off)")
    g.add_argument("--embed", type=int, default=0, help="text: embedding size; 0 = one-hot input")
    g.add_argument("--forget-bias", type=float, default=None,
                   help="LSTM, sLSTM, mLSTM: initial forget-gate bias (default: LSTM torch's "
                        "uniform init; sLSTM, mLSTM spread so that sigma(b) runs from 0.95 to "
                        "0.9975)")
    g.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="floating-point precision")


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
    g.add_argument("--tokens", default="char", choices=["char", "word"], help="text: token level")
    g.add_argument("--encoding", default="utf-8", help="text: the file's encoding")
    g.add_argument("--task", default=None, choices=list(registry.TASKS),
                   help="the task (default: from the file type: .txt text, .csv series, "
                   ".json/.mid music, other files text)")
    g.add_argument("--seq-len", type=int, default=50, help="steps per truncated-BPTT window (T)")
    g.add_argument("--batch", type=int, default=None,
                   help="sequences per batch (B) (default: 50; series: chosen from the data)")
    g.add_argument("--val-fraction", type=float, default=None,
                   help="the end of the data held out for validation (default: 0.1; series: "
                   "chosen from the data)")
    g.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS), help="the optimizer")
    g.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 0.002; series: chosen from the data)")
    g.add_argument("--lr-decay", type=float, default=1.0,
                   help="multiply the learning rate by this every --lr-decay-every steps")
    g.add_argument("--lr-decay-every", type=int, default=1000, help="steps between decays")
    g.add_argument("--clip", type=float, default=5.0, help="global grad-norm clip; 0 = off")
    g.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (torch's form)")
    g.add_argument("--steps", type=int, default=None,
                   help="optimizer steps to train (default: the task's rule below, from the "
                   "size of the data; series: chosen from the data)")
    g.add_argument("--epochs", type=float, default=None,
                   help="passes over the training data (default: the task's rule below)")
    g.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this much wall-clock time (default: none)")
    g.add_argument("--eval-every", type=int, default=None,
                   help="steps between validation, history record and checkpoint (default: "
                   "100; series: chosen from the data)")
    g.add_argument("--patience", type=int, default=None,
                   help="early stopping after this many evaluations without improvement; 0 = "
                   "off (default: 0; series: chosen from the data)")
    g.add_argument("--on-nan", default="stop", choices=["stop", "skip"],
                   help="on a NaN loss or gradient: stop, or skip the batch")
    g.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same run")
    g.add_argument("--backend", default=None, choices=["numba", "numpy"],
                   help="the cells' implementation (default: numba when installed)")


def _task_options(p):
    """Each task's own options, from the task registry."""
    from ...tasks import registry
    for entry in registry.TASKS.values():
        if not entry.task.OPTIONS:
            continue
        g = p.add_argument_group(f"{entry.name} ({', '.join(entry.suffixes)})")
        for o in entry.task.OPTIONS:
            _add_option(g, o, o.help)


# the command line's defaults of the options a task may choose from its data instead
DEFAULTS = dict(hidden=128, layers=2, batch=50, lr=2e-3, eval_every=100, patience=0,
                val_fraction=0.1)


def run(a):
    from ...nn import registry
    from ...tasks import registry as tasks
    from ...train import train
    opts = dict(hidden=a.hidden, layers=a.layers, dropout=a.dropout, embed=a.embed,
                forget_bias=a.forget_bias, dtype=a.dtype, tokens=a.tokens, encoding=a.encoding,
                task=a.task, seq_len=a.seq_len, batch=a.batch, val_fraction=a.val_fraction,
                optimizer=a.optimizer, lr=a.lr, lr_decay=a.lr_decay,
                lr_decay_every=a.lr_decay_every, clip=a.clip, weight_decay=a.weight_decay,
                steps=a.steps, epochs=a.epochs, time_budget=a.time_budget,
                eval_every=a.eval_every, patience=a.patience, on_nan=a.on_nan, seed=a.seed,
                backend=a.backend, **registry.from_choice(a.cell))
    if not a.resume:
        chosen = getattr(tasks.get(tasks.task_for_file(a.file, a.task)).task, "CHOSEN", ())
        for name, value in DEFAULTS.items():
            if opts[name] is None and name not in chosen:
                opts[name] = value
    task_opts = _given(a, [o for e in tasks.TASKS.values() for o in e.task.OPTIONS])
    if task_opts:
        opts["task_options"] = task_opts
    cell_opts = _given(a, [o for spec in registry.CELLS.values() for o in spec.options])
    if cell_opts:
        opts["cell_options"] = cell_opts
    if a.resume:
        opts = {k: v for k, v in opts.items() if k in ("steps", "epochs", "time_budget")}
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

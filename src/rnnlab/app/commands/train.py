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
        wrap("When no --steps, --epochs or --time-budget is given, training stops when the "
             "validation loss has not improved for --patience validations, and at most after "
             "the task's cap, chosen from the size of its data (a step reads one batch; a pass "
             "reads all the training data once); the best weights are kept. Data without a "
             "validation part trains for the cap:"), *rules,
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
    _scale_out_options(t)
    t.set_defaults(func=run)


def _model_options(p):
    from ...nn import registry
    from ...tasks.model import HEADS
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
    g.add_argument("--head", default=None, choices=list(HEADS),
                   help="music (piano roll): the output head; bernoulli = one independent "
                   "sigmoid per pitch, nade = the pitches of a step predicted jointly, one after "
                   f"another ({_defaults_text('head')})")
    _tunable(g, "--nade-hidden", int, "--head nade: the NADE's hidden units")
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
                   help="stop after this much wall-clock time, counted from the start: "
                   "compiling, validation and the final checkpoint included (default: none)")
    _tunable(g, "--eval-every", int, "steps between validation, history record and checkpoint")
    from ...training.stopping import MIN_DELTA_REL, PATIENCE
    g.add_argument("--patience", type=int, default=None,
                   help=f"stop after this many validations in a row without an improvement "
                   f"(by {MIN_DELTA_REL * 100:g}%% of the best loss); 0 = off (default: "
                   f"{PATIENCE} under the task's rule below when the data has a validation "
                   f"part; off with --steps, --epochs or --time-budget; refused without a "
                   f"validation part)")
    g.add_argument("--val-sample", type=int, default=None,
                   help=f"validate on a fixed sample of at most this many model steps (tokens, "
                   f"frames, window steps) while training, the full validation part once at "
                   f"the end; 0 = the full part every time (default: {DEFAULTS['val_sample']}; "
                   f"panel: 0)")
    g.add_argument("--on-nan", default=None, choices=["stop", "skip"],
                   help=f"on a NaN loss or gradient: stop, or skip the batch (default: "
                   f"{DEFAULTS['on_nan']})")
    g.add_argument("--seed", type=int, default=None,
                   help=f"random seed: the same seed, the same run (default: {DEFAULTS['seed']})")
    g.add_argument("--backend", default=None, choices=["numba", "numpy"],
                   help="the cells' implementation (default: numba when installed)")


def _scale_out_options(p):
    g = p.add_argument_group("scale out (PyTorch DistributedDataParallel on the cell's torch "
                             "twin; needs the [torch] extra; docs/scale-out.md)")
    g.add_argument("--nproc", type=int, default=1,
                   help="processes to train on, this host (default: 1, rnnlab's own NumPy "
                   "loop); under torchrun the processes are torchrun's")
    # not --backend: that one is the cells' NumPy implementation (numba | numpy)
    g.add_argument("--dist-backend", default=None, choices=["gloo", "nccl"],
                   help="torch.distributed's backend (default: gloo on cpu, nccl on cuda)")
    g.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where each process trains (default: cpu; cuda: one GPU per process)")


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


def _train(a, opts):
    """rnnlab's own loop, or the same run on a torch process group (--nproc, torchrun)."""
    from ...errors import RnnlabError
    from ...nn.kernel_cache import compile_in_background
    from ...training.ahead import start_for
    from ...training import launch as dl
    from ...training.api import TrainResult, train
    if a.nproc == 1 and not dl.under_torchrun():
        with compile_in_background(ahead=start_for):
            return train(a.file, out=a.out, resume=a.resume, **opts)
    from ...interop.torch import build_twin
    dl.check_setup(a.nproc, a.device, a.dist_backend)
    if not a.resume and a.batch is not None and a.batch < a.nproc:
        raise RnnlabError(f"--batch {a.batch} is fewer sequences than the {a.nproc} processes; "
                          f"give --batch {a.nproc} or more, or fewer processes")
    dl.check_twin(build_twin, dl.model_config(a.out, a.resume, opts, a.file))
    try:
        done = dl.launch([dict(data=a.file, out=a.out, resume=a.resume, **opts)], a.nproc,
                         build_twin, a.device, a.dist_backend)
    except dl.WorkerDied as e:
        print(f"rnnlab: {e}", file=sys.stderr)
        return e.exit_code
    if not done:
        return 0             # a rank of torchrun other than 0: rank 0 reports
    return TrainResult(**done[0])


def run(a):
    """Pass on what was given (None: not given); train() fills in the rest, in the one order
    of precedence (given, the task's defaults, chosen from the data, the table)."""
    from ...nn import registry
    from ...tasks import registry as tasks
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
    res = _train(a, opts)
    if isinstance(res, int):
        return res
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

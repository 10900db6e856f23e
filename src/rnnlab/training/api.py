"""Training from options: the API behind `rnnlab train` (the loop itself is trainer.py).

    result = rnnlab.train("input.txt", out="run", cell="lstm", hidden=128, layers=2, steps=2000)

`train()` checks every option and the data before anything is written, builds the task (from
the file type, through the task registry) and the model, and hands them to a Trainer.

It also: prints the data, the parameter count and a memory estimate at the start and
refuses a model that cannot fit in memory (tasks/memory.py); states the stopping rule it chose
(the task's default when no --steps, --epochs or --time-budget is given); and turns SIGINT
(Ctrl-C) and SIGTERM into "finish this step, save a checkpoint, stop" (a second signal stops
at once, keeping the last checkpoint). `--resume` of a folder with no checkpoint yet starts at
step 0 with its saved config.
"""
import math
import sys
import time
from dataclasses import asdict, dataclass, fields, replace

from . import hooks
from ..defaults import TRAIN
from ..errors import RnnlabError
from ..validate import integer
from .run_folder import RunFolder
from ..tasks import registry
from ..tasks.memory import check_fits, estimate_training_memory
from ..tasks.model import ModelConfig, SequenceModel
from ..nn.kernel_cache import compile_note
from .trainer import Diverged, Trainer, TrainResult  # noqa: F401  (rnnlab.train's API)


@dataclass
class TrainConfig:
    data: str = ""
    task: str = "text"
    tokens: str = TRAIN['tokens']
    encoding: str = TRAIN['encoding']
    seq_len: int = TRAIN['seq_len']
    batch: int = TRAIN['batch']
    val_fraction: float = TRAIN['val_fraction']
    optimizer: str = TRAIN['optimizer']
    lr: float = TRAIN['lr']
    lr_decay: float = TRAIN['lr_decay']
    lr_decay_every: int = TRAIN['lr_decay_every']
    clip: float = TRAIN['clip']
    weight_decay: float = TRAIN['weight_decay']
    steps: int | None = TRAIN['steps']
    epochs: float | None = TRAIN['epochs']
    time_budget: float | None = TRAIN['time_budget']
    eval_every: int = TRAIN['eval_every']
    patience: int | None = TRAIN['patience']   # None: the default rule's (stopping.py)
    val_sample: int = TRAIN['val_sample']
    on_nan: str = TRAIN['on_nan']
    seed: int = TRAIN['seed']
    backend: str | None = TRAIN['backend']
    task_options: dict | None = None   # series/music specific options

    def validate(self):
        def positive(name, v):
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise RnnlabError(f"--{name.replace('_', '-')} must be positive, got {v}")
        for name in ("seq_len", "batch", "lr", "steps", "epochs", "time_budget", "eval_every",
                     "lr_decay_every"):
            positive(name, getattr(self, name))
        for name in ("patience", "val_sample"):         # None: the default rule's; 0: off
            if getattr(self, name) is not None:
                setattr(self, name, integer(name, getattr(self, name), lo=0))
        if self.clip < 0 or self.weight_decay < 0:
            raise RnnlabError("--clip and --weight-decay must be >= 0")
        if not 0 < self.lr_decay <= 1:
            raise RnnlabError(f"--lr-decay must be in (0, 1], got {self.lr_decay}")
        if self.on_nan not in ("stop", "skip"):
            raise RnnlabError(f"--on-nan must be stop or skip, got {self.on_nan!r}")
        if not math.isfinite(self.lr):
            raise RnnlabError("--lr must be a finite number")
        return self


def split_options(options):
    """Split keyword options into ModelConfig and TrainConfig fields; unknown ones are errors."""
    mkeys = {f.name for f in fields(ModelConfig)} - {"task", "input_size", "output_size"}
    tkeys = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(options) - mkeys - tkeys)
    if unknown:
        raise RnnlabError(f"unknown training option {unknown[0]!r}")
    return ({k: v for k, v in options.items() if k in mkeys and k != "seed"},
            {k: v for k, v in options.items() if k in tkeys})


def build_task(tcfg, meta=None):
    """The task object for a training config; `meta` (config.json["data"]) when reloading."""
    return registry.get(tcfg.task).task.from_config(tcfg, meta)


def train(data, out=None, resume=False, progress=True, log=None, handle_signals=True,
          trainer_class=Trainer, **options):
    """Train a model on a data file and save the run to `out` (when given).

    options: ModelConfig fields (cell, hidden, layers, dropout, variant, embed, ...) and
    TrainConfig fields (steps, lr, optimizer, batch, seq_len, ...). Returns a TrainResult.
    Everything is checked before the run folder is created, so bad input writes nothing: the
    options, the data, and the memory the model needs (a model that cannot fit is refused
    before anything big is allocated). With handle_signals, SIGINT/SIGTERM stop the run
    after the current step with a checkpoint (see Trainer.fit). A task may choose the options
    not given from its data (`Task.choose_defaults`; they are printed and saved in config.json
    "chosen"), train an ensemble (`task.ensemble` models, each in RUN/members/<k>) and review
    the trained models (`task.review`, warnings). trainer_class: the Trainer (sub)class that
    runs the loop, for the run and its ensemble members (rnnlab/training/distributed.py passes one
    that steps on every process of a torch process group)."""
    started = time.monotonic()         # --time-budget counts from here (Trainer.clock)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    run = RunFolder(out) if out else None
    if resume:
        tcfg, mcfg, task = _resume_configs(run, data, options)
    else:
        tcfg, mcfg, task, chosen = _new_configs(data, options)
        if run is not None and run.path.exists() and any(run.path.iterdir()):
            run.create()                        # raises: an existing run is never overwritten
        hooks.log_chosen(tcfg.task, chosen, log)
    est = estimate_training_memory(mcfg, tcfg.batch, tcfg.seq_len, tcfg.optimizer,
                                   getattr(task, "eval_tokens", 0), tcfg.backend,
                                   getattr(task, "eval_seq_len", None))
    available = check_fits(est)                 # refuses what cannot fit, before allocating
    # the model checks its own options as it is built: a bad one is the only line printed
    trainer = trainer_class(SequenceModel(mcfg), task, tcfg, None, log)
    rule = trainer.stop_rule()            # refuses --patience without a validation part
    if hasattr(task, "describe"):
        log(task.describe())
    log(est.summary(available))
    total = rule.total
    log(f"stopping rule: {rule.text}")
    if tcfg.backend != "numpy":                 # with the kernel cache cold, say why step 1 waits
        compile_note([mcfg.cell], log, mcfg.dtype, mcfg.cell_options)
    members = [f"members/{k}" for k in range(1, getattr(task, "ensemble", 1))]
    if resume:
        trainer.run = run
        if run.has_state():
            trainer.restore()
            log(f"resuming at step {trainer.step:,} of {_of(total)}")
        else:
            log(f"{run.path} has no checkpoint yet: starting at step 0 of {_of(total)} with its "
                f"saved config")
    elif run is not None:
        run.create()
        run.write_config({"model": mcfg.to_json(), "train": asdict(tcfg), "data": task.meta(),
                          **({"chosen": chosen} if chosen else {}),
                          **({"members": members} if members else {})})
        trainer.run = run
    # an ensemble shares the time budget: model k must end by (k + 1) / N of it
    trainer.budget_share = 1 / (len(members) + 1)
    result = trainer.fit(progress, handle_signals=handle_signals, started=started)
    if result.interrupted:
        return result
    if (overfit := hooks.overfit_warning(result.history)) is not None:
        log(overfit)
    models = [hooks.best_model(trainer)]
    for k, sub in enumerate(members, 1):
        log(f"ensemble member {k + 1}/{len(members) + 1} (seed {tcfg.seed + k})")
        mt, mm = hooks.member_configs(tcfg, mcfg, k)
        member = trainer_class(SequenceModel(mm), build_task(mt), mt, None, log)
        member.budget_share = (k + 1) / (len(members) + 1)
        model, res = hooks.train_member(member, run and RunFolder(run.path / sub), resume,
                                        progress, handle_signals, started)
        if res.interrupted:     # saved like the main run; --resume continues this member
            log(f"ensemble member {k + 1} stopped at its step {res.steps:,}; its checkpoint is "
                f"in {sub}")
            return replace(result, stopped=res.stopped)
        models.append(model)
    for line in getattr(task, "review", lambda models: [])(models):
        log(line)
    return result


def _of(total):
    return "?" if total is None else f"{total:,}"


def _new_configs(data, options):
    options = {k: v for k, v in options.items() if v is not None}     # None: not given
    name = registry.task_for_file(data, options.get("task"))
    options = nest_task_options(name, options)
    split_options(options)                  # an unknown option fails before the data is read
    options = registry.with_task_defaults(name, options)     # the task's measured defaults
    tcfg = TrainConfig(data=str(data), task=name, task_options=options.get("task_options"))
    chosen = hooks.task_defaults(tcfg, options, {f.name for f in fields(TrainConfig)} |
                                 {f.name for f in fields(ModelConfig)})
    model_opts, train_opts = split_options(options)
    tcfg = TrainConfig(**{**asdict(tcfg), **train_opts}).validate()
    task = build_task(tcfg)
    mcfg = ModelConfig(task=getattr(task, "model_task", tcfg.task), input_size=task.input_size,
                       output_size=task.output_size, seed=tcfg.seed, **model_opts).validate()
    return tcfg, mcfg, task, chosen


def nest_task_options(name, options):
    """The task's own options may be given flat (rnnlab.train(f, music_mode="melody")), as
    the command line gives them; they travel in options["task_options"]."""
    own = {o.name for o in registry.get(name).task.OPTIONS}
    flat = {k: options[k] for k in options if k in own}
    if not flat:
        return options
    rest = {k: v for k, v in options.items() if k not in own}
    return {**rest, "task_options": {**(options.get("task_options") or {}), **flat}}


def _resume_configs(run, data, options):
    """The saved configs, with only the stopping rule (steps, epochs, time budget) changeable."""
    if run is None or not run.exists():
        raise RnnlabError(f"--resume needs an existing run folder; {run.path if run else None} "
                          f"is not one (train without --resume to start it)")
    cfg = run.read_config()
    stop = {k: v for k, v in options.items() if k in ("steps", "epochs", "time_budget") and v}
    if stop:                    # a new stopping rule replaces the saved one as a whole
        stop = {"steps": None, "epochs": None, "time_budget": None, **stop}
    tcfg = TrainConfig(**{**cfg["train"], **stop}).validate()
    if data is not None and str(data) != tcfg.data:
        raise RnnlabError(f"{run.path} was trained on {tcfg.data}, not {data}; resume with the "
                          f"same data file")
    return tcfg, ModelConfig.from_json(cfg["model"]), build_task(tcfg, cfg["data"])

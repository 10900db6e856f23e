"""The trainer: truncated BPTT, evaluation, checkpoints, exact resume, progress.

    result = rnnlab.train("input.txt", out="run", cell="lstm", hidden=128, layers=2, steps=2000)

One training step: forward over a batch (carrying the state from the last batch when the task
streams), loss, backward, clip the global gradient norm, check for NaN/inf, optimizer step.
Every `eval_every` steps: validation loss, history record, checkpoint. A checkpoint is the
weights plus everything `--resume` needs to continue bit for bit: optimizer buffers, the
dropout RNG, the step counter, the carried state. Every file is written atomically.
"""
import math
import sys
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from . import train_hooks as hooks
from .errors import RnnlabError
from .fileio import atomic_write_json
from .nn.optim import LRSchedule, clip_grad_norm, grads_finite, make_optimizer
from .runs import RunFolder
from .tasks import registry
from .tasks.model import ModelConfig, SequenceModel, detach_state


@dataclass
class TrainConfig:
    data: str = ""
    task: str = "text"
    tokens: str = "char"          # text: char | word
    encoding: str = "utf-8"
    seq_len: int = 50
    batch: int = 50
    val_fraction: float = 0.1
    optimizer: str = "adam"
    lr: float = 2e-3
    lr_decay: float = 1.0         # multiply the lr by this every lr_decay_every steps
    lr_decay_every: int = 1000
    clip: float = 5.0             # global gradient-norm clip; 0 turns it off
    weight_decay: float = 0.0
    steps: int | None = None
    epochs: float | None = None
    time_budget: float | None = None
    eval_every: int = 100
    patience: int = 0             # early stopping after this many evals without improvement
    on_nan: str = "stop"          # stop | skip
    seed: int = 0
    backend: str | None = None
    task_options: dict | None = None   # series/music specific options

    def validate(self):
        def positive(name, v):
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise RnnlabError(f"--{name.replace('_', '-')} must be positive, got {v}")
        for name in ("seq_len", "batch", "lr", "steps", "epochs", "time_budget", "eval_every",
                     "lr_decay_every"):
            positive(name, getattr(self, name))
        if self.clip < 0 or self.weight_decay < 0:
            raise RnnlabError("--clip and --weight-decay must be >= 0")
        if not 0 < self.lr_decay <= 1:
            raise RnnlabError(f"--lr-decay must be in (0, 1], got {self.lr_decay}")
        if self.on_nan not in ("stop", "skip"):
            raise RnnlabError(f"--on-nan must be stop or skip, got {self.on_nan!r}")
        if not math.isfinite(self.lr):
            raise RnnlabError("--lr must be a finite number")
        return self


@dataclass
class TrainResult:
    run: str
    steps: int
    best_val_loss: float | None
    last_train_loss: float | None
    history: list
    stopped: str


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


class Trainer:
    """Owns the model, optimizer, task and run folder for one training run."""

    def __init__(self, model, task, tcfg, run=None, log=None):
        self.model, self.task, self.cfg, self.run = model, task, tcfg, run
        model.backend = tcfg.backend            # training and validation run on --backend
        self.opt = make_optimizer(tcfg.optimizer, model.params, tcfg.lr,
                                  weight_decay=tcfg.weight_decay)
        self.schedule = LRSchedule("step", tcfg.lr, tcfg.lr_decay, tcfg.lr_decay_every)
        self.step, self.state, self.history = 0, None, []
        self.best = None
        self.log = log or (lambda msg: print(msg, file=sys.stderr))

    # ----- one step -----------------------------------------------------------------------
    def train_step(self):
        """One optimizer step on batch `self.step`. Returns the batch loss."""
        model, task = self.model, self.task
        if task.carries_state and self.step % task.batches_per_epoch == 0:
            self.state = None                       # a new epoch starts the streams afresh
        inputs, targets, mask = task.batch(self.step)
        model.train()
        model.zero_grad()
        out, state_n = model.forward(inputs, self.state if task.carries_state else None)
        loss, dout = model.loss(out, targets, mask)
        model.backward(dout)
        if self.cfg.clip > 0:
            clip_grad_norm(model.grads, self.cfg.clip)
        bad = grads_finite(model.grads) or (None if math.isfinite(loss) else "loss")
        if bad is not None:
            if self.cfg.on_nan == "stop":
                raise RnnlabError(f"training diverged at step {self.step + 1}: {bad} is NaN or "
                                  f"inf; lower --lr or --clip (the last good checkpoint is kept)"
                                  f", or pass --on-nan skip to skip such batches")
            self.log(f"step {self.step + 1}: skipped a batch with non-finite {bad}")
            if not all(np.isfinite(s).all() for s in _state_list(state_n)):
                state_n = None      # never carry a non-finite state into the next batch
        else:
            self.schedule.apply(self.opt)
            self.opt.step(model.grads)
        self.state = detach_state(state_n) if task.carries_state else None
        self.step += 1
        return loss

    # ----- the loop ---------------------------------------------------------------------------
    def total_steps(self):
        c = self.cfg
        if c.steps:
            return int(c.steps)
        if c.epochs:
            return max(1, int(round(c.epochs * self.task.batches_per_epoch)))
        return None if c.time_budget else self.task.batches_per_epoch * 10

    def fit(self, progress=True):
        """Train until the stopping rule; returns a TrainResult."""
        total = self.total_steps()
        start, window, stopped, evals_since_best = time.time(), [], "steps", 0
        bar = _progress_bar(total, self.step, progress)
        last_eval_t, last_eval_step = time.time(), self.step
        while total is None or self.step < total:
            if self.cfg.time_budget and time.time() - start >= self.cfg.time_budget:
                stopped = "time budget"
                break
            window.append(self.train_step())
            bar.update(1)
            if self.step == 1 and hasattr(self.task, "initial_loss"):
                self.log(f"step 1: loss {window[0]:.3f}; an untrained model should start near "
                         f"ln(V) = {self.task.initial_loss:.3f}")
            if self.step % self.cfg.eval_every == 0 or self.step == total:
                rec = self.evaluate(window, last_eval_step, time.time() - last_eval_t, start)
                last_eval_t, last_eval_step, window = time.time(), self.step, []
                bar.set_postfix(train=f"{rec['train_loss']:.3f}", val=_fmt(rec["val_loss"]),
                                tok_s=f"{rec['tokens_per_s']:.0f}")
                if not bar.interactive:
                    self.log(f"step {self.step}/{total or '?'}  train {rec['train_loss']:.4f}  "
                             f"val {_fmt(rec['val_loss'])}  {rec['tokens_per_s']:.0f} tok/s")
                improved = rec["val_loss"] is not None and rec["val_loss"] == self.best
                evals_since_best = 0 if improved else evals_since_best + 1
                if self.cfg.patience and evals_since_best >= self.cfg.patience:
                    stopped = "early stopping"
                    break
        if window:
            self.evaluate(window, last_eval_step, time.time() - last_eval_t, start)
        bar.close()
        last = self.history[-1]["train_loss"] if self.history else None
        return TrainResult(str(self.run.path) if self.run else "", self.step, self.best, last,
                           self.history, stopped)

    def evaluate(self, window, since_step, seconds, start):
        val = self.task.validation_loss(self.model)
        steps = self.step - since_step
        rec = {"step": self.step, "train_loss": float(np.mean(window)),
               "val_loss": None if val is None else float(val),
               "tokens_per_s": steps * getattr(self.task, "tokens_per_batch", 0) / max(seconds, 1e-9),
               "elapsed_s": time.time() - start, "lr": self.opt.lr}
        self.history.append(rec)
        score = rec["val_loss"] if rec["val_loss"] is not None else rec["train_loss"]
        is_best = self.best is None or score < self.best
        if is_best:
            self.best = score
        if self.run is not None:
            self.checkpoint(is_best)
        return rec

    # ----- checkpoints ------------------------------------------------------------------------
    def checkpoint(self, is_best):
        weights = self.model.state_dict()
        if is_best:
            self.run.save_weights("best", weights)
        self.run.save_weights("model", weights)
        arrays = {f"param/{k}": v for k, v in weights.items()}
        opt_arrays, opt_meta = self.opt.state_dict()
        arrays.update({f"opt/{k}": v for k, v in opt_arrays.items()})
        for i, s in enumerate(_state_list(self.state)):
            arrays[f"carry/{i}"] = s
        meta = {"step": self.step, "best": self.best, "optimizer": opt_meta,
                "rng": self.model.rng.bit_generator.state, "history": self.history}
        self.run.save_state(arrays, meta)      # written last: it marks the checkpoint complete
        atomic_write_json(self.run.path / "history.json", self.history)

    def restore(self):
        arrays, meta = self.run.load_state()
        self.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("param/")},
                                   source=f"{self.run.path}/state.safetensors")
        self.opt.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")},
                                 meta["optimizer"])
        carry = [arrays[f"carry/{i}"] for i in range(sum(k.startswith("carry/") for k in arrays))]
        self.state = None if not carry else (tuple(carry) if len(carry) == 2 else carry[0])
        self.model.rng.bit_generator.state = meta["rng"]
        self.step, self.best, self.history = int(meta["step"]), meta["best"], list(meta["history"])


def _state_list(state):
    if state is None:
        return []
    return list(state) if isinstance(state, tuple) else [state]


def _fmt(v):
    return "-" if v is None else f"{v:.4f}"


class _NoBar:
    interactive = False

    def update(self, n):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


def _progress_bar(total, initial, progress):
    """tqdm on a terminal; plain log lines (from fit) otherwise."""
    if not progress or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm
    bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)
    bar.interactive = True
    return bar


def train(data, out=None, resume=False, progress=True, log=None, **options):
    """Train a model on a data file and save the run to `out` (when given).

    options: ModelConfig fields (cell, hidden, layers, dropout, variant, embed, ...) and
    TrainConfig fields (steps, lr, optimizer, batch, seq_len, ...). Returns a TrainResult.
    Everything is checked before the run folder is created, so bad input writes nothing.
    A task may choose the options not given from its data (`Task.choose_defaults`; they are
    printed and saved in config.json "chosen"), train an ensemble (`task.ensemble` models,
    each in RUN/members/<k>) and review the trained models (`task.review`, warnings)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    run = RunFolder(out) if out else None
    if resume:
        tcfg, mcfg, task = _resume_configs(run, data, options)
    else:
        tcfg, mcfg, task, chosen = _new_configs(data, options)
        if run is not None and run.path.exists() and any(run.path.iterdir()):
            run.create()                        # raises: an existing run is never overwritten
        hooks.log_chosen(tcfg.task, chosen, log)
    trainer = Trainer(SequenceModel(mcfg), task, tcfg, None, log)
    members = [f"members/{k}" for k in range(1, getattr(task, "ensemble", 1))]
    if resume:
        trainer.run = run
        trainer.restore()
    elif run is not None:
        run.create()
        run.write_config({"model": mcfg.to_json(), "train": asdict(tcfg), "data": task.meta(),
                          **({"chosen": chosen} if chosen else {}),
                          **({"members": members} if members else {})})
        trainer.run = run
    result = trainer.fit(progress)
    models = [hooks.best_model(trainer)]
    for k, sub in enumerate(members, 1):
        log(f"ensemble member {k + 1}/{len(members) + 1} (seed {tcfg.seed + k})")
        mt, mm = hooks.member_configs(tcfg, mcfg, k)
        member = Trainer(SequenceModel(mm), build_task(mt), mt, None, log)
        models.append(hooks.train_member(member, run and RunFolder(run.path / sub), resume,
                                         progress))
    for line in getattr(task, "review", lambda models: [])(models):
        log(line)
    return result


def _new_configs(data, options):
    options = {k: v for k, v in options.items() if v is not None}     # None: not given
    split_options(options)                  # an unknown option fails before the data is read
    tcfg = TrainConfig(data=str(data), task=registry.task_for_file(data, options.get("task")),
                       task_options=options.get("task_options"))
    chosen = hooks.task_defaults(tcfg, options, {f.name for f in fields(TrainConfig)} |
                                 {f.name for f in fields(ModelConfig)})
    model_opts, train_opts = split_options(options)
    tcfg = TrainConfig(**{**asdict(tcfg), **train_opts}).validate()
    task = build_task(tcfg)
    mcfg = ModelConfig(task=tcfg.task, input_size=task.input_size,
                       output_size=task.output_size, seed=tcfg.seed, **model_opts).validate()
    return tcfg, mcfg, task, chosen


def _resume_configs(run, data, options):
    """The saved configs, with only the stopping rule (steps, epochs, time budget) changeable."""
    if run is None or not run.exists():
        raise RnnlabError(f"--resume needs an existing run folder; {run.path if run else None} "
                          f"is not one (train without --resume to start it)")
    cfg = run.read_config()
    stop = {k: v for k, v in options.items() if k in ("steps", "epochs", "time_budget") and v}
    tcfg = TrainConfig(**{**cfg["train"], **stop}).validate()
    if data is not None and str(data) != tcfg.data:
        raise RnnlabError(f"{run.path} was trained on {tcfg.data}, not {data}; resume with the "
                          f"same data file")
    return tcfg, ModelConfig.from_json(cfg["model"]), build_task(tcfg, cfg["data"])

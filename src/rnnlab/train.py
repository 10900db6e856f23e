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


class Diverged(RnnlabError):
    """Training produced a non-finite loss or gradient (with on_nan='stop'). A RnnlabError like
    any other for the command line; callers that record divergence (the long-memory grid)
    catch this class. The step that diverged was not applied: the model keeps its last finite
    weights."""


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
                raise Diverged(f"training diverged at step {self.step + 1}: {bad} is NaN or "
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

    def fit(self, progress=True, stop=None):
        """Train until the stopping rule; returns a TrainResult.

        stop: an optional callable; after each evaluation in the loop it is called with the
        Trainer (step, history, model, task are all readable) and a True result ends training
        there, with TrainResult.stopped == "stop hook" (e.g. "the task is solved")."""
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
                if stop is not None and stop(self):
                    stopped = "stop hook"
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
    Everything is checked before the run folder is created, so bad input writes nothing."""
    run = RunFolder(out) if out else None
    if resume:
        tcfg, mcfg, task = _resume_configs(run, data, options)
    else:
        tcfg, mcfg, task = _new_configs(data, options)
        if run is not None and run.path.exists() and any(run.path.iterdir()):
            run.create()                        # raises: an existing run is never overwritten
    trainer = Trainer(SequenceModel(mcfg), task, tcfg, None, log)
    if resume:
        trainer.run = run
        trainer.restore()
    elif run is not None:
        run.create()
        run.write_config({"model": mcfg.to_json(), "train": asdict(tcfg), "data": task.meta()})
        trainer.run = run
    return trainer.fit(progress)


def _new_configs(data, options):
    name = registry.task_for_file(data, options.get("task"))
    options = registry.with_task_defaults(name, options)
    model_opts, train_opts = split_options(options)
    tcfg = TrainConfig(data=str(data), **train_opts)
    tcfg.task = name
    tcfg.validate()
    task = build_task(tcfg)
    mcfg = ModelConfig(task=getattr(task, "model_task", tcfg.task), input_size=task.input_size,
                       output_size=task.output_size, seed=tcfg.seed, **model_opts).validate()
    return tcfg, mcfg, task


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

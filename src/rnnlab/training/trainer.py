"""The trainer: one training run's loop. Truncated BPTT, evaluation, checkpoints, exact
resume, progress; the API that builds a run from options is train.py.

One training step: forward over a batch (carrying the state from the last batch when the task
streams), loss, backward, clip the global gradient norm, check for NaN/inf, optimizer step.
Every `eval_every` steps: validation loss, history record, checkpoint. A checkpoint is the
weights plus everything `--resume` needs to continue bit for bit: optimizer buffers, the
dropout RNG, the step counter, the carried state. Every file is written atomically.
"""
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..errors import RnnlabError
from ..interrupt import SignalStop
from ..nn.optim import LRSchedule, clip_grad_norm, grads_finite, make_optimizer
from ..tasks.base import stop_rule
from ..tasks.model import detach_state


@dataclass
class TrainResult:
    run: str
    steps: int                     # the step the run stands at (all invocations)
    best_val_loss: float | None
    last_train_loss: float | None
    history: list
    stopped: str                   # steps | time budget | early stopping | interrupted by SIG...
    steps_run: int = 0             # steps taken by this invocation
    total: int | None = None       # the stopping rule's step count (None: a time budget)

    @property
    def interrupted(self):
        """The signal's name ('SIGINT', 'SIGTERM') when a signal stopped the run, else None."""
        return self.stopped.rsplit(" ", 1)[-1] if self.stopped.startswith("interrupted") else None


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
        self.pending = []          # train losses since the last evaluation (saved on a signal)
        self.saved_step = None     # the step of the last complete checkpoint
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
        return self.stop_rule()[0]

    def stop_rule(self):
        """(total steps or None, a sentence saying why): see tasks.base.stop_rule."""
        return stop_rule(self.cfg, self.task)

    def fit(self, progress=True, handle_signals=False, stop=None):
        """Train until the stopping rule; returns a TrainResult. With handle_signals (main
        thread only), SIGINT and SIGTERM stop the run after the current step with a checkpoint
        of that step (not validated: no history record); a second signal raises
        KeyboardInterrupt at once, and the last checkpoint stays as it was.

        stop: an optional callable; after each evaluation in the loop it is called with the
        Trainer (step, history, model, task are all readable) and a True result ends training
        there, with TrainResult.stopped == "stop hook" (e.g. "the task is solved")."""
        with SignalStop(handle_signals) as signals:
            return self._fit(progress, signals, stop)

    def _fit(self, progress, signals, stop):
        total, first = self.total_steps(), self.step
        start, stopped, evals_since_best = time.time(), "steps", 0
        window, self.pending = self.pending, []      # losses since the last evaluation
        bar = _progress_bar(total, self.step, progress)
        last_eval_t, last_eval_step = time.time(), self.step - len(window)
        while total is None or self.step < total:
            if signals.received:
                stopped = f"interrupted by {signals.received}"
                break
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
        if stopped.startswith("interrupted"):
            self.pending = window                 # kept in the checkpoint: resume is exact
            if self.run is not None and (window or not self.run.has_state()):
                self.checkpoint(False)
        elif window:
            self.evaluate(window, last_eval_step, time.time() - last_eval_t, start)
        bar.close()
        last = self.history[-1]["train_loss"] if self.history else None
        return TrainResult(str(self.run.path) if self.run else "", self.step, self.best, last,
                           self.history, stopped, self.step - first, total)

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
        """Save the weights (and best), then the training state, then the history. A failure
        (a full disk, a permission) leaves the last complete checkpoint as it was; the OSError
        says which step that is."""
        try:
            self._save(is_best)
        except OSError as e:
            kept = ("no checkpoint was complete yet" if self.saved_step is None else
                    f"the last complete checkpoint, step {self.saved_step:,}, is kept")
            raise OSError(e.errno, f"{e.strerror} ({kept})", e.filename) from None
        self.saved_step = self.step

    def _save(self, is_best):
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
                "rng": self.model.rng.bit_generator.state, "history": self.history,
                "pending": [float(v) for v in self.pending]}
        self.run.save_state(arrays, meta)      # written last: it marks the checkpoint complete
        self.run.write_history(self.history)

    def restore(self):
        arrays, meta = self.run.load_state()
        self.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("param/")},
                                   source=f"{self.run.path}/state.safetensors")
        self.opt.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")},
                                 meta["optimizer"])
        carry = [arrays[f"carry/{i}"] for i in range(sum(k.startswith("carry/") for k in arrays))]
        self.state = None if not carry else (tuple(carry) if len(carry) > 1 else carry[0])
        self.model.rng.bit_generator.state = meta["rng"]
        self.step, self.best, self.history = int(meta["step"]), meta["best"], list(meta["history"])
        self.pending = list(meta.get("pending", []))
        self.saved_step = self.step


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

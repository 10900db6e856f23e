"""The trainer: one training run's loop. Truncated BPTT, evaluation, checkpoints, exact
resume, progress; the API that builds a run from options is train.py.

One training step: forward over a batch (carrying the state from the last batch when the task
streams), loss, backward, clip the global gradient norm, check for NaN/inf, optimizer step.
Every `eval_every` steps: validation loss (on a bounded sample), history record, checkpoint.
The stopping rule (cap, early stopping, time budget) is stopping.py's. A checkpoint is the
weights plus everything `--resume` needs to continue bit for bit: optimizer buffers, the
dropout RNG, the step counter, the carried state, and what the stopping rule reads (the best
loss, its step, the validations since). Every file is written atomically.
"""
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..errors import RnnlabError
from ..interrupt import SignalStop
from ..nn.kernel_cache import steps_loaded
from ..nn.optim import LRSchedule, clip_grad_norm, grads_finite, make_optimizer
from ..tasks.model import detach_state
from .stopping import Budget, improves, stop_rule, validation_guess


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
    full_val_loss: float | None = None   # the full validation part, on the kept weights

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

    def __init__(self, model, task, tcfg, run=None, log=None, clock=time.monotonic):
        """clock: the wall clock of --time-budget and the history's times (a callable giving
        seconds; tests pass a fake one to check the budget's decisions without timing)."""
        self.model, self.task, self.cfg, self.run = model, task, tcfg, run
        self.clock = clock
        self.budget_share = 1.0    # the share of --time-budget this model must end within
                                   # (an ensemble's model k: (k + 1) / N, from the same start)
        model.backend = tcfg.backend            # training and validation run on --backend
        self.opt = make_optimizer(tcfg.optimizer, model.params, tcfg.lr,
                                  weight_decay=tcfg.weight_decay)
        self.schedule = LRSchedule("step", tcfg.lr, tcfg.lr_decay, tcfg.lr_decay_every)
        self.step, self.state, self.history = 0, None, []
        self.best = None           # the best validation loss (train loss without one)
        self.best_step = None
        self.evals_since_best = 0  # validations since the last improvement (stopping.improves)
        self.pending = []          # train losses since the last evaluation (saved on a signal)
        self._rule = self._budget = None     # set by fit: the rule and the time budget
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
            self.nonfinite(bad)
            if not all(np.isfinite(s).all() for s in _state_list(state_n)):
                state_n = None      # never carry a non-finite state into the next batch
        else:
            self.schedule.apply(self.opt)
            self.opt.step(model.grads)
        self.state = detach_state(state_n) if task.carries_state else None
        self.step += 1
        return loss

    # ----- the loop ---------------------------------------------------------------------------
    def nonfinite(self, bad):
        """A step found `bad` (what it names) NaN or inf: with --on-nan stop raise Diverged (the
        last good checkpoint stays), with skip say the batch is skipped. The caller drops a
        non-finite carried state."""
        if self.cfg.on_nan == "stop":
            raise Diverged(f"training diverged at step {self.step + 1}: {bad} is NaN or "
                           f"inf; lower --lr or --clip (the last good checkpoint is kept)"
                           f", or pass --on-nan skip to skip such batches")
        self.log(f"step {self.step + 1}: skipped a batch with non-finite {bad}")

    def total_steps(self):
        return self.stop_rule().total

    def stop_rule(self):
        """The run's StopRule (stopping.py): its numbers, and `.text`, the sentence printed."""
        return stop_rule(self.cfg, self.task)

    def fit(self, progress=True, handle_signals=False, stop=None, started=None):
        """Train until the stopping rule; returns a TrainResult. With handle_signals (main
        thread only), SIGINT and SIGTERM stop the run after the current step with a checkpoint
        of that step (not validated: no history record); a second signal raises
        KeyboardInterrupt at once, and the last checkpoint stays as it was.

        stop: an optional callable; after each evaluation in the loop it is called with the
        Trainer (step, history, model, task are all readable) and a True result ends training
        there, with TrainResult.stopped == "stop hook" (e.g. "the task is solved").
        started: the clock's reading when the run began (train() passes its entry time, so
        that --time-budget counts everything); default: now."""
        with SignalStop(handle_signals) as signals:
            return self._fit(progress, signals, stop,
                             self.clock() if started is None else started)

    def _fit(self, progress, signals, stop, started):
        rule, first = self.stop_rule(), self.step
        total, clock = rule.total, self.clock
        budget = self._budget = (Budget(rule.time_budget * self.budget_share, clock, started)
                                 if rule.time_budget else None)
        self._rule = rule
        stopped = "steps"
        window, self.pending = self.pending, []      # losses since the last evaluation
        bar = _progress_bar(total, self.step, progress)
        last_eval_t, last_eval_step = clock(), self.step - len(window)
        while total is None or self.step < total:
            if rule.patience and self.evals_since_best >= rule.patience:
                stopped = "early stopping"        # (a resumed run that had stopped so)
                break
            request = self.stop_request(signals, started)
            if request is not None:
                stopped = request
                break
            t0 = clock()
            window.append(self.train_step())
            if budget is not None:
                budget.measured(step=clock() - t0)
            if self.step == first + 1:   # threaded variants may now compile in the background
                steps_loaded(None if budget is None else budget.seconds - budget.elapsed())
            bar.update(1)
            if self.step == 1 and hasattr(self.task, "initial_loss"):
                self.log(f"step 1: loss {window[0]:.3f}; an untrained model should start near "
                         f"ln(V) = {self.task.initial_loss:.3f}")
            if self.step % rule.eval_every == 0 or self.step == total:
                rec = self.evaluate(window, last_eval_step, clock() - last_eval_t, started)
                last_eval_t, last_eval_step, window = clock(), self.step, []
                unit = getattr(self.task, "rate_unit", "tok/s")
                bar.set_postfix(train=f"{rec['train_loss']:.3f}", val=_fmt(rec["val_loss"]),
                                **{unit.replace("/", "_"): f"{rec['tokens_per_s']:.0f}"})
                if not bar.interactive:
                    self.log(f"step {self.step}/{total or '?'}  train {rec['train_loss']:.4f}  "
                             f"val {_fmt(rec['val_loss'])}  {rec['tokens_per_s']:.0f} {unit}")
                if rule.patience and self.evals_since_best >= rule.patience:
                    stopped = "early stopping"
                    break
                if stop is not None and stop(self):
                    stopped = "stop hook"
                    break
        full = None
        if stopped.startswith("interrupted"):
            self.pending = window                 # kept in the checkpoint: resume is exact
            if self.run is not None and (window or not self.run.has_state()):
                self.checkpoint(False)
        else:
            if window:
                self.evaluate(window, last_eval_step, clock() - last_eval_t, started)
            full = self.full_validation()
        bar.close()
        last = self.history[-1]["train_loss"] if self.history else None
        return TrainResult(str(self.run.path) if self.run else "", self.step, self.best, last,
                           self.history, stopped, self.step - first, total, full)

    def stop_request(self, signals, start):
        """Why the loop must stop before the next step ('interrupted by SIGINT', 'time
        budget'), or None. A public hook: a distributed trainer makes every process take
        rank 0's answer (rnnlab/training/distributed.py). The budget's decision: stopping.py."""
        if signals.received:
            return f"interrupted by {signals.received}"
        budget = self._budget
        if budget is not None and budget.must_stop(
                (self.step + 1) % self._rule.eval_every == 0, self._finish_guess(budget)):
            return "time budget"
        return None

    def validation_loss(self, limit=None, model=None):
        """The task's validation loss of `model` (default: the model now) on a fixed sample of
        at most `limit` model steps (None: the full part); None without a validation part. A
        public hook: a distributed trainer computes it once, on rank 0, and shares it."""
        return self.task.validation_loss(self.model if model is None else model, limit=limit)

    def _finish_guess(self, budget):
        """The end's two validations (the sample, the full part) before one was measured,
        from the last step, once there are two: the first may have compiled the kernels."""
        size, limit = self.task.validation_size, self._val_limit()
        return validation_guess(budget.next_step_s(), size + (limit or 0),
                                getattr(self.task, "tokens_per_batch", 0))

    def _val_limit(self):
        """The validation sample's size during training (None: the full part)."""
        n = self.cfg.val_sample
        return n if n and n < self.task.validation_size else None

    def evaluate(self, window, since_step, seconds, start):
        """Validate (on the bounded sample), record, decide improvement, checkpoint."""
        clock, limit, budget = self.clock, self._val_limit(), self._budget
        t0 = clock()
        val = self.validation_loss(limit)
        if budget is not None and val is not None:
            budget.measured(evaluation=clock() - t0,
                            full_ratio=self.task.validation_size / limit if limit else 1.0)
        steps = self.step - since_step
        rec = {"step": self.step, "train_loss": float(np.mean(window)),
               "val_loss": None if val is None else float(val),
               "tokens_per_s": steps * getattr(self.task, "tokens_per_batch", 0) / max(seconds, 1e-9),
               "elapsed_s": clock() - start, "lr": self.opt.lr}
        self.history.append(rec)
        score = rec["val_loss"] if rec["val_loss"] is not None else rec["train_loss"]
        is_best = self.best is None or score < self.best       # the best weights: any lower
        if improves(score, self.best):                           # patience: a real improvement
            self.evals_since_best = 0
        else:
            self.evals_since_best += 1
        if is_best:
            self.best, self.best_step = score, self.step
        if self.run is not None:
            t0 = clock()
            self.checkpoint(is_best)
            if budget is not None:
                budget.measured(checkpoint=clock() - t0)
        return rec

    def full_validation(self):
        """The validation loss on the full part, of the weights the run keeps (the best, when a
        run folder has them), once at the end; logged and returned (None: no validation part).
        When the sample was the full part, that is the best loss already measured."""
        if not self.task.validation_size or self.best is None:
            return None
        if self._val_limit() is None and self.history and \
                self.history[-1]["val_loss"] is not None:
            return self.best
        model = self.model
        if self.run is not None and self.best_step != self.step and \
                self.run.has_weights("best"):
            model = self.model.clone()
            model.load_state_dict(self.run.load_weights("best"))
        val = self.validation_loss(None, model)
        if val is not None:
            self.log(f"validation loss on the full validation part, weights of step "
                     f"{self.best_step:,}: {val:.4f} (during training: a fixed sample of "
                     f"{self.cfg.val_sample:,})")
        return val

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
        self.run.save_state(*self.checkpoint_arrays(weights))   # last: marks it complete
        self.run.write_history(self.history)

    def checkpoint_arrays(self, weights=None):
        """(arrays, meta): everything --resume needs, as state.safetensors holds it."""
        weights = self.model.state_dict() if weights is None else weights
        arrays = {f"param/{k}": v for k, v in weights.items()}
        opt_arrays, opt_meta = self.opt.state_dict()
        arrays.update({f"opt/{k}": v for k, v in opt_arrays.items()})
        for i, s in enumerate(_state_list(self.state)):
            arrays[f"carry/{i}"] = s
        meta = {"step": self.step, "best": self.best, "best_step": self.best_step,
                "evals_since_best": self.evals_since_best, "optimizer": opt_meta,
                "rng": self.model.rng.bit_generator.state, "history": self.history,
                "pending": [float(v) for v in self.pending]}
        return arrays, meta

    def restore(self):
        self.load_checkpoint(*self.run.load_state())

    def load_checkpoint(self, arrays, meta):
        """Continue from checkpoint_arrays()'s (arrays, meta), as restore() does from disk."""
        self.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("param/")},
                                   source=(f"{self.run.path}/state.safetensors" if self.run
                                           else "the checkpoint"))
        self.opt.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")},
                                 meta["optimizer"])
        carry = [arrays[f"carry/{i}"] for i in range(sum(k.startswith("carry/") for k in arrays))]
        self.state = None if not carry else (tuple(carry) if len(carry) > 1 else carry[0])
        self.model.rng.bit_generator.state = meta["rng"]
        self.step, self.best, self.history = int(meta["step"]), meta["best"], list(meta["history"])
        self.pending = list(meta.get("pending", []))
        self.best_step = meta.get("best_step")
        self.evals_since_best = int(meta.get("evals_since_best", 0))   # 0: an older run's
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

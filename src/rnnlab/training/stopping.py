"""The stopping rule of a training run: one mechanism for every task (text, music roll, melody,
series), built once from the options and the task, and printed from the numbers it uses.

By default (no --steps, --epochs or --time-budget), a run with a validation part trains until
the validation loss has not improved for PATIENCE validations in a row (one every --eval-every
steps), and at most the task's own cap (task.default_steps(): passes over its data, within
bounds); the best weights are kept (best.safetensors). A run without a validation part trains
for the cap, a fixed number of steps, and says so. --steps, --epochs and --time-budget
replace the default: the run then trains exactly that long, unless --patience is given too.
--patience N (N > 0) on data without a validation part is refused: it could never be decided.

"Improved" means lower than the best loss so far by more than
max(MIN_DELTA_ABS, MIN_DELTA_REL * |best|): a loss that creeps down by less than that is not
progress worth waiting for (the best weights still follow every lower loss).

During training the validation loss is measured on a bounded, fixed sample of the validation
part (at most --val-sample model steps, the same sample every time, so that comparisons are
consistent); the full part is scored once at the end, on the weights the run keeps.

--time-budget is wall clock from the moment train() is called: kernel compilation, every
validation and checkpoint, and the final full validation are inside it. Budget decides before
each step whether the step, a validation that falls due with it, and the end of the run (the
last validation, the full validation and the checkpoint, as measured so far; before the first
validation, guessed from the step's duration: validation_guess) still fit. A run overshoots
only by what a step or a validation takes beyond the durations measured so far.
"""
from dataclasses import dataclass

import numpy as np

from ..defaults import STOPPING
from ..errors import RnnlabError

# The default rule's numbers, from the one table (rnnlab/defaults.py STOPPING).
PATIENCE = STOPPING["patience"]
MIN_DELTA_REL = STOPPING["min_delta_rel"]
MIN_DELTA_ABS = STOPPING["min_delta_abs"]


def _steps(n):
    return f"{n:,} step" + ("" if n == 1 else "s")


def min_delta(best):
    """How much lower than `best` a validation loss must be to count as an improvement."""
    return max(MIN_DELTA_ABS, MIN_DELTA_REL * abs(best))


def improves(loss, best):
    """True when `loss` is an improvement on `best` (None: no loss yet) by more than
    min_delta(best); never decided by float equality."""
    return best is None or loss < best - min_delta(best)


@dataclass(frozen=True)
class StopRule:
    total: int | None            # the step cap; None: the time budget alone
    patience: int                # validations without improvement that stop; 0: never
    eval_every: int
    time_budget: float | None    # seconds of wall clock from train()'s start
    set_by: str                  # the option that set the cap: --steps, --epochs,
                                 # --time-budget, or "default"
    text: str                    # the rule as one sentence, from the numbers above


def stop_rule(tcfg, task):
    """The StopRule of a TrainConfig and its task (see the module's docstring)."""
    c, per_pass = tcfg, task.batches_per_epoch
    has_val = task.validation_size > 0
    if c.patience and not has_val:
        raise RnnlabError(f"--patience {c.patience} needs a validation part, and this data has "
                          f"none; remove --patience (the run then trains a fixed number of "
                          f"steps) or give it one with --val-fraction")
    if c.steps:
        total, set_by = int(c.steps), "--steps"
        text = f"{_steps(total)} (--steps)"
    elif c.epochs:
        total, set_by = max(1, int(round(c.epochs * per_pass))), "--epochs"
        text = f"{_steps(total)}: --epochs {c.epochs:g} x {_steps(per_pass)} a pass"
    elif c.time_budget:
        total, set_by, text = None, "--time-budget", ""
    else:
        total, why = task.default_steps()
        set_by = "default"
        text = f"{_steps(total)}: {why}"
    if c.patience is not None:
        patience, by = int(c.patience), f" (--patience {c.patience})"
    else:
        patience, by = (PATIENCE if set_by == "default" and has_val else 0), ""
    budget = (f"--time-budget {c.time_budget:g} s (wall clock from the start, compilation and "
              f"the final validation included" if c.time_budget else "")
    n_models = getattr(task, "ensemble", 1)
    if c.time_budget:
        budget += (f"; shared by the {n_models} models of the ensemble)" if n_models > 1
                   else ")")
    if patience:
        wait = (f"stop when the validation loss has not improved (by more than "
                f"{MIN_DELTA_REL:.1%}) for {patience} validations in a row "
                f"({_steps(patience * c.eval_every)} at --eval-every {c.eval_every}){by}")
        if set_by == "default":
            text = (f"{wait}; at most {text} (the default for this task and data size; the best "
                    f"weights are kept; --patience, --steps, --epochs or --time-budget set "
                    f"another)")
        elif total is None:
            text = f"{wait}; at most {budget}"
        else:
            text = f"{text}, or sooner: {wait}"
    elif set_by == "default":
        why = ("no validation part, so no early stopping" if not has_val
               else "--patience 0: no early stopping")
        text = (f"a fixed {text} ({why}; the default for this task and data size; --steps, "
                f"--epochs or --time-budget set another)")
    if c.time_budget and total is None and not patience:
        text = budget
    elif c.time_budget and total is not None:
        text += f"; at most {budget}"
    return StopRule(total, patience, int(c.eval_every), c.time_budget, set_by, text)


class Budget:
    """The --time-budget decision, from measured durations and a clock (any callable giving
    seconds; the trainer's `clock`, which tests replace). `started`: the clock's reading when
    the run began (train()'s entry). Durations are recorded with `measured`; `must_stop` says
    whether the next step would leave too little time to finish the run properly."""

    def __init__(self, seconds, clock, started):
        self.seconds, self.clock, self.started = seconds, clock, started
        self.step_s = []             # durations of the recent steps, the first left out
        self.first_step = True       # the first step of an invocation may compile: a one-off
        self.eval_s = None           # one sampled validation (the smallest measured)
        self.full_s = None           # the full validation's estimate
        self.checkpoint_s = 0.0      # the last checkpoint's duration

    def elapsed(self):
        return self.clock() - self.started

    def measured(self, step=None, evaluation=None, full_ratio=1.0, checkpoint=None):
        """Record durations (seconds): a training step; a sampled validation, which covers
        1/full_ratio of the full part; a checkpoint."""
        if step is not None and self.first_step:
            self.first_step = False
        elif step is not None:
            self.step_s.append(step)
            del self.step_s[:-9]
        if evaluation is not None:
            self.eval_s = evaluation if self.eval_s is None else min(self.eval_s, evaluation)
            self.full_s = self.eval_s * full_ratio if full_ratio > 1 else 0.0
        if checkpoint is not None:
            self.checkpoint_s = checkpoint

    def next_step_s(self):
        """The next step's expected duration: the median of the last (up to 9) steps, which a
        single slow step on a loaded machine does not move; nothing predicted from the first
        step, which may include compiling the kernels (a one-off)."""
        return float(np.median(self.step_s)) if self.step_s else 0.0

    def finish_s(self, guess):
        """The end of the run: one sampled validation, the full one and a checkpoint.
        guess: the two validations' duration before any validation was measured."""
        if self.eval_s is None:
            return guess + self.checkpoint_s
        return self.eval_s + self.full_s + self.checkpoint_s

    def must_stop(self, next_evaluates=False, guess=0.0):
        """True when the next step (and the validation due with it) and the end of the run
        would not fit in the budget."""
        need = self.next_step_s() + self.finish_s(guess)
        if next_evaluates and self.eval_s is not None:
            need += self.eval_s + self.checkpoint_s
        return self.elapsed() + need >= self.seconds


# A validation's cost per model step, as a share of a training step's per model step, until
# one is measured: forward only, but fewer streams (text: 16, not the batch's 50): measured
# 0.55 for the 2 x 128 character LSTM (30,000 tokens in 2.3 s against 0.35 s per step of
# 2,500 tokens, load 16 on 2 cores); 0.6 leaves a margin.
VALIDATION_SHARE = 0.6


def validation_guess(step_s, steps, tokens_per_batch):
    """A validation's duration over `steps` model steps before one was measured, from the
    duration of a training step of tokens_per_batch model steps."""
    if not step_s or not tokens_per_batch:
        return 0.0
    return step_s * VALIDATION_SHARE * steps / tokens_per_batch

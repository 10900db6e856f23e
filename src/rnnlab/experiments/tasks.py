"""The long-memory tasks: data, head size, where the loss is read, loss, metric, solved rule,
baseline, and the fixed held-out test set of each (task, T).

- ``adding``: two channels (value U[0, 1], marker), one marked step in each half; a Linear head
  on the last output predicts the sum. Loss and test metric: MSE. Baseline: always predicting
  1.0 gives 1/6 ~ 0.167. Solved: test MSE < 0.01.
- ``copy``: COPY_LENGTH symbols out of COPY_SYMBOLS, T-1 blanks, a delimiter, COPY_LENGTH
  blanks; a Linear head on every step's output must emit blanks and then the symbols in the
  last COPY_LENGTH steps. Loss and test metric: the mean softmax cross-entropy per step (all
  T + 2*COPY_LENGTH steps, the TCN convention). Baseline: COPY_LENGTH ln COPY_SYMBOLS /
  (T + 2*COPY_LENGTH), the loss of emitting blanks and guessing the symbols uniformly.
  Solved: accuracy on the copied symbols > 0.99.
- ``temporal-order``: noise with X/Y at two early positions; 4-class classification of their
  order from the last output. Loss and test metric: cross-entropy; baseline ln 4; the accuracy
  is recorded too (baseline 0.25). Solved: test accuracy > 0.95.

So ``test_metric`` is always the test loss (lower is better) and ``baseline`` is the loss of the
best model that remembers nothing; ``test_accuracy`` is added for the two symbol tasks.
"""
from __future__ import annotations

import math

import numpy as np

from ..nn.losses import mse, softmax_cross_entropy
from ..data import synthetic
from ..errors import RnnlabError

TASKS = ("adding", "copy", "temporal-order")
COPY_LENGTH, COPY_SYMBOLS = 10, 8


class _Task:
    """What a task needs: data, head size, where the loss is read, loss, metric, solved."""
    name = ""
    metric = ""            # the test metric's name (a loss)
    input_size = 0
    output_size = 0
    readout = "last"       # 'last': the head reads the last output; 'all': every step
    min_T = 1

    def data(self, T, n, rng):
        """Returns (x float32 (T_total, n, input_size), target)."""
        raise NotImplementedError

    def loss(self, out, target):
        raise NotImplementedError

    def accuracy(self, out, target):
        return None

    def baseline(self, T):
        raise NotImplementedError

    def solved(self, metric, accuracy):
        raise NotImplementedError


class _Adding(_Task):
    name, metric, input_size, output_size, min_T = "adding", "mse", 2, 1, 2
    threshold = 0.01

    def data(self, T, n, rng):
        return synthetic.adding_problem(T, n, rng)

    def loss(self, out, target):
        return mse(out, target)

    def baseline(self, T):
        return 1.0 / 6.0

    def solved(self, metric, accuracy):
        return metric < self.threshold


def _one_hot(ids, V):
    return np.eye(V, dtype=np.float32)[ids]


class _Copy(_Task):
    name, metric, readout = "copy", "cross-entropy per step", "all"
    input_size, output_size, min_T = COPY_SYMBOLS + 2, COPY_SYMBOLS + 1, 1
    threshold = 0.99

    def data(self, T, n, rng):
        x, y = synthetic.copy_memory(T, n, rng, n_symbols=COPY_SYMBOLS, length=COPY_LENGTH)
        return _one_hot(x, self.input_size), y

    def loss(self, out, target):
        return softmax_cross_entropy(out, target)

    def accuracy(self, out, target):
        """Accuracy on the copied symbols (the last COPY_LENGTH steps)."""
        pred = out[-COPY_LENGTH:].argmax(-1)
        return float((pred == target[-COPY_LENGTH:]).mean())

    def baseline(self, T):
        return synthetic.copy_baseline(COPY_LENGTH, T, COPY_SYMBOLS)

    def solved(self, metric, accuracy):
        return accuracy > self.threshold


class _TemporalOrder(_Task):
    name, metric = "temporal-order", "cross-entropy"
    input_size, output_size, min_T = len(synthetic.TEMPORAL_ORDER_ALPHABET), 4, 10
    threshold = 0.95

    def data(self, T, n, rng):
        x, y = synthetic.temporal_order(T, n, rng)
        return _one_hot(x, self.input_size), y

    def loss(self, out, target):
        return softmax_cross_entropy(out, target)

    def accuracy(self, out, target):
        return float((out.argmax(-1) == target).mean())

    def baseline(self, T):
        return math.log(4)

    def solved(self, metric, accuracy):
        return accuracy > self.threshold


_TASKS = {"adding": _Adding(), "copy": _Copy(), "temporal-order": _TemporalOrder()}

SOLVED_RULES = {"adding": "test MSE < 0.01",
                "copy": f"accuracy on the {COPY_LENGTH} copied symbols > 0.99",
                "temporal-order": "test accuracy > 0.95"}


def _check_task(task):
    if task not in _TASKS:
        raise RnnlabError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return _TASKS[task]


def _test_set(task, T, n):
    """The held-out test set of (task, T): fixed, the same for every cell and seed."""
    return task.data(T, n, np.random.default_rng([20261126, TASKS.index(task.name), T]))

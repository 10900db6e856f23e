"""The long-memory tasks, each a Task in the trainer's protocol (rnnlab.tasks.base) for one
(task, T): a stream of fresh training batches, the fixed held-out test set, the metric, the
solved rule and the baseline. The model is the task models' SequenceModel (``model_config``):
the task's kind picks its input and loss, and a mask says where the loss is read.

- ``adding``: two channels (value U[0, 1], marker), one marked step in each half; the model
  (kind 'series': dense input, MSE) predicts the sum, the mask reads only the last step. Loss
  and test metric: MSE. Baseline: always predicting 1.0 gives 1/6 ~ 0.167. Solved: test
  MSE < 0.01.
- ``copy``: COPY_LENGTH symbols out of COPY_SYMBOLS, T-1 blanks, a delimiter, COPY_LENGTH
  blanks, as token ids (kind 'text': one-hot input, softmax cross-entropy at every step, no
  mask); the model must emit blanks and then the symbols in the last COPY_LENGTH steps. Loss
  and test metric: the mean cross-entropy per step (all T + 2*COPY_LENGTH steps, the TCN
  convention). Baseline: COPY_LENGTH ln COPY_SYMBOLS / (T + 2*COPY_LENGTH), the loss of
  emitting blanks and guessing the symbols uniformly. Solved: accuracy on the copied symbols
  > 0.99.
- ``temporal-order``: noise with X/Y at two early positions, as token ids (kind 'text'); the
  4-class order of the two is read from the last step (the mask). Loss and test metric:
  cross-entropy; baseline ln 4; the accuracy is recorded too (baseline 0.25). Solved: test
  accuracy > 0.95.

So ``test_metric`` is always the test loss (lower is better) and ``baseline`` is the loss of the
best model that remembers nothing; ``test_accuracy`` is added for the two symbol tasks.
"""
from __future__ import annotations

import math

import numpy as np

from ..data import synthetic
from ..errors import RnnlabError
from ..nn import registry
from ..tasks.model import ModelConfig

TASKS = ("adding", "copy", "temporal-order")
COPY_LENGTH, COPY_SYMBOLS = 10, 8
# The LSTM's forget-gate bias at init unless one is given (Gers et al. 2000; the setting of
# every measured LSTM run); the sLSTM and mLSTM keep their own init (biases 3 to 6).
LSTM_FORGET_BIAS = 1.0
TEST_SEED = 20261126          # the test sets' stream, shared by every cell and seed
EVAL_CHUNK = 250              # test sequences per forward (bounds the forward's cache)


class LongMemoryTask:
    """One (task, T): batch(k) is `batch` fresh sequences drawn from the stream seeded by
    (seed, T, task, k), so every step sees new data and a run is reproducible. The test set is
    fixed per (task, T); `validation_loss` scores the quick part (its first quarter) and keeps
    (loss, accuracy) in `last_eval` for the solved check that follows it."""
    name = metric = kind = ""
    input_size = output_size = 0
    min_T = 1
    carries_state = False
    batches_per_epoch = 1        # fresh data at every step: an 'epoch' is one batch

    def __init__(self, T, batch=64, seed=0, test_size=1000):
        self.T, self.batch_size, self.seed = int(T), int(batch), int(seed)
        self.index = TASKS.index(self.name)
        self.test = self.data(test_size, np.random.default_rng([TEST_SEED, self.index, self.T]))
        self.quick = subset(self.test, max(1, test_size // 4))
        self.tokens_per_batch = self.batch_size * self.test[0].shape[0]
        self.last_eval = None

    # ----- what each task defines -------------------------------------------------------------
    def data(self, n, rng):
        """n sequences as the model reads them: (inputs, targets, mask or None), time first."""
        raise NotImplementedError

    def accuracy(self, out, targets):
        return None

    def baseline(self):
        raise NotImplementedError

    def solved(self, metric, accuracy):
        raise NotImplementedError

    # ----- the Task protocol ------------------------------------------------------------------
    def batch(self, k):
        return self.data(self.batch_size,
                         np.random.default_rng([self.seed, self.T, self.index, int(k)]))

    @property
    def validation_size(self):
        """Model steps of the quick part (validation_loss always scores all of it)."""
        return int(self.quick[0].shape[0] * self.quick[0].shape[1])

    def validation_loss(self, model, limit=None):
        self.last_eval = self.evaluate(model, self.quick)
        return self.last_eval[0]

    def meta(self):
        return dict(task=self.name, T=self.T, batch=self.batch_size, seed=self.seed,
                    test_size=int(self.test[0].shape[1]), metric=self.metric,
                    baseline=self.baseline(), solved_rule=SOLVED_RULES[self.name])

    # ----- evaluation ---------------------------------------------------------------------------
    def evaluate(self, model, part=None):
        """(mean loss, accuracy or None) of the model on `part` (default: the whole test set),
        in eval mode, in chunks of EVAL_CHUNK sequences."""
        inputs, targets, mask = self.test if part is None else part
        model.eval()
        n, loss, acc = inputs.shape[1], 0.0, 0.0     # acc: None for a task without accuracy
        for a in range(0, n, EVAL_CHUNK):
            cut = slice(a, min(n, a + EVAL_CHUNK))
            out, _ = model.forward(inputs[:, cut])
            size = out.shape[1]
            weights = None if mask is None else mask[:, cut]
            loss += model.loss(out, targets[:, cut], weights)[0] * size
            chunk_acc = self.accuracy(out, targets[:, cut])
            acc = None if chunk_acc is None else acc + chunk_acc * size
        return loss / n, None if acc is None else acc / n

    def model_config(self, cell, hidden, seed, forget_bias=None, cell_options=None):
        """The ModelConfig of a one-layer model for this task; `cell` is a command-line cell
        name of the registry ('lstm-peephole'); forget_bias reaches the cells that take it
        (None: LSTM_FORGET_BIAS for the LSTM, their own init for the others); cell_options
        are the cell's own options ({'layer_norm': True})."""
        opts = registry.from_choice(cell)
        if "forget_bias" in registry.get(opts["cell"]).config_options:
            if forget_bias is None and opts["cell"] == "lstm":
                forget_bias = LSTM_FORGET_BIAS
            opts["forget_bias"] = None if forget_bias is None else float(forget_bias)
        return ModelConfig(task=self.kind, input_size=self.input_size,
                           output_size=self.output_size, hidden=int(hidden), layers=1,
                           seed=int(seed), cell_options=dict(cell_options or {}), **opts)


def subset(data, n):
    """The first n sequences of (inputs, targets, mask)."""
    return tuple(None if a is None else a[:, :n] for a in data)


def _last_step(values, T, n, dtype):
    """Targets that hold `values` at the last step (zeros before it) and the mask that reads
    only that step."""
    targets = np.zeros((T, n) + values.shape[1:], dtype)
    targets[-1] = values
    mask = np.zeros((T, n), np.float32)
    mask[-1] = 1.0
    return targets, mask


class Adding(LongMemoryTask):
    name, metric, kind, input_size, output_size, min_T = "adding", "mse", "series", 2, 1, 2
    threshold = 0.01

    def data(self, n, rng):
        x, y = synthetic.adding_problem(self.T, n, rng)
        return (x, *_last_step(y, self.T, n, np.float32))

    def baseline(self):
        return 1.0 / 6.0

    def solved(self, metric, accuracy):
        return metric < self.threshold


class Copy(LongMemoryTask):
    name, metric, kind = "copy", "cross-entropy per step", "text"
    input_size, output_size, min_T = COPY_SYMBOLS + 2, COPY_SYMBOLS + 1, 1
    threshold = 0.99

    def data(self, n, rng):
        x, y = synthetic.copy_memory(self.T, n, rng, n_symbols=COPY_SYMBOLS, length=COPY_LENGTH)
        return x, y, None

    def accuracy(self, out, targets):
        """Accuracy on the copied symbols (the last COPY_LENGTH steps)."""
        pred = out[-COPY_LENGTH:].argmax(-1)
        return float((pred == targets[-COPY_LENGTH:]).mean())

    def baseline(self):
        return synthetic.copy_baseline(COPY_LENGTH, self.T, COPY_SYMBOLS)

    def solved(self, metric, accuracy):
        return accuracy > self.threshold


class TemporalOrder(LongMemoryTask):
    name, metric, kind = "temporal-order", "cross-entropy", "text"
    input_size, output_size, min_T = len(synthetic.TEMPORAL_ORDER_ALPHABET), 4, 10
    threshold = 0.95

    def data(self, n, rng):
        x, y = synthetic.temporal_order(self.T, n, rng)
        return (x, *_last_step(y, self.T, n, np.int64))

    def accuracy(self, out, targets):
        return float((out[-1].argmax(-1) == targets[-1]).mean())

    def baseline(self):
        return math.log(4)

    def solved(self, metric, accuracy):
        return accuracy > self.threshold


TASK_CLASSES = {"adding": Adding, "copy": Copy, "temporal-order": TemporalOrder}

SOLVED_RULES = {"adding": "test MSE < 0.01",
                "copy": f"accuracy on the {COPY_LENGTH} copied symbols > 0.99",
                "temporal-order": "test accuracy > 0.95"}


def task_class(task):
    """The class of a task name; an unknown name is an error listing the tasks."""
    if task not in TASK_CLASSES:
        raise RnnlabError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return TASK_CLASSES[task]

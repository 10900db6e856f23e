"""Long memory, measured: the plain RNN against the LSTM (and GRU) on the classic long-range tasks.

    records = run_experiments("adding", Ts=[100, 200], cells=["rnn", "lstm"], hidden=64,
                              seeds=3, time_budget=60)

The experiments are built on the library's own pieces, with nothing of their own beside them:
the model is the task models' SequenceModel (rnnlab.tasks.model, from a ModelConfig), the
training is rnnlab.training.trainer.Trainer (its stop hook ends a run once it is solved), the cells are
the cell registry's (rnnlab.nn.registry.choices(): a new cell is a new --cell choice) and the
gradient norms are rnnlab.viz.gradients.loss_grad_norms. The package, by room:

- ``tasks``: each task as a Task of the trainer's protocol for one (task, T): fresh batches,
  the fixed test set, the loss's kind and mask, metric, solved rule, baseline, ModelConfig;
  the tasks are described there.
- ``options``: option checks and defaults; the --cell choices from the registry.
- ``runner``: ``run_one`` (train and evaluate one (task, T, cell, seed)), ``run_experiments``
  (the grid), ``run_quick_demo``.
- ``report``: progress lines, ``summary_rows``/``format_table``, ``write_outputs``.
- ``cli``: ``add_arguments``/``run_from_args`` for ``rnnlab experiment``.

Results and exact commands: docs/long-memory.md.
"""
from .cli import add_arguments, run_from_args
from .options import DEFAULTS, parse_int_list
from .report import format_table, summary_rows, write_outputs
from .runner import RECORD_KEYS, run_experiments, run_one, run_quick_demo
from .tasks import COPY_LENGTH, COPY_SYMBOLS, SOLVED_RULES, TASKS

__all__ = ["run_experiments", "run_one", "run_quick_demo", "add_arguments", "run_from_args",
           "format_table", "summary_rows", "write_outputs", "parse_int_list", "TASKS",
           "DEFAULTS", "RECORD_KEYS", "SOLVED_RULES", "COPY_LENGTH", "COPY_SYMBOLS"]

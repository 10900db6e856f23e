"""Long memory, measured: the plain RNN against the LSTM (and GRU) on the classic long-range tasks.

    records = run_experiments("adding", Ts=[100, 200], cells=["rnn", "lstm"], hidden=64,
                              seeds=3, time_budget=60)

The package, by room:

- ``tasks``: the task definitions (data, head size, loss, metric, solved rule, baseline) and the
  fixed test set of each (task, T); the tasks are described there.
- ``model``: one recurrent layer plus a Linear head; ``grad_norms`` (||dL/dh_t|| for every t).
- ``options``: option checks and defaults.
- ``runner``: ``run_one`` (train and evaluate one (task, T, cell, seed)), ``run_experiments``
  (the grid), ``run_quick_demo``.
- ``report``: progress lines, ``summary_rows``/``format_table``, ``write_outputs``.
- ``cli``: ``add_arguments``/``run_from_args`` for ``rnnlab experiment``.

Results and exact commands: docs/long-memory.md.
"""
from .cli import add_arguments, run_from_args
from .model import CELLS, _Model, grad_norms
from .options import DEFAULTS, parse_int_list
from .report import format_table, summary_rows, write_outputs
from .runner import RECORD_KEYS, run_experiments, run_one, run_quick_demo
from .tasks import (COPY_LENGTH, COPY_SYMBOLS, SOLVED_RULES, TASKS, _Adding, _Copy, _TASKS,
                    _TemporalOrder, _test_set)

__all__ = ["run_experiments", "run_one", "run_quick_demo", "grad_norms", "add_arguments",
           "run_from_args", "format_table", "summary_rows", "write_outputs", "parse_int_list",
           "TASKS", "CELLS", "DEFAULTS", "RECORD_KEYS", "SOLVED_RULES", "COPY_LENGTH",
           "COPY_SYMBOLS"]

"""Kernels compiling in a second process (training/ahead.py: `rnnlab demo` compiles a later
cell there, `rnnlab train` the shared kernels and its cell's backward loop), and a layer that
waits for it before its first forward (a cell) or backward ("cell:backward"). Lean: the
mLSTM (no kernels of its own) for the plumbing; the RNN and LSTM, whose machine code earlier
tests left in the cache, for the child's own run."""
import numpy as np

from rnnlab.nn import compiling, registry
from rnnlab.training import ahead


def test_a_layer_waits_for_the_process_compiling_its_cell():
    ahead.start(["mlstm"], dtype="float64")
    assert compiling.pending() == ["mlstm"]
    layer = registry.get("mlstm").layer(5, 4, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 2, 5))
    layer(x)
    assert compiling.pending() == []                  # the forward waited for the child
    assert compiling.wait_for("mlstm") is None        # ... and nothing is left to wait for


def test_a_backward_waits_for_the_process_compiling_the_backward_loop():
    ahead.start(["mlstm:backward"], dtype="float64")
    layer = registry.get("mlstm").layer(5, 4, dtype=np.float64, seed=0)
    y, _ = layer(np.random.default_rng(0).standard_normal((3, 2, 5)))
    assert compiling.pending() == ["mlstm:backward"]  # the forward does not wait for it
    layer.backward(np.ones_like(y))
    assert compiling.pending() == []


def test_the_second_process_runs_its_jobs_to_the_end():
    ahead.start(["rnn", "lstm:backward"], dtype="float64")
    assert compiling.pending() == ["lstm:backward", "rnn"]
    assert compiling.wait_for("rnn") == 0             # one process for both, exit code 0
    assert compiling.wait_for("lstm:backward") == 0


def test_a_run_of_one_cold_cell_shares_out_the_shared_kernels_and_its_backward():
    assert ahead.jobs_for(["shared", "lstm"]) == ["shared", "lstm:backward"]
    assert ahead.jobs_for(["shared", "slstm"]) == ["shared"]          # no shared time loops
    assert ahead.jobs_for(["shared", "rnn", "lstm"]) == ["lstm"]       # the demo
    assert ahead.jobs_for(["gru"]) == ["gru:backward"]
    assert ahead.jobs_for([]) == []

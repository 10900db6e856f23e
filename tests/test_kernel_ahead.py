"""Kernels compiling in a second process (training/ahead.py: `rnnlab demo` compiles a later
cell there, `rnnlab train` the shared kernels and its cell's backward loop), and a layer that
waits for it before its first forward (a cell) or backward ("cell:backward"). Lean: the
mLSTM (no training kernels of its own; the child compiles its small generation stepper) for
the plumbing; the RNN and LSTM, whose machine code earlier
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
    assert ahead.jobs_for(["shared", "slstm"]) == ["shared", "slstm:backward"]
    assert ahead.jobs_for(["shared", "mlstm"]) == ["shared"]          # no kernels of its own
    assert ahead.jobs_for(["shared", "rnn", "lstm"]) == ["lstm"]       # the demo
    assert ahead.jobs_for(["gru"]) == ["gru:backward"]
    assert ahead.jobs_for([]) == []


def test_a_cell_cached_without_its_options_is_cold_with_them(monkeypatch, tmp_path):
    """Options with compiled paths of their own (the LSTM's layer norm...) compile on their
    first run although the plain cell's kernels are cached: the note says so, and the run's
    first step marks them ready (nn/kernel_cache.py)."""
    from rnnlab.nn import kernel_cache
    monkeypatch.setattr(kernel_cache, "kernel_cache_dir", lambda: str(tmp_path))
    (tmp_path / "fused.scale-1.py311.nbi").write_text("")        # shared kernels cached
    (tmp_path / "lstm._step-1.py311.nbi").write_text("")         # the plain LSTM cached
    assert kernel_cache.cold_cells(["lstm"]) == []
    ln = {"layer_norm": True, "zoneout": 0.0}
    assert kernel_cache.cold_cells(["lstm"], ln) == ["lstm+options"]
    said = []
    kernel_cache.compile_note(["lstm"], said.append, "float32", ln)
    assert len(said) == 1 and f"about {kernel_cache.OPTIONS_S} s" in said[0]
    kernel_cache.steps_loaded()
    assert kernel_cache.cold_cells(["lstm"], ln) == []
    assert kernel_cache.cold_cells(["lstm"], ln, "float64") == ["lstm+options"]
    assert ahead.jobs_for(["lstm+options"], ln) == ['lstm:backward:{"layer_norm": true}']


def test_a_backward_job_compiles_the_runs_options_and_is_waited_for_by_its_cell():
    """The second process compiles the backward of the run's own options (an LSTM with layer
    norm runs another backward loop than the plain LSTM's); the layer waits for
    "lstm:backward" whatever the options."""
    jobs = ahead.jobs_for(["shared", "lstm"], {"layer_norm": True, "zoneout": 0.0})
    assert jobs == ["shared", 'lstm:backward:{"layer_norm": true}']
    assert ahead.wait_key(jobs[1]) == "lstm:backward"
    ahead.start(jobs[1:], dtype="float64")
    assert compiling.pending() == ["lstm:backward"]
    assert compiling.wait_for("lstm:backward") == 0     # the child built and ran that layer

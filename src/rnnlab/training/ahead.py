"""Compile kernels a cold run needs in a second process while this one compiles others, so
that both cores compile (numba compiles in one thread per process, behind one lock).

A child process (``python -m rnnlab.training.ahead DTYPE JOB...``) runs its jobs in order,
each writing machine code into numba's cache (NUMBA_CACHE_DIR, shared with this process;
numba writes each entry to a temporary file and renames it into place):
- a cell (``compile_cell``): a tiny layer forward, backward and one generation step, the
  layer's own kernels. Before this process first runs a layer of that cell it waits for the
  child (``nn.compiling.wait_for``) and then loads that machine code instead of compiling it
  a second time. `rnnlab demo` so compiles the LSTM while it compiles and trains the RNN.
- "cell:backward": the same with the forward's time loop skipped, so only the backward loop
  compiles; this process's first backward of the cell waits for it. `rnnlab train` so
  compiles the backward loop while it compiles the forward one.
- "shared" (``compile_shared``): one training step of a tiny text model on a cell without
  kernels: the head's products, cross-entropy, the clipping norm and Adam. `rnnlab train` so
  compiles them while it compiles its cell's time loops; nothing waits for this job (what is
  not in the cache yet when needed compiles here as before).
Machine code loaded from the cache is what a compile makes, so the numbers are the same
(tests/test_coldstart.py). Which jobs a cold run starts: ``start_for``.
"""
import atexit
import json
import os
import subprocess
import sys
from contextlib import nullcontext

import numpy as np

from ..nn import compiling


def start_for(cold, dtype="float32", options=None):
    """The jobs to compile in a second process for a run whose cold kernels are `cold`
    (``nn.kernel_cache.cold_cells``: "shared", the cells in the order the run uses them, and
    "CELL+options" for a cached cell first run with `options`, its own options), started;
    returns them ([] with nothing to share out). What `rnnlab train` and `rnnlab demo` hand
    ``nn.kernel_cache.compile_in_background``. Several cells: every cell after the first
    (this process compiles the shared kernels and the first cell). One cell: the shared
    kernels, then the cell's backward loop with the run's options ("cell:backward"), while
    this process compiles the forward loop."""
    jobs = jobs_for(cold, options)
    start(jobs, dtype)
    return jobs


def jobs_for(cold, options=None):
    """``start_for``'s jobs for the cold list `cold`; a backward job carries the run's options
    that are on as JSON ("lstm:backward:{\"layer_norm\": true}"): an LSTM with options runs
    another backward loop than the plain one."""
    from ..nn.kernel_cache import has_kernels
    cells = [c for c in cold if c != "shared" and not c.endswith("+options")]
    if len(cells) > 1:
        return cells[1:]
    cells += [c[:-len("+options")] for c in cold if c.endswith("+options")]
    on = {k: v for k, v in sorted((options or {}).items()) if v}
    tail = ":" + json.dumps(on) if on else ""
    return [c for c in cold if c == "shared"] + \
        [f"{c}:backward{tail}" for c in cells if has_kernels(c)]


def wait_key(job):
    """The name a layer waits for (``nn.compiling.wait_for``): the job without its options."""
    return ":".join(job.split(":", 2)[:2])


def start(jobs, dtype="float32"):
    """Start one child process running `jobs` (cell names, or "shared") in order in `dtype`;
    returns at once (a layer of one of the cells waits for it: ``compiling.wait_for``).
    Nothing happens for no jobs."""
    jobs = [j for j in jobs if wait_key(j) not in compiling.pending()]
    if not jobs:
        return
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")          # one core: this process keeps the other
    proc = subprocess.Popen([sys.executable, "-m", __name__, str(np.dtype(dtype)), *jobs],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    atexit.register(_stop, proc)
    _CHILDREN.append(proc)
    compiling.expect([wait_key(j) for j in jobs if j != "shared"], proc)  # cell, cell:backward


_CHILDREN = []      # the child processes started (``stop_children``)


def stop_children():
    """Stop every child still compiling (what the exit does; for a process that ends with
    os._exit, which skips the exit's handlers)."""
    for proc in _CHILDREN:
        _stop(proc)


def _stop(proc):
    if proc.poll() is None:             # the run ended first: the child's work is not needed
        proc.kill()
        proc.wait()


def compile_cell(cell, dtype, backward_only=False, options=None):
    """One tiny layer of `cell` (with its `options`, the run's) forward and backward on token
    input (as a text model feeds it), in training mode, then one B = 1 generation step: the
    one-thread kernels a run of the cell calls. backward_only: the forward's time loop
    skipped (``kernels.forward_loops_skipped``; the backward then runs on unset values,
    which its machine code does not depend on), and no generation step."""
    from ..nn import registry
    from ..nn.functional import TokenInput
    from ..nn.kernels import forward_loops_skipped
    V, H = 16, 16          # products narrower than 16 take an unpacked path no real run takes
    layer = registry.get(cell).layer(V, H, dtype=np.dtype(dtype).type, seed=0,
                                     **(options or {}))
    ids = np.arange(6).reshape(3, 2) % V
    with forward_loops_skipped() if backward_only else nullcontext():
        y, _ = layer(TokenInput(ids, V, dtype=np.dtype(dtype).type))
    with np.errstate(all="ignore"):
        layer.backward(np.ones(y.shape, y.dtype))
    if layer.stepper_fits() and not backward_only:
        layer.steppers()[0].step(np.ones(V, y.dtype))


def compile_shared(dtype):
    """One training step of a tiny text model whose cell has no kernels (the mLSTM runs on
    NumPy), V and H >= 16 as a real run's (narrower products take an unpacked path): the
    kernels every cell's text run shares."""
    from .warmup import tiny_run
    tiny_run("mlstm", dtype, batch=4, hidden=16, chars="abcdefghijklmnopqrst", steps=1,
             sample=False)


def main(argv):
    dtype, jobs = argv[0], argv[1:]
    for job in jobs:
        if job == "shared":
            compile_shared(dtype)
        else:
            cell, _, rest = job.partition(":")
            part, _, options = rest.partition(":")
            compile_cell(cell, dtype, backward_only=part == "backward",
                         options=json.loads(options) if options else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

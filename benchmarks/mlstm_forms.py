"""The mLSTM's training forms against the LSTM kernel, in one process: forward + backward of one
layer per call, float32, x (T, B, D), dy = ones, no state.

    NUMBA_NUM_THREADS=1 python benchmarks/mlstm_forms.py [--T 100,1000] [--H 128] [--B 32]
        [--D 128] [--heads 1,4] [--chunks 16,32,64] [--repeats 5] [--tokens 2000]

Rows: the LSTM layer (rnnlab.LSTM, its numba kernel), and per head count the mLSTM's parallel
form (mlstm_parallel.py, O(T^2)), its chunkwise form (mlstm_chunkwise.py) at each --chunks L,
and the layer's mode='parallel' as it picks. Each: one untimed call (compiles, allocates),
then the best of --repeats calls, CPU seconds (time.process_time: every thread's work, the
fair number on a shared machine) and wall seconds; the ratio is CPU over the LSTM's CPU.
The load average is printed before and after.

Then generation: CPU ms per token of a 2-layer MLSTM(D, H) stack fed one step at a time
(x (1, 1, D), the state carried, eval mode), in each mode, mean over --tokens steps.
"""
import argparse
import os
import time

import numpy as np

from rnnlab import LSTM, MLSTM
from rnnlab.nn.cells import mlstm_chunkwise_backward, mlstm_parallel
from rnnlab.nn.cells.mlstm_chunkwise import forward_chunkwise


def best_of(fn, repeats):
    """(CPU s, wall s) of the fastest of `repeats` calls, after one untimed call."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        best = min(best, (time.process_time() - c0, time.perf_counter() - w0))
    return best


def layer_call(layer, x, dy):
    def call():
        layer.zero_grad()
        layer(x)
        layer.backward(dy)
    return call


def cell_call(forward, backward, x, params, heads, dy):
    def call():
        _, _, cache = forward(x, None, params, None, heads, "sigmoid")
        backward(dy, None, cache)
    return call


def rows(T, H, B, D, heads_list, chunks, repeats, rng):
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    dy = np.ones((T, B, H), np.float32)
    lstm = LSTM(D, H, seed=0).train()
    yield "lstm (numba kernel)", best_of(layer_call(lstm, x, dy), repeats)
    for heads in heads_list:
        layer = MLSTM(D, H, num_heads=heads, seed=0).train()
        p = layer.cell_params(0)
        if T <= 1000:
            yield (f"mlstm {heads} head(s) parallel O(T^2)",
                   best_of(cell_call(mlstm_parallel.forward_parallel,
                                     mlstm_parallel.backward_parallel, x, p, heads, dy), repeats))
        for L in chunks:
            fwd = lambda *a, L=L: forward_chunkwise(*a, chunk=L)   # noqa: E731
            yield (f"mlstm {heads} head(s) chunkwise L={L}",
                   best_of(cell_call(fwd, mlstm_chunkwise_backward.backward_chunkwise,
                                     x, p, heads, dy), repeats))
        yield (f"mlstm {heads} head(s) layer mode='parallel'",
               best_of(layer_call(layer, x, dy), repeats))


def generation_ms(D, H, heads, mode, tokens, rng):
    """CPU ms per token of a 2-layer stack stepped one token at a time (after 50 untimed)."""
    layer = MLSTM(D, H, num_layers=2, num_heads=heads, mode=mode, seed=0).eval()
    x = rng.standard_normal((1, 1, D)).astype(np.float32)
    state = None
    for _ in range(50):
        _, state = layer(x, state)
    c0 = time.process_time()
    for _ in range(tokens):
        _, state = layer(x, state)
    return (time.process_time() - c0) / tokens * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", default="100,1000", help="sequence lengths (default 100,1000)")
    ap.add_argument("--H", type=int, default=128, help="hidden units (default 128)")
    ap.add_argument("--B", type=int, default=32, help="batch rows (default 32)")
    ap.add_argument("--D", type=int, default=128, help="input width (default 128)")
    ap.add_argument("--heads", default="1,4", help="mLSTM head counts (default 1,4)")
    ap.add_argument("--chunks", default="16,32,64", help="chunk lengths L (default 16,32,64)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls, best kept (default 5)")
    ap.add_argument("--tokens", type=int, default=2000,
                    help="generation steps timed per row (default 2000)")
    a = ap.parse_args()
    ints = lambda s: [int(v) for v in s.split(",")]                 # noqa: E731
    print(f"load average {os.getloadavg()}, NUMBA_NUM_THREADS="
          f"{os.environ.get('NUMBA_NUM_THREADS', 'unset')}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    rng = np.random.default_rng(0)
    for T in ints(a.T):
        print(f"\nT={T} H={a.H} B={a.B} D={a.D} float32, forward+backward, best of {a.repeats}")
        base = None
        for label, (cpu, wall) in rows(T, a.H, a.B, a.D, ints(a.heads), ints(a.chunks),
                                       a.repeats, rng):
            base = base or cpu
            print(f"  {label:45s} CPU {cpu:7.3f} s  wall {wall:7.3f} s  x LSTM {cpu / base:5.2f}",
                  flush=True)
    print(f"\ngeneration: 2 x MLSTM({a.D}, {a.H}), B = 1, one token per call, "
          f"mean of {a.tokens}")
    for heads in ints(a.heads):
        for mode in ("parallel", "recurrent"):
            ms = generation_ms(a.D, a.H, heads, mode, a.tokens, rng)
            print(f"  {heads} head(s) mode={mode!r:12s} CPU {ms:6.3f} ms/token", flush=True)
    print(f"\nload average {os.getloadavg()}")


if __name__ == "__main__":
    main()

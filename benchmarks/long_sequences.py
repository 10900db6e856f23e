"""Long sequences: forward + backward over T = 100,000 steps (B = 1, small H), every cell and
backend. Prints wall time, whether everything stayed finite, and the peak of Python-tracked
allocations (tracemalloc sees every NumPy array) in bytes per (T * B * H) element.

    python benchmarks/long_sequences.py [T] [H]

Results are recorded in docs/guarantees.md. Not a test: the NumPy reference takes seconds per
cell at this length (a Python loop over time steps), the numba kernels a fraction of that.
"""
import sys
import time
import tracemalloc

import numpy as np

import rnnlab


def run(cell, backend, T, H, B=1, D=2):
    cls = {"lstm": rnnlab.LSTM, "gru": rnnlab.GRU, "rnn": rnnlab.RNN}[cell]
    layer = cls(D, H, seed=0)
    x = np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32)
    layer(x[:2], backend=backend)                       # compile / warm up outside the timing
    layer.backward(np.ones((2, B, H), np.float32))
    tracemalloc.start()
    t0 = time.perf_counter()
    y, _ = layer(x, backend=backend)
    t1 = time.perf_counter()
    dx, _ = layer.backward(np.ones_like(y))
    t2 = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    finite = bool(np.isfinite(y).all() and np.isfinite(dx).all()
                  and all(np.isfinite(g).all() for g in layer.grads.values()))
    return t1 - t0, t2 - t1, peak, finite


def main():
    T = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    H = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    print(f"T={T} B=1 H={H} float32")
    print(f"{'cell':5} {'backend':7} {'forward s':>9} {'backward s':>10} {'peak MB':>8} "
          f"{'bytes/(T*H)':>11} finite")
    for cell in ("rnn", "gru", "lstm"):
        for backend in ("numpy", "numba"):
            f, b, peak, finite = run(cell, backend, T, H)
            print(f"{cell:5} {backend:7} {f:9.2f} {b:10.2f} {peak / 2**20:8.1f} "
                  f"{peak / (T * H):11.0f} {finite}", flush=True)


if __name__ == "__main__":
    main()

"""Recurrent dropout on the GRU's and RNN's numba kernels against the same kernel without it
(and the NumPy reference it ran on before), forward + backward of one layer, in one process.

    NUMBA_NUM_THREADS=1 python benchmarks/rdrop_kernels.py [--T 100] [--B 32] [--H 128]
                                                           [--repeats 5] [--p 0.25]

Per cell: the best of --repeats calls of forward + backward, CPU time (time.process_time), after
one untimed call (compiles, allocates); the plain kernel is timed before and after the masked
one and the better taken. x (T, B, H) float32, random weights, random dy; the kernels called
directly (rnnlab.nn.kernels.gru / rnn, with a Workspace as a layer holds), one (B, H) training
mask. Printed: ms and the ratios to the plain kernel.
"""
import argparse
import time

import numpy as np

from rnnlab.nn.cells import gru as gru_cell
from rnnlab.nn.cells import rnn as rnn_cell
from rnnlab.nn.kernels import Workspace
from rnnlab.nn.kernels import gru as gru_kernel
from rnnlab.nn.kernels import rnn as rnn_kernel


def _once(mod, x, p, dy, mask, **kw):
    t0 = time.process_time()
    _, _, cache = mod.forward(x, None, p, None, recurrent_mask=mask, **kw)
    mod.backward(dy, None, cache)
    return time.process_time() - t0


def _best(n, *args, **kw):
    _once(*args, **kw)
    return min(_once(*args, **kw) for _ in range(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=100, help="steps (default 100)")
    ap.add_argument("--B", type=int, default=32, help="batch rows (default 32)")
    ap.add_argument("--H", type=int, default=128, help="hidden units = input size (default 128)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls, best taken (default 5)")
    ap.add_argument("--p", type=float, default=0.25, help="recurrent dropout (default 0.25)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.T, a.B, a.H)).astype(np.float32)
    dy = rng.standard_normal((a.T, a.B, a.H)).astype(np.float32)
    mask = ((rng.random((a.B, a.H)) >= a.p) / (1 - a.p)).astype(np.float32)
    for name, ker, ref, G in (("GRU", gru_kernel, gru_cell, 3), ("RNN", rnn_kernel, rnn_cell, 1)):
        p = {k: rng.uniform(-0.1, 0.1, s).astype(np.float32) for k, s in
             (("weight_ih", (G * a.H, a.H)), ("weight_hh", (G * a.H, a.H)),
              ("bias_ih", G * a.H), ("bias_hh", G * a.H))}
        ws = Workspace()
        plain = _best(a.repeats, ker, x, p, dy, None, workspace=ws)
        masked = _best(a.repeats, ker, x, p, dy, mask, workspace=ws)
        plain = min(plain, _best(a.repeats, ker, x, p, dy, None, workspace=ws))
        reference = _best(a.repeats, ref, x, p, dy, mask)
        print(f"{name} H={a.H} B={a.B} T={a.T}: plain kernel {plain * 1e3:.1f} ms, "
              f"masked kernel {masked * 1e3:.1f} ms ({masked / plain:.2f}x), masked reference "
              f"{reference * 1e3:.1f} ms ({reference / plain:.2f}x; {reference / masked:.2f}x "
              f"the masked kernel)")


if __name__ == "__main__":
    main()

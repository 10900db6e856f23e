"""A quick CPU-time comparison of minGRU / minLSTM (both modes) against the LSTM, rnnlab's and
torch's, for one training step (forward + backward) of one layer.

    python benchmarks/min_cells_cpu.py [--T 100,1000] [--H 128] [--B 32] [--repeats 5]

CPU time (time.process_time: all threads of this process, user + system), not wall clock:
on the shared 2-core machine wall clock depends on who else runs, CPU time much less. It is
the work done, not the latency: a run split over two threads costs the CPU time of both. Each
figure is the median of --repeats steps after a warm-up step (which compiles the kernels).
Both sides run on --threads threads (default 1: torch's OpenMP threads spin while they wait,
and process_time counts the spinning, which on a loaded machine inflated torch's CPU time
several times over). x: (T, B, D=H) float32, rnnlab on its numba kernels; torch's
minGRU / minLSTM are rnnlab's twins (interop/torch_min.py: the same log-space scan, autograd
backward). The uptime line says how loaded the machine was.
"""
import argparse
import os
import statistics
import time

import numpy as np


def cpu_ms(step, repeats):
    step()                                                   # warm-up: compile, allocate
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        step()
        times.append(time.process_time() - t0)
    return 1e3 * statistics.median(times)


def rnnlab_step(layer, x, dy):
    def step():
        layer.zero_grad()
        layer(x, backend="numba")
        layer.backward(dy)
    return step


def torch_step(m, x):
    def step():
        m.zero_grad()
        xg = x.clone().requires_grad_(True)
        y, _ = m(xg)
        y.backward(torch_ones(y))
    return step


def torch_ones(y):
    import torch
    return torch.ones_like(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", default="100,1000", help="sequence lengths (default 100,1000)")
    ap.add_argument("--H", type=int, default=128, help="hidden size = input size (default 128)")
    ap.add_argument("--B", type=int, default=32, help="batch (default 32)")
    ap.add_argument("--repeats", type=int, default=5, help="timed steps each (default 5)")
    ap.add_argument("--threads", type=int, default=1, help="threads for numba and torch "
                    "(default 1)")
    a = ap.parse_args()
    import torch

    import rnnlab
    from rnnlab.interop.torch_min import MinRNN
    import numba
    torch.set_num_threads(a.threads)
    numba.set_num_threads(a.threads)
    H, B = a.H, a.B
    print(f"# CPU time (time.process_time) per training step, median of {a.repeats}; "
          f"H=D={H}, B={B}, float32; {a.threads} thread(s) each; {os.cpu_count()} cpus; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| T | cell | mode | rnnlab CPU ms | torch CPU ms | torch / rnnlab |")
    print("|---|---|---|---|---|---|")
    for T in [int(t) for t in a.T.split(",")]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((T, B, H)).astype(np.float32)
        dy = np.ones((T, B, H), np.float32)
        xt = torch.from_numpy(x)
        rows = [("lstm", "-", rnnlab.LSTM(H, H, seed=0), torch.nn.LSTM(H, H))]
        for cell, cls in (("mingru", rnnlab.MinGRU), ("minlstm", rnnlab.MinLSTM)):
            for mode in ("parallel", "recurrent"):
                rows.append((cell, mode, cls(H, H, seed=0, mode=mode), MinRNN(cell, H, H, mode=mode)))
        for cell, mode, layer, tm in rows:
            r = cpu_ms(rnnlab_step(layer, x, dy), a.repeats)
            t = cpu_ms(torch_step(tm, xt), a.repeats)
            print(f"| {T} | {cell} | {mode} | {r:.1f} | {t:.1f} | {t / r:.2f} |", flush=True)


if __name__ == "__main__":
    main()

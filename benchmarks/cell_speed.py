"""Training speed of every cell, rnnlab against torch, each side in its own process.

    python benchmarks/cell_speed.py [--T 100,1000] [--H 128] [--B 32] [--seeds 3] [--repeats 3]
                                    [--cells all] [--threads 1] [--json FILE]

One training step = the forward and the backward pass of one recurrent layer, x: (T, B, D = H)
float32, dy = ones, in training mode (the LSTM's zoneout and recurrent dropout draw their masks);
the optimizer's update is left out (the same for every cell, ~0.1 ms at this size). Each
configuration runs in its own child process per side (rnnlab, torch), so neither side's
threads, allocator or compiled code touch the other's: the child builds the layer for seed s
(weights and x from s), takes one untimed step (compiles the kernels, allocates), then
--repeats timed steps, for each of --seeds seeds. Reported per (cell, T, side): the median
over all seeds' timed steps and the range of the seeds' medians, twice:

- CPU ms: time.process_time, user + system of every thread of the process (numba's and
  torch's worker threads included, both threads when --threads 2): the work done. On the
  shared machine this is the fair number; torch's OpenMP threads spin while waiting, and the
  spinning counts, hence --threads 1 by default.
- wall ms: time.perf_counter: the latency, which depends on the load of the machine; the load
  average (1 min) is printed before and after each child.

rnnlab runs its numba kernels where the cell has one and the NumPy reference where it does
not (the mLSTM; the LSTM's layer_norm, proj_size, zoneout, recurrent dropout in training).
torch runs nn.RNN / nn.LSTM / nn.GRU (proj_size: nn.LSTM's own); with --twins also, for what
torch lacks, rnnlab's torch twins (rnnlab.torch.build_twin: interop/torch_min.py,
torch_xlstm.py, torch_lstm.py), autograd backward, a Python loop over time where the cell is
recurrent (slow at T = 1000 and not what torch users would run, so off by default).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# (label, --cell name, cell options, torch's own layer computes it): every registered cell,
# and the options that change what a step costs. The others have a torch twin (autograd, a
# Python loop over time where the cell is recurrent), timed only with --twins.
CONFIGS = [
    ("rnn", "rnn", {}, True), ("lstm", "lstm", {}, True), ("gru", "gru", {}, True),
    ("lstm layer_norm", "lstm", {"layer_norm": True}, False),
    ("lstm proj_size=64", "lstm", {"proj_size": 64}, True),
    ("lstm zoneout=0.1", "lstm", {"zoneout": 0.1}, False),
    ("lstm recurrent_dropout=0.25", "lstm", {"recurrent_dropout": 0.25}, False),
    ("mingru recurrent", "mingru", {"mode": "recurrent"}, False),
    ("mingru parallel", "mingru", {"mode": "parallel"}, False),
    ("minlstm recurrent", "minlstm", {"mode": "recurrent"}, False),
    ("minlstm parallel", "minlstm", {"mode": "parallel"}, False),
    ("slstm", "slstm", {}, False), ("slstm 4 heads", "slstm", {"num_heads": 4}, False),
    ("mlstm recurrent", "mlstm", {"mode": "recurrent"}, False),
    ("mlstm parallel", "mlstm", {"mode": "parallel"}, False),
    ("mlstm 4 heads parallel", "mlstm", {"mode": "parallel", "num_heads": 4}, False),
]


# ----------------------------------------------------------------------------- the child

def rnnlab_step(cell, opts, H, seed, x):
    from rnnlab.nn import registry
    spec = registry.get(registry.from_choice(cell)["cell"])
    layer = spec.layer(H, H, seed=seed, **opts)
    layer.train()
    dy = np.ones((x.shape[0], x.shape[1], layer.output_size), np.float32)

    def step():
        layer.zero_grad()
        layer(x)
        layer.backward(dy)
    return step


def torch_step(cell, opts, H, seed, x):
    import torch

    from rnnlab.tasks.model import ModelConfig
    from rnnlab.torch import build_twin
    torch.manual_seed(seed)
    m = build_twin(ModelConfig(layers=1, task="series", cell=cell, input_size=H, output_size=1,
                               hidden=H, cell_options=opts)).rnn
    m.train()
    xt = torch.from_numpy(x)

    def step():
        m.zero_grad()
        y, _ = m(xt.clone().requires_grad_(True))
        y.backward(torch.ones_like(y))
    return step


def child(a):
    import numba
    numba.set_num_threads(a.threads)
    if a.side == "torch":
        import torch
        torch.set_num_threads(a.threads)
    opts = json.loads(a.opts)
    make = rnnlab_step if a.side == "rnnlab" else torch_step
    for T in [int(t) for t in a.T.split(",")]:
        cpu, wall, cpu_med, wall_med = [], [], [], []
        for seed in range(a.seeds):
            x = np.random.default_rng(seed).standard_normal((T, a.B, a.H)).astype(np.float32)
            step = make(a.cell, opts, a.H, seed, x)
            step()                                               # compile, allocate
            c, w = [], []
            for _ in range(a.repeats):
                c0, w0 = time.process_time(), time.perf_counter()
                step()
                c.append(1e3 * (time.process_time() - c0))
                w.append(1e3 * (time.perf_counter() - w0))
            cpu += c
            wall += w
            cpu_med.append(statistics.median(c))
            wall_med.append(statistics.median(w))
        print(json.dumps(dict(T=T, cpu_ms=statistics.median(cpu), wall_ms=statistics.median(wall),
                              cpu_seed_range=[min(cpu_med), max(cpu_med)],
                              wall_seed_range=[min(wall_med), max(wall_med)])), flush=True)


# ----------------------------------------------------------------------------- the parent

def run_side(a, side, cell, opts):
    cmd = [sys.executable, __file__, "--child", "--side", side, "--cell", cell,
           "--opts", json.dumps(opts), "--T", a.T, "--H", str(a.H), "--B", str(a.B),
           "--seeds", str(a.seeds), "--repeats", str(a.repeats), "--threads", str(a.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               MKL_NUM_THREADS=str(a.threads), NUMBA_NUM_THREADS=str(max(a.threads, 1)))
    load0 = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return [dict(T=int(T), error=out.stderr.strip().splitlines()[-1]) for T in a.T.split(",")], \
            load0, os.getloadavg()[0]
    return [json.loads(s) for s in out.stdout.splitlines()], load0, os.getloadavg()[0]


def fmt(r):
    if "error" in r:
        return "error", "error"
    c, w = r["cpu_ms"], r["wall_ms"]
    cr, wr = r["cpu_seed_range"], r["wall_seed_range"]
    return f"{c:.3g} ({cr[0]:.3g}-{cr[1]:.3g})", f"{w:.3g} ({wr[0]:.3g}-{wr[1]:.3g})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", default="100,1000", help="sequence lengths (default 100,1000)")
    ap.add_argument("--H", type=int, default=128, help="hidden size = input size (default 128)")
    ap.add_argument("--B", type=int, default=32, help="batch (default 32)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds, each its weights and x (default 3)")
    ap.add_argument("--repeats", type=int, default=3, help="timed steps per seed (default 3)")
    ap.add_argument("--threads", type=int, default=1, help="threads of each side (default 1)")
    ap.add_argument("--cells", default="all", help="labels of CONFIGS, comma-separated, or all "
                    "(default all)")
    ap.add_argument("--no-torch", action="store_true", help="rnnlab only (default: both sides)")
    ap.add_argument("--twins", action="store_true", help="also time rnnlab's torch twins of the "
                    "cells and options torch lacks (default: off, torch's own layers only)")
    ap.add_argument("--json", default=None, help="also write the results here (default: none)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--cell", help=argparse.SUPPRESS)
    ap.add_argument("--opts", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    want = None if a.cells == "all" else set(a.cells.split(","))
    configs = [c for c in CONFIGS if want is None or c[0] in want]
    print(f"# one training step (forward + backward of one layer), H = D = {a.H}, B = {a.B}, "
          f"float32, {a.threads} thread(s) per side, each side in its own process; median over "
          f"{a.seeds} seeds x {a.repeats} steps (range of the seeds' medians); "
          f"{os.cpu_count()} cpus; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    print("| cell | T | rnnlab CPU ms | torch CPU ms | torch/rnnlab CPU | rnnlab wall ms | "
          "torch wall ms | load avg |\n|---|---|---|---|---|---|---|---|", flush=True)
    results = []
    for label, cell, opts, with_torch in configs:
        mine, l0, l1 = run_side(a, "rnnlab", cell, opts)
        theirs, l2, l3 = (run_side(a, "torch", cell, opts)
                          if (with_torch or a.twins) and not a.no_torch
                          else ([{}] * len(mine), None, None))
        for r, t in zip(mine, theirs):
            rc, rw = fmt(r)
            tc, tw = fmt(t) if t else ("-", "-")
            ratio = (f"{t['cpu_ms'] / r['cpu_ms']:.2f}" if t and "error" not in t
                     and "error" not in r else "-")
            seen = [v for v in (l0, l1, l2, l3) if v is not None]
            loads = f"{min(seen):.1f}-{max(seen):.1f}"
            print(f"| {label} | {r['T']} | {rc} | {tc} | {ratio} | {rw} | {tw} | {loads} |",
                  flush=True)
            results.append(dict(label=label, cell=cell, options=opts, T=r["T"], rnnlab=r,
                                torch=t or None, load=[l0, l1, l2, l3]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(H=a.H, B=a.B, seeds=a.seeds, repeats=a.repeats, threads=a.threads,
                           results=results), f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

"""rnnlab's numba kernels against torch on the CPU, cell by cell.

    rnnlab bench [--quick] [--rounds N] [--repeats N] [--cells lstm,gru,rnn]
    python benchmarks/bench_cells.py ...     (the same)

Every measurement runs in its own fresh process (``--worker``), rnnlab and torch alternating,
and the best of several repeats over several rounds is kept, because a shared machine is
noisy. Grid: T=100, D=H, (H, B) in (32,1) (128,1) (128,32) (512,32) (1024,64), float32,
inference (no grad) and training (forward + backward, torch with requires_grad on the input
so both compute dx), plus per-step generation latency at H=256, B=1 (torch calling nn.LSTM /
nn.GRU / nn.RNN one step at a time under no_grad, rnnlab its Stepper). torch runs with
torch.set_num_threads(2). The table prints torch_time / rnnlab_time (> 1: rnnlab faster) and
each side's peak memory growth (ru_maxrss after the runs minus the RSS after a tiny warm-up call;
it includes the BLAS libraries' per-thread work buffers, which both sides allocate lazily),
and for rnnlab the exact peak of its NumPy arrays during one training step (tracemalloc).

``main(argv)`` is the entry point (also for ``rnnlab bench``).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

GRID = [(32, 1), (128, 1), (128, 32), (512, 32), (1024, 64)]
QUICK_GRID = [(32, 1), (128, 1), (128, 32), (512, 32)]
T = 100
GEN_H, GEN_STEPS = 256, 200


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _best(f, repeats, budget_s):
    f()                                        # warm-up (compile / allocator / threads)
    best, t_end = float("inf"), time.perf_counter() + budget_s
    for k in range(repeats):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
        if k >= 1 and time.perf_counter() > t_end:
            break
    return best


def _worker(side, cell, H, B, repeats):
    import numpy as np
    rng = np.random.default_rng(0)
    res = {}
    if side == "torch":
        import torch
        torch.set_num_threads(2)
        from ..nn import registry
        mod = getattr(torch.nn, registry.get(cell).torch_layer)
        if B == 0:                            # generation
            m = mod(GEN_H, GEN_H)
            xs = torch.randn(GEN_STEPS, 1, 1, GEN_H)
            rss0 = _rss_mb()

            def gen():
                with torch.no_grad():
                    s = None
                    for t in range(GEN_STEPS):
                        _, s = m(xs[t], s)
            res["gen"] = _best(gen, repeats, 10) / GEN_STEPS
        else:
            m = mod(H, H)
            x = torch.randn(T, B, H)
            xg = x.clone().requires_grad_(True)
            m(torch.randn(2, 1, H))[0].sum().backward()    # load lazily initialised code
            rss0 = _rss_mb()

            def inf():
                with torch.no_grad():
                    m(x)

            def train():
                y, _ = m(xg)
                y.backward(torch.ones_like(y))
            res["inf"] = _best(inf, repeats, 20)
            res["train"] = _best(train, repeats, 30)
    else:
        from ..nn import registry
        Hh = GEN_H if B == 0 else H
        layer = registry.get(cell).layer(Hh, Hh, seed=0)     # torch's init, float32
        K, p = layer.implementation("numba"), layer.cell_params(0)
        if B == 0:
            xs = rng.standard_normal((GEN_STEPS, Hh)).astype(np.float32)
            st = K.Stepper(p)
            st.step(xs[0])
            rss0 = _rss_mb()

            def gen():
                st.reset()
                step = st.step
                for t in range(GEN_STEPS):
                    step(xs[t])
            res["gen"] = _best(gen, repeats, 10) / GEN_STEPS
        else:
            x = rng.standard_normal((T, B, H)).astype(np.float32)
            dy = np.ones((T, B, H), np.float32)
            y, _, c = K.forward(x[:2, :1], None, p)           # load the cached machine code
            K.backward(dy[:2, :1], None, c)
            rss0 = _rss_mb()

            def inf():
                K.forward(x, None, p)

            def train():
                y, _, cache = K.forward(x, None, p)
                K.backward(dy, None, cache)
            res["inf"] = _best(inf, repeats, 20)
            res["train"] = _best(train, repeats, 30)
            import tracemalloc                 # NumPy arrays are traced: exact array memory
            tracemalloc.start()
            train()
            res["traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
    print(json.dumps(res))


def _run_worker(side, cell, H, B, repeats):
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "rnnlab.app.bench", "--worker", side, cell, str(H), str(B),
           str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker {cmd[3:]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _merge(acc, new):
    for k, v in new.items():
        acc[k] = v if k not in acc else (max(acc[k], v) if k == "peak_mb" else min(acc[k], v))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="rnnlab bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grid, one round")
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per process")
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--worker", nargs=5, metavar=("SIDE", "CELL", "H", "B", "REPEATS"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        side, cell, H, B, rep = a.worker
        _worker(side, cell, int(H), int(B), int(rep))
        return 0
    rounds = a.rounds or (1 if a.quick else 3)
    repeats = a.repeats or (3 if a.quick else 7)
    grid = QUICK_GRID if a.quick else GRID
    cells = [c for c in a.cells.split(",") if c]
    from ..nn import registry
    for cell in cells:
        if registry.get(cell).torch_layer is None:    # the sLSTM, mLSTM: torch has no layer
            both = ", ".join(c for c, s in registry.CELLS.items() if s.torch_layer)
            print(f"rnnlab bench: torch has no {cell} layer to time the kernel against; bench "
                  f"compares cells torch also has ({both})", file=sys.stderr)
            return 2
    try:
        import torch                             # noqa: F401  (version for the header)
    except ImportError:
        print("rnnlab bench: torch is not installed (pip install torch); it is the baseline "
              "every ratio is measured against", file=sys.stderr)
        return 2
    print(f"# rnnlab vs torch {torch.__version__}, T={T}, D=H, float32, "
          f"{os.cpu_count()} cpus, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}"
          f", best of {repeats} x {rounds} rounds; ratio = torch / rnnlab (> 1: rnnlab faster)")
    from ..nn.backend import blas_info
    for lib, (core, cfg) in blas_info().items():
        print(f"# {lib}: OpenBLAS kernels {core} ({cfg.strip()})")
    # warm the on-disk numba cache once so no measured process compiles
    for cell in cells:
        _run_worker("rnnlab", cell, 8, 1, 1)
        _run_worker("rnnlab", cell, 8, 0, 1)
    hdr = ("| cell | H | B | inference torch ms | rnnlab ms | ratio | train torch ms | rnnlab ms "
           "| ratio | RSS growth MB torch / rnnlab | rnnlab arrays MB |")
    print(hdr)
    print("|" + "---|" * 11)
    rows = []
    for cell in cells:
        for H, B in grid + [(GEN_H, 0)]:
            res = {"torch": {}, "rnnlab": {}}
            for r in range(rounds):
                order = ("torch", "rnnlab") if r % 2 == 0 else ("rnnlab", "torch")
                for side in order:
                    rep = max(2, repeats // 3) if H >= 1024 else repeats
                    _merge(res[side], _run_worker(side, cell, H, B, rep))
            tq, rq = res["torch"], res["rnnlab"]
            if B == 0:
                line = (f"| {cell} | {GEN_H} | 1 | generation per step: torch "
                        f"{tq['gen'] * 1e6:.1f} us | rnnlab {rq['gen'] * 1e6:.1f} us | "
                        f"**{tq['gen'] / rq['gen']:.1f}x** | | | | "
                        f"{tq['peak_mb']:.0f} / {rq['peak_mb']:.0f} | |")
            else:
                line = (f"| {cell} | {H} | {B} | {tq['inf'] * 1e3:.3f} | {rq['inf'] * 1e3:.3f} | "
                        f"**{tq['inf'] / rq['inf']:.2f}** | {tq['train'] * 1e3:.3f} | "
                        f"{rq['train'] * 1e3:.3f} | **{tq['train'] / rq['train']:.2f}** | "
                        f"{tq['peak_mb']:.0f} / {rq['peak_mb']:.0f} | {rq['traced_mb']:.1f} |")
            rows.append(line)
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""rnnlab against torch on the CPU: the layer grid, cell by cell, and the char-LM training step.

    rnnlab bench [--quick] [--rounds N] [--repeats N] [--cells lstm,gru,rnn] [--sizes H:B,...]
                 [--no-grid] [--no-options] [--no-step] [--steps N] [--embed 0,32]
    python benchmarks/bench_cells.py ...     (the same)

Grid: LSTM, GRU, RNN; H in {32, 128, 512, 1024} x B in {1, 32, 64}, T=100, D=H, float32;
inference (no grad) and training (forward + backward; torch with requires_grad on the input,
so both compute dx); plus per-step generation latency at H=256, B=1 (torch calling nn.LSTM /
nn.GRU / nn.RNN one step at a time under no_grad, rnnlab its Stepper). Then the LSTM's
options and the cells torch lacks against rnnlab's plain LSTM (``bench_options``), and the
training step (``bench_step``). Every measurement runs in its own fresh process (``--worker``), rnnlab and
torch alternating; within a process the best of ``repeats`` runs is kept. Both sides get the
same threads (``--threads``: torch.set_num_threads, NUMBA_NUM_THREADS). Ratios are torch time /
rnnlab time (> 1: rnnlab faster): the best time over the rounds of each side, and in brackets
the range of the per-round paired ratios. Memory: each process's peak RSS (VmHWM), and
its growth over the RSS after a tiny warm-up call (what the run itself took: arrays, workspace,
the BLAS/OpenMP per-thread buffers). The load average is printed per row.
"""
import argparse
import json
import os
import subprocess
import sys

from ..errors import install_line
from .bench_step import best_time, layer_fns, warm_layer

GRID = [(H, B) for H in (32, 128, 512, 1024) for B in (1, 32, 64)]
QUICK_GRID = [(32, 1), (128, 1), (128, 32), (512, 1), (512, 32), (1024, 64)]
T = 100
GEN_H, GEN_STEPS = 256, 200


def _torch_fns(cell, H, B, threads):
    import torch
    torch.set_num_threads(threads)
    from ..nn import registry
    mod = getattr(torch.nn, registry.get(cell).torch_layer)
    if B == 0:
        m = mod(GEN_H, GEN_H)
        xs = torch.randn(GEN_STEPS, 1, 1, GEN_H)

        def gen():
            with torch.no_grad():
                s = None
                for t in range(GEN_STEPS):
                    _, s = m(xs[t], s)
        return gen, None
    m = mod(H, H)
    x = torch.randn(T, B, H)
    xg = x.clone().requires_grad_(True)
    m(torch.randn(2, 1, H))[0].sum().backward()    # load lazily initialised code

    def inf():
        with torch.no_grad():
            m(x)

    def train():
        y, _ = m(xg)
        y.backward(torch.ones_like(y))
    return inf, train


def _rnnlab_fns(cell, H, B):
    import numpy as np
    from ..nn import registry
    Hh = GEN_H if B == 0 else H
    layer = warm_layer(registry.get(cell).layer(Hh, Hh, seed=0))     # torch's init, float32
    if B == 0:
        st = layer.steppers()[0]
        xs = np.random.default_rng(0).standard_normal((GEN_STEPS, Hh)).astype(np.float32)

        def gen():
            st.reset()
            step = st.step
            for t in range(GEN_STEPS):
                step(xs[t])
        return gen, None
    return layer_fns(layer, T, B)


def _worker(side, cell, H, B, repeats, threads):
    inf, train = (_torch_fns(cell, H, B, threads) if side == "torch" else _rnnlab_fns(cell, H, B))
    from .bench_step import peak_rss_mb, rss_mb
    rss0 = rss_mb()
    res = {"load": os.getloadavg()[0]}
    if B == 0:
        res["gen"] = best_time(inf, repeats) / GEN_STEPS
    else:
        res["inf"] = best_time(inf, repeats)
        res["train"] = best_time(train, repeats)
    peak = peak_rss_mb()
    res.update(peak_mb=peak, growth_mb=peak - rss0)
    print(json.dumps(res))


def _run_worker(side, cell, H, B, repeats, threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "rnnlab.app.bench", "--worker", side, cell, str(H), str(B),
           str(repeats), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker {cmd[3:]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ratio(res, key):
    """(best torch / best rnnlab, min and max of the per-round paired ratios)."""
    t, r = res["torch"], res["rnnlab"]
    paired = [a[key] / b[key] for a, b in zip(t, r)]
    return min(a[key] for a in t) / min(b[key] for b in r), min(paired), max(paired)


def _row(cell, H, B, res):
    t, r = res["torch"], res["rnnlab"]
    load = [x["load"] for x in t + r]
    mem = (f"{max(x['peak_mb'] for x in t):.0f} / {max(x['peak_mb'] for x in r):.0f} | "
           f"{max(x['growth_mb'] for x in t):.0f} / {max(x['growth_mb'] for x in r):.0f}")
    if B == 0:
        g, lo, hi = _ratio(res, "gen")
        return (f"| {cell} | {GEN_H} | 1 | generation per step: torch "
                f"{min(x['gen'] for x in t) * 1e6:.1f} us | rnnlab "
                f"{min(x['gen'] for x in r) * 1e6:.1f} us | **{g:.1f}x** | | | | {mem} | "
                f"{min(load):.1f}-{max(load):.1f} |")
    cols = []
    for key in ("inf", "train"):
        q, lo, hi = _ratio(res, key)
        cols.append(f"{min(x[key] for x in t) * 1e3:.3f} | {min(x[key] for x in r) * 1e3:.3f} | "
                    f"**{q:.2f}** ({lo:.2f}-{hi:.2f})")
    return (f"| {cell} | {H} | {B} | {cols[0]} | {cols[1]} | {mem} | "
            f"{min(load):.1f}-{max(load):.1f} |")


def run_grid(cells, grid, rounds, repeats, threads, out=print):
    out("| cell | H | B | inference torch ms | rnnlab ms | ratio (rounds) | train torch ms | "
        "rnnlab ms | ratio (rounds) | peak RSS MB torch / rnnlab | growth MB torch / rnnlab "
        "| load |")
    out("|" + "---|" * 12)
    for cell in cells:                  # warm the on-disk numba cache: no measured compile
        _run_worker("rnnlab", cell, 32, 1, 1, threads)
        _run_worker("rnnlab", cell, 32, 0, 1, threads)
    for cell in cells:
        for H, B in grid + [(GEN_H, 0)]:
            res = {"torch": [], "rnnlab": []}
            rep = max(2, repeats // 2) if H * max(B, 1) >= 512 * 32 else repeats
            for r in range(rounds):
                for side in (("torch", "rnnlab") if r % 2 == 0 else ("rnnlab", "torch")):
                    res[side].append(_run_worker(side, cell, H, B, rep, threads))
            out(_row(cell, H, B, res))


def _sizes(text):
    try:
        return [tuple(int(v) for v in s.split(":")) for s in text.split(",") if s]
    except ValueError:
        raise SystemExit("rnnlab bench: --sizes takes H:B pairs, e.g. 128:32,512:1") from None


def add_arguments(ap):
    """The options of ``rnnlab bench`` (one list, read by the CLI and by this module's main)."""
    ap.add_argument("--quick", action="store_true",
                    help="smaller grid, one round, fewer repeats (default: off)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds per size (default 2; 1 with --quick)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per process (default 4; 2 with --quick)")
    ap.add_argument("--cells", default="lstm,gru,rnn",
                    help="cells to time, comma-separated (default lstm,gru,rnn)")
    ap.add_argument("--sizes", default=None,
                    help="H:B pairs instead of the grid, e.g. 128:32,512:1 (default: the grid)")
    ap.add_argument("--threads", type=int, default=2, help="threads per side (default 2)")
    ap.add_argument("--no-grid", action="store_true",
                    help="only the training step (default: both)")
    ap.add_argument("--no-step", action="store_true", help="only the layer grid (default: both)")
    ap.add_argument("--no-options", action="store_true",
                    help="skip the LSTM's options and the cells torch lacks, timed against the "
                         "plain LSTM (default: timed after the grid)")
    ap.add_argument("--steps", type=int, default=None,
                    help="timed training steps per process (default 40; 20 with --quick)")
    ap.add_argument("--embed", default="0,32",
                    help="training step: embedding sizes, 0 = one-hot (default 0,32)")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="rnnlab bench", description=__doc__.split("\n")[0])
    add_arguments(ap)
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)   # a measuring process
    return run(ap.parse_args(argv))


def run(a):
    """Run the benchmark the parsed options ask for; 2 on a bad option."""
    if getattr(a, "worker", None):
        side, cell, H, B, rep, threads = a.worker
        _worker(side, cell, int(H), int(B), int(rep), int(threads))
        return 0
    cells = [c for c in a.cells.split(",") if c]
    from ..nn import registry
    for cell in cells:
        if cell not in registry.CELLS:
            print(f"rnnlab bench: unknown cell {cell!r}; choose from "
                  f"{', '.join(registry.CELLS)}", file=sys.stderr)
            return 2
        if registry.get(cell).torch_layer is None:
            both = ", ".join(c for c, s in registry.CELLS.items() if s.torch_layer)
            print(f"rnnlab bench: torch has no {cell} layer to time the kernel against; bench "
                  f"compares cells torch also has ({both})", file=sys.stderr)
            return 2
    try:
        import torch
    except ImportError:
        print(f"rnnlab bench: torch is not installed ({install_line('torch')}); it is the "
              "baseline every ratio is measured against", file=sys.stderr)
        return 2
    rounds = a.rounds or (1 if a.quick else 2)
    repeats = a.repeats or (2 if a.quick else 4)
    from ..nn.backend import blas_info
    import numba
    print(f"# rnnlab vs torch {torch.__version__} (numba {numba.__version__}), {a.threads} "
          f"thread(s) each, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}; "
          f"ratio = torch / rnnlab (> 1: rnnlab faster)")
    for lib, (core, cfg) in blas_info().items():
        print(f"# {lib}: OpenBLAS kernels {core} ({cfg.strip()})")
    if not a.no_grid:
        print(f"\n## Layers: T={T}, D=H, float32, best of {repeats} per process x {rounds} "
              "rounds")
        grid = _sizes(a.sizes) if a.sizes else (QUICK_GRID if a.quick else GRID)
        run_grid(cells, grid, rounds, repeats, a.threads)
    if not a.no_grid and not a.no_options:
        from .bench_options import SIZES, run as run_options
        print()
        run_options(sizes=_sizes(a.sizes) if a.sizes else SIZES, T=T, rounds=rounds,
                    repeats=repeats, threads=a.threads)
    if not a.no_step:
        from .bench_step import run as run_step
        print()
        run_step([int(e) for e in a.embed.split(",") if e], rounds=max(rounds, 2) + 1,
                 steps=a.steps or (20 if a.quick else 40), threads=a.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where one char-LM training step spends its time, rnnlab beside its torch twin.

    python benchmarks/profile_step.py [--embed 0] [--steps 30] [--threads 1]

The step of ``rnnlab.app.bench_step`` (2x128 LSTM, B=50, T=50, V=65, Adam, clip 5), each side
in its own process. rnnlab: cProfile with the process's CPU time as its clock (both threads
counted), over ``--steps`` steps after 5 warm-up steps, the compiled kernels grouped by what
they do. torch: torch.profiler's self CPU time per operator, grouped the same way. Use one
thread for a clean split of the work; with two, CPU time includes the time threads spin.
"""
import argparse
import json
import os
import subprocess
import sys
import time

GROUPS_RNNLAB = [   # (group, substrings of "file:function")
    ("recurrent loops, forward", ("_fwd_loop", "loops.py:_fwd_rows", "_fwd_split", "fwd_units")),
    ("recurrent loops, backward", ("_bwd_loop", "loops.py:_bwd_rows", "_bwd_split", "bwd_units")),
    ("GEMMs: projections, dx, head", ("gemm_rows",)),
    ("GEMMs: weight gradients", ("gemm_tn",)),
    ("packing weights for the GEMMs", ("panels.py:", "pack_parts")),
    ("one-hot / embedding gather and scatter-add", ("_gather_rows", "_scatter_rows")),
    ("softmax cross-entropy (fused)", ("softmax_ce_rows", "losses.py")),
    ("clip norm + NaN check", ("sum_squares", "scale", "clip_grad_norm", "grads_finite",
                               "isfinite")),
    ("Adam (one pass)", ("adam_flat", "optim.py")),
]
GROUPS_TORCH = [
    ("LSTM forward", ("lstm", "rnn_layer")),
    ("LSTM backward", ("rnnbackward", "rnn_layer_backward", "mkldnnrnnlayerbackward")),
    ("head GEMMs (fwd + bwd)", ("addmm", "aten::mm", "linear", "aten::t")),
    ("one-hot / embedding", ("one_hot", "embedding", "scatter", "aten::to", "_to_copy",
                             "index_select", "copy_")),
    ("softmax cross-entropy", ("log_softmax", "nll_loss", "cross_entropy")),
    ("clip norm", ("norm", "clip", "_foreach_mul", "linalg_vector_norm", "stack")),
    ("Adam", ("adam", "_foreach", "lerp", "addcdiv", "sqrt")),
]


def _group(name, groups):
    low = name.lower()
    for g, keys in groups:
        if any(k.lower() in low for k in keys):
            return g
    return "other (Python, NumPy glue, small ops)"


def profile_rnnlab(embed, steps):
    import cProfile
    import pstats
    from rnnlab.app.bench_step import _rnnlab_step
    step = _rnnlab_step(embed)
    for _ in range(5):
        step()
    pr = cProfile.Profile(time.process_time)
    w0 = time.perf_counter()
    pr.enable()
    for _ in range(steps):
        step()
    pr.disable()
    wall = (time.perf_counter() - w0) / steps
    stats = pstats.Stats(pr).stats
    total = sum(v[2] for v in stats.values()) / steps
    out = {}
    for (file, line, fn), (cc, nc, tt, ct, callers) in stats.items():
        g = _group(f"{os.path.basename(file)}:{fn}", GROUPS_RNNLAB)
        out[g] = out.get(g, 0.0) + tt / steps
    return {"parts": out, "cpu_total": total, "wall": wall}


def profile_torch(embed, steps, threads):
    import torch
    from torch.profiler import ProfilerActivity, profile
    from rnnlab.app.bench_step import _torch_step
    step = _torch_step(embed, threads)
    for _ in range(5):
        step()
    c0, w0 = time.process_time(), time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall = (time.perf_counter() - w0) / steps
    out = {}
    for ev in prof.key_averages():
        g = _group(ev.key, GROUPS_TORCH)
        out[g] = out.get(g, 0.0) + ev.self_cpu_time_total / 1e6 / steps
    return {"parts": out, "cpu_total": (time.process_time() - c0) / steps, "wall": wall,
            "torch": torch.__version__}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embed", type=int, default=0, help="0 = one-hot input")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--side", choices=("rnnlab", "torch"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.side:
        res = (profile_rnnlab(a.embed, a.steps) if a.side == "rnnlab"
               else profile_torch(a.embed, a.steps, a.threads))
        print("RESULT " + json.dumps(res))
        return
    env = dict(os.environ, NUMBA_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    res = {}
    for side in ("rnnlab", "torch"):
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--side", side,
                            "--embed", str(a.embed), "--steps", str(a.steps),
                            "--threads", str(a.threads)], capture_output=True, text=True, env=env)
        if p.returncode:
            sys.exit(p.stderr[-2000:])
        res[side] = json.loads([ln for ln in p.stdout.splitlines()
                                if ln.startswith("RESULT ")][-1][7:])
    print(f"char-LM step, {'one-hot' if not a.embed else f'embedding {a.embed}'}, "
          f"{a.threads} thread(s), {a.steps} steps; load average {os.getloadavg()[0]:.2f}")
    for side, r in res.items():
        print(f"\n{side}: {r['cpu_total'] * 1e3:.1f} ms CPU per step, {r['wall'] * 1e3:.1f} ms "
              f"wall (profiled)")
        for g, v in sorted(r["parts"].items(), key=lambda kv: -kv[1]):
            print(f"  {v * 1e3:7.2f} ms  {g}")


if __name__ == "__main__":
    main()

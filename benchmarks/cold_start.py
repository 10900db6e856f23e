"""The kernels' first compile and what a portable (generic x86-64) cache costs per step.

    python benchmarks/cold_start.py [--cell lstm] [--hidden 128] [--batch 32] [--steps 30]

For each CPU target, in a child process with an EMPTY numba cache of its own: the CPU seconds
of the first LSTM layer forward + backward (the compile, with one step), then the median CPU
time of `--steps` more (the step). 'host' is numba's default (the machine's own CPU and its
features: the cache is valid on this CPU model only); 'generic' sets NUMBA_CPU_NAME=generic,
machine code any x86-64 runs (SSE2 only), so a cache built with it could ship. CPU time
(time.process_time) rather than wall clock: the machine is shared. Prints one row per target
and the generic/host ratios.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
import numpy as np
cell, H, B, T, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 50, int(sys.argv[4])
from rnnlab.nn import registry
k = registry.get(cell).kernel()
rng = np.random.default_rng(0)
G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
p = {"weight_ih": rng.standard_normal((G * H, H)).astype(np.float32) * 0.1,
     "weight_hh": rng.standard_normal((G * H, H)).astype(np.float32) * 0.1,
     "bias_ih": np.zeros(G * H, np.float32), "bias_hh": np.zeros(G * H, np.float32)}
x = rng.standard_normal((T, B, H)).astype(np.float32)
def step():
    y, s, c = k.forward(x, None, p)
    k.backward(np.ones_like(y), None, c)
t = time.process_time(); step(); first = time.process_time() - t
ts = []
for _ in range(steps):
    t = time.process_time(); step(); ts.append(time.process_time() - t)
print(json.dumps({"first_s": first, "step_ms": 1e3 * float(np.median(ts))}))
"""


def start(target, args, cache):
    """The child for one target, started (its own empty cache)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    env.pop("NUMBA_CPU_NAME", None)
    env.pop("NUMBA_CPU_FEATURES", None)
    if target == "generic":
        env["NUMBA_CPU_NAME"] = "generic"
    return subprocess.Popen([sys.executable, "-c", CHILD, args.cell, str(args.hidden),
                             str(args.batch), str(args.steps)], env=env, text=True,
                            stdout=subprocess.PIPE)


def run_all(args, targets=("host", "generic")):
    """Both targets at once (each its own process and cache; CPU time is per process)."""
    with tempfile.TemporaryDirectory() as root:
        procs = {t: start(t, args, os.path.join(root, t)) for t in targets}
        outs = {t: p.communicate()[0] for t, p in procs.items()}
        if any(p.returncode for p in procs.values()):
            raise SystemExit("a child failed")
    return {t: json.loads(o.strip().splitlines()[-1]) for t, o in outs.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"))
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args(argv)
    rows = run_all(args)
    print(f"{args.cell} H={args.hidden} B={args.batch} T=50 float32, forward + backward")
    for t, r in rows.items():
        print(f"  {t:8s} first call (compile) {r['first_s']:6.1f} s CPU   step "
              f"{r['step_ms']:7.2f} ms CPU")
    h, g = rows["host"], rows["generic"]
    print(f"  generic/host: compile {g['first_s'] / h['first_s']:.2f}x, step "
          f"{g['step_ms'] / h['step_ms']:.2f}x")


if __name__ == "__main__":
    main()

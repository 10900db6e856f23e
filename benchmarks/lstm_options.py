"""The LSTM's options on the numba kernel against the plain LSTM kernel (and the NumPy reference
they ran on before), forward + backward of one layer, in one process.

    NUMBA_NUM_THREADS=1 python benchmarks/lstm_options.py [--T 100] [--B 32] [--H 32,128,512]
                                                          [--repeats 5] [--reference]

Per (H, configuration): the best of --repeats calls of forward + backward, CPU time
(time.process_time: every thread's work; the fair number on a shared machine) and wall time,
after one untimed call (compiles, allocates). x (T, B, H) float32, random weights, dy = ones;
the kernels are called directly (rnnlab.nn.kernels.lstm / lstm_options), training masks drawn
once per configuration (zoneout 0.1: (T, B, H) keep masks for c and h; recurrent dropout 0.25:
one (B, H) mask). Printed: ms and the ratio to the plain LSTM kernel (the target is <= 1.3);
with --reference also the NumPy reference (rnnlab.nn.cells.lstm_options) and its ratio.
"""
import argparse
import os
import time

import numpy as np


def _params(H, ln, rng):
    p = {"weight_ih": rng.uniform(-0.1, 0.1, (4 * H, H)), "weight_hh": rng.uniform(-0.1, 0.1, (4 * H, H)),
         "bias_ih": rng.uniform(-0.1, 0.1, 4 * H), "bias_hh": rng.uniform(-0.1, 0.1, 4 * H)}
    if ln:
        for name, n in (("ln_ih", 4 * H), ("ln_hh", 4 * H), ("ln_c", H)):
            p[name + "_weight"], p[name + "_bias"] = np.ones(n), np.zeros(n)
    return {k: v.astype(np.float32) for k, v in p.items()}


def _configs(T, B, H, rng):
    """(label, layer norm, keyword options of forward)."""
    keep = lambda z: (rng.random((T, B, H)) < z).astype(np.float32)     # noqa: E731
    zone = (keep(0.1), keep(0.1))
    mask = ((rng.random((B, H)) >= 0.25) / 0.75).astype(np.float32)
    return [("layer_norm", True, {}), ("zoneout=0.1", False, {"zoneout": zone}),
            ("zoneout=0.1 eval", False, {"zoneout": (0.1, 0.1)}),
            ("recurrent_dropout=0.25", False, {"recurrent_mask": mask}),
            ("all three", True, {"zoneout": zone, "recurrent_mask": mask})]


def _best(fn, repeats):
    """(best CPU ms, best wall ms) of fn() over repeats calls, after one untimed call."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return 1e3 * min(cpu), 1e3 * min(wall)


def _step(mod, x, p, dy, **kw):
    def run():
        y, _, cache = mod.forward(x, None, p, **kw)
        mod.backward(dy, None, cache)
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=100, help="steps (default: 100)")
    ap.add_argument("--B", type=int, default=32, help="batch rows (default: 32)")
    ap.add_argument("--H", default="32,128,512", help="hidden sizes, comma-separated "
                                                      "(default: 32,128,512)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls, best kept (default: 5)")
    ap.add_argument("--reference", action="store_true",
                    help="also time the NumPy reference (default: off)")
    a = ap.parse_args()
    from rnnlab.nn.cells import lstm_options as reference
    from rnnlab.nn.kernels import Workspace
    from rnnlab.nn.kernels import lstm as plain
    from rnnlab.nn.kernels import lstm_options as options
    import numba
    print(f"threads {numba.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"T={a.T} B={a.B} float32; CPU ms / wall ms, best of {a.repeats}")
    for H in (int(h) for h in a.H.split(",")):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((a.T, a.B, H)).astype(np.float32)
        dy = np.ones((a.T, a.B, H), np.float32)
        ws = Workspace()
        base = _best(_step(plain, x, _params(H, False, rng), dy, workspace=ws), a.repeats)
        print(f"H={H:4d} plain LSTM kernel      {base[0]:8.2f} {base[1]:8.2f}")
        for label, ln, kw in _configs(a.T, a.B, H, rng):
            p = _params(H, ln, rng)
            cpu, wall = _best(_step(options, x, p, dy, workspace=ws, **kw), a.repeats)
            line = (f"H={H:4d} {label:22s} {cpu:8.2f} {wall:8.2f}  x{cpu / base[0]:.2f} cpu"
                    f"  x{wall / base[1]:.2f} wall")
            if a.reference:
                rc, rw = _best(_step(reference, x, p, dy, **kw), max(1, a.repeats // 2))
                line += f"   reference {rc:8.2f} x{rc / base[0]:.2f} cpu"
            print(line, flush=True)


if __name__ == "__main__":
    main()

"""The crossovers behind the kernels' thread thresholds, measured on the current kernels: each
size is run with the choice forced each way in the same process, alternating, and the best
(min) wall time of --repeats rounds is kept (a split's gain is wall time; on a loaded machine
the minimum is the run that got its cores). Prints one table per threshold, the ratio
(one thread / split, above 1: the split pays) and the smallest size from which it pays.

    python benchmarks/thresholds.py [--repeats 7] [--T 50] [--only batch,scan,units,spins]

- batch: ``policy.SPLIT_MIN_MACS``, the batch split of the LSTM's time loop (forward +
  backward of the kernel), against one thread; per-step product B*H*4H.
- scan: ``policy.SCAN_SPLIT_MIN_ELEMS``, the minGRU scan's row split (forward + backward),
  against one thread; B*T*H elements.
- units: ``policy.UNITS_MIN_WEIGHT_BYTES``, the unit split of the LSTM's time loop against
  the batch split / one thread (what runs below the threshold); bytes of W_hh.
- spins: ``sync.SPINS``, the polls before a waiting thread yields, in the unit split (0 is
  the portable plain spin, which never yields); wall and CPU time.
"""
import argparse
import os
import subprocess
import time

import numpy as np

from rnnlab.nn.kernels import lstm, mingru, policy, sync

RNG = np.random.default_rng(0)


def lstm_params(D, H):
    return {"weight_ih": RNG.uniform(-.1, .1, (4 * H, D)).astype(np.float32),
            "weight_hh": RNG.uniform(-.1, .1, (4 * H, H)).astype(np.float32),
            "bias_ih": np.zeros(4 * H, np.float32), "bias_hh": np.zeros(4 * H, np.float32)}


def fwd_bwd(mod, T, B, D, H, params):
    x = RNG.standard_normal((T, B, D)).astype(np.float32)
    dy = RNG.standard_normal((T, B, H)).astype(np.float32)

    def run():
        y, _, cache = mod.forward(x, None, params)
        mod.backward(dy, None, cache)
    return run


def best_of(fns, repeats, calls):
    """{name: min seconds per call} over repeats rounds, the fns alternating in each round."""
    out = {k: float("inf") for k in fns}
    for f in fns.values():
        f()                                           # compile / warm
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                f()
            out[k] = min(out[k], (time.perf_counter() - t0) / calls)
    return out


def forced(name, value, run):
    def f():
        old = getattr(policy, name)
        setattr(policy, name, value)
        try:
            run()
        finally:
            setattr(policy, name, old)
    return f


def table(title, rows, size_name):
    print(f"\n{title}\n{size_name:>12} | one thread ms | split ms | one/split")
    pays = None
    for size, one, split in rows:
        print(f"{size:>12} | {one * 1e3:13.3f} | {split * 1e3:8.3f} | {one / split:9.2f}")
        if one / split > 1.0 and pays is None:
            pays = size
        elif one / split <= 1.0:
            pays = None
    print(f"crossover: the split pays from {size_name} = {pays} on"
          if pays is not None else "crossover: the split never paid at these sizes")


def batch(a):
    rows = []
    for B, H in [(16, 8), (16, 16), (16, 32), (16, 48), (16, 64), (32, 64), (16, 128),
                 (32, 128)]:
        run = fwd_bwd(lstm, a.T, B, H, H, lstm_params(H, H))
        t = best_of({"one": forced("SPLIT_MIN_MACS", 1 << 62, run),
                     "split": forced("SPLIT_MIN_MACS", 0,
                                     forced("SPLIT_COLD_MAX_MACS", 0, run))}, a.repeats, 3)
        rows.append((B * H * 4 * H, t["one"], t["split"]))
    table("batch split of the LSTM loop (SPLIT_MIN_MACS; per-step MACs B*H*4H, T=%d)" % a.T,
          rows, "MACs")


def scan(a):
    rows = []
    H = 32
    for B, T in [(16, 8), (16, 32), (16, 128), (16, 512), (32, 512), (16, 2048)]:
        p = {"weight_ih": RNG.uniform(-.1, .1, (2 * H, H)).astype(np.float32),
             "bias_ih": np.zeros(2 * H, np.float32)}
        run = fwd_bwd(mingru, T, B, H, H, p)
        t = best_of({"one": forced("SCAN_SPLIT_MIN_ELEMS", 1 << 62, run),
                     "split": forced("SCAN_SPLIT_MIN_ELEMS", 0, run)}, a.repeats, 3)
        rows.append((B * T * H, t["one"], t["split"]))
    table("row split of the minGRU scan (SCAN_SPLIT_MIN_ELEMS; elements B*T*H, H=32)", rows,
          "elements")


def units(a):
    rows = []
    for B, H in [(1, 64), (1, 128), (1, 256), (8, 128), (8, 256), (1, 512)]:
        run = fwd_bwd(lstm, a.T, B, H, H, lstm_params(H, H))
        t = best_of({"one": forced("UNITS_MIN_WEIGHT_BYTES", 1 << 62, run),
                     "split": forced("UNITS_MIN_WEIGHT_BYTES", 0, run)}, a.repeats, 2)
        rows.append((f"B={B} {16 * H * H // 1024}KB", t["one"], t["split"]))
    table("unit split of the LSTM loop against what runs below UNITS_MIN_WEIGHT_BYTES "
          "(W_hh float32 bytes)", rows, "W_hh")


def spins(a):
    print(f"\nsync.SPINS in the unit split (LSTM, forced unit split, T={a.T})")
    print("  B    H | SPINS | wall ms (min) | CPU ms (min)")
    old = sync.SPINS
    policy_old = policy.UNITS_MIN_WEIGHT_BYTES
    policy.UNITS_MIN_WEIGHT_BYTES = 0
    try:
        for B, H in [(1, 256), (8, 256)]:
            run = fwd_bwd(lstm, a.T, B, H, H, lstm_params(H, H))
            run()
            for s in (0, 20, 200, 2000, 20000):
                sync.SPINS = s
                wall = cpu = float("inf")
                for _ in range(a.repeats):
                    w0, c0 = time.perf_counter(), time.process_time()
                    run()
                    run()
                    wall = min(wall, (time.perf_counter() - w0) / 2)
                    cpu = min(cpu, (time.process_time() - c0) / 2)
                print(f"{B:3d} {H:4d} | {s:5d} | {wall * 1e3:13.3f} | {cpu * 1e3:12.3f}")
    finally:
        sync.SPINS = old
        policy.UNITS_MIN_WEIGHT_BYTES = policy_old


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="rounds per size (default 7)")
    ap.add_argument("--T", type=int, default=50, help="time steps (default 50)")
    ap.add_argument("--only", default="batch,scan,units,spins",
                    help="which thresholds (default batch,scan,units,spins)")
    a = ap.parse_args()
    import numba
    model = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True,
                           text=True).stdout.split(":")[-1].strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU {model}; "
          f"{numba.get_num_threads()} numba threads; load average {os.getloadavg()}")
    for name in a.only.split(","):
        {"batch": batch, "scan": scan, "units": units, "spins": spins}[name](a)
    print(f"\nload average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()

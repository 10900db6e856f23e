"""The default stopping rule (issue 23) against the old fixed rule, on a generated corpus.

    python benchmarks/bench_stopping.py [--size 300000] [--corpus FILE] [--set hidden=64 ...]

Both runs are `rnnlab.train(corpus)` with the defaults, one after the other in one process
(a short warm-up run compiles the kernels first, so neither pays for it):

  old   --patience 0 --val-sample 0: the fixed rule as it was (10 passes within the text
        task's bounds, the full validation part every --eval-every steps)
  new   the default: early stopping on a fixed validation sample under the same cap, the
        full validation part once at the end

The training steps are the same in both (same seed, same batches; validation never touches
the weights or the dropout generator), so "time to a given loss" compares the wall clock at
the same step: the old run's full validation loss at step s was reached by the new run at
step s too, after new.elapsed(s). Printed: steps, why each stopped, wall and CPU seconds, the
full validation loss of the kept (best) weights, and the time ratio new/old at every
validation step both reached. Wall time on a shared machine: read it with the load printed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import rnnlab

HERE = os.path.dirname(os.path.abspath(__file__))


def corpus(path, size):
    if path:
        return path
    out = os.path.join(tempfile.mkdtemp(), f"corpus_{size}.txt")
    subprocess.run([sys.executable, os.path.join(HERE, "make_corpus.py"), out, "--size",
                    str(size)], check=True, stdout=subprocess.DEVNULL)
    return out


def run(data, out, **opts):
    w, c = time.perf_counter(), time.process_time()
    res = rnnlab.train(data, out=out, progress=False, log=lambda m: None, **opts)
    return res, time.perf_counter() - w, time.process_time() - c


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus")
    p.add_argument("--size", type=int, default=300_000)
    p.add_argument("--set", nargs="*", default=[], help="extra train options, name=value")
    a = p.parse_args()
    extra = {}
    for kv in a.set:
        k, v = kv.split("=", 1)
        extra[k] = float(v) if "." in v or "e" in v else int(v)
    data = corpus(a.corpus, a.size)
    tmp = tempfile.mkdtemp()
    run(data, os.path.join(tmp, "warm"), steps=3, **extra)
    print(f"corpus {data} ({os.path.getsize(data):,} bytes); load {os.getloadavg()}")
    rows = {}
    for name, opts in (("old", dict(patience=0, val_sample=0)), ("new", {})):
        res, wall, cpu = run(data, os.path.join(tmp, name), **opts, **extra)
        rows[name] = res
        print(f"{name}: {res.steps:,} steps ({res.stopped}), wall {wall:.1f} s, CPU {cpu:.1f} s, "
              f"full validation loss of the kept weights {res.full_val_loss:.4f} nats/char; "
              f"load {os.getloadavg()[0]:.2f}")
    old, new = rows["old"], rows["new"]
    at_new = {r["step"]: r["elapsed_s"] for r in new.history}
    print("step  old full val  old s  new s  new/old")
    for r in old.history:
        if r["step"] in at_new:
            print(f"{r['step']:5d}  {r['val_loss']:.4f}  {r['elapsed_s']:7.1f}  "
                  f"{at_new[r['step']]:7.1f}  {at_new[r['step']] / r['elapsed_s']:.3f}")
    print(f"new - old, full validation loss: {new.full_val_loss - old.full_val_loss:+.4f} "
          f"nats/char")


if __name__ == "__main__":
    main()

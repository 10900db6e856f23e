"""Peak memory of training on a large text file (default 100 MB, ASCII words).

    python benchmarks/large_text.py [MB] [--tokens word] [--non-ascii] [--numba]

Writes the file to a temporary folder, trains on it for a few steps in a child process and
reports the peak of traced allocations while the text task is built (the text, its ids, the
vocabulary) and the child's peak resident set size, next to the same training on a 50 kB file
(the interpreter, NumPy, numba). Results are recorded in docs/guarantees.md.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_text(path, mb, seed=0, non_ascii=False):
    rng = np.random.default_rng(seed)
    words = np.array("the of and to a in is it that was he for on are with as his they be at "
                     "one have this from or had by hot word but what some we can out other were "
                     "all there when up use your how said an each she which do their time if"
                     .split() + ["\n"] + (["café", "naïve"] if non_ascii else []))
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < mb * 2 ** 20:
            chunk = " ".join(rng.choice(words, 200_000)) + "\n"
            f.write(chunk)
            written += len(chunk)


def main():
    mb = float(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else 100
    tokens = "word" if "--tokens" in sys.argv and "word" in sys.argv else "char"
    non_ascii = "--non-ascii" in sys.argv
    backend = "numba" if "--numba" in sys.argv else "numpy"
    with tempfile.TemporaryDirectory() as d:
        results = {}
        for name, size_mb in (("small", 0.05), ("big", mb)):
            path = os.path.join(d, f"{name}.txt")
            make_text(path, size_mb, non_ascii=non_ascii)
            cmd = [sys.executable, "-c", CHILD, path, os.path.join(d, f"run-{name}"), tokens,
                   backend]
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise SystemExit(res.stderr[-3000:])
            traced, peak = map(int, res.stdout.split()[-2:])
            results[name] = (os.path.getsize(path), traced, peak, time.perf_counter() - t0)
        size, traced, peak, wall = results["big"]
        base = results["small"][2]
        print(f"{tokens} level{', non-ASCII' if non_ascii else ''}, {backend} backend: "
              f"file {size / 2**20:.1f} MB; reading it into a task peaks at "
              f"{traced / 2**20:.1f} MB of allocations ({traced / size:.2f} x the file); "
              f"peak RSS of the whole training {peak / 2**20:.1f} MB ({base / 2**20:.1f} MB "
              f"for a 50 kB file); wall {wall:.1f} s")


# the child trains a few steps and prints, last: the peak of traced allocations while the
# text task is built (tracemalloc sees every NumPy array and Python object) and its peak RSS
CHILD = """
import resource, sys, tracemalloc
import importlib
T = importlib.import_module("rnnlab.training.api")
path, out, tokens, backend = sys.argv[1:5]
build = T.build_task
peaks = []
def traced(*a, **k):
    tracemalloc.start()
    try:
        return build(*a, **k)
    finally:
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
T.build_task = traced
T.train(path, out=out, cell="lstm", hidden=32, layers=1, steps=3, eval_every=1000, batch=16,
        seq_len=32, val_fraction=0.0001, tokens=tokens, backend=backend, progress=False,
        log=lambda m: None)
print(max(peaks), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


if __name__ == "__main__":
    main()

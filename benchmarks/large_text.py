"""Peak memory of training on a large text file (default 100 MB, ASCII words).

    python benchmarks/large_text.py [MB] [--keep]

Writes the file to a temporary folder, then runs `rnnlab train` on it for a few steps in a
child process and reports the child's peak resident set size (ru_maxrss), next to the file
size. Results are recorded in docs/guarantees.md.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_text(path, mb, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array("the of and to a in is it that was he for on are with as his they be at "
                     "one have this from or had by hot word but what some we can out other were "
                     "all there when up use your how said an each she which do their time if"
                     .split() + ["\n"])
    with open(path, "w") as f:
        written = 0
        while written < mb * 2 ** 20:
            chunk = " ".join(rng.choice(words, 200_000)) + "\n"
            f.write(chunk)
            written += len(chunk)


def main():
    mb = float(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else 100
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.txt")
        make_text(path, mb)
        size = os.path.getsize(path)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "rnnlab.cli", "train", path, "--out", os.path.join(d, "run"),
               "--cell", "lstm", "--hidden", "32", "--layers", "1", "--steps", "3",
               "--eval-every", "1000", "--batch", "16", "--seq-len", "32", "--val-fraction",
               "0.0001"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        print(res.stdout.strip() or res.stderr.strip()[-2000:])
        print(f"file {size / 2**20:.1f} MB; peak RSS of `rnnlab train` {peak / 2**20:.1f} MB "
              f"({peak / size:.2f} x the file); wall {wall:.1f} s")


if __name__ == "__main__":
    main()

"""The char-LM training step, rnnlab against its torch twin, each side in its own process,
alternating: a thin wrapper around ``rnnlab.app.bench_step`` (``rnnlab bench --no-grid``).

    python benchmarks/bench_step.py [--embed 0,32] [--rounds 3] [--steps 40] [--threads 2]
"""
import sys

from rnnlab.app.bench_step import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

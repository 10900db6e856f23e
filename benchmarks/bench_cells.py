"""rnnlab's numba kernels against torch on the CPU: a thin wrapper around ``rnnlab.app.bench``
(the same as ``rnnlab.app.bench``).

    python benchmarks/bench_cells.py [--quick] [--rounds N] [--repeats N] [--cells lstm,gru,rnn]
"""
import sys

from rnnlab.app.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

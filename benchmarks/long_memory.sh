#!/usr/bin/env bash
# Long memory, measured: the grids recorded in docs/long-memory.md (RNN vs LSTM, one GRU row).
# Usage: benchmarks/long_memory.sh [OUT_DIR]
# About 40 CPU-minutes on the numba backend (2026-11-26, 2-core AMD EPYC); each task has ONE
# setting (hidden, lr, clip, batch, steps) shared by every cell and seed.
set -euo pipefail
OUT=${1:-rnnlab-experiments}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1   # tiny GEMMs: threads only hurt
PY=${PYTHON:-python}
run() {  # `rnnlab experiment` when the CLI has it, else the same options through the API
  if rnnlab experiment --help >/dev/null 2>&1; then rnnlab experiment "$@"
  else "$PY" -c 'import argparse, sys
from rnnlab import experiments as E
p = E.add_arguments(argparse.ArgumentParser(prog="rnnlab experiment"))
sys.exit(E.run_from_args(p.parse_args(sys.argv[1:])))' "$@"; fi
}
ADD="--hidden 64 --lr 0.01 --clip 1 --batch 64 --optimizer adam --backend numba"
run adding --T 50,100,200 --cell rnn,lstm --seeds 3 --steps 3000 $ADD --out "$OUT/adding"
run adding --T 100 --cell gru --seeds 3 --steps 3000 $ADD --out "$OUT/adding-gru"
run adding --T 400 --cell lstm --seeds 1 --steps 3000 $ADD --out "$OUT/adding-400"
TEMP="--hidden 64 --lr 0.0003 --clip 1 --batch 64 --optimizer adam --backend numba"
run temporal-order --T 50,100 --cell rnn,lstm --seeds 3 --steps 4000 $TEMP --out "$OUT/temporal-order"
run temporal-order --T 100 --cell lstm --seeds 3 --steps 8000 $TEMP --out "$OUT/temporal-order-long"
COPY="--hidden 128 --lr 0.003 --clip 1 --batch 64 --optimizer adam --backend numba"
run copy --T 10 --cell rnn,lstm --seeds 3 --steps 12000 $COPY --out "$OUT/copy"

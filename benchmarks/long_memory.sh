#!/usr/bin/env bash
# Long memory, measured: the grid recorded in docs/long-memory.md (RNN vs LSTM).
# Usage: benchmarks/long_memory.sh [OUT_DIR]   (about 20 CPU-minutes on 2 cores, numpy backend)
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
COMMON="--cell rnn,lstm --hidden 64 --lr 0.01 --clip 1 --batch 64 --optimizer adam --backend numpy"
run adding --T 50,100,200 --seeds 3 --steps 3000 $COMMON --out "$OUT/adding"
run temporal-order --T 50,100 --seeds 2 --steps 2000 $COMMON --out "$OUT/temporal-order"
run copy --T 10,30 --seeds 2 --steps 2000 $COMMON --out "$OUT/copy"

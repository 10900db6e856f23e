#!/usr/bin/env bash
# Long memory for every cell: `rnnlab experiment` with its DEFAULTS (hidden 64, Adam lr 0.01,
# clip 1, batch 64, a step cap of max(1000, 15*T), stop once solved, forget bias 1.0 for the
# LSTM and the xLSTM cells' own init), 3 seeds, one job per (task, T, cell); the tables in
# docs/cells.md ("Long memory"). The only options passed are --mode recurrent for minGRU and
# minLSTM (the same function as the default parallel scan, about three times cheaper on a CPU),
# and --layer-norm for the layer-normalised LSTM row.
#
# Usage: benchmarks/long_memory_cells.sh OUT_DIR [PART ...]    (JOBS=4 runs at once)
#   PART: adding (T = 50, 100, 200), adding-400 (T = 400), temporal (temporal order at T = 50,
#   100, 200, 400), copy (T = 50, 100, 200, 400), each for every cell, or a job line of your
#   own ("copy 400 3 gru"). The whole grid is about 6 CPU-hours, most of it copy at T = 400;
#   what was run, and what not, is listed in docs/cells.md. Each job writes
#   OUT_DIR/<task>-T<T>-<cell>/.
set -euo pipefail
OUT=${1:?usage: benchmarks/long_memory_cells.sh OUT_DIR [PART ...]}; shift
[ $# -gt 0 ] || set -- adding
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
PY=${PYTHON:-python}
CELLS=("rnn" "lstm" "gru" "mingru --mode recurrent" "minlstm --mode recurrent" "slstm" "mlstm"
       "lstm --layer-norm")
jobs() {  # one line per job: TASK T SEEDS CELL [OPTIONS]
  for part in "$@"; do
    case $part in
      adding) for T in 50 100 200; do for c in "${CELLS[@]}"; do echo "adding $T 3 $c"; done; done ;;
      adding-400) for c in "${CELLS[@]}"; do echo "adding 400 3 $c"; done ;;
      temporal|copy) task=$part; [ "$task" = temporal ] && task=temporal-order
        for T in 50 100 200 400; do for c in "${CELLS[@]}"; do echo "$task $T 3 $c"; done; done ;;
      *) echo "$part" ;;
    esac
  done
}
one() {  # TASK T SEEDS CELL [OPTIONS]
  read -r task T seeds cell opts <<<"$1"
  dir="$OUT/$task-T$T-$cell$(echo "$opts" | tr -d ' -' | sed 's/^./-&/')"
  [ -f "$dir/results.json" ] && exit 0                      # done before: keep it
  mkdir -p "$OUT"
  mkdir "$dir.lock" 2>/dev/null || { echo "skipped: $1 (running elsewhere: $dir.lock)"; exit 0; }
  trap 'rmdir "$dir.lock"' EXIT
  mkdir -p "$dir"
  # shellcheck disable=SC2086
  nice -n 10 "$PY" -m rnnlab experiment "$task" --T "$T" --cell "$cell" --seeds "$seeds" \
    $opts --out "$dir" > "$dir/log.txt" 2>&1 || echo "failed: $1 (see $dir/log.txt)"
}
export -f one; export OUT PY
[ -z "${DRY:-}" ] || { jobs "$@"; exit 0; }          # DRY=1: list the jobs, run nothing
jobs "$@" | xargs -P "${JOBS:-4}" -I{} bash -c 'one "$@"' _ {}

"""Which product runs where: the size thresholds and the decisions they drive.

Every product runs in the packed-panel kernels (``panels``): 200-260 GFLOP/s float32 on one
Zen 5 core at the grid's sizes, no BLAS call. What remains to choose is the threads:

- ``unit_split``: the time loop splits the hidden units over the threads (``units``): each
  thread keeps half of W_hh and the threads meet once per step. Chosen by the size of W_hh
  alone, whatever B: for weights of a core's L2 (1 MB on Zen 5) or more, which the batch split
  would stream from L3 into both cores every step (and which a small batch cannot split);
- ``batch_split``: else, the time loop splits its batch rows over the threads (each thread
  runs the whole sequence for its rows: one fork/join per sequence, none per step);
- ``gemm_threads``: whether a GEMM outside the loop (input projection, dx, dW) splits its
  output rows over the threads.

Sizes are multiply-adds (MACs) of one product. Every split computes each number with the same
sums in the same order, so the thread count changes no bit (tests/test_fused.py). On a loaded
machine any 2-thread call can lose a time slice when one thread is descheduled; numba's
OpenMP threads wait passively (kernels/__init__.py) and the unit split's threads never wait
for a particular thread (``sync``). Tests monkeypatch the constants to force each path;
``benchmarks/thresholds.py`` measures each crossover (docs/performance.md, "Thresholds").
"""
from contextlib import contextmanager

from .machine import SIZES, units_min_weight_bytes

# Batch split of the time loop.
SPLIT_MIN_ROWS = 8
# ^ batch rows per thread, at least (so B >= 16 to split).
SPLIT_MIN_MACS = 1 << 20
# ^ per-step product from which the batch split runs. Re-measured on the current kernels on
#   2026-12-07 at load average 16-23 on 2 cores (benchmarks/thresholds.py, docs/performance.md
#   "Thresholds"): the split did not pay at any size from 2^12 to 2^21 (0.93-1.01x of one
#   thread from 2^14 on), so no crossover was found under that load; the value is kept from
#   the one quiet-machine reading (LSTM H=128 B=32, 2^21: 5.3 ms one thread, 3.7 split, on
#   the kernels before issue 13). A quiet-machine crossover on these kernels is still owed.

# Unit split of the time loop (``units``).
UNITS_MIN_WEIGHT_BYTES = units_min_weight_bytes(SIZES)
# ^ W_hh from this size (a core's L2, read from this machine: ``machine``; 1 MB on Zen 4)
#   splits its units over the threads: each core then streams half of it per step.
UNITS_ALIGN = 16
# ^ each thread's share of the units is a multiple of this (whole AVX-512 registers).

# The elementwise scan of minGRU/minLSTM (kernels/minscan.py): rows split over the threads.
SCAN_SPLIT_MIN_ELEMS = 1 << 16
# ^ elements B*T*H from which a thread per block of rows pays (with B >= 16 as above).
#   Measured crossover (minGRU forward + backward, H=32, B=16; 2026-12-07, load average
#   16-23, benchmarks/thresholds.py): 2^14 0.71x, 2^16 1.26x, 2^18 1.20x, 2^20 1.25x.

# GEMMs outside the time loop (all in the packed kernels, ``panels``).
PAR_GEMM_MIN_MACS = 1 << 22
# ^ from this size a GEMM splits its rows over the threads; below it one thread. A fork/join
#   of numba's OpenMP pool costs 1.4 us with its threads spinning (26 us passive), and 2^22
#   multiply-adds take about 35 us on one core.
PAR_GEMM_COLD_MAX_MACS = 1 << 26
# ^ below this size a GEMM takes the threaded kernel only once that kernel has machine code
#   (compiled in this process, or in numba's cache from an earlier run or `rnnlab warmup`):
#   compiling it costs about 6 s of one core (the cold demo's profile, docs/performance.md),
#   which a product of 2^22-2^26 multiply-adds (35 us - 0.6 ms on one core) earns back only
#   after tens of thousands of calls. The thread count changes no bit, so the cold run and
#   the warm one compute the same numbers.


def batch_split(B, K, N):
    """Into how many row blocks (threads) the time loop splits a batch whose per-step
    product is (B, K) @ (K, N); 1: no threads."""
    if B * K * N < SPLIT_MIN_MACS or B < 2 * SPLIT_MIN_ROWS:
        return 1
    import numba
    return max(1, min(numba.get_num_threads(), B // SPLIT_MIN_ROWS))


def scan_split(B, row_elems):
    """Into how many row blocks (threads) the minGRU/minLSTM scan splits a batch of B rows of
    row_elems = T*H elements each; 1: no threads."""
    if B < 2 * SPLIT_MIN_ROWS or B * row_elems < SCAN_SPLIT_MIN_ELEMS:
        return 1
    import numba
    return max(1, min(numba.get_num_threads(), B // SPLIT_MIN_ROWS))


def unit_split(H, G, itemsize):
    """Into how many parts (threads) the time loop splits the hidden units, for a layer of H
    units and G gates (any batch size); 1: no unit split."""
    import numba
    if numba.get_num_threads() < 2 or G * H * H * itemsize < UNITS_MIN_WEIGHT_BYTES:
        return 1
    return 2 if H % (2 * UNITS_ALIGN) == 0 else 1


def gemm_threads(M, macs, threaded=None):
    """Threads for a GEMM with M output rows: 1 below PAR_GEMM_MIN_MACS or under two 4-row
    tiles, or below PAR_GEMM_COLD_MAX_MACS while `threaded` (the threaded kernel's numba
    dispatcher) has no machine code yet; else up to one thread per 4-row tile."""
    if macs < PAR_GEMM_MIN_MACS or M < 8:
        return 1
    if threaded is not None and macs < PAR_GEMM_COLD_MAX_MACS and \
            not has_machine_code(threaded):
        return 1
    import numba
    return max(1, min(numba.get_num_threads(), M // 4))


_ON_DISK = {}     # py_func -> whether numba's cache held its machine code when first asked


def has_machine_code(dispatcher):
    """Whether a numba dispatcher can run without compiling: it has a compiled signature in
    this process, or numba's cache folder holds an index for it (any signature; asked once
    per process, since only a compile in this process adds one later)."""
    if dispatcher.signatures:
        return True
    fn = dispatcher.py_func
    if fn not in _ON_DISK:
        _ON_DISK[fn] = _in_cache_folder(fn)
    return _ON_DISK[fn]


def _in_cache_folder(fn):
    """numba names a function's cache index MODULE.QUALNAME-LINE.pyXY.nbi in the folder of its
    module's cache."""
    import glob
    import os

    from numba.core.caching import FunctionCache
    try:
        folder = FunctionCache(fn).cache_path
    except Exception:               # no usable cache folder: then nothing is cached
        return False
    name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}-*.nbi"
    return bool(glob.glob(os.path.join(glob.escape(folder), name)))


_FORCED = {
    # every threaded path but the unit split (which, where it applies, preempts the batch split)
    "batch": dict(SPLIT_MIN_MACS=0, SCAN_SPLIT_MIN_ELEMS=0, PAR_GEMM_MIN_MACS=0,
                  PAR_GEMM_COLD_MAX_MACS=0, UNITS_MIN_WEIGHT_BYTES=1 << 62),
    "units": dict(UNITS_MIN_WEIGHT_BYTES=0),
}


@contextmanager
def forced(split):
    """Within the block, every size takes one split: 'batch' (the batch split of the time
    loops and scans, the threaded GEMMs) or 'units' (the unit split). The kernels compile a
    threaded variant only when a size first takes it; ``rnnlab warmup`` forces each split on a
    tiny model so that they are compiled ahead of time. The same numbers as unforced (see
    above); not thread-safe (it sets this module's thresholds)."""
    old = {k: globals()[k] for k in _FORCED[split]}
    globals().update(_FORCED[split])
    try:
        yield
    finally:
        globals().update(old)

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
SPLIT_MIN_MACS = 1 << 17
# ^ per-step product from which the batch split runs. Measured on 2026-12-08 (lscpu "AMD
#   EPYC", 2 cores, load average 0.8-1.0: one other engineer's job, which held one core for
#   stretches of seconds) with T = 100, float32, one thread against the split in the same
#   process, alternating, best of 30-40: while the second core was free the split paid from
#   2^15 on (one/split, forward | forward + backward: LSTM H=16 B=32 2^15 1.11-1.28 |
#   1.08-1.14; RNN H=32 B=32 2^15 1.04-1.12 | 0.98-1.02; LSTM H=32 B=16 2^16 1.18 | 1.08; LSTM
#   H=32 B=32 2^17 1.27-1.30 | 1.15-1.21; GRU H=32 B=64 2^17.6 1.44-1.47 | 1.35-1.39; LSTM
#   H=32 B=64 2^18 1.37-1.45 | 1.28-1.34); while it was taken the split ran at one thread's
#   speed from 2^17 on (1.00-1.02) but lost up to 8 % below it (RNN H=16 B=64 2^14 0.92 |
#   0.92; T = 25: 0.87-0.99). 2^17 keeps the sizes that never lost. (Before: 2^20, from a
#   reading at load average 16-23, where no split paid at any size, docs/performance.md.)
#   The fixed cost of a split call is the wake-up of numba's passive OpenMP thread, 40 us
#   with nothing to do and about 0.2 ms in the LSTM H=32 T=100 loop on this VM (its halves
#   ran 0.35 ms alone, 0.55 ms together), so short sequences gain less.
SPLIT_COLD_MAX_MACS = 1 << 20
# ^ below this per-step product the batch split runs only once its threaded loop has machine
#   code (``split_warm``: compiled in this process, or in numba's cache from an earlier run
#   or `rnnlab warmup`), as PAR_GEMM_COLD_MAX_MACS below for the GEMMs: compiling the split
#   loops costs about 7 s of one core (a cold LSTM H=32 B=32 forward + backward + eval
#   forward: 12.2 s CPU on one thread, 19.4 s with the split, 2026-12-08), which a split
#   saving 0.2-1 ms per call earns back only after thousands of calls. The same bits either
#   way. 1 << 20: the split's threshold before 2026-12-08, so no size compiles more than it
#   did then.

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


def split_warm(threaded, macs):
    """Whether a batch split whose per-step product has macs multiply-adds may run its
    threaded loop (numba dispatcher `threaded`) now: always from SPLIT_COLD_MAX_MACS on,
    below it once the loop has machine code. Else the one-thread loop runs the same blocks."""
    return macs >= SPLIT_COLD_MAX_MACS or has_machine_code(threaded)


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
    "batch": dict(SPLIT_MIN_MACS=0, SPLIT_COLD_MAX_MACS=0, SCAN_SPLIT_MIN_ELEMS=0,
                  PAR_GEMM_MIN_MACS=0, PAR_GEMM_COLD_MAX_MACS=0,
                  UNITS_MIN_WEIGHT_BYTES=1 << 62),
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

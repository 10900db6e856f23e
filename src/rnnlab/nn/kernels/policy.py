"""Which product runs where: the measured size thresholds and the two decisions they drive.

Every per-step product (``h_{t-1} W_hh^T`` forward, ``dA_t W_hh`` backward) runs in the
register-tiled ``tiles.matmul_rows`` (100-115 GFLOP/s float32 on one Zen 5 core at every grid
size, no BLAS call, no thread to wake per step). Two choices remain, both made here:

- ``batch_split``: whether the time loop splits its batch rows over the threads (each thread
  runs the whole sequence for its rows: one fork/join per sequence, none per step);
- ``compiled_gemm`` / ``gemm_threads``: whether a GEMM outside the loop (input projection, dx,
  dW) runs in the tiled kernel, on how many threads, or in NumPy's bundled OpenBLAS.

Sizes are multiply-adds (MACs) of one product. Measured on 2 shared Zen 5 cores, T=100,
D=H, float32 (docs/performance.md). On a loaded 2-core machine any 2-thread call (the split, the threaded
GEMM, OpenBLAS) can lose a whole time slice when one of its threads is descheduled: the
thresholds hold for a quiet machine. Tests monkeypatch the constants to force each path.
"""

# Batch split of the time loop.
SPLIT_MIN_ROWS = 8
# ^ batch rows per thread, at least (so B >= 16 to split); not measured on its own.
SPLIT_MIN_MACS = 1 << 20
# ^ per-step product from which waking the second thread pays: LSTM H=128 B=32 (2^21 per
#   step) forward loop 5.3 ms one thread, 3.7 ms split; whole LSTM H=1024 B=64 (2^28):
#   1328 vs 945 ms inference, 3557 vs 2490 ms training. Under load 7 the split lost
#   (H=128 B=32: 10.4 vs 14.7 ms), like every 2-thread call.
SPLIT_SKIP_MACS = (1 << 23, 1 << 26)
# ^ ... except in [2^23, 2^26), where the split measured no faster (LSTM H=512 B=32, 2^25:
#   equal) or slower (RNN H=512 B=32, 2^23: 26.7 ms one thread vs 30.5 ms split). A
#   hypothesis, not measured separately: the 1-4 MB of weights exceed a core's L2 there, so
#   both threads stream them from the shared L3 every step.

# The elementwise scan of minGRU/minLSTM (kernels/minscan.py): rows split over the threads.
SCAN_SPLIT_MIN_ELEMS = 1 << 18
# ^ per-row elements T*H from which a thread per block of rows pays (with B >= 16 as above).
#   Not measured as a crossover; see docs/cells.md for the timings that were taken.

# GEMMs outside the time loop.
GEMM_MAX_MACS = 1 << 28
# ^ up to this size the tiled kernel (100-115 GFLOP/s a core), above it NumPy's OpenBLAS
#   (150-200 GFLOP/s for the 2^31.6 projection of LSTM H=512 B=32). At 2^27.6
#   (LSTM H=128 B=32 projection, row-split) the tiled kernel took 1.9 ms vs 2.3 ms OpenBLAS.
PAR_GEMM_MIN_MACS = 1 << 24
# ^ from this size a tiled GEMM splits its rows over the threads; below it one thread. No
#   crossover measurement is recorded; what is: the 2^22.6 projection of LSTM H=128 B=1 took
#   0.11 ms on one thread (0.15 ms through 2-thread OpenBLAS quiet, 8-28 ms at load average
#   5-8), and the 2^27.6 one above ran row-split.


def batch_split(B, K, N):
    """Into how many row blocks (threads) the time loop splits a batch whose per-step
    product is (B, K) @ (K, N); 1: no threads."""
    macs = B * K * N
    if macs < SPLIT_MIN_MACS or B < 2 * SPLIT_MIN_ROWS:
        return 1
    if SPLIT_SKIP_MACS[0] <= macs < SPLIT_SKIP_MACS[1]:
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


def compiled_gemm(M, K, N):
    """Whether an (M, K) @ (K, N) GEMM outside the loop runs in the tiled kernel (else
    NumPy's OpenBLAS)."""
    return 0 < M * K * N <= GEMM_MAX_MACS


def gemm_threads(M, macs):
    """Threads for a tiled GEMM with M output rows: 1 below PAR_GEMM_MIN_MACS or under two
    4-row tiles, else up to one thread per 4-row tile."""
    if macs < PAR_GEMM_MIN_MACS or M < 8:
        return 1
    import numba
    return max(1, min(numba.get_num_threads(), M // 4))

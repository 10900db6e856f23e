"""Pieces shared by the numba kernels: product policy, GEMMs around the loop, argument
normalisation.

Nothing here compiles at import time: every ``@njit`` below is lazy and ``cache=True``, so the
first call in the first process compiles (and writes the on-disk cache next to this file, in
``__pycache__``), later processes load the machine code from disk.

Activations live in ``activations.py`` and the tiled products in ``tiles.py``; this module
decides which product runs where (``batch_split``, ``gemm``) and normalises arguments.

Products
    Every per-step product (``h_{t-1} W_hh^T`` forward, ``dA_t W_hh`` backward) and the GEMMs
    outside the loop up to ``GEMM_MAX_MACS`` (input projection, dx, dW) run in
    ``matmul_rows`` / ``matmul_tn_rows``: register-tiled kernels whose 4x4 tile of 512-bit
    accumulators is emitted directly as LLVM vector IR (``_make_tile``), 100-115 GFLOP/s
    float32 on one Zen 5 core (on AVX2-only CPUs LLVM splits each vector in two; correct
    everywhere, fastest with AVX-512), with no BLAS call, no weight re-packing and no thread to wake
    per step. Batch rows are independent in a recurrence, so for mid-to-large per-step
    products (``batch_split``) the time loop is split by rows over the threads, each running
    the whole sequence for its rows: two cores with one fork/join per sequence. Only the big
    GEMMs outside the loop (H=512 and up) go through NumPy's bundled OpenBLAS. On a loaded
    2-core machine any 2-thread OpenBLAS call can stall when one of its threads is descheduled (measured: a (100x128)@(128x512) projection
    0.11 ms in the compiled kernel, 8-28 ms through 2-thread OpenBLAS at load average 5-8).
"""
import numpy as np
from numba import njit, prange

from .tiles import matmul_rows, matmul_tn_rows

def pack_weights(params, dtype, gates=None):
    """(D+H, N) = [W_ih^T; W_hh^T] (rows of the chosen gate blocks), C-contiguous, and the
    summed bias, for the B=1 steppers."""
    w_ih = np.asarray(params["weight_ih"], dtype)
    w_hh = np.asarray(params["weight_hh"], dtype)
    W = np.ascontiguousarray(np.concatenate([w_ih.T, w_hh.T], axis=0))
    return W, bias_sum(params, w_hh.shape[0], dtype)


SPLIT_MIN_ROWS = 8         # batch rows per thread, at least
SPLIT_MIN_MACS = 1 << 20   # per-step product size (B*K*N) from which the split pays
SPLIT_MAX_MACS = 1 << 62   # (no upper limit: measured faster at H=1024, B=64 too)
SPLIT_SKIP_MACS = (1 << 23, 1 << 26)   # ... except in this range, where it measured no
                                       # faster or slower (RNN/LSTM H=512 B=32)


def batch_split(B, K, N):
    """Into how many row blocks (threads) the time loop splits the batch.

    Batch rows are independent in a recurrence, so each thread runs the whole time loop for
    its rows (one fork/join per sequence instead of per step). 1 (no threads) for small
    products, where waking the second thread costs more than the work (on a busy machine a
    wake-up can wait a whole time slice). Measured, LSTM T=100 forward loop H=128 B=32 on a
    quiet machine: 5.3 ms one thread, 3.7 ms split; whole LSTM H=1024 B=64: 1328 vs 945 ms
    inference, 3557 vs 2490 ms training; but RNN H=512 B=32 (8M per step) 26.7 vs 30.5 ms
    inference and LSTM H=512 B=32 (33M) equal, hence ``SPLIT_SKIP_MACS`` (the weights, 1-4
    MB, exceed a core's L2 there, so both threads stream them from the shared L3 every step;
    a hypothesis, not measured separately). Under heavy load (load average 7 on 2 cores) the
    split can lose (H=128 B=32: 10.4 vs 14.7 ms), like every 2-thread call.
    """
    macs = B * K * N
    if not SPLIT_MIN_MACS <= macs <= SPLIT_MAX_MACS or B < 2 * SPLIT_MIN_ROWS:
        return 1
    if SPLIT_SKIP_MACS[0] <= macs < SPLIT_SKIP_MACS[1]:
        return 1
    import numba
    return max(1, min(numba.get_num_threads(), B // SPLIT_MIN_ROWS))


# ----------------------------------------------------------------------------- arguments

def as_dtype(a, dtype):
    """a as a C-contiguous array of dtype, without a copy when it already is one."""
    return np.ascontiguousarray(a, dtype=dtype)


def check_dtype(x):
    dt = np.dtype(x.dtype)
    if dt not in (np.float32, np.float64):
        from ...errors import RnnlabError
        raise RnnlabError(f"x: got dtype {dt}, expected float32 or float64; "
                          "fix: x.astype(np.float32)")
    return dt


def lengths_array(lengths, T, B):
    """lengths as int64 (B,), clipped to [0, T]; all T when None."""
    if lengths is None:
        return np.full(B, T, np.int64)
    ln = np.asarray(lengths).astype(np.int64).reshape(-1)
    if ln.shape[0] != B:
        from ...errors import RnnlabError
        raise RnnlabError(f"lengths: got shape {ln.shape}, expected ({B},) (one per batch row)")
    return np.clip(ln, 0, T)


def state_or_zeros(a, B, H, dtype):
    if a is None:
        return np.zeros((B, H), dtype)
    return np.array(a, dtype=dtype, order="C", copy=True)


def bias_sum(params, GH, dtype):
    """b_ih + b_hh (or zeros when the layer has no bias)."""
    if "bias_ih" in params:
        return (as_dtype(params["bias_ih"], dtype) + as_dtype(params["bias_hh"], dtype))
    return np.zeros(GH, dtype)


GEMM_MAX_MACS = 1 << 28   # GEMMs outside the loop up to this size: compiled, 1 thread


def compiled_gemm(M, K, N):
    """Whether an (M, K) @ (K, N) GEMM outside the time loop runs in the single-threaded
    register-tiled kernel (100-115 GFLOP/s, no thread wake-up) rather than 2-thread OpenBLAS
    (which pays per call to wake and join its threads, and stalls for a whole time slice when
    a busy machine has descheduled one: measured 100x128 @ 128x512 in 0.11 ms compiled vs
    8-12 ms through OpenBLAS at load average 5 on 2 cores)."""
    return 0 < M * K * N <= GEMM_MAX_MACS


PAR_GEMM_MIN_MACS = 1 << 24   # compiled GEMMs from this size split their rows over threads


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _gemm_par(a, w, out, trans, nsplit):
    """out = a @ w (trans: a.T @ w) with out's rows split into nsplit blocks, one thread each."""
    M = out.shape[0]
    for p in prange(nsplit):
        b0 = p * M // nsplit
        b1 = (p + 1) * M // nsplit
        if trans:
            matmul_tn_rows(a, w, out, b0, b1)
        else:
            matmul_rows(a, w, out, b0, b1)


def _threads_for(M, macs):
    if macs < PAR_GEMM_MIN_MACS or M < 8:
        return 1
    import numba
    return max(1, min(numba.get_num_threads(), M // 4))


def gemm(a, w, out):
    """out = a @ w (2-D, contiguous rows): compiled for small sizes (rows split over the
    threads from PAR_GEMM_MIN_MACS), else NumPy's BLAS."""
    M, K, N = a.shape[0], a.shape[1], w.shape[1]
    if compiled_gemm(M, K, N):
        n = _threads_for(M, M * K * N)
        if n > 1:
            _gemm_par(a, w, out, False, n)
        else:
            matmul_rows(a, w, out, 0, M)
    elif out.size:
        np.matmul(a, w, out=out)
    return out


def gemm_tn(a, w, out):
    """out = a.T @ w (a (K, M), w (K, N)): compiled for small sizes, else NumPy's BLAS."""
    K, M, N = a.shape[0], a.shape[1], w.shape[1]
    if compiled_gemm(M, K, N):
        n = _threads_for(M, M * K * N)
        if n > 1:
            _gemm_par(a, w, out, True, n)
        else:
            matmul_tn_rows(a, w, out, 0, M)
    elif out.size:
        np.matmul(a.T, w, out=out)
    return out


def input_projection(x, w_ih, bias):
    """A = x W_ih^T + bias for all steps, one GEMM: (T, B, D) -> (T, B, G*H)."""
    T, B, D = x.shape
    GH = w_ih.shape[0]
    out = np.empty((T, B, GH), x.dtype)
    o2 = out.reshape(T * B, GH)
    if T * B > 0:
        gemm(x.reshape(T * B, D), np.ascontiguousarray(w_ih.T), o2)
    o2 += bias
    return out


def weight_grads(params, x2, hprev_t0, y, dax, dah, dtype):
    """Weight and bias gradients as GEMMs after the loop.

    dW_ih = dAx^T X; dW_hh = dAh[1:]^T y[:-1] + dAh[0]^T h0 (y[t-1] is h_{t-1} wherever
    dA[t] is non-zero, lengths included); db = column sums.
    """
    T, B, GH = dax.shape
    H = y.shape[2]
    D = x2.shape[1]
    dax2 = dax.reshape(T * B, GH)
    dah2 = dah.reshape(T * B, GH)
    gw_ih = np.empty((GH, D), dtype)
    gw_hh = np.empty((GH, H), dtype)
    if compiled_gemm(GH, T * B, max(D, H)):      # dW^T = X^T dA: no transposed copies
        gw_ih[:] = gemm_tn(x2, dax2, np.empty((D, GH), dtype)).T
        if T > 1:
            gw_hh[:] = gemm_tn(y.reshape(T * B, H)[:-B], dah2[B:], np.empty((H, GH), dtype)).T
        else:
            gw_hh[:] = 0
    else:
        np.matmul(dax2.T, x2, out=gw_ih)
        if T > 1:
            np.matmul(dah2[B:].T, y.reshape(T * B, H)[:-B], out=gw_hh)
        else:
            gw_hh[:] = 0
    if T > 0 and hprev_t0 is not None:
        gw_hh += dah2[:B].T @ hprev_t0
    grads = {"weight_ih": gw_ih, "weight_hh": gw_hh}
    if "bias_ih" in params:
        grads["bias_ih"] = dax2.sum(axis=0)
        grads["bias_hh"] = grads["bias_ih"] if dah is dax else dah2.sum(axis=0)
        if dah is dax:
            grads["bias_hh"] = grads["bias_ih"].copy()
    return grads


def input_grad(dax, w_ih, D):
    """dx = dA W_ih, one GEMM: (T, B, G*H) -> (T, B, D)."""
    T, B, GH = dax.shape
    dx = np.empty((T, B, D), dax.dtype)
    if T * B > 0:
        gemm(dax.reshape(T * B, GH), w_ih, dx.reshape(T * B, D))
    return dx

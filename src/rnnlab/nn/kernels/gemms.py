"""The GEMMs around the time loop: the input projection before it, the weight and input
gradients after it. Each runs in the register-tiled kernel (``tiles``), on one thread or with
its output rows split over the threads, or in NumPy's bundled OpenBLAS for the big ones; the
choice is ``policy``'s. NumPy's OpenBLAS and not SciPy's: on a loaded 2-core machine any
2-thread OpenBLAS call can stall when one of its threads is descheduled, so only the GEMMs
big enough to amortise that go there.

Nothing here compiles at import time: ``_gemm_par`` is lazy and ``cache=True``, so the first
call in the first process compiles (and writes the on-disk cache next to this file, in
``__pycache__``), later processes load the machine code from disk.
"""
import numpy as np
from numba import njit, prange

from .policy import compiled_gemm, gemm_threads
from .tiles import matmul_rows, matmul_tn_rows


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


def _tiled(a, w, out, trans):
    """out = a @ w (trans: a.T @ w) in the tiled kernel, on ``gemm_threads`` threads."""
    M = out.shape[0]
    n = gemm_threads(M, M * a.shape[0 if trans else 1] * w.shape[1])
    if n > 1:
        _gemm_par(a, w, out, trans, n)
    elif trans:
        matmul_tn_rows(a, w, out, 0, M)
    else:
        matmul_rows(a, w, out, 0, M)
    return out


def gemm(a, w, out):
    """out = a @ w (2-D, contiguous rows): tiled for small sizes, else NumPy's BLAS."""
    M, K, N = a.shape[0], a.shape[1], w.shape[1]
    if compiled_gemm(M, K, N):
        _tiled(a, w, out, False)
    elif out.size:
        np.matmul(a, w, out=out)
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


def _grad(a, da, tiled):
    """da^T a, (GH, K) C-contiguous, for a (M, K), da (M, GH): tiled as (a^T da)^T (no
    transposed copy of a), else NumPy's BLAS."""
    if tiled:
        return np.ascontiguousarray(_tiled(a, da, np.empty((a.shape[1], da.shape[1]), a.dtype),
                                           True).T)
    return np.matmul(da.T, a)


def weight_grad(a, da):
    """da^T a, (N, K) C-contiguous, for a (M, K) and da (M, N) (any row strides): a weight
    gradient summed over M = T*B rows, tiled or in NumPy's BLAS as ``policy`` says."""
    return _grad(np.ascontiguousarray(a), np.ascontiguousarray(da),
                 compiled_gemm(da.shape[1], a.shape[0], a.shape[1]))


def weight_grads(params, x2, hprev_t0, y, dax, dah):
    """Weight and bias gradients as GEMMs after the loop.

    dW_ih = dAx^T X; dW_hh = dAh[1:]^T y[:-1] + dAh[0]^T h0 (y[t-1] is h_{t-1} wherever
    dA[t] is non-zero, lengths included); db = column sums. One tiled-or-BLAS choice, sized
    by the larger of the two products, serves both.
    """
    T, B, GH = dax.shape
    H = y.shape[2]
    D = x2.shape[1]
    dax2 = dax.reshape(T * B, GH)
    dah2 = dah.reshape(T * B, GH)
    tiled = compiled_gemm(GH, T * B, max(D, H))
    gw_ih = _grad(x2, dax2, tiled)
    if T > 1:
        gw_hh = _grad(y.reshape(T * B, H)[:-B], dah2[B:], tiled)
    else:
        gw_hh = np.zeros((GH, H), dax.dtype)
    if T > 0 and hprev_t0 is not None:
        gw_hh += dah2[:B].T @ hprev_t0
    grads = {"weight_ih": gw_ih, "weight_hh": gw_hh}
    if "bias_ih" in params:
        grads["bias_ih"] = dax2.sum(axis=0)
        grads["bias_hh"] = grads["bias_ih"].copy() if dah is dax else dah2.sum(axis=0)
    return grads


def input_grad(dax, w_ih, D):
    """dx = dA W_ih, one GEMM: (T, B, G*H) -> (T, B, D)."""
    T, B, GH = dax.shape
    dx = np.empty((T, B, D), dax.dtype)
    if T * B > 0:
        gemm(dax.reshape(T * B, GH), w_ih, dx.reshape(T * B, D))
    return dx

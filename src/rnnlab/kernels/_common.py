"""Pieces shared by the numba kernels: fast vectorisable activations, BLAS helpers, argument
normalisation.

Nothing here compiles at import time: every ``@njit`` below is lazy and ``cache=True``, so the
first call in the first process compiles (and writes the on-disk cache next to this file, in
``__pycache__``), later processes load the machine code from disk.

Activations
    ``sigm(x)`` and ``tanh_(x)`` are typed by overload: float32 uses a branch-free Cody-Waite
    exp/expm1 with a degree-7 polynomial (error about 1-2 ulp) that LLVM vectorises into
    AVX-512/AVX2 code inside the gate loops (numba has no SVML here, so ``math.exp`` would be
    a scalar libm call per element); float64 uses libm (``math.exp``/``math.tanh``), exact to
    the last bit with the reference.

BLAS
    The big GEMMs outside the time loop (input projection, dW_ih, dW_hh, dx) go through
    NumPy's matmul, i.e. NumPy's bundled OpenBLAS (0.3.31 here). The per-step products of
    large layers go through ``np.dot`` inside nopython code, i.e. SciPy's bundled OpenBLAS
    (0.3.30, the one numba binds); small ones through ``matmul_small``'s compiled loop.
    On a loaded 2-core machine any 2-thread OpenBLAS call can stall when one of its threads
    is descheduled (measured: a (100x128)@(128x512) projection 0.15 ms with
    OPENBLAS_NUM_THREADS=1, 16-28 ms with 2 threads at load average 8, through either copy);
    the compiled loop used for small per-step products never waits on a second thread.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# ----------------------------------------------------------------------------- bit casts


@intrinsic
def _i32_as_f32(typingctx, x):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return sig, codegen


# ------------------------------------------------------------------ float32 exp / expm1

_F = np.float32
_LOG2E = _F(1.4426950408889634)
_LN2_HI = _F(0.693359375)          # exact in float32 (few mantissa bits)
_LN2_LO = _F(-2.12194440e-4)
_HALF = _F(0.5)
_ONE = _F(1.0)
_TWO = _F(2.0)
_C2, _C3, _C4, _C5, _C6, _C7 = (_F(1 / 2), _F(1 / 6), _F(1 / 24), _F(1 / 120), _F(1 / 720),
                                _F(1 / 5040))
_EXP_HI = _F(88.0)
_EXP_LO = _F(-87.0)
_TANH_CLAMP = _F(9.5)               # tanh(9.5) == 1 in float32


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _expm1_parts32(x):
    """x clamped to [-87, 88]; returns (s, q) with exp(x) = s * (1 + q), expm1 = s*q + (s-1)."""
    n = np.floor(x * _LOG2E + _HALF)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    q = r * (_ONE + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    s = _i32_as_f32((np.int32(n) + np.int32(127)) << np.int32(23))
    return s, q


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _sigmoid32(x):
    x = min(max(-x, _EXP_LO), _EXP_HI)       # exp(-x)
    s, q = _expm1_parts32(x)
    return _ONE / (_ONE + (s + s * q))


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _tanh32(x):
    x = min(max(x + x, -_TANH_CLAMP - _TANH_CLAMP), _TANH_CLAMP + _TANH_CLAMP)
    s, q = _expm1_parts32(x)
    e = s * q + (s - _ONE)                   # expm1(2x), accurate near 0
    return e / (e + _TWO)


@njit(inline="always", error_model="numpy")
def _sigmoid64(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(inline="always", error_model="numpy")
def _tanh64(x):
    return math.tanh(x)


def sigm(x):
    """Logistic function of a float32/float64 scalar (nopython only)."""
    raise NotImplementedError


def tanh_(x):
    """tanh of a float32/float64 scalar (nopython only)."""
    raise NotImplementedError


def one(a):
    """1 in the dtype of array a (nopython only): keeps float32 arithmetic in float32."""
    raise NotImplementedError


@overload(sigm)
def _sigm_ov(x):
    if x == types.float32:
        return lambda x: _sigmoid32(x)
    return lambda x: _sigmoid64(x)


@overload(tanh_)
def _tanh_ov(x):
    if x == types.float32:
        return lambda x: _tanh32(x)
    return lambda x: _tanh64(x)


@overload(one)
def _one_ov(a):
    if a.dtype == types.float32:
        return lambda a: np.float32(1.0)
    return lambda a: np.float64(1.0)


# --------------------------------------------------------------------------------- BLAS

@njit(cache=True, nogil=True, error_model="numpy")
def mm(a, b, out):
    """out = a @ b (2-D, C-contiguous), through SciPy's OpenBLAS."""
    np.dot(a, b, out)


@njit(cache=True, nogil=True, error_model="numpy")
def mm_nt(a, b, out):
    """out = a @ b.T (b C-contiguous, no copy: BLAS gets a transpose flag)."""
    np.dot(a, b.T, out)


@njit(cache=True, nogil=True, error_model="numpy")
def mm_tn(a, b, out):
    """out = a.T @ b."""
    np.dot(a.T, b, out)


@njit(cache=True, nogil=True, error_model="numpy")
def mm_tn_acc(a, b, out, tmp):
    """out += a.T @ b (tmp: scratch of out's shape)."""
    np.dot(a.T, b, tmp)
    out += tmp


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def matmul_small(a, w, out, use_blas):
    """out = a @ w for one time step (a (B, K), w (K, N), both C-contiguous).

    Through BLAS when use_blas, else a plain single-threaded axpy loop that LLVM vectorises:
    for the small per-step products of B=1 / small H this avoids BLAS's call and threading
    overhead (and never waits on a second thread that a busy machine has descheduled).
    """
    if use_blas:
        np.dot(a, w, out)
        return
    B, K = a.shape
    N = w.shape[1]
    K4 = K - K % 4
    for b in range(B):
        o = out[b]
        o[:] = 0
        ab = a[b]
        for k in range(0, K4, 4):          # 4 rows per pass: a quarter of the o traffic
            s0, s1, s2, s3 = ab[k], ab[k + 1], ab[k + 2], ab[k + 3]
            w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
            for j in range(N):
                o[j] += (s0 * w0[j] + s1 * w1[j]) + (s2 * w2[j] + s3 * w3[j])
        for k in range(K4, K):
            s = ab[k]
            wk = w[k]
            for j in range(N):
                o[j] += s * wk[j]


BLAS_MIN_MACS = 1 << 19   # per-step products at least this big go to BLAS (tests set 0 / huge)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def matvec_packed(x, h, W, b, xh, acc):
    """acc = b + [x, h] @ W for one B=1 step: W (D+H, N) stacks W_ih^T over W_hh^T, so the
    input and recurrent products are one pass over the packed weights (xh: scratch (D+H,))."""
    D = x.shape[0]
    H = h.shape[0]
    xh[:D] = x
    xh[D:] = h
    N = W.shape[1]
    acc[:] = b
    for k in range(D + H):
        s = xh[k]
        wk = W[k]
        for j in range(N):
            acc[j] += s * wk[j]


def pack_weights(params, dtype, gates=None):
    """(D+H, N) = [W_ih^T; W_hh^T] (rows of the chosen gate blocks), C-contiguous, and the
    summed bias, for the B=1 steppers."""
    w_ih = np.asarray(params["weight_ih"], dtype)
    w_hh = np.asarray(params["weight_hh"], dtype)
    W = np.ascontiguousarray(np.concatenate([w_ih.T, w_hh.T], axis=0))
    return W, bias_sum(params, w_hh.shape[0], dtype)


def use_blas(B, K, N):
    """Whether a per-step (B, K) @ (K, N) product goes to BLAS (else the compiled loop).

    Crossover measured on a 2-core Zen 5: the loop wins while the product is small enough to
    stay in L1/L2 and single-threaded (about B*K*N <= 2**19 multiply-adds).
    """
    return B * K * N >= BLAS_MIN_MACS


# ----------------------------------------------------------------------------- arguments

def as_dtype(a, dtype):
    """a as a C-contiguous array of dtype, without a copy when it already is one."""
    return np.ascontiguousarray(a, dtype=dtype)


def check_dtype(x):
    dt = np.dtype(x.dtype)
    if dt not in (np.float32, np.float64):
        from ..errors import RnnlabError
        raise RnnlabError(f"x: got dtype {dt}, expected float32 or float64; "
                          "fix: x.astype(np.float32)")
    return dt


def lengths_array(lengths, T, B):
    """lengths as int64 (B,), clipped to [0, T]; all T when None."""
    if lengths is None:
        return np.full(B, T, np.int64)
    ln = np.asarray(lengths).astype(np.int64).reshape(-1)
    if ln.shape[0] != B:
        from ..errors import RnnlabError
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


def input_projection(x, w_ih, bias):
    """A = x W_ih^T + bias for all steps, one GEMM: (T, B, D) -> (T, B, G*H)."""
    T, B, D = x.shape
    GH = w_ih.shape[0]
    out = np.empty((T, B, GH), x.dtype)
    o2 = out.reshape(T * B, GH)
    if T * B > 0:
        np.matmul(x.reshape(T * B, D), w_ih.T, out=o2)
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
        np.matmul(dax.reshape(T * B, GH), w_ih, out=dx.reshape(T * B, D))
    return dx

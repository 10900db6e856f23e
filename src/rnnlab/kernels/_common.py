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
    GEMMs outside the loop (H=512 and up) go through NumPy's bundled OpenBLAS. ``np.dot``
    (SciPy's OpenBLAS, the one numba binds) remains as a per-step path behind
    ``BLAS_MIN_MACS`` for tests. On a loaded 2-core machine any 2-thread OpenBLAS call can
    stall when one of its threads is descheduled (measured: a (100x128)@(128x512) projection
    0.11 ms in the compiled kernel, 8-28 ms through 2-thread OpenBLAS at load average 5-8).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
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


# ------------------------------------------------------------ register-tiled products

def _make_tile(R, V, trans_a=False):
    """An intrinsic ``tile(a, w, out, b0, n0)``: out[b0:b0+R, n0:n0+V*L] = a[b0:b0+R] @
    w[:, n0:n0+V*L] for 2-D a (B, K), w (K, N), out (B, N) with contiguous rows (any row
    stride), L = 16 float32 or 8 float64 lanes (one AVX-512 register).

    The R*V accumulators are LLVM vector values held in registers across the whole k loop
    (allocas that mem2reg promotes; numba arrays could not be, because LLVM cannot prove out
    and w do not alias): per k, V vector loads of w, R broadcasts of a[b, k], R*V FMAs. The
    summation order over k is sequential, as in the reference's ``a @ w`` loop; each step is
    one fused multiply-add. No bounds checks: callers guarantee b0+R <= B and n0+V*L <= N.
    trans_a: a is (K, B) and the tile computes out[b0:b0+R, ...] = a[:, b0:b0+R]^T @ w."""
    @intrinsic
    def tile(typingctx, a, w, out, b0, n0):
        if not all(isinstance(x, types.Array) and x.ndim == 2 and x.layout in "CA"
                   for x in (a, w, out)) or not a.dtype == w.dtype == out.dtype:
            return None

        def codegen(context, builder, sig, args):
            aty, wty, oty = sig.args[:3]
            A = context.make_array(aty)(context, builder, args[0])
            W = context.make_array(wty)(context, builder, args[1])
            O = context.make_array(oty)(context, builder, args[2])
            b0v, n0v = args[3], args[4]
            f32 = aty.dtype == types.float32
            fty = context.get_value_type(aty.dtype)
            L = 16 if f32 else 8
            vty = ir.VectorType(fty, L)
            ity = b0v.type
            size = ir.Constant(ity, context.get_abi_sizeof(fty))
            K = cgutils.unpack_tuple(builder, A.shape)[0 if trans_a else 1]
            lda, ldw, ldo = (builder.sdiv(cgutils.unpack_tuple(builder, X.strides)[0], size)
                             for X in (A, W, O))       # row strides in elements
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty, vty, vty]),
                "llvm.fma.v%d%s" % (L, "f32" if f32 else "f64"))
            zero = ir.Constant(vty, [0.0] * L)
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(V)]
                    for _ in range(R)]
            for row in accs:
                for acc in row:
                    builder.store(zero, acc)
            if trans_a:      # a[k, b0 + r]: column b0 + r, step lda along k
                arow = [builder.gep(A.data, [builder.add(b0v, ir.Constant(ity, r))])
                        for r in range(R)]
            else:            # a[b0 + r, k]: row b0 + r, step 1 along k
                arow = [builder.gep(A.data, [builder.mul(builder.add(b0v, ir.Constant(ity, r)),
                                                         lda)]) for r in range(R)]
            astep = lda if trans_a else ir.Constant(ity, 1)
            wbase = builder.gep(W.data, [n0v])
            undef = ir.Constant(vty, ir.Undefined)
            i32 = ir.IntType(32)
            bcast = ir.Constant(ir.VectorType(i32, L), [0] * L)
            with cgutils.for_range(builder, K) as loop:
                k = loop.index
                wk = builder.gep(wbase, [builder.mul(k, ldw)])
                wv = [builder.load(builder.bitcast(builder.gep(wk, [ir.Constant(ity, v * L)]),
                                                   vty.as_pointer()), align=4)
                      for v in range(V)]
                for r in range(R):
                    s = builder.load(builder.gep(arow[r], [builder.mul(k, astep)]))
                    sv = builder.shuffle_vector(builder.insert_element(undef, s, ir.Constant(i32, 0)),
                                                undef, bcast)
                    for v in range(V):
                        acc = accs[r][v]
                        builder.store(builder.call(fma, [sv, wv[v], builder.load(acc)]), acc)
            for r in range(R):
                orow = builder.gep(O.data, [builder.add(builder.mul(
                    builder.add(b0v, ir.Constant(ity, r)), ldo), n0v)])
                for v in range(V):
                    ptr = builder.bitcast(builder.gep(orow, [ir.Constant(ity, v * L)]),
                                          vty.as_pointer())
                    builder.store(builder.load(accs[r][v]), ptr, align=4)
            return context.get_dummy_value()
        return types.void(a, w, out, types.intp, types.intp), codegen
    return tile


_tile_4x4 = _make_tile(4, 4)
_tile_1x4 = _make_tile(1, 4)
_tile_1x8 = _make_tile(1, 8)      # single rows (B=1): 8 independent FMA chains
_tile_4x1 = _make_tile(4, 1)
_tile_1x1 = _make_tile(1, 1)
_ttile_4x4 = _make_tile(4, 4, True)
_ttile_1x4 = _make_tile(1, 4, True)
_ttile_4x1 = _make_tile(4, 1, True)
_ttile_1x1 = _make_tile(1, 1, True)


def lanes(a):
    """Elements of a's dtype in one 512-bit register (nopython only)."""
    raise NotImplementedError


@overload(lanes)
def _lanes_ov(a):
    if a.dtype == types.float32:
        return lambda a: 16
    return lambda a: 8


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def matmul_rows(a, w, out, b0, b1):
    """out[b0:b1] = a[b0:b1] @ w (a (B, K), w (K, N), out (B, N), all C-contiguous), single
    thread, register-tiled: panels of 4L columns of w (K*4L numbers: L1/L2-resident) outer,
    tiles of 4 rows inner, so w streams from memory once per call. Measured on a Zen 5 core:
    110-115 GFLOP/s float32 for 32x128 @ 128x512 (BLAS: 77 GFLOP/s with 2 threads)."""
    K = a.shape[1]
    N = w.shape[1]
    L = lanes(out)
    n0 = 0
    if b1 - b0 < 4:                 # matrix-vector: wider tiles hide the FMA latency
        while n0 + 8 * L <= N:
            for b in range(b0, b1):
                _tile_1x8(a, w, out, b, n0)
            n0 += 8 * L
    while n0 + 4 * L <= N:
        b = b0
        while b + 4 <= b1:
            _tile_4x4(a, w, out, b, n0)
            b += 4
        while b < b1:
            _tile_1x4(a, w, out, b, n0)
            b += 1
        n0 += 4 * L
    while n0 + L <= N:
        b = b0
        while b + 4 <= b1:
            _tile_4x1(a, w, out, b, n0)
            b += 4
        while b < b1:
            _tile_1x1(a, w, out, b, n0)
            b += 1
        n0 += L
    if n0 < N:                                   # the last N % L columns
        for b in range(b0, b1):
            o = out[b]
            ab = a[b]
            for j in range(n0, N):
                o[j] = 0
            for k in range(K):
                s = ab[k]
                wk = w[k]
                for j in range(n0, N):
                    o[j] += s * wk[j]


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def matmul_tn_rows(a, w, out, b0, b1):
    """out[b0:b1] = a[:, b0:b1]^T @ w (a (K, B), w (K, N), out (B, N), contiguous rows): the
    weight-gradient form dW^T = X^T dA without transposing X, tiled like ``matmul_rows``."""
    K = a.shape[0]
    N = w.shape[1]
    L = lanes(out)
    n0 = 0
    while n0 + 4 * L <= N:
        b = b0
        while b + 4 <= b1:
            _ttile_4x4(a, w, out, b, n0)
            b += 4
        while b < b1:
            _ttile_1x4(a, w, out, b, n0)
            b += 1
        n0 += 4 * L
    while n0 + L <= N:
        b = b0
        while b + 4 <= b1:
            _ttile_4x1(a, w, out, b, n0)
            b += 4
        while b < b1:
            _ttile_1x1(a, w, out, b, n0)
            b += 1
        n0 += L
    if n0 < N:
        for b in range(b0, b1):
            o = out[b]
            for j in range(n0, N):
                o[j] = 0
            for k in range(K):
                s = a[k, b]
                wk = w[k]
                for j in range(n0, N):
                    o[j] += s * wk[j]


@njit(cache=True, nogil=True, error_model="numpy")
def matmul_small(a, w, out, use_blas, b0, b1):
    """out[b0:b1] = a[b0:b1] @ w for one time step: through BLAS when use_blas, else the
    register-tiled single-threaded product (``matmul_rows``)."""
    if use_blas:
        np.dot(a[b0:b1], w, out[b0:b1])
    else:
        matmul_rows(a, w, out, b0, b1)


BLAS_MIN_MACS = 1 << 62   # per-step products at least this big go to BLAS (tests set 0)


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
    """Whether a per-step (B, K) @ (K, N) product goes to BLAS (else ``matmul_rows``).

    Never by default: the register-tiled product runs at 100-115 GFLOP/s on one Zen 5 core
    at every grid size, and the batch split (``batch_split``) gives it the second core with no
    per-step synchronisation, whereas a 2-thread OpenBLAS call per step re-packs the weights
    and synchronises its threads every step (and stalls whenever a busy machine deschedules
    one of them). ``BLAS_MIN_MACS`` is kept so the BLAS path stays testable.
    """
    return B * K * N >= BLAS_MIN_MACS


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

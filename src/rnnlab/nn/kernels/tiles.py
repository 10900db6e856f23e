"""The register tiles every product is built from: a tile of 512-bit accumulators emitted as
LLVM vector IR (``_make_tile``), used by the packed-panel GEMMs (``panels``), and the B=1
packed matrix-vector product of the steppers (``matvec_packed``), and ``matmul_rows`` on an
unpacked w (the sLSTM's per-head products).
"""
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .copies import copy_into


def _make_tile(R, V, trans_a=False, accumulate=False):
    """An intrinsic ``tile(a, w, out, b0, n0)``: out[b0:b0+R, n0:n0+V*L] = a[b0:b0+R] @
    w[:, n0:n0+V*L] for 2-D a (B, K), w (K, N), out (B, N) with contiguous rows (any row
    stride), L = 16 float32 or 8 float64 lanes (one AVX-512 register).

    The R*V accumulators are LLVM vector values held in registers across the whole k loop
    (allocas that mem2reg promotes; numba arrays could not be, because LLVM cannot prove out
    and w do not alias): per k, V vector loads of w, R broadcasts of a[b, k], R*V FMAs. The
    summation order over k is sequential, as in the reference's ``a @ w`` loop; each step is
    one fused multiply-add. No bounds checks: callers guarantee b0+R <= B and n0+V*L <= N.
    trans_a: a is (K, B) and the tile computes out[b0:b0+R, ...] = a[:, b0:b0+R]^T @ w.
    accumulate: the tile adds to out (out += a @ w), for the second and later blocks of a
    K-blocked product; the sum over k stays sequential, so blocking changes no bit."""
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

            def out_ptr(r, v):           # &out[b0 + r, n0 + v*L] as a vector pointer
                orow = builder.gep(O.data, [builder.add(builder.mul(
                    builder.add(b0v, ir.Constant(ity, r)), ldo), n0v)])
                return builder.bitcast(builder.gep(orow, [ir.Constant(ity, v * L)]),
                                       vty.as_pointer())
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(V)]
                    for _ in range(R)]
            for r, row in enumerate(accs):
                for v, acc in enumerate(row):
                    if accumulate:       # a later K block: start from out's partial sums
                        builder.store(builder.load(out_ptr(r, v), align=4), acc)
                    else:
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
                for v in range(V):
                    builder.store(builder.load(accs[r][v]), out_ptr(r, v), align=4)
            return context.get_dummy_value()
        return types.void(a, w, out, types.intp, types.intp), codegen
    return tile


# The tiles the packed GEMMs (``panels``) use: 4 rows x 4 vectors (one 4L-column panel) and
# its edges (1 row; 1 vector for the last < 4L columns), each in a "first K block" form
# (accumulators start at zero) and an accumulating form (they start from out).
T44, T44A = _make_tile(4, 4), _make_tile(4, 4, accumulate=True)
T14, T14A = _make_tile(1, 4), _make_tile(1, 4, accumulate=True)
T12, T12A = _make_tile(1, 2), _make_tile(1, 2, accumulate=True)    # narrow panels, 1 row
T41, T41A = _make_tile(4, 1), _make_tile(4, 1, accumulate=True)
T11, T11A = _make_tile(1, 1), _make_tile(1, 1, accumulate=True)
T18 = _make_tile(1, 8)                   # matrix-vector rows of ``matmul_rows``
TT44, TT44A = _make_tile(4, 4, True), _make_tile(4, 4, True, True)
TT14, TT14A = _make_tile(1, 4, True), _make_tile(1, 4, True, True)
TT12, TT12A = _make_tile(1, 2, True), _make_tile(1, 2, True, True)
TT41, TT41A = _make_tile(4, 1, True), _make_tile(4, 1, True, True)
TT11, TT11A = _make_tile(1, 1, True), _make_tile(1, 1, True, True)


def lanes(a):
    """Elements of a's dtype in one 512-bit register (nopython only)."""
    raise NotImplementedError


@overload(lanes)
def _lanes_ov(a):
    if a.dtype == types.float32:
        return lambda a: 16
    return lambda a: 8


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def matvec_packed(x, h, W, b, xh, acc):
    """acc = b + [x, h] @ W for one B=1 step: W (D+H, N) stacks W_ih^T over W_hh^T, so the
    input and recurrent products are one pass over the packed weights (xh: scratch (D+H,))."""
    D = x.shape[0]
    H = h.shape[0]
    copy_into(xh[:D], x)
    copy_into(xh[D:], h)
    N = W.shape[1]
    copy_into(acc, b)
    for k in range(D + H):
        s = xh[k]
        wk = W[k]
        for j in range(N):
            acc[j] += s * wk[j]


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def matmul_rows(a, w, out, b0, b1):
    """out[b0:b1] = a[b0:b1] @ w (a (B, K), w (K, N), out (B, N), all C-contiguous), single
    thread, register-tiled on the unpacked w: panels of 4L columns of w outer, tiles of 4 rows
    inner. Only the sLSTM's per-head recurrent product uses it (as timed in docs/cells.md; not
    yet moved to the packed panels); every other product is in ``panels``."""
    K = a.shape[1]
    N = w.shape[1]
    L = lanes(out)
    n0 = 0
    if b1 - b0 < 4:                 # matrix-vector: wider tiles hide the FMA latency
        while n0 + 8 * L <= N:
            for b in range(b0, b1):
                T18(a, w, out, b, n0)
            n0 += 8 * L
    while n0 + 4 * L <= N:
        b = b0
        while b + 4 <= b1:
            T44(a, w, out, b, n0)
            b += 4
        while b < b1:
            T14(a, w, out, b, n0)
            b += 1
        n0 += 4 * L
    while n0 + L <= N:
        b = b0
        while b + 4 <= b1:
            T41(a, w, out, b, n0)
            b += 4
        while b < b1:
            T11(a, w, out, b, n0)
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

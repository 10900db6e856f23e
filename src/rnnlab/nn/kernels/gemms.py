"""The GEMMs around the time loop: the input projection before it, the weight and input
gradients after it, all in the packed-panel kernels (``panels``) on one thread or with their
output rows split over the threads (``policy.gemm_threads``). No BLAS call: on a shared 2-core
machine a 2-thread OpenBLAS call stalls whenever one of its threads is descheduled, and its
threads spin against numba's; the packed kernels run 1.5-2.5x OpenBLAS's single-core speed
here anyway (``panels``).

A layer's input is either an array x (T, B, D) or a ``TokenInput`` (token ids into a table,
or one-hot). For token input the projection is a row gather of table W_ih^T (V, G*H), its
weight gradient a scatter-add of dA over the ids followed by a (V, G*H) product, and the
gradient that flows back is the table's (V, D), never dx (T, B, D).

Nothing here compiles at import time: the kernels are lazy and ``cache=True``.
"""
import numpy as np
from numba import njit

from ..functional import TokenInput
from ._common import as_dtype, check_dtype, take
from .background import ready
from .panels import gemm_rows, gemm_rows_par, gemm_tn, gemm_tn_par, pack
from .policy import gemm_threads


def prepare_input(x):
    """(x as a C-contiguous float array or the TokenInput itself, its dtype)."""
    dtype = check_dtype(x)
    return (x if isinstance(x, TokenInput) else as_dtype(x, dtype)), dtype


def gemm(a, wp, out):
    """out = a @ w for a (M, K), w packed (``panels.pack``), out (M, N)."""
    return _split_rows(a, wp, out, a.shape[1], gemm_rows, gemm_rows_par)


def gemm_t(a, wp, out):
    """out = a^T @ w for a (K, M), w (K, N) packed, out (M, N)."""
    return _split_rows(a, wp, out, a.shape[0], gemm_tn, gemm_tn_par)


def _split_rows(a, wp, out, K, one_thread, threaded):
    """Run a packed product on one thread or with out's rows split over ``gemm_threads``."""
    M = out.shape[0]
    n = gemm_threads(M, M * K * out.shape[1], threaded)
    if n > 1 and ready(threaded, (a, wp[0], wp[1], out, n)):
        threaded(a, wp[0], wp[1], out, n)
    else:
        one_thread(a, wp[0], wp[1], out, 0, M)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _gather_rows(P, ids, bias, out):
    """out[r] = P[ids[r]] + bias: the input projection of token input, (T*B, G*H)."""
    for r in range(ids.shape[0]):
        pr = P[ids[r]]
        o = out[r]
        for j in range(o.shape[0]):
            o[j] = pr[j] + bias[j]


@njit(cache=True, nogil=True, error_model="numpy")
def _scatter_rows(dA, ids, S):
    """S[ids[r]] += dA[r] for r in order: dA (T*B, G*H) summed by token, S (V, G*H) zeroed."""
    for r in range(ids.shape[0]):
        s = S[ids[r]]
        d = dA[r]
        for j in range(s.shape[0]):
            s[j] += d[j]


def input_projection(x, w_ih, bias, ws=None):
    """A = x W_ih^T + bias for all steps: (T, B, D) -> (T, B, G*H), taken from ws. One GEMM
    for an array x; for token input, table W_ih^T (V rows, one-hot: W_ih^T itself) and a row
    gather, the same numbers as the GEMM on the dense x (each row of a product is the same
    sum either way). bias None: no bias (the caller adds it later)."""
    T, B, D = x.shape
    GH = w_ih.shape[0]
    out = take(ws, (T, B, GH), x.dtype)
    o2 = out.reshape(T * B, GH)
    if T * B == 0:
        return out
    if isinstance(x, TokenInput):
        if x.table is None:
            P = np.ascontiguousarray(w_ih.T)
        else:
            P = _product(as_dtype(x.table, x.dtype), w_ih.T, np.empty((x.V, GH), x.dtype), ws)
        _gather_rows(P, x.ids.reshape(-1), as_dtype(np.zeros(GH) if bias is None else bias,
                                                    x.dtype), o2)
        return out
    _product(x.reshape(T * B, D), w_ih.T, o2, ws, kept_from=w_ih)
    if bias is not None:
        o2 += bias
    return out


def projection_panels(w_ih, ws=None):
    """W_ih^T packed (``panels.pack``) for an input projection that the time loop computes
    step by step (``lstm``), kept between eval-mode calls as ``input_projection``'s is (the
    same key: the same packing); give it back with ``ws.give_unkept``."""
    if ws is None:
        return pack(w_ih.T)
    return ws.kept(("product", True), w_ih, lambda to: pack(w_ih.T, to))


_NO_INPUT = {}      # dtype -> (xs, W_ih^T panels, tail): empty, for A projected before the loop


def loop_projection(x, w_ih, parts, dtype, ws):
    """(xs, W_ih^T packed, A) for a forward whose time loop may project its rows itself (the
    LSTM's, with or without options); parts: ``loops.plan``'s answer. Where the time
    loop splits the batch over the threads and x is dense, each thread projects its own rows
    inside the loop's one parallel region (``steps.project``; A taken empty): one wake-up of
    numba's passive threads per call instead of two (LSTM H=32, T=100, B=32 / 64, quiet
    core: best forward 0.747 -> 0.694 ms, 1.196 -> 1.145 ms). Else one GEMM before the loop
    (xs empty, nothing packed), split over the threads by its own size (``gemms``). The same
    bits either way (each number the same sum)."""
    T, B, D = x.shape
    if not isinstance(x, TokenInput) and parts[1] > 1:
        return x, projection_panels(w_ih, ws), take(ws, (T, B, w_ih.shape[0]), dtype)
    if dtype not in _NO_INPUT:
        _NO_INPUT[dtype] = (np.empty((0, 0, 0), dtype), np.empty((0, 0, 0), dtype),
                            np.empty((0, 0), dtype))
    xs, pan, tail = _NO_INPUT[dtype]
    return xs, (pan, tail), input_projection(x, w_ih, None, ws)


def _product(a, w, out, ws, trans=False, top=None, kept_from=None):
    """out = a @ w (trans: a^T @ [top; w]) with w packed into scratch from ws for the call.
    A transposed product with w narrower than one register (a weight gradient of D or H
    < 16) runs unpacked: packing would pad each of the T*B rows of w to a whole register.
    kept_from: the weight w is a view of; in eval mode its packing is kept between calls
    (``Workspace.kept``)."""
    if trans and w.shape[1] * w.dtype.itemsize < 64:
        out[...] = 0
        _tn_narrow(a if top is None else a[top.shape[0]:], w, out)
        if top is not None:
            _tn_narrow(a[:top.shape[0]], as_dtype(top, w.dtype), out)
        return out
    if kept_from is not None and ws is not None:
        wp = ws.kept(("product", top is None), kept_from, lambda to: pack(w, to, top))
    else:
        wp = pack(w, ws, top)
    (gemm_t if trans else gemm)(a, wp, out)
    if ws is not None:
        ws.give_unkept(*wp)
    return out


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _tn_narrow(a, w, out):
    """out += a^T @ w for a (K, M), w (K, N) with N small: per k and column n of w, one pass
    over a[k] (vectorised over M) into out's column, kept as a row of a (N, M) scratch."""
    K, M = a.shape
    N = w.shape[1]
    acc = np.zeros((N, M), out.dtype)
    for k in range(K):
        ak = a[k]
        for n in range(N):
            s = w[k, n]
            r = acc[n]
            for m in range(M):
                r[m] += ak[m] * s
    for n in range(N):
        for m in range(M):
            out[m, n] += acc[n, m]


def weight_grad(a, da):
    """da^T a, (N, K) C-contiguous, for a (M, K) and da (M, N) (any row strides): a weight
    gradient summed over the M = T*B rows, in the packed kernels."""
    a = np.ascontiguousarray(a)
    return _product(np.ascontiguousarray(da), a, np.empty((da.shape[1], a.shape[1]), a.dtype),
                    None, True)


def weight_grads(params, x, hprev_t0, y, dax, dah, ws=None):
    """Weight and bias gradients as GEMMs after the loop.

    dW_ih = dAx^T X (token input: S^T table, S = dAx summed by token; one-hot: S^T);
    dW_hh = dAh^T [h0; y[:-1]] as one sum over the T*B rows (y[t-1] is h_{t-1} wherever dA[t]
    is non-zero, lengths included; without h0 its rows are zero and are left out); db =
    column sums. Returns (grads, S) with S the token sums (None for an array x).
    """
    T, B, GH = dax.shape
    H = y.shape[2]
    dt = dax.dtype
    dax2 = dax.reshape(T * B, GH)
    dah2 = dah.reshape(T * B, GH)
    S = None
    if isinstance(x, TokenInput):
        S = np.zeros((x.V, GH), dt)
        _scatter_rows(dax2, x.ids.reshape(-1), S)
        gw_ih = (np.ascontiguousarray(S.T) if x.table is None else
                 _product(S, as_dtype(x.table, dt), np.empty((GH, x.shape[2]), dt), ws, True))
    else:
        gw_ih = _product(dax2, x.reshape(T * B, x.shape[2]), np.empty((GH, x.shape[2]), dt),
                         ws, True)
    y2 = y.reshape(T * B, H)
    if hprev_t0 is not None and T > 0:
        gw_hh = _product(dah2, y2[:-B], np.empty((GH, H), dt), ws, True, top=hprev_t0)
    else:
        gw_hh = _product(dah2[B:], y2[:-B], np.empty((GH, H), dt), ws, True)
    grads = {"weight_ih": gw_ih, "weight_hh": gw_hh}
    if "bias_ih" in params:
        grads["bias_ih"] = dax2.sum(axis=0)
        grads["bias_hh"] = grads["bias_ih"].copy() if dah is dax else dah2.sum(axis=0)
    return grads, S


def input_grad(dax, w_ih, x, S=None, ws=None):
    """The gradient that flows to the input: dx = dA W_ih (T, B, D) for an array x; for token
    input the table's, S W_ih (V, D), or None for one-hot."""
    T, B, GH = dax.shape
    D = x.shape[2]
    if isinstance(x, TokenInput):
        if x.table is None:
            return None
        return _product(S, w_ih, np.empty((x.V, D), dax.dtype), ws)
    dx = np.empty((T, B, D), dax.dtype)
    if T * B > 0:
        _product(dax.reshape(T * B, GH), w_ih, dx.reshape(T * B, D), ws)
    return dx

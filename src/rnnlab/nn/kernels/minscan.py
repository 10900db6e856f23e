"""Fused numba minGRU and minLSTM: the same ``forward``/``backward`` as
``rnnlab.nn.cells.mingru`` / ``minlstm`` (both modes), and a B=1 ``Stepper``. The modules
``kernels.mingru`` and ``kernels.minlstm`` bind a cell to these functions.

Forward: ``A = X W_ih^T + b_ih`` for all steps as one GEMM (``gemms``), then one compiled
pass over time, elementwise in (B, H): the gates from A, and the scan,
``h = a h + b`` (mode 'recurrent') or the log-space scan of ``cells/_minscan.py`` (mode
'parallel': a running cumulative log coefficient and a running logsumexp per unit). The gates
backward needs are written back into A in place; parallel mode also keeps the cumulative log
coefficient (T, B, H).
Backward: one compiled reverse pass (the reverse recurrence g_t = dh_t + a_{t+1} g_{t+1},
stepped, or as the signed reverse log-space scan) that writes dA into A, then
dW_ih = dA^T X, db = column sums, dx = dA W_ih (``gemms``).

Rows are independent, so long batches split their rows over the threads (``policy.scan_split``).
Cache (private; valid until backward, which consumes it): the gates in A, y (= h on real
steps), the cumulative log coefficient in parallel mode.
"""
import numpy as np
from numba import njit, prange

from ._common import as_dtype, check_dtype, forward_skipped, lengths_array, use_cache_once
from .activations import one as one_of
from .activations import sigm
from .background import ready
from .copies import copy_into
from .gemms import input_grad, input_projection, weight_grad
from .policy import scan_split

MINGRU, MINLSTM = 0, 1          # the cell a compiled pass computes
MODES = ("parallel", "recurrent")


@njit(inline="always")
def _num_gates(cell):
    return 2 if cell == MINGRU else 3


# ----- the paper's elementwise functions, typed by their argument -------------------------
@njit(inline="always", error_model="numpy")
def _softplus(x, zero):
    return max(x, zero) + np.log1p(np.exp(-abs(x)))


@njit(inline="always", error_model="numpy")
def _logaddexp(u, v):
    if u < v:
        u, v = v, u
    if v == -np.inf:
        return u
    return u + np.log1p(np.exp(v - u))


@njit(inline="always", error_model="numpy")
def _g(a, half):
    return a + half if a >= 0 else sigm(a)


@njit(inline="always", error_model="numpy")
def _log_g(a, half, zero):
    return np.log(a + half) if a >= 0 else -_softplus(-a, zero)


@njit(inline="always", error_model="numpy")
def _dg(a, ht, one):
    return one if a >= 0 else ht * (one - ht)


# ----- one step of one unit -----------------------------------------------------------------
@njit(inline="always", error_model="numpy")
def _sig_softplus(a, one, zero):
    """sigma(a), softplus(a), softplus(-a) from one exp and one log1p: with e = exp(-|a|),
    softplus(+-a) = max(+-a, 0) + log1p(e) (no cancellation either way)."""
    e = np.exp(-abs(a))
    l1 = np.log1p(e)
    s = one / (one + e) if a >= 0 else e / (one + e)
    return s, max(a, zero) + l1, max(-a, zero) + l1


@njit(inline="always", error_model="numpy")
def _coefficients(cell, ab, H, j, log, half, one, zero):
    """The step's a, b (log a, log b when log) for unit j of one row's pre-activations ab
    (G*H,); writes the gates backward reads back into ab (z | i, f; a_h stays)."""
    a_h = ab[(_num_gates(cell) - 1) * H + j]
    if cell == MINGRU:
        if not log:
            ab[j] = z = sigm(ab[j])
            return one - z, z * _g(a_h, half)
        z, sp, spm = _sig_softplus(ab[j], one, zero)
        ab[j] = z                     # log(1 - z) = -softplus(a_z), log z = -softplus(-a_z)
        return -sp, -spm + _log_g(a_h, half, zero)
    if not log:
        ab[j] = i = sigm(ab[j])
        ab[H + j] = f = sigm(ab[H + j])
        return f / (f + i), i / (f + i) * _g(a_h, half)
    i, _, spm_i = _sig_softplus(ab[j], one, zero)
    f, _, spm_f = _sig_softplus(ab[H + j], one, zero)
    ab[j] = i
    ab[H + j] = f
    _, sp_d, spm_d = _sig_softplus(spm_f - spm_i, one, zero)     # d = log i - log f
    return -sp_d, -spm_d + _log_g(a_h, half, zero)


@njit(inline="always", error_model="numpy")
def _gate_grads(cell, ab, H, j, g_, hp, half, one):
    """dA for unit j from g_ = dL/dh_t and h_{t-1}, written over the gates in ab; returns the
    step's coefficient a_t (which carries g_ to the step before)."""
    gi = (_num_gates(cell) - 1) * H + j
    a_h = ab[gi]
    ht = _g(a_h, half)
    if cell == MINGRU:
        z = ab[j]
        ab[j] = g_ * (ht - hp) * z * (one - z)
        ab[gi] = g_ * z * _dg(a_h, ht, one)
        return one - z
    i, f = ab[j], ab[H + j]
    fp, ip = f / (f + i), i / (f + i)
    shared = g_ * (hp - ht) * fp * ip
    ab[j] = -shared * (one - i)
    ab[H + j] = shared * (one - f)
    ab[gi] = g_ * ip * _dg(a_h, ht, one)
    return fp


# ----- the time loops -----------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _fwd_rows(cell, log, A, h0, lens, y, Acum, hs, Acs, Ss, b0, b1):
    """Rows b0..b1-1 through all T steps. hs: the running h (B, H); in log mode Acs, Ss the
    running cumulative log coefficient and logsumexp, Acum (T, B, H) the former kept."""
    T = A.shape[0]
    H = y.shape[2]
    one = one_of(A)
    half, zero = one / (one + one), one - one
    for t in range(T):
        for b in range(b0, b1):
            ab = A[t, b]
            if t >= lens[b]:                         # past the row's end: carry, y = 0
                y[t, b, :] = zero
                if log:
                    Acum[t, b, :] = Acs[b]
                continue
            for j in range(H):
                ca, cb = _coefficients(cell, ab, H, j, log, half, one, zero)
                if log:
                    Ac = Acs[b, j] + ca
                    S = _logaddexp(Ss[b, j], cb - Ac)
                    Acs[b, j] = Ac
                    Ss[b, j] = S
                    Acum[t, b, j] = Ac
                    h = np.exp(Ac + S)
                    if h0[b, j] != zero:             # a zero start needs no exp(A_t) h_0
                        h += np.exp(Ac) * h0[b, j]
                else:
                    h = ca * hs[b, j] + cb
                hs[b, j] = h
                y[t, b, j] = h


@njit(cache=True, nogil=True, error_model="numpy")
def _bwd_rows(cell, log, A, dy, lens, y, h0, Acum, gs, Lp, Lm, b0, b1):
    """The reverse pass for rows b0..b1-1: dA over the gates in A. Recurrent: gs carries
    a_{t+1} g_{t+1}; log: Lp, Lm the running log sums of exp(A_s) dh_s, positive and negative."""
    T = A.shape[0]
    H = y.shape[2]
    one = one_of(A)
    half = one / (one + one)
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            ab = A[t, b]
            if t >= lens[b]:                         # padding: no gates, g passes through
                ab[:] = 0
                continue
            for j in range(H):
                hp = y[t - 1, b, j] if t > 0 else h0[b, j]
                v = dy[t, b, j]
                if log:
                    At = Acum[t, b, j]
                    if v > 0:
                        Lp[b, j] = _logaddexp(Lp[b, j], At + np.log(v))
                    elif v < 0:
                        Lm[b, j] = _logaddexp(Lm[b, j], At + np.log(-v))
                    g_ = np.exp(Lp[b, j] - At) - np.exp(Lm[b, j] - At)
                    _gate_grads(cell, ab, H, j, g_, hp, half, one)
                else:
                    g_ = v + gs[b, j]
                    gs[b, j] = _gate_grads(cell, ab, H, j, g_, hp, half, one) * g_


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _fwd_split(cell, log, A, h0, lens, y, Acum, hs, Acs, Ss, nsplit):
    """The forward with the rows split into nsplit blocks, one thread each."""
    B = A.shape[1]
    for p in prange(nsplit):
        _fwd_rows(cell, log, A, h0, lens, y, Acum, hs, Acs, Ss, p * B // nsplit,
                  (p + 1) * B // nsplit)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _bwd_split(cell, log, A, dy, lens, y, h0, Acum, gs, Lp, Lm, nsplit):
    B = A.shape[1]
    for p in prange(nsplit):
        _bwd_rows(cell, log, A, dy, lens, y, h0, Acum, gs, Lp, Lm, p * B // nsplit,
                  (p + 1) * B // nsplit)


# ----- the cell's forward and backward ------------------------------------------------------
def _mode_is_log(mode):
    if mode not in MODES:
        from ...errors import RnnlabError
        raise RnnlabError(f"mode must be 'parallel' or 'recurrent', got {mode!r}")
    return mode == "parallel"


def forward(cell, x, state, params, lengths=None, mode="parallel"):
    """Run the cell over x (T, B, D). Returns (y, h_n, cache)."""
    log = _mode_is_log(mode)
    dtype = check_dtype(x)
    x = as_dtype(x, dtype)
    T, B, D = x.shape
    w_ih = as_dtype(params["weight_ih"], dtype)
    GH = w_ih.shape[0]
    H = GH // (2 if cell == MINGRU else 3)
    bih = as_dtype(params["bias_ih"], dtype) if "bias_ih" in params else np.zeros(GH, dtype)
    h0 = np.zeros((B, H), dtype) if state is None else as_dtype(state, dtype)
    hs = h0.copy()
    lens = lengths_array(lengths, T, B)
    A = input_projection(x, w_ih, bih)
    y = np.empty((T, B, H), dtype)
    Acum = np.empty((T, B, H) if log else (0, 0, 0), dtype)
    Acs, Ss = np.zeros((B, H), dtype), np.full((B, H), -np.inf, dtype)
    args = (cell, log, A, h0, lens, y, Acum, hs, Acs, Ss)
    nsplit = scan_split(B, T * H)
    if forward_skipped():
        pass
    elif nsplit > 1 and ready(_fwd_split, args + (nsplit,)):
        _fwd_split(*args, nsplit)
    else:
        _fwd_rows(*args, 0, B)
    cache = dict(cell=cell, log=log, A=A, h=y, x=x, h0=h0, lens=lens, Acum=Acum,
                 params=params, w_ih=w_ih, used=False)
    return y, hs, cache


def _log_parts(v, A):
    """log of v's positive and negative parts, shifted by A (-inf where a part is 0)."""
    with np.errstate(divide="ignore"):
        return (A + np.log(np.where(v > 0, v, 0)), A + np.log(np.where(v < 0, -v, 0)))


def backward(dy, dstate_n, cache):
    """Backpropagate through time. Returns (dx, dh0, grads); consumes the cache."""
    use_cache_once(cache)
    x, A, y, params, log = cache["x"], cache["A"], cache["h"], cache["params"], cache["log"]
    dtype = x.dtype
    T, B, D = x.shape
    H = y.shape[2]
    dy = as_dtype(dy, dtype)
    dhn = np.zeros((B, H), dtype) if dstate_n is None else as_dtype(dstate_n, dtype)
    if log:      # dh_n enters at the last step, through the carried cumulative coefficient
        A_last = cache["Acum"][T - 1] if T else np.zeros((B, H), dtype)
        Lp, Lm = (np.ascontiguousarray(p, dtype) for p in _log_parts(dhn, A_last))
        gs = np.empty((0, 0), dtype)
    else:
        gs = dhn.copy()
        Lp = Lm = np.empty((0, 0), dtype)
    args = (cache["cell"], log, A, dy, cache["lens"], y, cache["h0"], cache["Acum"], gs, Lp, Lm)
    nsplit = scan_split(B, T * H)
    if nsplit > 1 and ready(_bwd_split, args + (nsplit,)):
        _bwd_split(*args, nsplit)
    else:
        _bwd_rows(*args, 0, B)
    dh0 = (np.exp(Lp) - np.exp(Lm)).astype(dtype, copy=False) if log else gs
    grads = input_weight_grads(params, x.reshape(T * B, D), A.reshape(T * B, -1))
    return input_grad(A, cache["w_ih"], x), dh0, grads


def input_weight_grads(params, x2, dax2):
    """weight_ih = dA^T X (``gemms.weight_grad``) and
    bias_ih, the column sums."""
    grads = {"weight_ih": weight_grad(x2, dax2)}
    if "bias_ih" in params:
        grads["bias_ih"] = dax2.sum(axis=0)
    return grads


# ----- generation ---------------------------------------------------------------------------
@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _step(cell, x, h, W, bias, ab):
    """One B=1 step in place on h (H,): ab = bias + x W (W = W_ih^T, (D, G*H)), then the
    recurrent update h = a h + b, unit by unit."""
    H = h.shape[0]
    copy_into(ab, bias)
    for k in range(x.shape[0]):
        s = x[k]
        wk = W[k]
        for j in range(ab.shape[0]):
            ab[j] += s * wk[j]
    one = one_of(h)
    half, zero = one / (one + one), one - one
    for j in range(H):
        ca, cb = _coefficients(cell, ab, H, j, False, half, one, zero)
        h[j] = ca * h[j] + cb


class Stepper:
    """Streaming generation: B = 1, one input vector at a time, no allocation per step, the
    weights transposed once. Steps the recurrent form whatever the layer's mode (the parallel
    form of one step is the same number). ``step`` returns the internal h (copy to keep)."""
    cell = None

    def __init__(self, params, dtype=np.float32, mode="parallel"):
        _mode_is_log(mode)
        self.dtype = dt = np.dtype(dtype)
        self.W = np.ascontiguousarray(np.asarray(params["weight_ih"], dt).T)
        GH = self.W.shape[1]
        self.H = GH // (2 if self.cell == MINGRU else 3)
        self.bias = (as_dtype(params["bias_ih"], dt) if "bias_ih" in params
                     else np.zeros(GH, dt))
        self.ab = np.empty(GH, dt)
        self.h = np.zeros(self.H, dt)

    def reset(self, h0=None):
        self.h[:] = 0 if h0 is None else h0

    def state(self):
        return (self.h.copy(),)

    def step(self, x_t):
        _step(self.cell, as_dtype(x_t, self.dtype), self.h, self.W, self.bias, self.ab)
        return self.h

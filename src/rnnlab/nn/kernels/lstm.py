"""Fused numba LSTM: the same ``forward``/``backward`` as ``rnnlab.nn.cells.lstm``, and a
``Stepper`` for one-token-at-a-time generation.

Forward: ``A = X W_ih^T + (b_ih + b_hh)`` for all steps as one GEMM, then one compiled time
loop: per step one product ``h_{t-1} W_hh^T`` (``panels.gemm_rows`` on W_hh^T packed once; for
big layers the units split over the threads, ``units``) and
one fused pass over (B, H) (``lstm_gates.gates_fwd``) that reads the four pre-activations,
writes the activated gates i, f, g, o back into A in place, and the new c, tanh(c), h.
Backward: one compiled loop that turns the gates into dA in place (same buffer,
``lstm_gates.gates_bwd``) with one product ``dA_t W_hh`` per step; then dW_ih = dA^T X,
dW_hh = dA[1:]^T H[:-1], dx = dA W_ih, db = sum(dA) as single GEMMs/reductions after the
loop (``gemms``).

Activations kept for backward per layer: ``T*B*6H`` numbers for the standard and peephole
LSTM (gates 4H, c, tanh c; 5H for the coupled one: gates 3H, c, tanh c) plus the output y
itself, which serves as h_{t-1}. The gate buffer is the input-projection buffer reused, and
``backward`` overwrites it with dA: a cache can be backpropagated once (a second call raises).

Cache (private; views, valid until backward): ``i f g o`` (coupled: ``f g o``), ``c``
(state after each step), ``tanh_c``, ``h`` (= y, zero past a row's length).
"""
import numpy as np
from numba import njit, prange

from ._common import as_dtype, bias_sum, lengths_array, pack_weights, take, use_cache_once
from ._common import release as _release
from .activations import one, sigm, tanh_
from .gemms import input_grad, input_projection, prepare_input, weight_grads
from .lstm_gates import gates_bwd, gates_fwd
from .panels import gemm_rows, pack
from .policy import batch_split, unit_split
from .tiles import matvec_packed
from .units import CELL_LSTM, bwd_units, fwd_units, pack_parts

TOKEN_INPUT = True     # forward/backward take a functional.TokenInput (gemms)
WORKSPACE = True       # forward takes workspace=; release(cache) gives its buffers back

VARIANTS = ("standard", "peephole", "coupled")
_VARIANT_CODE = {"standard": 0, "peephole": 1, "coupled": 2}


def num_gates(variant):
    return 3 if variant == "coupled" else 4


def _variant_code(variant):
    if variant not in _VARIANT_CODE:
        from ...errors import RnnlabError
        raise RnnlabError(f"variant: got {variant!r}, expected one of {VARIANTS}")
    return _VARIANT_CODE[variant]


@njit(cache=True, nogil=True, error_model="numpy")
def _fwd_loop(A, whp, wht, hs, lens, variant, wpi, wpf, wpo, cs, tcs, y, acc, b0, b1):
    """A: (T, B, GH) pre-activations -> activated gates, for batch rows b0..b1-1 (rows are
    independent). hs: (2B, H) rows 0..B-1 = h, B.. = c (initial state in, final state out).
    w_hhT: (H, GH) C-contiguous."""
    T, B, GH = A.shape
    H = hs.shape[1]
    h = hs[:B]
    for t in range(T):
        gemm_rows(h, whp, wht, acc, b0, b1)
        gates_fwd(A, acc, t, b0, b1, H, 0, H, lens, variant, wpi, wpf, wpo, cs, tcs, y, hs)


@njit(cache=True, nogil=True, error_model="numpy")
def _bwd_loop(A, whp, wht, dy, lens, variant, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs, tmp, b0, b1):
    """A: gates (T, B, GH) -> dA in place, rows b0..b1-1. dhs: (2B, H) = (dh, dc) from the
    future in, (dh0, dc0) out. w_hh: (GH, H). dwp: this row block's peephole gradients."""
    T, B, GH = A.shape
    H = dhs.shape[1]
    for t in range(T - 1, -1, -1):
        gates_bwd(A, dy, t, b0, b1, H, 0, H, lens, variant, wpi, wpf, wpo, dwp, cs, tcs, c0,
                  dhs)
        gemm_rows(A[t], whp, wht, tmp, b0, b1)
        for b in range(b0, b1):
            if t < lens[b]:
                dhs[b, :] = tmp[b]


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _fwd_split(A, whp, wht, hs, lens, variant, wpi, wpf, wpo, cs, tcs, y, acc, nsplit):
    """The forward recurrence with the batch split into nsplit row blocks, one thread each,
    each running the WHOLE time loop for its rows: no synchronisation per step."""
    B = A.shape[1]
    for p in prange(nsplit):
        _fwd_loop(A, whp, wht, hs, lens, variant, wpi, wpf, wpo, cs, tcs, y, acc,
                  p * B // nsplit, (p + 1) * B // nsplit)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _bwd_split(A, whp, wht, dy, lens, variant, wpi, wpf, wpo, dwps, cs, tcs, c0, dhs, tmp, nsplit):
    """Backward with the batch split like ``_fwd_split``; dwps: (nsplit, 3, H), one peephole
    gradient accumulator per block (summed by the caller)."""
    B = A.shape[1]
    for p in prange(nsplit):
        _bwd_loop(A, whp, wht, dy, lens, variant, wpi, wpf, wpo, dwps[p], cs, tcs, c0, dhs, tmp,
                  p * B // nsplit, (p + 1) * B // nsplit)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _step(x, W, bias, xh, acc, hc, variant, wpi, wpf, wpo):
    """One B=1 step in place: hc (2, H) = (h, c)."""
    H = hc.shape[1]
    h = hc[0]
    cb = hc[1]
    matvec_packed(x, h, W, bias, xh, acc)
    o1 = one(acc)
    if variant == 2:
        for j in range(H):
            f = sigm(acc[j])
            g = tanh_(acc[H + j])
            o = sigm(acc[2 * H + j])
            c = f * cb[j] + (o1 - f) * g
            cb[j] = c
            h[j] = o * tanh_(c)
    else:
        peep = variant == 1
        for j in range(H):
            cp = cb[j]
            ai = acc[j]
            af = acc[H + j]
            if peep:
                ai += wpi[j] * cp
                af += wpf[j] * cp
            c = sigm(af) * cp + sigm(ai) * tanh_(acc[2 * H + j])
            ao = acc[3 * H + j]
            if peep:
                ao += wpo[j] * c
            cb[j] = c
            h[j] = sigm(ao) * tanh_(c)


class Stepper:
    """Streaming LSTM for generation: B = 1, one input vector at a time, no allocation per
    step. The weights are packed once ([W_ih^T; W_hh^T], summed bias); each ``step`` is one
    compiled call (one pass over the packed weights plus the fused gate update).

    >>> s = Stepper(params); s.reset(); h = s.step(x_t)   # x_t: (D,); h: (H,)

    ``step`` returns the internal h buffer (overwritten by the next step; copy to keep it).
    """

    def __init__(self, params, dtype=np.float32, variant="standard"):
        self.variant = _variant_code(variant)
        self.dtype = np.dtype(dtype)
        self.W, self.bias = pack_weights(params, self.dtype)
        self.H = np.shape(params["weight_hh"])[1]
        self.wp = _peepholes(params, self.dtype, variant)
        self.D = self.W.shape[0] - self.H
        self.xh = np.empty(self.D + self.H, self.dtype)
        self.acc = np.empty(self.W.shape[1], self.dtype)
        self.hc = np.zeros((2, self.H), self.dtype)
        self.h = self.hc[0]

    def reset(self, h0=None, c0=None):
        """Start a new sequence from (h0, c0) (each (H,)), zeros when None."""
        self.hc[0] = 0 if h0 is None else h0
        self.hc[1] = 0 if c0 is None else c0

    def state(self):
        """(h, c) copies."""
        return self.hc[0].copy(), self.hc[1].copy()

    def step(self, x_t):
        """Advance one step with input x_t (D,) of the stepper's dtype; returns h (H,)."""
        _step(x_t, self.W, self.bias, self.xh, self.acc, self.hc, self.variant,
              self.wp[0], self.wp[1], self.wp[2])
        return self.h


def _peepholes(params, dtype, variant):
    """[w_pi, w_pf, w_po] of a peephole LSTM; 1-element placeholders for the others."""
    if variant == "peephole":
        return [as_dtype(params[k], dtype) for k in ("weight_pi", "weight_pf", "weight_po")]
    return [np.zeros(1, dtype)] * 3


def _stacked(pair, B, H, dtype):
    """(2B, H): rows 0..B-1 = pair[0] (h or dh), rows B.. = pair[1] (c or dc); zeros for a
    missing pair or part."""
    h, c = (None, None) if pair is None else pair
    hs = np.empty((2 * B, H), dtype)
    hs[:B] = 0 if h is None else h
    hs[B:] = 0 if c is None else c
    return hs


def forward(x, state, params, lengths=None, variant="standard", workspace=None):
    """Run the LSTM over x (T, B, D) (an array or a ``TokenInput``). Returns (y, (h_n, c_n),
    cache). workspace: a ``_common.Workspace`` for the internal buffers (``release``)."""
    code = _variant_code(variant)
    x, dtype = prepare_input(x)
    T, B, D = x.shape
    G = num_gates(variant)
    w_ih = as_dtype(params["weight_ih"], dtype)
    w_hh = as_dtype(params["weight_hh"], dtype)
    H = w_hh.shape[1]
    wp = _peepholes(params, dtype, variant)
    hs = _stacked(state, B, H, dtype)
    h0c = None if state is None or state[0] is None else hs[:B].copy()
    c0c = hs[B:].copy()
    lens = lengths_array(lengths, T, B)
    ws = workspace
    A = input_projection(x, w_ih, bias_sum(params, G * H, dtype), ws)
    cs = take(ws, (T, B, H), dtype)
    tcs = take(ws, (T, B, H), dtype)
    y = np.empty((T, B, H), dtype)
    nunits = unit_split(B, H, G, dtype.itemsize)
    if nunits > 1:
        pans, tails = pack_parts(w_hh, G, nunits, True, B < 4)
        fwd_units(CELL_LSTM, A, pans, tails, hs[:B].copy(),
                  np.empty((nunits, B, G * H // nunits), dtype), lens, code, wp[0], wp[1],
                  wp[2], wp[0], cs, tcs, y, hs, nunits)
    else:
        whp = pack(w_hh.T, ws, narrow=B < 4)
        args = (A, *whp, hs, lens, code, wp[0], wp[1], wp[2], cs, tcs, y,
                np.empty((B, G * H), dtype))
        nsplit = batch_split(B, H, G * H)
        if nsplit > 1:
            _fwd_split(*args, nsplit)
        else:
            _fwd_loop(*args, 0, B)
        if ws is not None:
            ws.give(*whp)
    cache = dict(A=A, c=cs, tanh_c=tcs, h=y, x=x, h0=h0c, c0=c0c, lens=lens, ws=ws,
                 variant=variant, params=params, w_ih=w_ih, w_hh=w_hh, wp=wp, used=False)
    names = "fgo" if variant == "coupled" else "ifgo"
    for k, n in enumerate(names):
        cache[n] = A[:, :, k * H:(k + 1) * H]
    return y, (hs[:B], hs[B:]), cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. Returns (dx, (dh0, dc0), grads); consumes the cache. For a
    ``TokenInput`` dx is the table's gradient (V, D), or None for one-hot."""
    use_cache_once(cache)
    x, A, y, variant, params = cache["x"], cache["A"], cache["h"], cache["variant"], cache["params"]
    dtype = x.dtype
    T, B, D = x.shape
    GH = A.shape[2]
    H = y.shape[2]
    dy = as_dtype(dy, dtype)
    dhs = _stacked(dstate_n, B, H, dtype)
    wp = cache["wp"]
    code = _VARIANT_CODE[variant]
    ws = cache["ws"]
    nunits = unit_split(B, H, GH // H, dtype.itemsize)
    if nunits > 1:
        dwp = np.zeros((3, H), dtype)
        pans, tails = pack_parts(cache["w_hh"], GH // H, nunits, False, B < 4)
        bwd_units(CELL_LSTM, A, A, pans, tails, dy, cache["lens"], code, wp[0], wp[1], wp[2],
                  dwp, cache["c"], cache["tanh_c"], cache["c0"], y, dhs,
                  np.empty((nunits, B, H // nunits), dtype), nunits)
    else:
        dwp = _bwd_rows(A, cache, dy, code, dhs, ws)
    grads, S = weight_grads(params, x, cache["h0"], y, A, A, ws)
    if variant == "peephole":
        grads["weight_pi"], grads["weight_pf"], grads["weight_po"] = dwp[0], dwp[1], dwp[2]
    dx = input_grad(A, cache["w_ih"], x, S, ws)
    release(cache)
    return dx, (dhs[:B], dhs[B:]), grads


def _bwd_rows(A, cache, dy, code, dhs, ws):
    """The backward loop on one thread or with the batch split; returns the peephole
    gradients (3, H)."""
    B, GH = A.shape[1], A.shape[2]
    H = GH // num_gates(cache["variant"])
    wp = cache["wp"]
    nsplit = batch_split(B, GH, H)
    dwps = np.zeros((nsplit, 3, H), A.dtype)
    whp = pack(cache["w_hh"], ws, narrow=B < 4)
    args = (A, *whp, dy, cache["lens"], code, wp[0], wp[1], wp[2])
    rest = (cache["c"], cache["tanh_c"], cache["c0"], dhs, np.empty((B, H), A.dtype))
    if nsplit > 1:
        _bwd_split(*args, dwps, *rest, nsplit)
    else:
        _bwd_loop(*args, dwps[0], *rest, 0, B)
    if ws is not None:
        ws.give(*whp)
    return dwps.sum(axis=0) if nsplit > 1 else dwps[0]


def release(cache):
    """Give the cache's gate and cell-state buffers back to its workspace (after backward, or
    when a forward's cache will never be backpropagated)."""
    _release(cache, ("A", "c", "tanh_c"))

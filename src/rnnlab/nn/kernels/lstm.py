"""Fused numba LSTM: the same ``forward``/``backward`` as ``rnnlab.nn.cells.lstm``, and a
``Stepper`` for one-token-at-a-time generation.

Forward: ``A = X W_ih^T`` for all steps as one GEMM, then one compiled time loop: per step
one product ``h_{t-1} W_hh^T`` (``panels.gemm_rows`` on W_hh^T packed once; for
big layers the units split over the threads, ``units``) and
one fused pass over (B, H) (``lstm_gates.fwd_standard`` or its variant's) that adds the bias
(b_ih + b_hh) to the four pre-activations,
writes the activated gates i, f, g, o back into A in place, and the new c, tanh(c), h.
Backward: one compiled loop that turns the gates into dA in place (same buffer,
``lstm_gates.bwd_*``) with one product ``dA_t W_hh`` per step; then dW_ih = dA^T X,
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
from numba import njit

from ._common import as_dtype, bias_sum, lengths_array, pack_weights, take, use_cache_once
from ._common import release as _release
from .activations import one, sigm, tanh_
from .gemms import input_grad, loop_projection, prepare_input, weight_grads
from .loops import plan, run_backward, run_forward
from .steps import LSTM_BWD, LSTM_FWD, make
from .tiles import matvec_packed

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
    parts = plan(B, H, G, dtype)
    xs, wip, A = loop_projection(x, w_ih, parts, dtype, ws)
    cs = take(ws, (T, B, H), dtype)
    tcs = take(ws, (T, B, H), dtype)
    y = np.empty((T, B, H), dtype)
    run_forward(make(LSTM_FWD[code], A=A, bias=bias_sum(params, G * H, dtype), xs=xs,
                     wip=wip[0], wit=wip[1], lens=lens, wpi=wp[0], wpf=wp[1], wpo=wp[2],
                     cs=cs, tcs=tcs, y=y, hs=hs), w_hh, G, ws, parts)
    if ws is not None and xs.shape[0] > 0:
        ws.give_unkept(*wip)
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
    G = GH // H
    dwps = np.zeros((plan(B, H, G, dtype)[1], 3, H), dtype)   # one per row block
    run_backward(make(LSTM_BWD[code], A=A, dAh=A, dy=dy, lens=cache["lens"], wpi=wp[0],
                      wpf=wp[1], wpo=wp[2], dwp=dwps, cs=cache["c"], tcs=cache["tanh_c"],
                      c0=cache["c0"], dhs=dhs), cache["w_hh"], G, ws)
    dwp = dwps.sum(axis=0) if dwps.shape[0] > 1 else dwps[0]
    grads, S = weight_grads(params, x, cache["h0"], y, A, A, ws)
    if variant == "peephole":
        grads["weight_pi"], grads["weight_pf"], grads["weight_po"] = dwp[0], dwp[1], dwp[2]
    dx = input_grad(A, cache["w_ih"], x, S, ws)
    release(cache)
    return dx, (dhs[:B], dhs[B:]), grads


def release(cache):
    """Give the cache's gate and cell-state buffers back to its workspace (after backward, or
    when a forward's cache will never be backpropagated)."""
    _release(cache, ("A", "c", "tanh_c"))

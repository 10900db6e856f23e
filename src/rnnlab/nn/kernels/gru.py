"""Fused numba GRU (PyTorch's convention): the same ``forward``/``backward`` as
``rnnlab.nn.cells.gru``, and a ``Stepper`` for one-token-at-a-time generation.

Forward: ``A = X W_ih^T + b_ih`` for all steps as one GEMM, then one compiled time loop: per
step one GEMM ``h_{t-1} W_hh^T`` and one fused pass over (B, H) that adds b_hh, computes
r, z, n, h and writes r, z, n back into A in place and hn = W_hn h + b_hn aside.
Backward: one compiled loop writing dA_x (in place into A) and dA_h (its n block is dA_n * r)
with one GEMM ``dA_h,t W_hh`` per step; then dW_ih = dA_x^T X, dW_hh = dA_h[1:]^T H[:-1],
dx = dA_x W_ih, biases by column sums.

Activations kept for backward per layer: ``T*B*4H`` numbers (r, z, n, hn) plus the output y
(= h). backward overwrites the gates with dA (a cache can be backpropagated once) and needs
``T*B*3H`` more for dA_h while it runs.

Cache (private; views, valid until backward): ``r z n hn``, ``h`` (= y, zero past a row's
length).
"""
import numpy as np
from numba import njit

from ._common import as_dtype, lengths_array, state_rows, take, use_cache_once
from ._common import release as _release
from .activations import one, sigm, tanh_
from .copies import copy_into
from .gemms import input_grad, input_projection, prepare_input, weight_grads
from .loops import run_backward, run_forward
from .rdrop_gates import dh0_through_product, mask_rows, masked_reads, true_h_n
from .steps import GruBwd, GruFwd, GruMaskedBwd, GruMaskedFwd, make

TOKEN_INPUT = True     # forward/backward take a functional.TokenInput (gemms)
WORKSPACE = True       # forward takes workspace=; release(cache) gives its buffers back


def forward(x, state, params, lengths=None, recurrent_mask=None, workspace=None):
    """Run the GRU over x (T, B, D) (an array or a ``TokenInput``). Returns (y, h_n, cache).
    recurrent_mask: (B, H) recurrent dropout's mask on h_{t-1} where it enters W_hh
    (``rdrop_gates``) or None; workspace: a ``_common.Workspace`` for the internal buffers
    (``release``)."""
    x, dtype = prepare_input(x)
    T, B, D = x.shape
    w_ih = as_dtype(params["weight_ih"], dtype)
    w_hh = as_dtype(params["weight_hh"], dtype)
    GH, H = w_hh.shape
    if "bias_ih" in params:
        bih, bhh = as_dtype(params["bias_ih"], dtype), as_dtype(params["bias_hh"], dtype)
    else:
        bih = bhh = np.zeros(GH, dtype)
    hs = state_rows(state, B, H, dtype)
    h0 = None if state is None else hs.copy()
    lens = lengths_array(lengths, T, B)
    ws = workspace
    A = input_projection(x, w_ih, bih, ws)
    hns = take(ws, (T, B, H), dtype)
    y = np.empty((T, B, H), dtype)
    mask = None if recurrent_mask is None else mask_rows(recurrent_mask, B, H, dtype)
    if mask is None:
        run_forward(make(GruFwd, A=A, bhh=bhh, lens=lens, hns=hns, y=y, hs=hs), w_hh, 3, ws)
    else:                              # the state rows hold d * h: h_n from y
        h_true0 = hs.copy()
        hs *= mask
        run_forward(make(GruMaskedFwd, A=A, bhh=bhh, lens=lens, hns=hns, y=y, hs=hs,
                         h0=h_true0, rmask=mask), w_hh, 3, ws)
        hs = true_h_n(y, lens, h_true0)
    cache = dict(A=A, hn=hns, h=y, x=x, h0=h0, lens=lens, params=params, w_ih=w_ih, w_hh=w_hh,
                 ws=ws, used=False, mask=mask)
    for k, n in enumerate("rzn"):
        cache[n] = A[:, :, k * H:(k + 1) * H]
    return y, hs, cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. Returns (dx, dh0, grads); consumes the cache."""
    use_cache_once(cache)
    x, A, y, params = cache["x"], cache["A"], cache["h"], cache["params"]
    dtype = x.dtype
    T, B, D = x.shape
    H = y.shape[2]
    dy = as_dtype(dy, dtype)
    dhs = state_rows(dstate_n, B, H, dtype)
    h0 = cache["h0"] if cache["h0"] is not None else np.zeros((B, H), dtype)
    ws = cache["ws"]
    dAh = take(ws, A.shape, dtype)
    mask, lens, h_read0, y_read = cache["mask"], cache["lens"], cache["h0"], y
    if mask is None:
        run_backward(make(GruBwd, A=A, dAh=dAh, dy=dy, lens=lens, hns=cache["hn"], y=y,
                          h0=h0, dhs=dhs), cache["w_hh"], 3, ws)
    else:                              # W_hh read d * h_{t-1}; the update read h_{t-1}
        dcarry = np.zeros((B, H), dtype)
        run_backward(make(GruMaskedBwd, A=A, dAh=dAh, dy=dy, lens=lens, hns=cache["hn"], y=y,
                          h0=h0, dhs=dhs, rmask=mask, dcarry=dcarry), cache["w_hh"], 3, ws)
        dhs = dh0_through_product(dhs, lens, mask, dcarry)
        h_read0, y_read = masked_reads(y, h_read0, mask, ws)
    grads, S = weight_grads(params, x, h_read0, y_read, A, dAh, ws)
    dx = input_grad(A, cache["w_ih"], x, S, ws)
    if ws is not None:
        ws.give(dAh, *(() if y_read is y else (y_read,)))
    release(cache)
    return dx, dhs, grads


def release(cache):
    """Give the cache's gate buffers back to its workspace (after backward, or when a
    forward's cache will never be backpropagated)."""
    _release(cache, ("A", "hn"))


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _step(x, h, Wx, Wh, bih, bhh, ax, ah):
    """One B=1 step in place on h (H,): two passes (input and recurrent parts stay apart
    because r multiplies only W_hn h + b_hn)."""
    H = h.shape[0]
    copy_into(ax, bih)
    for k in range(x.shape[0]):
        s = x[k]
        wk = Wx[k]
        for j in range(3 * H):
            ax[j] += s * wk[j]
    copy_into(ah, bhh)
    for k in range(H):
        s = h[k]
        wk = Wh[k]
        for j in range(3 * H):
            ah[j] += s * wk[j]
    o1 = one(h)
    for j in range(H):
        r = sigm(ax[j] + ah[j])
        z = sigm(ax[H + j] + ah[H + j])
        n = tanh_(ax[2 * H + j] + r * ah[2 * H + j])
        h[j] = (o1 - z) * n + z * h[j]


class Stepper:
    """Streaming GRU for generation: B = 1, one input vector at a time, no allocation per
    step; weights transposed once. ``step`` returns the internal h buffer (copy to keep)."""

    def __init__(self, params, dtype=np.float32):
        self.dtype = dt = np.dtype(dtype)
        self.Wx = np.ascontiguousarray(np.asarray(params["weight_ih"], dt).T)
        self.Wh = np.ascontiguousarray(np.asarray(params["weight_hh"], dt).T)
        H3 = self.Wh.shape[1]
        self.H = H3 // 3
        if "bias_ih" in params:
            self.bih = as_dtype(params["bias_ih"], dt)
            self.bhh = as_dtype(params["bias_hh"], dt)
        else:
            self.bih = self.bhh = np.zeros(H3, dt)
        self.ax = np.empty(H3, dt)
        self.ah = np.empty(H3, dt)
        self.h = np.zeros(self.H, dt)

    def reset(self, h0=None):
        self.h[:] = 0 if h0 is None else h0

    def state(self):
        return (self.h.copy(),)

    def step(self, x_t):
        _step(x_t, self.h, self.Wx, self.Wh, self.bih, self.bhh, self.ax, self.ah)
        return self.h

"""Fused numba Elman RNN (tanh or relu): the same ``forward``/``backward`` as
``rnnlab.nn.cells.rnn``, and a ``Stepper`` for one-token-at-a-time generation.

Forward: ``A = X W_ih^T + (b_ih + b_hh)`` as one GEMM, then one compiled time loop: per step
one GEMM ``h_{t-1} W_hh^T`` and one fused pass applying the nonlinearity. Backward: one
compiled loop computing dA with one GEMM ``dA_t W_hh`` per step, then dW_ih = dA^T X,
dW_hh = dA[1:]^T H[:-1], dx = dA W_ih, db as single GEMMs/reductions.

Activations kept for backward per layer: none beyond the output y itself (``T*B*H``, = h;
the derivative of tanh/relu is read off h). backward allocates dA (``T*B*H``) while it runs.

Cache (private): ``h`` (= y, zero past a row's length).
"""
import numpy as np
from numba import njit

from ._common import as_dtype, bias_sum, lengths_array, pack_weights, state_rows, take
from .activations import one, tanh_
from .gemms import input_grad, input_projection, prepare_input, weight_grads
from .loops import run_backward, run_forward
from .rdrop_gates import dh0_through_product, mask_rows, masked_reads, true_h_n
from .steps import RnnBwd, RnnFwd, RnnMaskedBwd, RnnMaskedFwd, make
from .tiles import matvec_packed

TOKEN_INPUT = True     # forward/backward take a functional.TokenInput (gemms)
WORKSPACE = True       # forward takes workspace=; release(cache) gives its buffers back

NONLINEARITIES = ("tanh", "relu")


def _relu_flag(nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        from ...errors import RnnlabError
        raise RnnlabError(f"nonlinearity: got {nonlinearity!r}, expected one of "
                          f"{NONLINEARITIES}")
    return nonlinearity == "relu"


def forward(x, state, params, lengths=None, nonlinearity="tanh", recurrent_mask=None,
            workspace=None):
    """Run the RNN over x (T, B, D) (an array or a ``TokenInput``). Returns (y, h_n, cache).
    recurrent_mask: (B, H) recurrent dropout's mask on h_{t-1} (``rdrop_gates``) or None;
    workspace: a ``_common.Workspace`` for the internal buffers."""
    relu = _relu_flag(nonlinearity)
    x, dtype = prepare_input(x)
    T, B, D = x.shape
    w_ih = as_dtype(params["weight_ih"], dtype)
    w_hh = as_dtype(params["weight_hh"], dtype)
    H = w_hh.shape[1]
    hs = state_rows(state, B, H, dtype)
    h0 = None if state is None else hs.copy()
    lens = lengths_array(lengths, T, B)
    ws = workspace
    A = input_projection(x, w_ih, bias_sum(params, H, dtype), ws)
    y = np.empty((T, B, H), dtype)
    mask = None if recurrent_mask is None else mask_rows(recurrent_mask, B, H, dtype)
    if mask is None:
        run_forward(make(RnnFwd, A=A, lens=lens, relu=relu, y=y, hs=hs), w_hh, 1, ws)
    else:                              # the state rows hold d * h: h_n from y
        hs *= mask
        run_forward(make(RnnMaskedFwd, A=A, lens=lens, relu=relu, y=y, hs=hs, rmask=mask),
                    w_hh, 1, ws)
        hs = true_h_n(y, lens, np.zeros((B, H), dtype) if h0 is None else h0)
    if ws is not None:                 # backward reads only y: A is dead already
        ws.give(A)
    cache = dict(h=y, x=x, h0=h0, lens=lens, params=params, w_ih=w_ih, w_hh=w_hh, relu=relu,
                 ws=ws, mask=mask)
    return y, hs, cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. Returns (dx, dh0, grads)."""
    x, y, params = cache["x"], cache["h"], cache["params"]
    dtype = x.dtype
    T, B, D = x.shape
    H = y.shape[2]
    dy = as_dtype(dy, dtype)
    dhs = state_rows(dstate_n, B, H, dtype)
    ws = cache["ws"]
    dA = take(ws, (T, B, H), dtype)
    mask, lens, h0, y_read = cache["mask"], cache["lens"], cache["h0"], y
    if mask is None:
        run_backward(make(RnnBwd, A=dA, dAh=dA, dy=dy, y=y, lens=lens, relu=cache["relu"],
                          dhs=dhs), cache["w_hh"], 1, ws)
    else:                              # W_hh read d * h_{t-1}
        run_backward(make(RnnMaskedBwd, A=dA, dAh=dA, dy=dy, y=y, lens=lens,
                          relu=cache["relu"], dhs=dhs, rmask=mask), cache["w_hh"], 1, ws)
        dhs = dh0_through_product(dhs, lens, mask)
        h0, y_read = masked_reads(y, h0, mask, ws)
    grads, S = weight_grads(params, x, h0, y_read, dA, dA, ws)
    dx = input_grad(dA, cache["w_ih"], x, S, ws)
    if ws is not None:
        ws.give(dA, *(() if y_read is y else (y_read,)))
    return dx, dhs, grads


def release(cache):
    """Nothing to give back: the RNN's cache holds no workspace buffer (backward reads y)."""


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _step(x, h, W, bias, xh, acc, relu):
    matvec_packed(x, h, W, bias, xh, acc)
    z = one(h) - one(h)
    if relu:
        for j in range(h.shape[0]):
            h[j] = max(acc[j], z)
    else:
        for j in range(h.shape[0]):
            h[j] = tanh_(acc[j])


class Stepper:
    """Streaming RNN for generation: B = 1, one input vector at a time, no allocation per
    step; weights packed once. ``step`` returns the internal h buffer (copy to keep)."""

    def __init__(self, params, dtype=np.float32, nonlinearity="tanh"):
        self.relu = _relu_flag(nonlinearity)
        self.dtype = np.dtype(dtype)
        self.W, self.bias = pack_weights(params, self.dtype)
        self.H = self.W.shape[1]
        self.xh = np.empty(self.W.shape[0], self.dtype)
        self.acc = np.empty(self.H, self.dtype)
        self.h = np.zeros(self.H, self.dtype)

    def reset(self, h0=None):
        self.h[:] = 0 if h0 is None else h0

    def state(self):
        return (self.h.copy(),)

    def step(self, x_t):
        _step(x_t, self.h, self.W, self.bias, self.xh, self.acc, self.relu)
        return self.h

"""Fused numba sLSTM: the same ``forward``/``backward`` as ``rnnlab.nn.cells.slstm``, and a
``Stepper`` for one-token-at-a-time generation.

Forward: ``A = X W_ih^T + b`` for all steps as one GEMM (rows permuted once to the head-major
layout of slstm_gates.py), then one compiled time loop: per step one register-tiled product
``h_{t-1}[head] R[head]`` per head (``tiles.matmul_rows``) and one fused pass over (B, H)
(``slstm_gates.gates_fwd``) that writes i', f', z, o back into A and the new c, n, m, h.
Backward: one compiled loop that turns the gates into dA in place (``gates_bwd``) with one
product ``dA_t[head] R[head]`` per head and step; then dW_ih = dA^T X, dR per head =
dA[head]^T H_{t-1}[head], dx = dA W_ih, db = sum(dA), after the loop (``gemms``).

Activations kept for backward per layer: ``T*B*9H`` numbers (gates 4H, c, n, m, log i, log f)
plus the output y, which serves as h_{t-1}. backward overwrites the gates with dA: a cache
can be backpropagated once (a second call raises).

Cache (private; views, valid until backward): ``i_s f_s z o`` (head-major columns of A),
``c n m`` (the state after each step), ``log_i log_f``, ``h`` (= y, zero past a row's end).
"""
import math

import numpy as np
from numba import njit, prange

from ._common import as_dtype, check_dtype, forward_skipped, lengths_array, use_cache_once
from .activations import one, sigm, tanh_
from .background import ready
from .copies import copy_into
from .gemms import input_grad, input_projection, weight_grad
from .policy import batch_split
from .slstm_gates import gates_bwd, gates_fwd, log_sigmoid
from .tiles import matmul_rows, matvec_packed

FORGET_GATES = ("sigmoid", "exp")


def _exp_forget(forget_gate):
    if forget_gate not in FORGET_GATES:
        from ...errors import RnnlabError
        raise RnnlabError(f"forget_gate: got {forget_gate!r}, expected 'sigmoid' or 'exp'")
    return forget_gate == "exp"


def head_major(H, d):
    """The permutation of the 4H gate-major rows (gate g, unit j -> g*H + j) into head-major
    order (head j: its i, f, z, o blocks of d units)."""
    heads = H // d
    g, j, u = np.meshgrid(np.arange(4), np.arange(heads), np.arange(d), indexing="ij")
    return (g * H + j * d + u).transpose(1, 0, 2).reshape(-1)


@njit(cache=True, nogil=True, error_model="numpy")
def _fwd_loop(A, Rt, st, lens, exp_f, cs, ns, ms, lis, lfs, y, acc, b0, b1):
    """Rows b0..b1-1 through all T steps. Rt: (heads, d, 4d) per-head recurrent weights;
    acc: (heads, B, 4d) scratch."""
    T = A.shape[0]
    heads, d = Rt.shape[0], Rt.shape[1]
    h = st[0]
    for t in range(T):
        for j in range(heads):
            matmul_rows(h[:, j * d:(j + 1) * d], Rt[j], acc[j], b0, b1)
        for b in range(b0, b1):
            if t < lens[b]:
                gates_fwd(A, acc, t, b, heads, d, exp_f, st, cs, ns, ms, lis, lfs, y)
            else:                                    # padding: carry the state, y = 0
                A[t, b, :] = 0
                copy_into(cs[t, b], st[1, b])
                copy_into(ns[t, b], st[2, b])
                copy_into(ms[t, b], st[3, b])
                lis[t, b, :] = 0
                lfs[t, b, :] = 0
                y[t, b, :] = 0


@njit(cache=True, nogil=True, error_model="numpy")
def _bwd_loop(A, R, dy, lens, exp_f, ds, cs, ns, ms, lis, lfs, s0, tmp, b0, b1):
    """Rows b0..b1-1 back through all T steps. R: (heads, 4d, d); tmp: (heads, B, d)."""
    T = A.shape[0]
    heads, d = R.shape[0], R.shape[2]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            if t < lens[b]:
                gates_bwd(A, dy, t, b, heads, d, exp_f, ds, cs, ns, ms, lis, lfs, s0)
            else:
                A[t, b, :] = 0
        for j in range(heads):
            matmul_rows(A[t][:, 4 * d * j:4 * d * (j + 1)], R[j], tmp[j], b0, b1)
        for b in range(b0, b1):
            if t < lens[b]:                          # dh_{t-1} = R^T dA_t (h feeds the gates)
                for j in range(heads):
                    copy_into(ds[0, b, j * d:(j + 1) * d], tmp[j, b])


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _fwd_split(A, Rt, st, lens, exp_f, cs, ns, ms, lis, lfs, y, acc, nsplit):
    """The forward with the batch split into nsplit row blocks, one thread each running the
    whole time loop for its rows (no synchronisation per step)."""
    B = A.shape[1]
    for p in prange(nsplit):
        _fwd_loop(A, Rt, st, lens, exp_f, cs, ns, ms, lis, lfs, y, acc,
                  p * B // nsplit, (p + 1) * B // nsplit)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _bwd_split(A, R, dy, lens, exp_f, ds, cs, ns, ms, lis, lfs, s0, tmp, nsplit):
    B = A.shape[1]
    for p in prange(nsplit):
        _bwd_loop(A, R, dy, lens, exp_f, ds, cs, ns, ms, lis, lfs, s0, tmp,
                  p * B // nsplit, (p + 1) * B // nsplit)


def _state(parts, B, H, dtype):
    """(4, B, H) from (h, c, n, m) (any part None = zeros) or None."""
    st = np.zeros((4, B, H), dtype)
    for k, s in enumerate((None,) * 4 if parts is None else parts):
        if s is not None:
            st[k] = s
    return st


def forward(x, state, params, lengths=None, forget_gate="sigmoid"):
    """Run the sLSTM over x (T, B, D). Returns (y, (h_n, c_n, n_n, m_n), cache)."""
    exp_f = _exp_forget(forget_gate)
    dtype = check_dtype(x)
    x = as_dtype(x, dtype)
    T, B, D = x.shape
    w_ih = as_dtype(params["weight_ih"], dtype)
    w_hh = as_dtype(params["weight_hh"], dtype)
    H, d = w_ih.shape[0] // 4, w_hh.shape[1]
    heads = H // d
    perm = head_major(H, d)
    bias = as_dtype(params["bias"], dtype)[perm] if "bias" in params else np.zeros(4 * H, dtype)
    w_ih_hm = np.ascontiguousarray(w_ih[perm])
    R = np.ascontiguousarray(w_hh[perm].reshape(heads, 4 * d, d))
    st = _state(state, B, H, dtype)
    s0 = st.copy()
    lens = lengths_array(lengths, T, B)
    A = input_projection(x, w_ih_hm, bias)
    cs, ns, ms, lis, lfs, y = (np.empty((T, B, H), dtype) for _ in range(6))
    args = (A, np.ascontiguousarray(R.transpose(0, 2, 1)), st, lens, exp_f, cs, ns, ms, lis,
            lfs, y, np.empty((heads, B, 4 * d), dtype))
    nsplit = batch_split(B, d, 4 * H)
    if forward_skipped():
        pass
    elif nsplit > 1 and ready(_fwd_split, args + (nsplit,)):   # else one thread, same bits
        _fwd_split(*args, nsplit)
    else:
        _fwd_loop(*args, 0, B)
    cache = dict(A=A, c=cs, n=ns, m=ms, log_i=lis, log_f=lfs, h=y, x=x, s0=s0, lens=lens,
                 exp_f=exp_f, params=params, perm=perm, w_ih=w_ih_hm, R=R, used=False)
    A4 = A.reshape(T, B, heads, 4, d)
    for k, name in enumerate(("i_s", "f_s", "z", "o")):
        cache[name] = A4[:, :, :, k]                 # (T, B, heads, d): head-major views
    return y, (st[0], st[1], st[2], st[3]), cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. Returns (dx, (dh0, dc0, dn0, dm0), grads); consumes the
    cache."""
    use_cache_once(cache)
    x, A, y, R = cache["x"], cache["A"], cache["h"], cache["R"]
    dtype = x.dtype
    T, B, D = x.shape
    heads, d = R.shape[0], R.shape[2]
    H = heads * d
    ds = _state(dstate_n, B, H, dtype)
    nsplit = batch_split(B, 4 * d, H)
    args = (A, R, as_dtype(dy, dtype), cache["lens"], cache["exp_f"], ds, cache["c"],
            cache["n"], cache["m"], cache["log_i"], cache["log_f"], cache["s0"],
            np.empty((heads, B, d), dtype))
    if nsplit > 1 and ready(_bwd_split, args + (nsplit,)):
        _bwd_split(*args, nsplit)
    else:
        _bwd_loop(*args, 0, B)
    return input_grad(A, cache["w_ih"], x), (ds[0], ds[1], ds[2], ds[3]), \
        _weight_grads(cache, A, y)


def _weight_grads(cache, A, y):
    """dW_ih, dW_hh (the diagonal blocks only) and db, back in the gate-major row order."""
    x, perm, params = cache["x"], cache["perm"], cache["params"]
    T, B, D = x.shape
    H = y.shape[2]
    heads = cache["R"].shape[0]
    d = H // heads
    inv = np.argsort(perm)
    dA = A.reshape(T * B, 4 * H)
    h_prev = np.concatenate([cache["s0"][0][None], y[:-1]]).reshape(T * B, H)
    dR = np.stack([weight_grad(h_prev[:, j * d:(j + 1) * d], dA[:, 4 * d * j:4 * d * (j + 1)])
                   for j in range(heads)])                     # (heads, 4d, d)
    grads = {"weight_ih": weight_grad(x.reshape(T * B, D), dA)[inv],
             "weight_hh": dR.reshape(4 * H, d)[inv]}
    if "bias" in params:
        grads["bias"] = dA.sum(axis=0)[inv]
    return grads


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _step(x, W, bias, xh, acc, st, exp_f):
    """One B=1 step in place: st (4, H) = (h, c, n, m); acc: the 4H gate-major
    pre-activations ([x, h] @ W + b)."""
    H = st.shape[1]
    matvec_packed(x, st[0], W, bias, xh, acc)
    for k in range(H):
        log_i = acc[k]
        af = acc[H + k]
        log_f = af if exp_f else log_sigmoid(af)
        keep = log_f + st[3, k]
        if keep >= log_i:                      # one exp: the winner's gate is exp(0) = 1
            m_new, f_s, i_s = keep, one(st), math.exp(log_i - keep)
        else:
            m_new, i_s, f_s = log_i, one(st), math.exp(keep - log_i)
        c = f_s * st[1, k] + i_s * tanh_(acc[2 * H + k])
        n = f_s * st[2, k] + i_s
        st[1, k] = c
        st[2, k] = n
        st[3, k] = m_new
        st[0, k] = sigm(acc[3 * H + k]) * (c / n)


class Stepper:
    """Streaming sLSTM for generation: B = 1, one input vector at a time, no allocation per
    step. The weights are packed once ([W_ih^T; R^T] with the block-diagonal R written out),
    so each ``step`` is one compiled call.

    >>> s = Stepper(params, np.float32, forget_gate="sigmoid"); s.reset(); h = s.step(x_t)

    ``step`` returns the internal h buffer (overwritten by the next step; copy to keep it).
    """

    def __init__(self, params, dtype=np.float32, forget_gate="sigmoid"):
        self.exp_f = _exp_forget(forget_gate)
        self.dtype = dt = np.dtype(dtype)
        w_ih = np.asarray(params["weight_ih"], dt)
        w_hh = np.asarray(params["weight_hh"], dt)
        H, d = w_ih.shape[0] // 4, w_hh.shape[1]
        R = np.zeros((4 * H, H), dt)                 # the block-diagonal matrix, written out
        for r in range(4 * H):
            j = (r % H) // d
            R[r, j * d:(j + 1) * d] = w_hh[r]
        self.W = np.ascontiguousarray(np.concatenate([w_ih.T, R.T], axis=0))
        self.bias = as_dtype(params["bias"], dt) if "bias" in params else np.zeros(4 * H, dt)
        self.xh = np.empty(self.W.shape[0], dt)
        self.acc = np.empty(4 * H, dt)
        self.st = np.zeros((4, H), dt)
        self.h = self.st[0]

    def reset(self, h0=None, c0=None, n0=None, m0=None):
        """Start a new sequence from (h0, c0, n0, m0) (each (H,)), zeros when None."""
        for k, s in enumerate((h0, c0, n0, m0)):
            self.st[k] = 0 if s is None else s

    def state(self):
        """(h, c, n, m) copies."""
        return tuple(self.st[k].copy() for k in range(4))

    def step(self, x_t):
        """Advance one step with input x_t (D,) of the stepper's dtype; returns h (H,)."""
        _step(x_t, self.W, self.bias, self.xh, self.acc, self.st, self.exp_f)
        return self.h

"""Pieces the mLSTM's two forms share (mlstm.py: the recurrent form and the equations;
mlstm_parallel.py: the parallel form): the input projection and its backward, the initial
state, and the cache's (T, B, H) gates.

Shapes: x (T, B, D); per head q, k, v (T, B, heads, d), d = H/heads; per-head gates
(T, B, heads).
"""
import math

import numpy as np

from ..functional import sigmoid
from ._common import zeros_or
from .slstm import dlog_forget, log_forget


def sizes(params, num_heads):
    """(H, d): hidden units and units per head, from weight_ih (4H + 2 heads, D)."""
    H = (params["weight_ih"].shape[0] - 2 * num_heads) // 4
    return H, H // num_heads


def project(x, params, num_heads, forget_gate):
    """The pre-activations of every step as one GEMM, split: q, k (scaled), v (T, B, heads, d),
    o (T, B, H) (activated), log_i, log_f (T, B, heads)."""
    T, B, D = x.shape
    H, d = sizes(params, num_heads)
    A = (x.reshape(T * B, D) @ params["weight_ih"].T).reshape(T, B, -1)
    if "bias" in params:
        A += params["bias"]
    heads = lambda a: a.reshape(T, B, num_heads, d)          # noqa: E731
    return dict(q=heads(A[..., :H]), k=heads(A[..., H:2 * H]) / math.sqrt(d),
                v=heads(A[..., 2 * H:3 * H]), o=sigmoid(A[..., 3 * H:4 * H]),
                log_i=A[..., 4 * H:4 * H + num_heads],
                log_f=log_forget(A[..., 4 * H + num_heads:], forget_gate))


def project_backward(x, params, g, dq, dk, dv, do, dlog_i, dlog_f, forget_gate):
    """Back through `project`: (dx (T, B, D), grads). dq, dk, dv (T, B, heads, d), do (T, B, H)
    (w.r.t. o itself), dlog_i, dlog_f (T, B, heads)."""
    T, B, D = x.shape
    H, d = g["o"].shape[2], dq.shape[3]
    da_f = dlog_f * dlog_forget(g["log_f"], forget_gate)
    dA = np.concatenate([dq.reshape(T, B, H), dk.reshape(T, B, H) / math.sqrt(d),
                         dv.reshape(T, B, H), do * g["o"] * (1 - g["o"]), dlog_i, da_f], axis=2)
    dA2 = dA.reshape(T * B, -1)
    grads = {"weight_ih": dA2.T @ x.reshape(T * B, D)}
    if "bias" in params:
        grads["bias"] = dA2.sum(axis=0)
    return (dA2 @ params["weight_ih"]).reshape(T, B, D), grads


def per_unit(a, d):
    """A per-head quantity (..., heads) repeated over each head's d units: (..., heads * d)."""
    return np.repeat(a, d, axis=-1)


def initial_state(state, B, H, num_heads, dtype):
    """(C0 (B, heads, d, d), n0 (B, heads, d), m0 (B, heads)), zeros where None."""
    d = H // num_heads
    C0, n0, m0 = (None,) * 3 if state is None else state
    return (zeros_or(C0, (B, num_heads, d, d), dtype),
            zeros_or(n0, (B, H), dtype).reshape(B, num_heads, d),
            zeros_or(m0, (B, num_heads), dtype))


def add_gates(cache, y, h_tilde, n):
    """Put the GATES into the cache, each (T, B, H): y, h~ (T, B, heads, d), n (T, B, heads, d),
    and the per-head gates repeated over their heads' units."""
    g = cache["g"]
    T, B, H = y.shape
    d = H // cache["heads"]
    cache.update(h=y, h_tilde=h_tilde.reshape(T, B, H), n=n.reshape(T, B, H), o=g["o"],
                 i_s=per_unit(cache["ig"], d), f_s=per_unit(cache["fg"], d),
                 log_i=per_unit(g["log_i"], d), log_f=per_unit(g["log_f"], d),
                 **{name: g[name].reshape(T, B, H) for name in "qkv"})

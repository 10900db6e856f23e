"""numba kernels of the NADE head (rnnlab.nn.nade): the exact NLL of a multi-hot frame with its
gradient in one pass per row, and the pitch-by-pitch sampler.

Rows are independent given their biases (the RNN's output at each step), so the rows are split
into chunks run in parallel; each chunk sums its own dW, dV (no shared writes), added at the
end. One row's forward keeps its P hidden vectors (P x Hn) for the backward pass that follows
at once, so nothing of size N x P x Hn is ever stored. The math is NADE's (Larochelle &
Murray 2011), written out in rnnlab.nn.nade.
"""
import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, error_model="numpy")
def _sigm(x):
    return 1.0 / (1.0 + np.exp(-x))


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def nade_nll_grad(bv, bh, v, w, W, V, nchunk, want_grad):
    """bv (N, P), bh (N, Hn), v (N, P) targets, w (N,) row weights (0: skipped), W, V (P, Hn).
    Returns nll (N,) (unweighted), and with want_grad: dbv (N, P), dbh (N, Hn) (weighted by
    w), dW, dV (P, Hn) (sums of the weighted rows)."""
    N, P = bv.shape
    Hn = bh.shape[1]
    nll = np.zeros(N, bv.dtype)
    dbv = np.zeros((N, P) if want_grad else (0, P), bv.dtype)
    dbh = np.zeros((N, Hn) if want_grad else (0, Hn), bv.dtype)
    dW = np.zeros((nchunk, P, Hn) if want_grad else (nchunk, 0, 0), bv.dtype)
    dV = np.zeros((nchunk, P, Hn) if want_grad else (nchunk, 0, 0), bv.dtype)
    for c in prange(nchunk):
        hid = np.empty((P, Hn), bv.dtype)
        a = np.empty(Hn, bv.dtype)
        acc = np.empty(Hn, bv.dtype)
        dz = np.empty(P, bv.dtype)
        for n in range(c * N // nchunk, (c + 1) * N // nchunk):
            if w[n] == 0:
                continue
            for j in range(Hn):
                a[j] = bh[n, j]
            s = 0.0
            for p in range(P):
                z = bv[n, p]
                for j in range(Hn):
                    h = _sigm(a[j])
                    hid[p, j] = h
                    z += V[p, j] * h
                vp = v[n, p]
                s += max(z, 0.0) + np.log1p(np.exp(-abs(z))) - vp * z   # -log p(v_p | v_<p)
                dz[p] = (_sigm(z) - vp) * w[n]
                if vp != 0:
                    for j in range(Hn):
                        a[j] += vp * W[p, j]
            nll[n] = s
            if not want_grad:
                continue
            for j in range(Hn):
                acc[j] = 0.0
            for p in range(P - 1, -1, -1):
                vp = v[n, p]
                if vp != 0:                        # a_q for q > p holds v_p W[p]
                    for j in range(Hn):
                        dW[c, p, j] += vp * acc[j]
                g = dz[p]
                dbv[n, p] = g
                for j in range(Hn):
                    h = hid[p, j]
                    dV[c, p, j] += g * h
                    acc[j] += g * V[p, j] * h * (1.0 - h)
            for j in range(Hn):
                dbh[n, j] = acc[j]
    if want_grad:
        return nll, dbv, dbh, dW.sum(axis=0), dV.sum(axis=0)
    return nll, dbv, dbh, dW[0], dV[0]


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def nade_sample(bv, bh, W, V, u, temperature, nchunk):
    """One chord per row, pitch by pitch: pitch p is on when u[n, p] < sigmoid(z_p / T) (T > 0)
    or when z_p >= 0 (T = 0, the greedy chord), z_p given the pitches already chosen.
    Returns (N, P) of 0/1 in bv's dtype."""
    N, P = bv.shape
    Hn = bh.shape[1]
    out = np.zeros((N, P), bv.dtype)
    for c in prange(nchunk):
        a = np.empty(Hn, bv.dtype)
        for n in range(c * N // nchunk, (c + 1) * N // nchunk):
            for j in range(Hn):
                a[j] = bh[n, j]
            for p in range(P):
                z = bv[n, p]
                for j in range(Hn):
                    z += V[p, j] * _sigm(a[j])
                on = z >= 0 if temperature == 0 else u[n, p] < _sigm(z / temperature)
                if on:
                    out[n, p] = 1
                    for j in range(Hn):
                        a[j] += W[p, j]
    return out

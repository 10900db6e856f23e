"""The fused per-row gate passes of the GRU (``gru``) and the Elman RNN (``rnn``), for the
units j0..j1-1 of one row (all of them in the single-thread and batch-split loops, one
thread's share in ``units``). Same equations as ``rnnlab.nn.cells.gru`` / ``.rnn``; the
LSTM's are in ``lstm_gates``.
"""
from numba import njit

from .activations import one, sigm, tanh_


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gru_fwd(A, r_, bhh, t, b, H, j0, j1, hns, y, hs):
    """Row b of step t, units j0..j1-1; r_: the recurrent product, gate k of unit j at
    r_[k*(j1-j0) + j-j0]."""
    a = A[t, b]
    n_ = j1 - j0
    hb = hs[b]
    hn_t = hns[t, b]
    yt = y[t, b]
    o1 = one(A)
    for j in range(j0, j1):
        r = sigm(a[j] + r_[j - j0] + bhh[j])
        z = sigm(a[H + j] + r_[n_ + j - j0] + bhh[H + j])
        hn = r_[2 * n_ + j - j0] + bhh[2 * H + j]
        n = tanh_(a[2 * H + j] + r * hn)
        h = (o1 - z) * n + z * hb[j]
        a[j] = r
        a[H + j] = z
        a[2 * H + j] = n
        hn_t[j] = hn
        yt[j] = h
        hb[j] = h


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gru_bwd(A, dAh, dy, t, b, H, j0, j1, hns, y, h0, dhs):
    a = A[t, b]
    dah = dAh[t, b]
    dyt = dy[t, b]
    dh_b = dhs[b]
    hn_t = hns[t, b]
    hp = y[t - 1, b] if t > 0 else h0[b]
    o1 = one(A)
    for j in range(j0, j1):
        r = a[j]
        z = a[H + j]
        n = a[2 * H + j]
        dh = dyt[j] + dh_b[j]
        dan = dh * (o1 - z) * (o1 - n * n)
        dar = dan * hn_t[j] * r * (o1 - r)
        daz = dh * (hp[j] - n) * z * (o1 - z)
        a[j] = dar
        a[H + j] = daz
        a[2 * H + j] = dan
        dah[j] = dar
        dah[H + j] = daz
        dah[2 * H + j] = dan * r
        dh_b[j] = dh * z                     # the direct path h_t = ... + z * h_{t-1}


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def rnn_fwd(A, r, t, b, H, j0, j1, relu, y, hs):
    """Row b of step t, units j0..j1-1; r: the recurrent product, unit j at r[j-j0]."""
    a = A[t, b]
    yt = y[t, b]
    hb = hs[b]
    z = one(A) - one(A)
    if relu:
        for j in range(j0, j1):
            h = max(a[j] + r[j - j0], z)
            yt[j] = h
            hb[j] = h
    else:
        for j in range(j0, j1):
            h = tanh_(a[j] + r[j - j0])
            yt[j] = h
            hb[j] = h


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def rnn_bwd(dA, dy, y, t, b, H, j0, j1, relu, dhs):
    d = dA[t, b]
    dyt = dy[t, b]
    yt = y[t, b]
    dh_b = dhs[b]
    o1 = one(dA)
    z = o1 - o1
    if relu:
        for j in range(j0, j1):
            d[j] = (dyt[j] + dh_b[j]) if yt[j] > z else z
    else:
        for j in range(j0, j1):
            h = yt[j]
            d[j] = (dyt[j] + dh_b[j]) * (o1 - h * h)

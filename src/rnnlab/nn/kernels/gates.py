"""The fused per-row gate passes of the GRU (``gru``) and the Elman RNN (``rnn``), for the
units j0..j1-1 of one row (all of them in the single-thread and batch-split loops, one
thread's share in ``units``). Same equations as ``rnnlab.nn.cells.gru`` / ``.rnn``; the
LSTM's are in ``lstm_gates``. As there, each pass is a few short loops over slices, each
touching few arrays, so that LLVM vectorises them (``lstm_gates``).
"""
from numba import njit

from .activations import one, sigm, tanh_
from .copies import copy_into


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def sig_bias(a, r, bias):
    """a = sigm(a + r + bias)."""
    for j in range(a.shape[0]):
        a[j] = sigm(a[j] + r[j] + bias[j])


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gru_fwd(A, R, bhh, t, b0, b1, H, j0, j1, lens, hns, y, hs):
    """Step t, rows b0..b1-1, units j0..j1-1 (R: the recurrent product, gate k of unit j at
    R[b, k*(j1-j0) + j-j0]); a row past its length keeps its state (A, hn, y zero)."""
    for b in range(b0, b1):
        if t < lens[b]:
            _gru_fwd_row(A, R[b], bhh, t, b, H, j0, j1, hns, y, hs)
        else:
            for g in range(3):
                A[t, b, g * H + j0:g * H + j1] = 0
            hns[t, b, j0:j1] = 0
            y[t, b, j0:j1] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _gru_fwd_row(A, r_, bhh, t, b, H, j0, j1, hns, y, hs):
    """Row b of step t, units j0..j1-1; r_: the recurrent product, gate k of unit j at
    r_[k*(j1-j0) + j-j0]. Gates r, z, n in place; hn = W_hn h + b_hn kept for backward."""
    a = A[t, b]
    n_ = j1 - j0
    ar = a[j0:j1]
    az = a[H + j0:H + j1]
    an = a[2 * H + j0:2 * H + j1]
    hn_t = hns[t, b, j0:j1]
    hb = hs[b, j0:j1]
    yt = y[t, b, j0:j1]
    sig_bias(ar, r_[0:n_], bhh[j0:j1])
    sig_bias(az, r_[n_:2 * n_], bhh[H + j0:H + j1])
    rn = r_[2 * n_:3 * n_]
    bn = bhh[2 * H + j0:2 * H + j1]
    for j in range(n_):
        hn_t[j] = rn[j] + bn[j]
    for j in range(n_):
        an[j] = tanh_(an[j] + ar[j] * hn_t[j])
    o1 = one(A)
    for j in range(n_):
        h = (o1 - az[j]) * an[j] + az[j] * hb[j]
        yt[j] = h
        hb[j] = h


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gru_bwd(A, dAh, dy, t, b0, b1, H, j0, j1, lens, hns, y, h0, dhs):
    """Step t, rows b0..b1-1, units j0..j1-1; a row past its length gets dA = dA_h = 0."""
    for b in range(b0, b1):
        if t < lens[b]:
            _gru_bwd_row(A, dAh, dy, t, b, H, j0, j1, hns, y, h0, dhs)
        else:
            for g in range(3):
                A[t, b, g * H + j0:g * H + j1] = 0
                dAh[t, b, g * H + j0:g * H + j1] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _gru_bwd_row(A, dAh, dy, t, b, H, j0, j1, hns, y, h0, dhs):
    """Row b of step t, units j0..j1-1: gates -> dA_x in A, dA_h (its n block dA_n * r) in
    dAh; dh_{t-1}'s direct part dh * z into dhs[b]."""
    a = A[t, b]
    dah = dAh[t, b]
    ar = a[j0:j1]
    az = a[H + j0:H + j1]
    an = a[2 * H + j0:2 * H + j1]
    dh = dhs[b, j0:j1]
    dyt = dy[t, b, j0:j1]
    hn_t = hns[t, b, j0:j1]
    hp = y[t - 1, b, j0:j1] if t > 0 else h0[b, j0:j1]
    dahn = dah[2 * H + j0:2 * H + j1]
    o1 = one(A)
    for j in range(dh.shape[0]):
        dh[j] = dyt[j] + dh[j]
    for j in range(dh.shape[0]):                   # dA_n, dA_z; dh -> dh * z
        z = az[j]
        n = an[j]
        d = dh[j]
        an[j] = d * (o1 - z) * (o1 - n * n)
        az[j] = d * (hp[j] - n) * z * (o1 - z)
        dh[j] = d * z                              # the direct path h_t = ... + z * h_{t-1}
    for j in range(dh.shape[0]):                   # dA_r; dA_h's n block = dA_n * r
        r = ar[j]
        dahn[j] = an[j] * r
        ar[j] = an[j] * hn_t[j] * r * (o1 - r)
    copy_into(dah[j0:j1], ar)
    copy_into(dah[H + j0:H + j1], az)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def rnn_fwd(A, R, t, b0, b1, H, j0, j1, lens, relu, y, hs):
    """Step t, rows b0..b1-1, units j0..j1-1 (R[b, j-j0]: the recurrent product); a row past
    its length keeps its state (y zero)."""
    if relu:                      # a constant in each branch (lstm_gates.fwd_standard)
        _rnn_fwd_rows(A, R, t, b0, b1, H, j0, j1, lens, True, y, hs)
    else:
        _rnn_fwd_rows(A, R, t, b0, b1, H, j0, j1, lens, False, y, hs)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_fwd_rows(A, R, t, b0, b1, H, j0, j1, lens, relu, y, hs):
    for b in range(b0, b1):
        if t < lens[b]:
            _rnn_fwd_row(A, R[b], t, b, H, j0, j1, relu, y, hs)
        else:
            y[t, b, j0:j1] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_fwd_row(A, r, t, b, H, j0, j1, relu, y, hs):
    """Row b of step t, units j0..j1-1; r: the recurrent product, unit j at r[j-j0]."""
    a = A[t, b, j0:j1]
    yt = y[t, b, j0:j1]
    hb = hs[b, j0:j1]
    z = one(A) - one(A)
    if relu:
        for j in range(a.shape[0]):
            h = max(a[j] + r[j], z)
            yt[j] = h
            hb[j] = h
    else:
        for j in range(a.shape[0]):
            h = tanh_(a[j] + r[j])
            yt[j] = h
            hb[j] = h


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def rnn_bwd(dA, dy, y, t, b0, b1, H, j0, j1, lens, relu, dhs):
    """Step t, rows b0..b1-1, units j0..j1-1; a row past its length gets dA = 0."""
    if relu:
        _rnn_bwd_rows(dA, dy, y, t, b0, b1, H, j0, j1, lens, True, dhs)
    else:
        _rnn_bwd_rows(dA, dy, y, t, b0, b1, H, j0, j1, lens, False, dhs)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_bwd_rows(dA, dy, y, t, b0, b1, H, j0, j1, lens, relu, dhs):
    for b in range(b0, b1):
        if t < lens[b]:
            _rnn_bwd_row(dA, dy, y, t, b, H, j0, j1, relu, dhs)
        else:
            dA[t, b, j0:j1] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_bwd_row(dA, dy, y, t, b, H, j0, j1, relu, dhs):
    """Row b of step t, units j0..j1-1: dA = (dy + dh) * act'(h)."""
    d = dA[t, b, j0:j1]
    dyt = dy[t, b, j0:j1]
    yt = y[t, b, j0:j1]
    dh_b = dhs[b, j0:j1]
    o1 = one(dA)
    z = o1 - o1
    if relu:
        for j in range(d.shape[0]):
            d[j] = (dyt[j] + dh_b[j]) if yt[j] > z else z
    else:
        for j in range(d.shape[0]):
            h = yt[j]
            d[j] = (dyt[j] + dh_b[j]) * (o1 - h * h)

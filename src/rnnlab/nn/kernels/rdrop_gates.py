"""Recurrent dropout on the fused RNN and GRU kernels: their gate passes with the mask, and the
drivers' steps around the loops. Same equations as ``rnnlab.nn.cells.rnn`` / ``.gru`` with
``recurrent_mask`` d (B, H): h_{t-1} enters W_hh as d * h_{t-1}; the GRU's update
h_t = (1 - z) n + z h_{t-1} keeps the true h_{t-1}. The argument tuples are
``steps.RnnMaskedFwd`` ... ``steps.GruMaskedBwd``, used only when a mask is given: the plain
kernels compile none of this.

The masked state, as the LSTM's options kernel (``lstm_options``): the state rows hs[:B] that
the product reads hold d * h_t, y holds h_t itself. So the loops run unchanged; the true
h_{t-1} is y[t-1] (h0 at t = 0: a row live at t was live at t-1), h_n is rebuilt from y
afterwards (``true_h_n``), and dW_hh reads d * y and d * h0 (``masked_reads``). Backward: the
carried dh is multiplied by d where it came through step t+1's product (t + 1 < lens[b]), not
where it is the incoming dh_n. The GRU's direct part dh * z (which skips W_hh, so skips d) goes
to ``dcarry``, apart from the product's part in dhs, and adds to it at step t-1.

Whole rows: these tuples never take the unit split (``loops.plan``), whose product reads
h_{t-1} from y, the unmasked h.
"""
import numpy as np
from numba import njit

from ._common import as_dtype, take
from .activations import one, tanh_
from .copies import copy_into
from .gates import sig_bias


def mask_rows(mask, B, H, dtype):
    """The recurrent-dropout mask as a C-contiguous (B, H) array of dtype."""
    return as_dtype(np.broadcast_to(mask, (B, H)), dtype)


def true_h_n(y, lens, h0):
    """h_n from y at each row's last live step (h0 for a row of length 0); h0: (B, H)."""
    B = y.shape[1]
    last = np.maximum(lens - 1, 0)
    return np.where((lens > 0)[:, None], y[last, np.arange(B)], h0)


def masked_reads(y, h0, mask, ws):
    """(d * h0 or None, d * y): what W_hh read, for dW_hh; give d * y back to ws after."""
    y_read = np.multiply(y, mask, out=take(ws, y.shape, y.dtype))
    return (None if h0 is None else h0 * mask), y_read


def dh0_through_product(dhs, lens, mask, dcarry=None):
    """dh0: a live row's carried dh came through step 0's product (times d), plus the GRU's
    direct part; a row of length 0 passes dh_n through."""
    through = dhs * mask if dcarry is None else dhs * mask + dcarry
    return np.where((lens > 0)[:, None], through, dhs)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def rnn_fwd(a, R, t, b0, b1):
    """Step t, rows b0..b1-1 (R[b]: the product of d * h_{t-1}); a row past its length keeps
    its state (y zero)."""
    if a.relu:                    # a constant in each branch (gates.rnn_fwd)
        _rnn_fwd_rows(a, R, t, b0, b1, True)
    else:
        _rnn_fwd_rows(a, R, t, b0, b1, False)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_fwd_rows(a, R, t, b0, b1, relu):
    for b in range(b0, b1):
        if t < a.lens[b]:
            _rnn_fwd_row(a.A[t, b], R[b], a.y[t, b], a.hs[b], a.rmask[b], relu)
        else:
            a.y[t, b] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_fwd_row(x, r, yt, h, d, relu):
    """h_t = act(x + r) into yt, d * h_t into the state row h."""
    z = one(x) - one(x)
    if relu:
        for j in range(yt.shape[0]):
            yt[j] = max(x[j] + r[j], z)
    else:
        for j in range(yt.shape[0]):
            yt[j] = tanh_(x[j] + r[j])
    for j in range(yt.shape[0]):
        h[j] = d[j] * yt[j]


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def rnn_bwd(a, t, b0, b1):
    """Step t, rows b0..b1-1: dA into A (= dAh); a row past its length gets dA = 0."""
    if a.relu:
        _rnn_bwd_rows(a, t, b0, b1, True)
    else:
        _rnn_bwd_rows(a, t, b0, b1, False)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_bwd_rows(a, t, b0, b1, relu):
    for b in range(b0, b1):
        if t < a.lens[b]:
            _rnn_bwd_row(a.A[t, b], a.dy[t, b], a.y[t, b], a.dhs[b], a.rmask[b],
                         t + 1 < a.lens[b], relu)
        else:
            a.A[t, b] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rnn_bwd_row(dA, dyt, yt, dh, d, carried, relu):
    """dh <- dy + (d * dh where it came through a product, else dh_n); dA = dh * act'(h)."""
    o1 = one(dA)
    z = o1 - o1
    _add_carried(dh, dyt, d, carried)
    if relu:
        for j in range(dA.shape[0]):
            dA[j] = dh[j] if yt[j] > z else z
    else:
        for j in range(dA.shape[0]):
            h = yt[j]
            dA[j] = dh[j] * (o1 - h * h)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _add_carried(dh, dyt, d, carried):
    """dh <- dy + d * dh when dh came through step t+1's product, dy + dh (dh_n) else."""
    if carried:
        for j in range(dh.shape[0]):
            dh[j] = dyt[j] + d[j] * dh[j]
    else:
        for j in range(dh.shape[0]):
            dh[j] = dyt[j] + dh[j]


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def gru_fwd(a, R, t, b0, b1):
    """Step t, rows b0..b1-1 (R[b]: the product of d * h_{t-1}, gates r, z, n); a row past
    its length keeps its state (A, hn, y zero)."""
    H = a.y.shape[2]
    for b in range(b0, b1):
        if t < a.lens[b]:
            hp = a.y[t - 1, b] if t > 0 else a.h0[b]
            _gru_fwd_row(a.A[t, b], R[b], a.bhh, a.hns[t, b], hp, a.y[t, b], a.hs[b],
                         a.rmask[b], H)
        else:
            a.A[t, b] = 0
            a.hns[t, b] = 0
            a.y[t, b] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _gru_fwd_row(g, r_, bhh, hn, hp, yt, h, d, H):
    """Gates r, z, n in place in g; hn = W_hn (d h) + b_hn; h_t = (1 - z) n + z h_{t-1}
    (the true hp) into yt, d * h_t into the state row h."""
    ar = g[0:H]
    az = g[H:2 * H]
    an = g[2 * H:3 * H]
    sig_bias(ar, r_[0:H], bhh[0:H])
    sig_bias(az, r_[H:2 * H], bhh[H:2 * H])
    for j in range(H):
        hn[j] = r_[2 * H + j] + bhh[2 * H + j]
    for j in range(H):
        an[j] = tanh_(an[j] + ar[j] * hn[j])
    o1 = one(g)
    for j in range(H):
        v = (o1 - az[j]) * an[j] + az[j] * hp[j]
        yt[j] = v
        h[j] = d[j] * v




@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def gru_bwd(a, t, b0, b1):
    """Step t, rows b0..b1-1: dA_x into A, dA_h into dAh, the direct part dh * z into dcarry;
    a row past its length gets dA = dA_h = 0. dhs[b] holds, on entry, dL/d(d * h_t) from
    step t+1's product (or dh_n at a row's last step) and serves as scratch."""
    H = a.dhs.shape[1]
    for b in range(b0, b1):
        if t < a.lens[b]:
            hp = a.y[t - 1, b] if t > 0 else a.h0[b]
            _gru_bwd_row(a.A[t, b], a.dAh[t, b], a.dy[t, b], a.hns[t, b], hp, a.dhs[b],
                         a.dcarry[b], a.rmask[b], t + 1 < a.lens[b], H)
        else:
            a.A[t, b] = 0
            a.dAh[t, b] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _gru_bwd_row(g, dah, dyt, hn, hp, dh, dcar, d, carried, H):
    """g: gates r, z, n -> dA_x in place; dah: dA_h (its n block dA_n * r)."""
    _add_carried(dh, dyt, d, carried)
    if carried:                                    # the direct path from step t+1
        for j in range(H):
            dh[j] += dcar[j]
    ar = g[0:H]
    az = g[H:2 * H]
    an = g[2 * H:3 * H]
    o1 = one(g)
    for j in range(H):                             # dA_n, dA_z; the direct part dh * z
        z = az[j]
        n = an[j]
        v = dh[j]
        an[j] = v * (o1 - z) * (o1 - n * n)
        az[j] = v * (hp[j] - n) * z * (o1 - z)
        dcar[j] = v * z
    for j in range(H):                             # dA_r; dA_h's n block = dA_n * r
        r = ar[j]
        dah[2 * H + j] = an[j] * r
        ar[j] = an[j] * hn[j] * r * (o1 - r)
    copy_into(dah[0:H], ar)
    copy_into(dah[H:2 * H], az)

"""The fused per-row gate passes of the LSTM with its options (``lstm_options``): layer
normalisation of the recurrent product and of the new memory, zoneout, and the recurrent-dropout
mask. Same equations as ``rnnlab.nn.cells.lstm_options`` (its docstring); the argument tuples
are ``steps.LstmOptFwd`` / ``steps.LstmOptBwd``.

Each pass takes whole rows (all H units): layer norm needs every unit of a row, so these
tuples never take the unit split (``loops.plan``). Which options are on is the tuple's class
(``steps.lstm_opt``: constants of the compiled pass); their arrays: an option that is off is
an empty array (layer norm, the mask) or a (0, 0, 0) one (zoneout), a zoneout in evaluation a
(1, 1, 1) array holding z, in training the (T, B, H) 0/1 masks, which the backward always
gets (``lstm_options._zone_masks``). The forward runs the rows within their length in blocks
(``_fwd_live``); the time loop brings the input projection in (``input_side``) and the
backward's dh through the mask (``steps.carry_in``). The plain LSTM compiles none of it.

State rows: hs[:B] holds d * h_t, the masked h that the next step's product reads (h_t itself
without the mask), hs[B:] c_t. The true h_{t-1} that zoneout mixes in is y[t-1] (h0 at t = 0):
a row live at t was live at t-1.

Forward caches, besides the gates (in A), c (the zoned state) and tanh(LN(c^)): the
normalised recurrent product vh (T, B, 4H) and its 1/std rh (T, B), the normalised c^ vc
(T, B, H) and rc (T, B). Backward overwrites vh with dL/d(W_hh h) (the buffer the product
reads) and adds each row block's gain and bias gradients into its own dln[blk].

The row statistics (means, variances and the sums of the LN backward) run in ``_sums`` with
reassociation allowed, so that LLVM vectorises the reductions; with strict order each sum
over 4H is a chain of dependent adds (H = 512, B = 32: about 0.15 ms a step, half the
product's time). Every split of the rows runs the same code per row, so the threads change no
bit.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from .activations import one, tanh_
from .copies import copy_into
from .lstm_gates import activate, dig_backward

LN_EPS = 1e-5     # as functional.LN_EPS (the reference)


def _elem(a, x):
    """x in the dtype of array a (compiled code only): the float64 row statistics turned to
    float32 before a float32 row's elementwise loop, which then runs float32-wide (mixed, it
    converted every element: the input side's layer norm took 1.6 times as long)."""
    raise NotImplementedError


@overload(_elem)
def _elem_ov(a, x):
    if a.dtype == types.float32:
        return lambda a, x: np.float32(x)
    return lambda a, x: np.float64(x)


@njit(nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")
def _sums(u, v, w):
    """(sum(u * v), sum(u * v * w)) in float64, vectorised (reassociated)."""
    s1 = 0.0
    s2 = 0.0
    for j in range(u.shape[0]):
        p = np.float64(u[j]) * v[j]
        s1 += p
        s2 += p * w[j]
    return s1, s2


@njit(nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")
def _mean_rstd(v):
    """(mean(v), 1 / sqrt(var(v) + eps)) in float64, var the biased variance (two passes)."""
    n = v.shape[0]
    s = 0.0
    for j in range(n):
        s += v[j]
    mu = s / n
    q = 0.0
    for j in range(n):
        d = v[j] - mu
        q += d * d
    return mu, 1.0 / np.sqrt(q / n + LN_EPS)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _normalise(v, vhat, gain, bias, out):
    """LN of row v: vhat = (v - mean) * rstd, out = gain * vhat + bias; returns rstd."""
    mu64, rstd64 = _mean_rstd(v)
    mu = _elem(v, mu64)
    rstd = _elem(v, rstd64)
    for j in range(v.shape[0]):
        u = (v[j] - mu) * rstd
        vhat[j] = u
        out[j] = u * gain[j] + bias[j]
    return rstd


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _zone(z, t, r0, r1, old, new):
    """new <- z * old + (1 - z) * new, zoneout's mix at step t for rows r0..r1-1 (old, new:
    those rows flattened; z: empty when off, one number in evaluation, the (T, B, H) masks in
    training; a (1, 1, 1) mask with T = B = H = 1 is the same either way)."""
    if z.shape[0] == 0:
        return
    if z.size == 1:
        k = z[0, 0, 0]
        k1 = one(new) - k
        for j in range(new.shape[0]):
            new[j] = k * old[j] + k1 * new[j]
    else:
        zr = z[t, r0:r1].reshape(-1)
        o1 = one(new)
        for j in range(new.shape[0]):
            new[j] = zr[j] * old[j] + (o1 - zr[j]) * new[j]


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def fwd(a, R, t, b0, b1, ln, zoned, masked):
    """Step t, rows b0..b1-1: the pre-activations A[t, b] (+ R[b], the product of the masked
    h_{t-1}) -> gates in place, c_t, tanh(LN(c^)), h_t (y and the state rows); a row past its
    length keeps its state (c carried; A, tanh c, y zero). ln, zoned, masked: which options
    are on, constants where ``steps`` calls it (one compiled pass per combination). The rows
    within their length go through ``_fwd_live`` in runs of consecutive rows."""
    B = a.hs.shape[0] // 2
    b = b0
    while b < b1:
        if t >= a.lens[b]:
            a.A[t, b] = 0
            a.cs[t, b] = a.hs[B + b]
            a.tcs[t, b] = 0
            a.y[t, b] = 0
            b += 1
            continue
        e = b + 1
        while e < b1 and t < a.lens[e]:
            e += 1
        _fwd_live(a, R, t, b, e, ln, zoned, masked)
        b = e


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _fwd_live(a, R, t, r0, r1, ln, zoned, masked):
    """Rows r0..r1-1, all within their length: per row the gates in place (g = A[t, b], r
    its product), c^ into cs[t, b], with layer norm LN(c^) into tcs[t, b], and h^ = o *
    tanh(LN(c^)) into y[t, b]; then over the rows' block at once (their rows of cs[t], tcs[t],
    y[t] and the state rows are contiguous) tanh, zoneout's mixes, c_t into the state rows
    and d * h_t for the next product. One loop over the block instead of one per row: at
    H = 32 each loop's setup (LLVM's overlap checks, the vector loop's entry and exit) is
    about as long as its work."""
    B = a.hs.shape[0] // 2
    H = a.y.shape[2]
    for b in range(r0, r1):
        g = a.A[t, b]
        r = R[b]
        if ln:                              # r <- LN(W_hh (d * h_{t-1})), over all 4H
            a.rh[t, b] = _normalise(r, a.vh[t, b], a.lnp[0, :4 * H], a.lnp[1, :4 * H], r)
        gi = g[0:H]
        gf = g[H:2 * H]
        gg = g[2 * H:3 * H]
        activate(gi, r[0:H], True)
        activate(gf, r[H:2 * H], True)
        activate(gg, r[2 * H:3 * H], False)
        activate(g[3 * H:4 * H], r[3 * H:4 * H], True)
        chat = a.cs[t, b]
        cprev = a.hs[B + b]
        for j in range(H):
            chat[j] = gf[j] * cprev[j] + gi[j] * gg[j]
        if ln:                              # tcs <- LN(c^) (tanh below)
            a.rc[t, b] = _normalise(chat, a.vc[t, b], a.lnp[0, 4 * H:], a.lnp[1, 4 * H:],
                                    a.tcs[t, b])
    tc = a.tcs[t, r0:r1].reshape(-1)
    chat = a.cs[t, r0:r1].reshape(-1)
    if ln:
        for k in range(tc.shape[0]):
            tc[k] = tanh_(tc[k])
    else:
        for k in range(tc.shape[0]):
            tc[k] = tanh_(chat[k])
    for b in range(r0, r1):                 # h^ = o * tanh(LN(c^))
        go = a.A[t, b, 3 * H:4 * H]
        tcb = a.tcs[t, b]
        yt = a.y[t, b]
        for j in range(H):
            yt[j] = go[j] * tcb[j]
    y = a.y[t, r0:r1].reshape(-1)
    cstate = a.hs[B + r0:B + r1].reshape(-1)
    if zoned:                               # h_{t-1} itself: y[t-1] (or h0), not d * h
        _zone(a.zh, t, r0, r1, a.y[t - 1, r0:r1].reshape(-1) if t > 0 else
              a.h0[r0:r1].reshape(-1), y)
        _zone(a.zc, t, r0, r1, cstate, chat)
    copy_into(cstate, chat)
    h = a.hs[r0:r1].reshape(-1)
    if masked:                              # the next product reads d * h_t
        d = a.rmask[r0:r1].reshape(-1)
        for k in range(h.shape[0]):
            h[k] = d[k] * y[k]
    else:
        copy_into(h, y)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _dh_in(a, t, b, zoned):
    """dhs[b] <- dL/dh_t = dy_t + dhs[b] (what step t+1's product sent back, times d: ``steps.
    carry_in``; at a row's last step dh_n as it came in) (+ zoneout's carried share, zcarry[b],
    still 0 at a row's last step), then zoneout's split of it: zcarry[b] <- z_h dh (what skips
    to h_{t-1}), dhs[b] <- (1 - z_h) dh (what reaches h^_t)."""
    dh = a.dhs[b]
    dyt = a.dy[t, b]
    zcar = a.zcarry[b]
    if zoned:
        for j in range(dh.shape[0]):
            dh[j] = (dyt[j] + dh[j]) + zcar[j]
    else:
        for j in range(dh.shape[0]):
            dh[j] = dyt[j] + dh[j]
    if zoned:                               # z_h: the (T, B, H) mask (``backward``)
        zr = a.zh[t, b]
        o1 = one(dh)
        for j in range(dh.shape[0]):
            zcar[j] = zr[j] * dh[j]
            dh[j] = (o1 - zr[j]) * dh[j]


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _ln_back(dout, vhat, rstd, gain, into_vhat, dgain, dbias):
    """Through LN(v) = gain * vhat + bias: dgain += dout * vhat, dbias += dout, and dL/dv =
    rstd * (dvhat - mean(dvhat) - vhat * mean(dvhat * vhat)), dvhat = dout * gain, written
    over vhat (into_vhat) or over dout. One loop for each: with the target passed as a third
    array that is one of these two, LLVM's overlap check failed at run time and the loop ran
    scalar (3200 rows of 512, float32: 1210 us against 678 into a separate array)."""
    n = dout.shape[0]
    s1, s2 = _sums(dout, gain, vhat)
    m1 = _elem(dout, s1 / n)
    m2 = _elem(dout, s2 / n)
    for j in range(n):
        dgain[j] += dout[j] * vhat[j]
        dbias[j] += dout[j]
    if into_vhat:
        for j in range(n):
            vhat[j] = rstd * (dout[j] * gain[j] - m1 - vhat[j] * m2)
    else:
        for j in range(n):
            dout[j] = rstd * (dout[j] * gain[j] - m1 - vhat[j] * m2)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def bwd(a, t, b0, b1, blk, ln, zoned):
    """Step t, rows b0..b1-1: the gates in A[t, b] -> dA in place (and dL/d(W_hh h) into vh
    with layer norm), dc_{t-1} into dhs[B + b], zoneout's share of dh_{t-1} into zcarry[b];
    a row past its length gets zeros. dhs[b] holds, on entry, dL/dh_t from step t+1's
    product, already times the mask's d (``steps.carry_in``), or dh_n at a row's last step,
    and serves as scratch. ln, zoned: as ``fwd`` (the mask needs nothing here)."""
    for b in range(b0, b1):
        if t < a.lens[b]:
            _bwd_row(a, t, b, blk, ln, zoned)
        else:
            a.A[t, b] = 0
            if ln:
                a.vh[t, b] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _bwd_row(a, t, b, blk, ln, zoned):
    B = a.dhs.shape[0] // 2
    H = a.dhs.shape[1]
    o1 = one(a.A)
    dh = a.dhs[b]
    dc = a.dhs[B + b]
    _dh_in(a, t, b, zoned)                  # dh <- dL/dh^_t
    g = a.A[t, b]
    gi = g[0:H]
    gf = g[H:2 * H]
    gg = g[2 * H:3 * H]
    go = g[3 * H:4 * H]
    tc = a.tcs[t, b]
    if ln:
        for j in range(H):                  # h^ = o * tanh(LN(c^)): dA_o; dh <- dLN(c^)
            o = go[j]
            d = dh[j]
            go[j] = d * tc[j] * o * (o1 - o)
            dh[j] = d * o * (o1 - tc[j] * tc[j])
        _ln_back(dh, a.vc[t, b], a.rc[t, b], a.lnp[0, 4 * H:], False, a.dln[blk, 0, 4 * H:],
                 a.dln[blk, 1, 4 * H:])     # dh <- dL/dc^ through LN(c^)
        _dc_hat(a.zc, t, b, dc, dh, zoned)
    else:                                   # the same, and dL/dc^ in the same loop
        _dout_dc_hat(a.zc, t, b, go, tc, dc, dh, zoned)
    dig_backward(gi, gg, dh)
    cprev = a.cs[t - 1, b] if t > 0 else a.c0[b]
    if zoned:
        for j in range(H):                  # dA_f; dc_{t-1} = zc dc + dc^ f
            f = gf[j]
            gf[j] = dh[j] * cprev[j] * f * (o1 - f)
            dc[j] = dc[j] + dh[j] * f
    else:
        for j in range(H):                  # dA_f; dc_{t-1} = dc^ f
            f = gf[j]
            gf[j] = dh[j] * cprev[j] * f * (o1 - f)
            dc[j] = dh[j] * f
    if ln:                                  # dL/d(W_hh h) through LN, into vh
        _ln_back(g, a.vh[t, b], a.rh[t, b], a.lnp[0, :4 * H], True,
                 a.dln[blk, 0, :4 * H], a.dln[blk, 1, :4 * H])


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _dout_dc_hat(z, t, b, go, tc, dc, dh, zoned):
    """Without layer norm: dA_o into go, and dh <- dL/dc^ = (1 - z_c) dc + dh o (1 - tc^2),
    dc <- z_c dc (the part that skips the step; without zoneout the whole dc, and dc left
    as it is: the dA_f loop overwrites it). z: z_c's (T, B, H) mask (``backward``)."""
    o1 = one(dh)
    if not zoned:
        for j in range(dh.shape[0]):
            o = go[j]
            d = dh[j]
            go[j] = d * tc[j] * o * (o1 - o)
            dh[j] = dc[j] + d * o * (o1 - tc[j] * tc[j])
    else:
        zr = z[t, b]
        for j in range(dh.shape[0]):
            o = go[j]
            d = dh[j]
            go[j] = d * tc[j] * o * (o1 - o)
            dh[j] = (o1 - zr[j]) * dc[j] + d * o * (o1 - tc[j] * tc[j])
            dc[j] = zr[j] * dc[j]


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _dc_hat(z, t, b, dc, dh, zoned):
    """dh <- (1 - z_c) dc + dh (dL/dc^), dc <- z_c dc (the part that skips the step; without
    zoneout dc is left as it is: the dA_f loop overwrites it). z: z_c's (T, B, H) mask."""
    if not zoned:
        for j in range(dc.shape[0]):
            dh[j] = dc[j] + dh[j]
    else:
        zr = z[t, b]
        o1 = one(dc)
        for j in range(dc.shape[0]):
            dh[j] = (o1 - zr[j]) * dc[j] + dh[j]
            dc[j] = zr[j] * dc[j]


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def ln_rows(v, gain, bias, vhat, rstd):
    """The input side's layer norm for all steps, in place: each row of v (M, N) ->
    gain * vhat + bias (bias: the LN bias plus the LSTM's b_ih + b_hh), vhat and rstd (M,)
    kept for backward."""
    for r in range(v.shape[0]):
        rstd[r] = _normalise(v[r], vhat[r], gain, bias, v[r])


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def input_side(a, t, b0, b1, ln):
    """Rows b0..b1-1 of step t's input projection A[t] (the time loop's own, ``steps.project``)
    -> + bias, or with layer norm gain * LN + bias (vhat into vi, 1/std into ri): what
    ``lstm_options.forward`` does for all steps at once when A is projected before the loop,
    the same numbers. The layer norm calls ``ln_rows`` itself: its rows inlined here were
    rounded differently (an FMA contracted in one place and not the other, 1 ulp)."""
    if ln:
        ln_rows(a.A[t, b0:b1], a.gin, a.bias, a.vi[t, b0:b1], a.ri[t, b0:b1])
    else:
        for b in range(b0, b1):
            v = a.A[t, b]
            for j in range(v.shape[0]):
                v[j] += a.bias[j]


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def ln_rows_back(dout, vhat, rstd, gain, dgain, dbias):
    """The backward of ``ln_rows``: dL/dv per row (M, N) over vhat; dgain, dbias (N,) += the
    gain's and bias's gradients (dbias is also the LSTM biases' gradient)."""
    for r in range(dout.shape[0]):
        _ln_back(dout[r], vhat[r], rstd[r], gain, True, dgain, dbias)

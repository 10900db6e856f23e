"""The fused per-row gate passes of the LSTM kernel (``lstm``), one per direction, each with
the three variants (``lstm.VARIANTS``, by code: 0 standard, 1 peephole, 2 coupled).

``gates_fwd`` turns one row's pre-activations (input projection + recurrent product) into the
activated gates in place and the new c, tanh c, h; ``gates_bwd`` turns those gates into
dA in place, carries dc to the previous step and accumulates the peephole gradients. Same
equations as ``rnnlab.nn.cells.lstm``.
"""
from numba import njit

from .activations import one, sigm, tanh_


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gates_fwd(A, r, t, b, H, j0, j1, variant, wpi, wpf, wpo, cs, tcs, y, hs):
    """Fused elementwise step for row b, units j0..j1-1: A[t, b] (+ r, the recurrent product,
    gate k of unit j at r[k*(j1-j0) + j-j0]) -> gates in place, c, tanh c, h."""
    a = A[t, b]
    n = j1 - j0
    c_all = cs[t, b]
    tc_all = tcs[t, b]
    yt = y[t, b]
    hb = hs[b]
    cb = hs[b + hs.shape[0] // 2]
    o1 = one(A)
    if variant == 2:                                   # coupled: f, g, o
        for j in range(j0, j1):
            f = sigm(a[j] + r[j - j0])
            g = tanh_(a[H + j] + r[n + j - j0])
            o = sigm(a[2 * H + j] + r[2 * n + j - j0])
            c = f * cb[j] + (o1 - f) * g
            tc = tanh_(c)
            h = o * tc
            a[j] = f
            a[H + j] = g
            a[2 * H + j] = o
            c_all[j] = c
            tc_all[j] = tc
            yt[j] = h
            hb[j] = h
            cb[j] = c
    elif variant == 1:                                 # peephole
        for j in range(j0, j1):
            cp = cb[j]
            i = sigm(a[j] + r[j - j0] + wpi[j] * cp)
            f = sigm(a[H + j] + r[n + j - j0] + wpf[j] * cp)
            g = tanh_(a[2 * H + j] + r[2 * n + j - j0])
            c = f * cp + i * g
            o = sigm(a[3 * H + j] + r[3 * n + j - j0] + wpo[j] * c)
            tc = tanh_(c)
            h = o * tc
            a[j] = i
            a[H + j] = f
            a[2 * H + j] = g
            a[3 * H + j] = o
            c_all[j] = c
            tc_all[j] = tc
            yt[j] = h
            hb[j] = h
            cb[j] = c
    else:
        for j in range(j0, j1):
            i = sigm(a[j] + r[j - j0])
            f = sigm(a[H + j] + r[n + j - j0])
            g = tanh_(a[2 * H + j] + r[2 * n + j - j0])
            o = sigm(a[3 * H + j] + r[3 * n + j - j0])
            c = f * cb[j] + i * g
            tc = tanh_(c)
            h = o * tc
            a[j] = i
            a[H + j] = f
            a[2 * H + j] = g
            a[3 * H + j] = o
            c_all[j] = c
            tc_all[j] = tc
            yt[j] = h
            hb[j] = h
            cb[j] = c


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gates_bwd(A, dy, t, b, H, j0, j1, variant, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs):
    """Row b of step t, units j0..j1-1: gates in A[t, b] -> dA in place; dc_{t-1} into
    dhs[B + b]."""
    B = dhs.shape[0] // 2
    a = A[t, b]
    dyt = dy[t, b]
    dh_b = dhs[b]
    dc_b = dhs[B + b]
    c_t = cs[t, b]
    tc_t = tcs[t, b]
    cprev = cs[t - 1, b] if t > 0 else c0[b]
    o1 = one(A)
    if variant == 2:
        for j in range(j0, j1):
            f = a[j]
            g = a[H + j]
            o = a[2 * H + j]
            tc = tc_t[j]
            dh = dyt[j] + dh_b[j]
            dc = dc_b[j] + dh * o * (o1 - tc * tc)
            a[2 * H + j] = dh * tc * o * (o1 - o)
            a[j] = dc * (cprev[j] - g) * f * (o1 - f)
            a[H + j] = dc * (o1 - f) * (o1 - g * g)
            dc_b[j] = dc * f
    elif variant == 1:
        dwpi = dwp[0]
        dwpf = dwp[1]
        dwpo = dwp[2]
        for j in range(j0, j1):
            i = a[j]
            f = a[H + j]
            g = a[2 * H + j]
            o = a[3 * H + j]
            tc = tc_t[j]
            cp = cprev[j]
            dh = dyt[j] + dh_b[j]
            dao = dh * tc * o * (o1 - o)
            dc = dc_b[j] + dh * o * (o1 - tc * tc) + dao * wpo[j]
            dwpo[j] += dao * c_t[j]
            dai = dc * g * i * (o1 - i)
            daf = dc * cp * f * (o1 - f)
            a[j] = dai
            a[H + j] = daf
            a[2 * H + j] = dc * i * (o1 - g * g)
            a[3 * H + j] = dao
            dwpi[j] += dai * cp
            dwpf[j] += daf * cp
            dc_b[j] = dc * f + dai * wpi[j] + daf * wpf[j]
    else:
        for j in range(j0, j1):
            i = a[j]
            f = a[H + j]
            g = a[2 * H + j]
            o = a[3 * H + j]
            tc = tc_t[j]
            dh = dyt[j] + dh_b[j]
            dc = dc_b[j] + dh * o * (o1 - tc * tc)
            a[j] = dc * g * i * (o1 - i)
            a[H + j] = dc * cprev[j] * f * (o1 - f)
            a[2 * H + j] = dc * i * (o1 - g * g)
            a[3 * H + j] = dh * tc * o * (o1 - o)
            dc_b[j] = dc * f

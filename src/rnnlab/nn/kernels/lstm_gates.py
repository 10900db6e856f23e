"""The fused per-row gate passes of the LSTM kernel (``lstm``), one per direction, each with
the three variants (``lstm.VARIANTS``, by code: 0 standard, 1 peephole, 2 coupled), for the
units j0..j1-1 of one row (all of them in the single-thread and batch-split loops, one
thread's share in ``units``).

``fwd_*`` turns a step's rows' pre-activations (input projection + recurrent product) into the
activated gates in place and the new c, tanh c, h; ``bwd_*`` turns those gates into
dA in place, carries dc to the previous step and accumulates the peephole gradients. Same
equations as ``rnnlab.nn.cells.lstm``.

Each pass is a few short loops over one gate's slice at a time, each touching few arrays:
LLVM vectorises a loop only when it can prove, or check at run time with at most 8
comparisons, that its arrays do not overlap. One loop over all gates at a[j], a[H + j], ...
(H unknown at compile time) ran scalar: 5.6 ms for the 2500 rows of a char-LM layer step
against 0.5 ms now (vectorised 16-wide, the same numbers).
"""
from numba import njit

from .activations import one, sigm, tanh_
from .copies import copy_into


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def activate(a, r, sig):
    """a = sigm(a + r) (sig) or tanh(a + r), elementwise."""
    if sig:
        for j in range(a.shape[0]):
            a[j] = sigm(a[j] + r[j])
    else:
        for j in range(a.shape[0]):
            a[j] = tanh_(a[j] + r[j])


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _act_bias(a, bias, r, sig):
    """a = sigm(a + bias + r) (sig) or tanh(a + bias + r), elementwise, added in that order:
    the same numbers as the bias added to the input projection before the loop (which cost a
    NumPy pass over all of A: 0.07 ms of a 1 ms call at LSTM H=32 B=32, T=100)."""
    if sig:
        for j in range(a.shape[0]):
            a[j] = sigm((a[j] + bias[j]) + r[j])
    else:
        for j in range(a.shape[0]):
            a[j] = tanh_((a[j] + bias[j]) + r[j])


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _act_peep(a, bias, r, w, c):
    """a = sigm(a + bias + r + w * c), elementwise (a peephole gate)."""
    for j in range(a.shape[0]):
        a[j] = sigm((a[j] + bias[j]) + r[j] + w[j] * c[j])


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _output(ao, c, tc, y, h):
    """tc = tanh(c); y = h = o * tc."""
    for j in range(c.shape[0]):
        tc[j] = tanh_(c[j])
    for j in range(c.shape[0]):
        v = ao[j] * tc[j]
        y[j] = v
        h[j] = v


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def fwd_standard(A, bias, R, t, b0, b1, H, j0, j1, lens, wpi, wpf, wpo, cs, tcs, y, hs):
    """Step t, rows b0..b1-1, units j0..j1-1: each row's input projection A[t, b] (+ bias, the
    summed biases (G*H,), + R[b], the recurrent product, gate k of unit j at R[b, k*(j1-j0) + j-j0]) -> gates in place, c,
    tanh c, h; a row past its length keeps its state (c carried, A, tanh c, y zero).
    One entry point per variant, the variant a constant in it: each compiles to its own
    straight loop (with the variant known only at run time inside the row loop, an LSTM
    H=32, B=32 forward loop took 0.80 ms against 0.49), and a run compiles only its own
    variant (the three in one function took three times as long to compile)."""
    _fwd_rows(A, bias, R, t, b0, b1, H, j0, j1, lens, 0, wpi, wpf, wpo, cs, tcs, y, hs)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def fwd_peephole(A, bias, R, t, b0, b1, H, j0, j1, lens, wpi, wpf, wpo, cs, tcs, y, hs):
    """``fwd_standard`` for the peephole LSTM."""
    _fwd_rows(A, bias, R, t, b0, b1, H, j0, j1, lens, 1, wpi, wpf, wpo, cs, tcs, y, hs)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def fwd_coupled(A, bias, R, t, b0, b1, H, j0, j1, lens, wpi, wpf, wpo, cs, tcs, y, hs):
    """``fwd_standard`` for the coupled LSTM."""
    _fwd_rows(A, bias, R, t, b0, b1, H, j0, j1, lens, 2, wpi, wpf, wpo, cs, tcs, y, hs)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _fwd_rows(A, bias, R, t, b0, b1, H, j0, j1, lens, variant, wpi, wpf, wpo, cs, tcs, y, hs):
    B = hs.shape[0] // 2
    block = j1 - j0 == H and b1 - b0 > 1 and _all_in_length(lens, t, b0, b1)
    o = (3 if variant == 2 else 4) * H - H             # the last gate, o
    for b in range(b0, b1):
        if t < lens[b]:
            _gates_c(A, bias, R[b], t, b, H, j0, j1, variant, wpi, wpf, wpo, cs, hs)
            if not block:
                _output(A[t, b, o + j0:o + j1], cs[t, b, j0:j1], tcs[t, b, j0:j1],
                        y[t, b, j0:j1], hs[b, j0:j1])
        else:
            for g in range(A.shape[2] // H):
                A[t, b, g * H + j0:g * H + j1] = 0
            copy_into(cs[t, b, j0:j1], hs[B + b, j0:j1])
            tcs[t, b, j0:j1] = 0
            y[t, b, j0:j1] = 0
    if block:
        _block_output(A, t, b0, b1, H, o, cs, tcs, y, hs)


@njit(nogil=True, error_model="numpy", inline="always")
def _all_in_length(lens, t, b0, b1):
    for b in range(b0, b1):
        if t >= lens[b]:
            return False
    return True


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _block_output(A, t, b0, b1, H, o, cs, tcs, y, hs):
    """``_output`` for a block of whole rows (two or more), all within their length: tanh c in
    one loop over the block (the rows of cs[t] and tcs[t] are contiguous), per row h = o tanh
    c, and y = h in one loop over the block. Each loop costs its setup (LLVM's overlap
    checks, the vector loop's entry and exit) once per row, which at small H is about half
    of the row's time. LSTM layer, T=100, inference on one thread (2026-12-08, AMD EPYC,
    load 1.0, best of 4 processes x 40 calls): H=32 B=32 1.000 -> 0.929 ms, B=64 1.923 ->
    1.788, H=64 B=32 2.598 -> 2.565. One row (B=1) keeps the row loops. ``_gates_c`` has one
    call site in ``_fwd_rows`` for both ways: a second inlined copy of it cost 3-4 s more of
    a cold start's compile. Tried and dropped: i and f (adjacent in A) activated in one loop
    of 2H made B=1 5 % and H=128 B=32 2-3 % slower; tanh c, h and y written once for both
    ways (one loop over segments: the block, or each row) ran 15 % slower at B=32 and 64
    with 2 threads. The same numbers either way."""
    c = cs[t, b0:b1].reshape(-1)
    tc = tcs[t, b0:b1].reshape(-1)
    for k in range(c.shape[0]):
        tc[k] = tanh_(c[k])
    for b in range(b0, b1):
        ao = A[t, b, o:o + H]
        tcb = tcs[t, b]
        h = hs[b]
        for j in range(H):
            h[j] = ao[j] * tcb[j]
    copy_into(y[t, b0:b1].reshape(-1), hs[b0:b1].reshape(-1))


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _gates_c(A, bias, r, t, b, H, j0, j1, variant, wpi, wpf, wpo, cs, hs):
    """One row of ``_fwd_rows`` up to c: the activated gates into A[t, b], c_t into cs[t, b]
    and the state row."""
    n = j1 - j0
    a = A[t, b]
    c_all = cs[t, b, j0:j1]
    cb = hs[b + hs.shape[0] // 2, j0:j1]
    G = 3 if variant == 2 else 4
    g0 = a[j0:j1]
    g1 = a[H + j0:H + j1]
    g2 = a[2 * H + j0:2 * H + j1]
    g3 = a[(G - 1) * H + j0:(G - 1) * H + j1]          # o (the last gate)
    c0 = bias[j0:j1]                                   # each gate's bias
    c1 = bias[H + j0:H + j1]
    c2 = bias[2 * H + j0:2 * H + j1]
    if variant == 2:                                   # coupled: f, g, o
        _act_bias(g0, c0, r[0:n], True)
        _act_bias(g1, c1, r[n:2 * n], False)
        _act_bias(g2, c2, r[2 * n:3 * n], True)
        o1 = one(A)
        for j in range(n):
            c = g0[j] * cb[j] + (o1 - g0[j]) * g1[j]
            c_all[j] = c
            cb[j] = c
    else:
        if variant == 1:                               # peephole: i, f see c_{t-1}
            _act_peep(g0, c0, r[0:n], wpi[j0:j1], cb)
            _act_peep(g1, c1, r[n:2 * n], wpf[j0:j1], cb)
        else:
            _act_bias(g0, c0, r[0:n], True)
            _act_bias(g1, c1, r[n:2 * n], True)
        _act_bias(g2, c2, r[2 * n:3 * n], False)
        for j in range(n):
            c = g1[j] * cb[j] + g0[j] * g2[j]
            c_all[j] = c
            cb[j] = c
        if variant == 1:                               # o sees c_t
            _act_peep(g3, bias[3 * H + j0:3 * H + j1], r[3 * n:4 * n], wpo[j0:j1], c_all)
        else:
            _act_bias(g3, bias[3 * H + j0:3 * H + j1], r[3 * n:4 * n], True)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _dout(ao, dc, dh, tc, wpo):
    """From dh (= dy + dh carried): dA_o into ao, dc += dh * o * (1 - tc^2) (+ dA_o * w_po
    when wpo has entries, the peephole)."""
    o1 = one(ao)
    peep = wpo.shape[0] == ao.shape[0]
    for j in range(ao.shape[0]):
        o = ao[j]
        dao = dh[j] * tc[j] * o * (o1 - o)
        d = dc[j] + dh[j] * o * (o1 - tc[j] * tc[j])
        if peep:
            d += dao * wpo[j]
        ao[j] = dao
        dc[j] = d


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def dig_backward(ai, ag, dc):
    """dA_i = dc * g * i * (1 - i), dA_g = dc * i * (1 - g^2), in place."""
    o1 = one(ai)
    for j in range(ai.shape[0]):
        i = ai[j]
        g = ag[j]
        ai[j] = dc[j] * g * i * (o1 - i)
        ag[j] = dc[j] * i * (o1 - g * g)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _acc2(d, x, c):
    """d += x * c."""
    for j in range(d.shape[0]):
        d[j] += x[j] * c[j]


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def bwd_standard(A, dy, t, b0, b1, H, j0, j1, lens, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs):
    """Step t, rows b0..b1-1, units j0..j1-1: the gates in A[t, b] -> dA in place, dc_{t-1}
    into dhs[B + b]; a row past its length gets dA = 0. One entry point per variant, as
    forward."""
    _bwd_rows(A, dy, t, b0, b1, H, j0, j1, lens, 0, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def bwd_peephole(A, dy, t, b0, b1, H, j0, j1, lens, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs):
    """``bwd_standard`` for the peephole LSTM."""
    _bwd_rows(A, dy, t, b0, b1, H, j0, j1, lens, 1, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def bwd_coupled(A, dy, t, b0, b1, H, j0, j1, lens, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs):
    """``bwd_standard`` for the coupled LSTM."""
    _bwd_rows(A, dy, t, b0, b1, H, j0, j1, lens, 2, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _bwd_rows(A, dy, t, b0, b1, H, j0, j1, lens, variant, wpi, wpf, wpo, dwp, cs, tcs, c0,
              dhs):
    for b in range(b0, b1):
        if t < lens[b]:
            _bwd_row(A, dy, t, b, H, j0, j1, variant, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs)
        else:
            for g in range(A.shape[2] // H):
                A[t, b, g * H + j0:g * H + j1] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _bwd_row(A, dy, t, b, H, j0, j1, variant, wpi, wpf, wpo, dwp, cs, tcs, c0, dhs):
    """One row of ``gates_bwd``. dhs[b] (dh from the future) is used as scratch: the product
    of this step overwrites it next."""
    B = dhs.shape[0] // 2
    a = A[t, b]
    dh = dhs[b, j0:j1]
    dc = dhs[B + b, j0:j1]
    tc = tcs[t, b, j0:j1]
    cprev = cs[t - 1, b, j0:j1] if t > 0 else c0[b, j0:j1]
    dyt = dy[t, b, j0:j1]
    o1 = one(A)
    for j in range(dh.shape[0]):
        dh[j] = dyt[j] + dh[j]
    g0 = a[j0:j1]
    g1 = a[H + j0:H + j1]
    g2 = a[2 * H + j0:2 * H + j1]
    if variant == 2:                                   # coupled: f, g, o
        _dout(g2, dc, dh, tc, wpo[0:0])
        for j in range(dh.shape[0]):
            f = g0[j]
            g = g1[j]
            d = dc[j]
            g0[j] = d * (cprev[j] - g) * f * (o1 - f)
            g1[j] = d * (o1 - f) * (o1 - g * g)
            dc[j] = d * f
        return
    g3 = a[3 * H + j0:3 * H + j1]
    peep = variant == 1
    _dout(g3, dc, dh, tc, wpo[j0:j1] if peep else wpo[0:0])
    if peep:
        _acc2(dwp[2, j0:j1], g3, cs[t, b, j0:j1])       # dw_po += dA_o * c_t
        for j in range(dh.shape[0]):                    # dh is free: dc * f + dA_i * w_pi
            dh[j] = dc[j] * g1[j]
    dig_backward(g0, g2, dc)
    if peep:
        for j in range(dh.shape[0]):
            dh[j] = dh[j] + g0[j] * wpi[j0 + j]
    for j in range(dh.shape[0]):                        # dA_f = dc * c_{t-1} * f * (1 - f)
        f = g1[j]
        g1[j] = dc[j] * cprev[j] * f * (o1 - f)
        if not peep:
            dc[j] = dc[j] * f
    if peep:
        for j in range(dh.shape[0]):
            dc[j] = dh[j] + g1[j] * wpf[j0 + j]
        _acc2(dwp[0, j0:j1], g0, cprev)
        _acc2(dwp[1, j0:j1], g1, cprev)

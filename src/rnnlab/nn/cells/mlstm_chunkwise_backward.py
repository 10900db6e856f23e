"""The hand-written backward of the mLSTM's chunkwise form (mlstm_chunkwise.py has the
equations and the shapes). Same gradients as the recurrent form's backward (mlstm.py) to
1e-12 in float64 (tests/test_mlstm_chunkwise.py).

Three passes, as the forward:

1. every chunk's read-out at once, with the state the chunk starts from held fixed: the
   parallel form's backward (mlstm_parallel.py) on each (L, L) block, which also gives the
   read-outs' gradients to that state (dC_p, dn_p, and dm_p through d0);
2. the carried states, chunk by chunk from the last: the gradient of the state chunk c ends
   with (the one chunk c + 1 starts from, or the final state's) flows back through
   C_e = d0_L C_p + sum_j w_j v_j k_j^T, n_e likewise, and m_e = max(g_{L-1}, log D[L-1, j]);
3. every chunk's end state at once: its gradient to w, v, k (the writes), then log D and g to
   log i and log f through the within-chunk cumulative sums.

Stabiliser convention (as mlstm_parallel.py): h~ does not depend on m_t (numerator and
denominator both scale by exp(-m_t)), so the read-outs are differentiated with m fixed; m enters
through the carried and final states (exp(-m_e) times the unstabilised sums), and its gradient
goes to the winner of the max: the carried state's term g, or the earliest j on a tie.
"""
import numpy as np

from .mlstm_chunkwise import chunked, unchunked
from .mlstm_parts import initial_state, project_backward


def _readout_backward(c, dy):
    """Back through h = o * h~ and h~ = num / den with m fixed. Returns (do (T, B, H),
    dnum (B, heads, nc, L, d), ds (B, heads, nc, L))."""
    T, B, H = dy.shape
    heads, L = c["heads"], c["D"].shape[-1]
    if c["lengths"] is not None:                                     # y was 0 past the end
        dy = dy * c["valid_t"][..., None]
    do = dy * unchunked(c["ht"], T).reshape(T, B, H)
    dht = chunked((dy * c["g"]["o"]).reshape(T, B, heads, H // heads), T, L)
    dnum = dht / c["den"][..., None]
    dden = -np.sum(dht * c["ht"], axis=-1) / c["den"]
    # den = max(|s|, exp(-m)): only the |s| branch depends on anything but m
    ds = np.where(np.abs(c["s"]) >= np.exp(-c["m"]), dden * np.sign(c["s"]), 0)
    return do, dnum, ds


def _carried_backward(c, dCs, dns, dms, dC_n, dn_n, dm_n):
    """Pass 2: from the final state's gradient back to the initial state's, chunk by chunk.
    dCs, dns, dms: the read-outs' gradients to the state each chunk starts from (pass 1).
    Returns dC_e (B, heads, nc, d, d), dn_e (B, heads, nc, d): the gradients of the state each
    chunk ends with; dg_L (B, heads, nc): to g_{L-1}; dm_row (B, heads, nc): to the winning
    log D[L-1, j] (0 where g wins); and (dC0, dn0, dm0)."""
    C_p, n_p, m_p, d0_L = c["C_p"], c["n_p"], c["m_p"], c["d0_L"]
    g_wins = c["b"][..., -1] + m_p[..., :-1] >= c["log_D"][..., -1, :].max(axis=-1)
    dC_e, dn_e = np.empty_like(dCs), np.empty_like(dns)
    dg_L, dm_row = np.empty_like(d0_L), np.empty_like(d0_L)
    dC, dn, dm = dC_n, dn_n, dm_n
    for ch in reversed(range(d0_L.shape[-1])):
        dC_e[:, :, ch], dn_e[:, :, ch] = dC, dn
        # C_e, n_e are exp(-m_e) times the unstabilised sums
        dm_e = dm - np.sum(dC * C_p[:, :, ch + 1], axis=(-1, -2)) \
            - np.sum(dn * n_p[:, :, ch + 1], axis=-1)
        # C_e = d0_L C_p + writes, d0_L = exp(g_{L-1} - m_e); m_e's gradient to the winner
        dd0_L = np.sum(dC * C_p[:, :, ch], axis=(-1, -2)) + np.sum(dn * n_p[:, :, ch], axis=-1)
        dg_L[..., ch] = dd0_L * d0_L[..., ch] + np.where(g_wins[..., ch], dm_e, 0)
        dm_row[..., ch] = np.where(g_wins[..., ch], 0, dm_e)
        # g_t = b_t + m_p: m_p's gradient is every g's of the chunk
        dC = dCs[:, :, ch] + d0_L[..., ch, None, None] * dC
        dn = dns[:, :, ch] + d0_L[..., ch, None] * dn
        dm = dms[..., ch] + dg_L[..., ch]
    return dC_e, dn_e, dg_L, dm_row, (dC, dn, dm)


def _writes_backward(c, dC_e, dn_e, dv, dk, dlog_D):
    """Pass 3: the end states' gradients to the writes sum_j w_j v_j k_j^T and sum_j w_j k_j
    (w = D[L-1, :]), added into dv, dk and dlog_D's last rows (in place)."""
    v, k, w = c["vc"], c["kc"], c["w"]
    vdC = np.matmul(v, dC_e)                                         # v_j^T dC_e
    dCk = np.matmul(k, np.swapaxes(dC_e, -1, -2))                    # dC_e k_j
    dv += w[..., None] * dCk
    dk += w[..., None] * (vdC + dn_e[..., None, :])
    dw = np.sum(vdC * k, axis=-1) + np.matmul(k, dn_e[..., None])[..., 0]
    dlog_D[..., -1, :] += dw * w


def backward_chunkwise(dy, dstate_n, c):
    """Backpropagate through the chunkwise form. dstate_n: (dC_n, dn_n, dm_n) or None (any
    part may be None). Returns (dx (T, B, D), (dC0, dn0, dm0), grads)."""
    x, g = c["x"], c["g"]
    T, B, _ = x.shape
    heads, H = c["heads"], g["o"].shape[2]
    dC_n, dn_n, dm_n = initial_state(dstate_n, B, H, heads, x.dtype)
    q, k, v, D, d0 = c["qc"], c["kc"], c["vc"], c["D"], c["d0"]
    Cs, ns = c["C_p"][:, :, :-1], c["n_p"][:, :, :-1]
    do, dnum, ds = _readout_backward(c, dy)
    # pass 1, per chunk: num = S v + d0 C_p q,  s = sum_j S + d0 n_p . q,  S = (q . k) D
    dS = np.matmul(dnum, np.swapaxes(v, -1, -2))
    dS += ds[..., None]
    dv = np.matmul(np.swapaxes(c["S"], -1, -2), dnum)
    dnum0, ds0 = dnum * d0[..., None], ds * d0
    dCs = np.matmul(np.swapaxes(dnum0, -1, -2), q)
    dns = np.matmul(ds0[..., None, :], q)[..., 0, :]
    dq = np.matmul(dnum0, Cs) + ds0[..., None] * ns[..., None, :]
    dqk = dS * D
    dq += np.matmul(dqk, k)
    dk = np.matmul(np.swapaxes(dqk, -1, -2), q)
    dlog_D = np.multiply(dqk, c["qk"], out=dqk)                     # dS (q . k) D
    dg0 = (np.sum(dnum * c["C0q"], axis=-1) + ds * c["n0q"]) * d0
    # pass 2
    dC_e, dn_e, dg_L, dm_row, (dC0, dn0, dm0) = _carried_backward(
        c, dCs, dns, dg0.sum(axis=-1), dC_n, dn_n, dm_n)
    # pass 3
    _writes_backward(c, dC_e, dn_e, dv, dk, dlog_D)
    j = c["log_D"][..., -1, :].argmax(axis=-1)[..., None]             # the earliest on a tie
    last = dlog_D[..., -1, :]
    np.put_along_axis(last, j, np.take_along_axis(last, j, -1) + dm_row[..., None], axis=-1)
    dg0[..., -1] += dg_L
    # log D[t, j] = b_t - b_j + log i_j,  g_t = b_t + m_p,  b = cumsum(log f) in the chunk
    db = dlog_D.sum(axis=-1) - dlog_D.sum(axis=-2) + dg0
    dlog_i = dlog_D.sum(axis=-2)
    dlog_f = np.flip(np.cumsum(np.flip(db, -1), axis=-1), -1) * c["valid"][:, None]
    dx, grads = project_backward(x, c["params"], g, unchunked(dq, T), unchunked(dk, T),
                                 unchunked(dv, T), do, unchunked(dlog_i, T),
                                 unchunked(dlog_f, T), c["forget_gate"])
    return dx, (dC0, dn0.reshape(B, H), dm0), grads

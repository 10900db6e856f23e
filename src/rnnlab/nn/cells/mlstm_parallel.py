"""The mLSTM's parallel form: every step at once, as attention with a decay (Beck et al. 2024,
appendix A.3), and its hand-written backward. Same function as the recurrent form in
mlstm.py (tests/test_xlstm.py holds them to 1e-12 in float64, forward and backward).

Unrolling the recurrence, the memory after step t is a weighted sum of the pairs written so far
and of the initial memory. Per head, with F_t = log f_0 + ... + log f_t::

    log D[t, j] = F_t - F_j + log i_j     (j <= t; -inf above the diagonal)
    g_t = F_t + m_0                        (the initial state's weight, in logs)
    m_t = max(g_t, max_j log D[t, j])      the recurrent form's stabiliser, in closed form
    D = exp(log D - m_t),  d0_t = exp(g_t - m_t)
    S[t, j] = (q_t . k_j) D[t, j]                           (T, T) per head
    C_t q_t = sum_j S[t, j] v_j + d0_t C_0 q_t              the read-out's numerator
    n_t . q_t = sum_j S[t, j] + d0_t n_0 . q_t
    h~_t = C_t q_t / max(|n_t . q_t|, exp(-m_t))

The final state is row T-1 of the same sums: C_T = sum_j D[T-1, j] v_j k_j^T + d0 C_0, n_T
likewise, m_T = m_{T-1}. Padding (lengths): a padded step gets log f = 0 and no pair (its
column is masked), so every row after a sequence's end repeats its last real row and row T-1
is its final state.

Cost: O(T^2 d) per head and batch row, and (T, T) arrays per head: this form is for training
windows of moderate length (the default --seq-len is 50); the recurrent form is O(T d^2).

Backward: h~_t does not depend on m_t (numerator and denominator both scale by exp(-m_t)), so
the read-out is differentiated with m held fixed; m enters only through the final state (C_T
and n_T are exp(-m_T) times the unstabilised ones), and its gradient goes to the winner of the
max (the initial state's term, or the earliest j, on a tie).
"""
import numpy as np

from .mlstm_parts import add_gates, initial_state, project, project_backward, sizes


def _heads_first(a):
    """(T, B, heads, ...) -> (B, heads, T, ...)."""
    return np.moveaxis(a, 0, 2)


def _decay(g, lengths, m0, T, B):
    """log D (B, heads, T, T) with -inf where masked, g (B, heads, T), m (B, heads, T), and the
    masked log f (B, heads, T)."""
    valid = np.ones((B, T), bool) if lengths is None else np.arange(T)[None, :] < lengths[:, None]
    log_f = np.where(valid[:, None, :], _heads_first(g["log_f"]), 0)
    F = np.cumsum(log_f, axis=-1)
    log_i = _heads_first(g["log_i"])
    keep = np.tril(np.ones((T, T), bool))[None, None] & valid[:, None, None, :]
    log_D = np.where(keep, F[..., :, None] - F[..., None, :] + log_i[..., None, :], -np.inf)
    g0 = F + m0[..., None]
    m = np.maximum(g0, log_D.max(axis=-1)) if T else g0
    return log_D, g0, m, log_f, valid


def forward_parallel(x, state, params, lengths=None, num_heads=1, forget_gate="sigmoid"):
    """Run the mLSTM over x (T, B, D) in the parallel form. Returns (y, (C_n, n_n, m_n), cache)."""
    T, B, _ = x.shape
    H, d = sizes(params, num_heads)
    g = project(x, params, num_heads, forget_gate)
    C0, n0, m0 = initial_state(state, B, H, num_heads, x.dtype)
    q, k, v = (_heads_first(g[name]) for name in "qkv")              # (B, heads, T, d)
    log_D, g0, m, log_f, valid = _decay(g, lengths, m0, T, B)
    D = np.exp(log_D - m[..., None])
    d0 = np.exp(g0 - m)
    qk = np.matmul(q, np.swapaxes(k, -1, -2))                         # q_t . k_j
    S = qk * D
    C0q = np.matmul(q, np.swapaxes(C0, -1, -2))                       # C_0 q_t, (B, heads, T, d)
    n0q = np.matmul(q, n0[..., None])[..., 0]                         # n_0 . q_t
    num = np.matmul(S, v) + d0[..., None] * C0q
    s = S.sum(axis=-1) + d0 * n0q
    den = np.maximum(np.abs(s), np.exp(-m))
    h_tilde = num / den[..., None]
    n_all = np.matmul(D, k) + d0[..., None] * n0[..., None, :]       # n_t, for the cache
    if T:
        last = D[..., -1, :]                                          # (B, heads, T)
        C_n = np.matmul(np.swapaxes(v * last[..., None], -1, -2), k) + d0[..., -1, None, None] * C0
        n_n, m_n = n_all[..., -1, :], m[..., -1]
    else:
        C_n, n_n, m_n = C0, n0, m0
    o = g["o"]
    y = o * np.moveaxis(h_tilde, 2, 0).reshape(T, B, H) * valid.T[..., None]
    m_prev = np.concatenate([m0[..., None], m[..., :-1]], axis=-1)
    cache = dict(x=x, params=params, lengths=lengths, mode="parallel", heads=num_heads,
                 forget_gate=forget_gate, g=g, C0=C0, n0=n0, valid=valid, D=D, d0=d0, qk=qk,
                 S=S, C0q=C0q, n0q=n0q, s=s, den=den, m=m, ht=h_tilde, C_n=C_n, n_n=n_n,
                 log_D=log_D, g0=g0,
                 ig=np.moveaxis(np.exp(_heads_first(g["log_i"]) - m), 2, 0),
                 # f' = exp(log f_t + m_{t-1} - m_t) <= 1; the closed-form m_t can fall an
                 # ulp short of log f_t + m_{t-1}, which must not show as f' > 1
                 fg=np.moveaxis(np.exp(np.minimum(log_f + m_prev - m, 0)), 2, 0))
    add_gates(cache, y, np.moveaxis(h_tilde, 2, 0), np.moveaxis(n_all, 2, 0))
    return y, (C_n, n_n.reshape(B, H), m_n), cache


def _readout_backward(c, dy):
    """Back through h = o * h~ and h~ = num / den with m fixed. Returns (do (T, B, H),
    dnum (B, heads, T, d), ds (B, heads, T))."""
    T, B, H = dy.shape
    heads = c["heads"]
    dy = dy * c["valid"].T[..., None]
    ht = np.moveaxis(c["ht"], 2, 0).reshape(T, B, H)
    do = dy * ht
    dht = _heads_first((dy * c["g"]["o"]).reshape(T, B, heads, H // heads))
    dnum = dht / c["den"][..., None]
    dden = -np.sum(dht * c["ht"], axis=-1) / c["den"]
    # den = max(|s|, exp(-m)): only the |s| branch depends on anything but m
    ds = np.where(np.abs(c["s"]) >= np.exp(-c["m"]), dden * np.sign(c["s"]), 0)
    return do, dnum, ds


def backward_parallel(dy, dstate_n, c):
    """Backpropagate through the parallel form. dstate_n: (dC_n, dn_n, dm_n) or None."""
    x, g = c["x"], c["g"]
    T, B, _ = x.shape
    heads = c["heads"]
    H = g["o"].shape[2]
    dC_n, dn_n, dm_n = initial_state(dstate_n, B, H, heads, x.dtype)
    q, k, v = (_heads_first(g[name]) for name in "qkv")
    C0, n0, D, d0, S = c["C0"], c["n0"], c["D"], c["d0"], c["S"]
    do, dnum, ds = _readout_backward(c, dy)
    # num = S v + d0 C_0 q,  s = sum_j S + d0 n_0 . q
    dS = np.matmul(dnum, np.swapaxes(v, -1, -2)) + ds[..., None]
    dv = np.matmul(np.swapaxes(S, -1, -2), dnum)
    dd0 = np.sum(dnum * c["C0q"], axis=-1) + ds * c["n0q"]
    dC0 = np.matmul(np.swapaxes(dnum * d0[..., None], -1, -2), q)
    dn0 = np.matmul((ds * d0)[..., None, :], q)[..., 0, :]
    dq = np.matmul(dnum * d0[..., None], C0) + (ds * d0)[..., None] * n0[..., None, :]
    # S = (q . k) D
    dqk = dS * D
    dD = dS * c["qk"]
    dq += np.matmul(dqk, k)
    dk = np.matmul(np.swapaxes(dqk, -1, -2), q)
    dlog_D, dg0 = _final_state_backward(c, v, k, dC_n, dn_n, dm_n, dD, dd0, dv, dk, dC0, dn0)
    # log D[t, j] = F_t - F_j + log i_j,  g_t = F_t + m_0,  F = cumsum(log f)
    dF = dlog_D.sum(axis=-1) - dlog_D.sum(axis=-2) + dg0
    dlog_i = dlog_D.sum(axis=-2)
    dm0 = dg0.sum(axis=-1)
    dlog_f = np.flip(np.cumsum(np.flip(dF, -1), axis=-1), -1) * c["valid"][:, None, :]
    back = lambda a: np.moveaxis(a, 2, 0)           # noqa: E731  (B, heads, T, ...) -> (T, ...)
    dx, grads = project_backward(x, c["params"], g, back(dq), back(dk), back(dv), do,
                                 back(dlog_i), back(dlog_f), c["forget_gate"])
    return dx, (dC0, dn0.reshape(B, H), dm0), grads


def _final_state_backward(c, v, k, dC_n, dn_n, dm_n, dD, dd0, dv, dk, dC0, dn0):
    """Add the final state's gradients (row T-1 of the sums, and m_T through exp(-m_T)) into
    dD, dd0, dv, dk, dC0, dn0 (in place). Returns (dlog_D, dg0)."""
    if c["D"].shape[-1] == 0:
        return np.zeros_like(c["D"]), np.zeros_like(c["d0"])
    last = c["D"][..., -1, :]                                         # (B, heads, T)
    vdC = np.matmul(v, dC_n)                                          # v_j^T dC_T, (.., T, d)
    kdCt = np.matmul(k, np.swapaxes(dC_n, -1, -2))                    # dC_T k_j
    dD[..., -1, :] += np.sum(vdC * k, axis=-1) + np.matmul(k, dn_n[..., None])[..., 0]
    dv += last[..., None] * kdCt
    dk += last[..., None] * (vdC + dn_n[..., None, :])
    d0_last = c["d0"][..., -1]
    dd0[..., -1] += np.sum(dC_n * c["C0"], axis=(-1, -2)) + np.sum(dn_n * c["n0"], axis=-1)
    dC0 += d0_last[..., None, None] * dC_n
    dn0 += d0_last[..., None] * dn_n
    dlog_D = dD * c["D"]
    dg0 = dd0 * c["d0"]
    # C_T, n_T are exp(-m_T) times the unstabilised sums; m_T = max(g, max_j log D[T-1, j])
    dm = dm_n - np.sum(dC_n * c["C_n"], axis=(-1, -2)) - np.sum(dn_n * c["n_n"], axis=-1)
    row = c["log_D"][..., -1, :]
    g_wins = c["g0"][..., -1] >= row.max(axis=-1)
    j = row.argmax(axis=-1)                                           # the earliest on a tie
    dg0[..., -1] += np.where(g_wins, dm, 0)
    np.put_along_axis(dlog_D[..., -1, :], j[..., None],
                      np.take_along_axis(dlog_D[..., -1, :], j[..., None], -1)
                      + np.where(g_wins, 0, dm)[..., None], axis=-1)
    return dlog_D, dg0

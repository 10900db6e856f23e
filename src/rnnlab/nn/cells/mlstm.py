"""The mLSTM cell (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"), forward and
backward, in two modes that compute the same function: ``recurrent`` (one step at a time, for
generation, and the oracle) here, and ``parallel`` (many steps at once, attention-like, for
training). ``parallel`` runs the chunkwise form (mlstm_chunkwise.py: the attention-like form
on blocks of L steps, the state carried between blocks; O(T L d + T d^2) time and O(T L)
memory per head), or, where the sequence is one chunk (T <= L), the whole-sequence form
(mlstm_parallel.py: O(T^2 d), (T, T) per head), which then does the same work less the
carried state's; a single step (T = 1, token-at-a-time generation) runs the recurrent form,
which skips the (T, T) machinery.

A matrix memory per head, written with a key and a value and read with a query. The gates read
x_t alone (no h_{t-1}), which is what makes the parallel form possible. Per head (heads of
d = H/heads units; scalar gates per head)::

    q_t = W_q x_t + b_q,  k_t = (W_k x_t + b_k) / sqrt(d),  v_t = W_v x_t + b_v    (d,) each
    i_t = exp(a_i)                   input gate (scalar): how strongly this pair is written
    f_t = sigma(a_f) or exp(a_f)     forget gate (scalar): how much of the memory is kept
    o_t = sigma(a_o)                 output gate (d,)
    C_t = f_t C_{t-1} + i_t v_t k_t^T            the memory, (d, d): values stored under keys
    n_t = f_t n_{t-1} + i_t k_t                  the normaliser: the keys written so far
    h~_t = C_t q_t / max(|n_t^T q_t|, 1)         read-out: the values whose keys match q_t
    h_t = o_t * h~_t

Stabiliser, as in the sLSTM (same outputs, no overflow)::

    m_t = max(log f_t + m_{t-1}, log i_t),  i'_t = exp(log i_t - m_t),
    f'_t = exp(log f_t + m_{t-1} - m_t),    C_t = f'_t C_{t-1} + i'_t v_t k_t^T,
    n_t = f'_t n_{t-1} + i'_t k_t,          h~_t = C_t q_t / max(|n_t^T q_t|, exp(-m_t))

C_t and n_t are exp(-m_t) times the unstabilised ones, so h~_t is unchanged (the 1 becomes
exp(-m_t)). A zero state starts with m_0 = 0.

Shapes: x (T, B, D), y (T, B, H). The state (C, n, m): C (B, heads, d, d) with C[b, j, a, c]
= sum of v_a k_c, n (B, H) (the heads' n side by side), m (B, heads).
params: weight_ih (4H + 2 heads, D), bias (4H + 2 heads,) (optional), rows in the order
q (H), k (H), v (H), o (H), i (heads), f (heads).
lengths: (B,) or None; past a row's length its state is carried and its y is 0.

The cache keeps, each (T, B, H): ``h``, ``h_tilde``, ``n`` (the state after each step), ``o``,
``q k v``, and per head, repeated over the head's d units: ``i_s`` (= i'_t), ``f_s``
(= f'_t), ``log_i`` (= a_i) and ``log_f``. C and m are not (T, B, H) and are not among them.

References: Beck et al. (2024), xLSTM, section 2.3 and appendix A.3 (the parallel form);
NX-AI/xlstm's pure-PyTorch mLSTM backends (``parallel_stabilized_simple``,
``recurrent_step_stabilized_simple``).
"""
import numpy as np

from ._common import blend, step_mask
from .mlstm_chunkwise import chunk_length, forward_chunkwise
from .mlstm_chunkwise_backward import backward_chunkwise
from .mlstm_parallel import backward_parallel, forward_parallel
from .mlstm_parts import add_gates, initial_state, project, project_backward, sizes

MODES = ("parallel", "recurrent")
FORGET_GATES = ("sigmoid", "exp")
STATE = ("C", "n", "m")
STABILISER = "m"               # the part that only rescales the others (no memory of its own)
GATES = ("h", "h_tilde", "n", "o", "q", "k", "v", "i_s", "f_s", "log_i", "log_f")
PLOTTED = ("log_i", "log_f", "o", "h_tilde", "n", "h")
BOUNDS = {"o": (0, 1), "i_s": (0, 1), "f_s": (0, 1)}
LEGEND = {
    "h": "hidden state h = o * h~: what the cell shows the next layer",
    "h_tilde": "read-out h~ = C q / max(|n.q|, 1): the stored values whose keys match the "
               "query, averaged",
    "n": "normaliser n: the keys written so far, each weighted by its input gate and the "
         "forget gates since (scaled by exp(-m))",
    "o": "output gate o: how much of the read-out to show",
    "q": "query q: what this step looks up in the memory",
    "k": "key k: where this step's value is stored",
    "v": "value v: what this step stores",
    "i_s": "stabilised input gate i' = exp(log i - m_t) in (0, 1], one per head: how strongly "
           "this step's value is written, relative to the largest weight so far",
    "f_s": "stabilised forget gate f' in (0, 1], one per head: how much of the memory is kept",
    "log_i": "log of the exponential input gate i = exp(a_i), one per head: unbounded",
    "log_f": "log of the forget gate, one per head (<= 0 for the sigmoid gate)",
}


def forward(x, state, params, lengths=None, num_heads=1, forget_gate="sigmoid",
            mode="parallel"):
    """Run the mLSTM over x (T, B, D). Returns (y, (C_n, n_n, m_n), cache)."""
    if mode == "parallel" and x.shape[0] > 1:   # one step (generation): the step form is cheaper
        L = chunk_length(x.shape[0], sizes(params, num_heads)[1])
        if L >= x.shape[0]:
            return forward_parallel(x, state, params, lengths, num_heads, forget_gate)
        return forward_chunkwise(x, state, params, lengths, num_heads, forget_gate, chunk=L)
    return forward_recurrent(x, state, params, lengths, num_heads, forget_gate)


def backward(dy, dstate_n, cache):
    """dy: (T, B, H); dstate_n: (dC_n, dn_n, dm_n) or None (any part may be None).
    Returns (dx (T, B, D), (dC0, dn0, dm0), grads). The cache says which form made it."""
    form = {"chunkwise": backward_chunkwise, "parallel": backward_parallel,
            "recurrent": backward_recurrent}[cache["mode"]]
    return form(dy, dstate_n, cache)


def forward_recurrent(x, state, params, lengths=None, num_heads=1, forget_gate="sigmoid"):
    """The recurrent form, one step at a time (the equations above, literally)."""
    T, B, _ = x.shape
    H, d = sizes(params, num_heads)
    g = project(x, params, num_heads, forget_gate)
    C, n, m = initial_state(state, B, H, num_heads, x.dtype)
    cache = dict(x=x, params=params, lengths=lengths, mode="recurrent", heads=num_heads,
                 forget_gate=forget_gate, C0=C, n0=n, m0=m, g=g,
                 Cs=np.empty((T, B, num_heads, d, d), x.dtype),
                 ns=np.empty((T, B, num_heads, d), x.dtype),
                 ms=np.empty((T, B, num_heads), x.dtype),
                 ig=np.empty((T, B, num_heads), x.dtype), fg=np.empty((T, B, num_heads), x.dtype),
                 ht=np.empty((T, B, num_heads, d), x.dtype), s=np.empty((T, B, num_heads), x.dtype),
                 den=np.empty((T, B, num_heads), x.dtype))
    y = np.zeros((T, B, H), x.dtype)
    for t in range(T):
        q, k, v = g["q"][t], g["k"][t], g["v"][t]
        m_new = np.maximum(g["log_f"][t] + m, g["log_i"][t])
        i_s = np.exp(g["log_i"][t] - m_new)
        f_s = np.exp(g["log_f"][t] + m - m_new)
        vk = v[..., :, None] * k[..., None, :]                  # v_t k_t^T
        C_new = f_s[..., None, None] * C + i_s[..., None, None] * vk
        n_new = f_s[..., None] * n + i_s[..., None] * k
        s = np.sum(n_new * q, axis=-1)                          # n_t . q_t
        den = np.maximum(np.abs(s), np.exp(-m_new))
        h_tilde = np.matmul(C_new, q[..., None])[..., 0] / den[..., None]
        mask = step_mask(lengths, t, x.dtype)
        C = C_new if mask is None else blend(mask[:, :, None, None], C_new, C)
        n = n_new if mask is None else blend(mask[:, :, None], n_new, n)
        m = blend(mask, m_new, m)
        h = g["o"][t] * h_tilde.reshape(B, H)
        y[t] = h if mask is None else mask * h
        for name, a in (("Cs", C), ("ns", n), ("ms", m), ("ig", i_s), ("fg", f_s),
                        ("ht", h_tilde), ("s", s), ("den", den)):
            cache[name][t] = a
    add_gates(cache, y, cache["ht"], cache["ns"])
    return y, (C, n.reshape(B, H), m), cache


def backward_recurrent(dy, dstate_n, cache):
    """Backpropagate through the recurrent form, step by step, through m as well."""
    x, g, lengths = cache["x"], cache["g"], cache["lengths"]
    T, B, _ = x.shape
    heads = cache["heads"]
    H = g["o"].shape[2]
    d = H // heads
    dC, dn, dm = initial_state(dstate_n, B, H, heads, x.dtype)
    grads = {k: np.zeros_like(g[k]) for k in ("q", "k", "v", "o", "log_i", "log_f")}
    C_prev = np.concatenate([cache["C0"][None], cache["Cs"][:-1]])
    n_prev = np.concatenate([cache["n0"][None], cache["ns"][:-1]])
    m_prev = np.concatenate([cache["m0"][None], cache["ms"][:-1]])
    for t in reversed(range(T)):
        mask = step_mask(lengths, t, x.dtype)
        keep = np.ones((B, 1), x.dtype) if mask is None else mask
        dyt = (keep * dy[t]).reshape(B, heads, d)
        ht, den, s, i_s, f_s = (cache[k][t] for k in ("ht", "den", "s", "ig", "fg"))
        q, k, v = g["q"][t], g["k"][t], g["v"][t]
        o = g["o"][t].reshape(B, heads, d)
        grads["o"][t] = (dyt * ht).reshape(B, H)
        dht = dyt * o
        dnum = dht / den[..., None]
        dden = -np.sum(dht * ht, axis=-1) / den
        abs_wins = np.abs(s) >= np.exp(-cache["ms"][t])
        ds = np.where(abs_wins, dden * np.sign(s), 0)
        dm_t = keep * dm + np.where(abs_wins, 0, -dden * np.exp(-cache["ms"][t]))
        C_t = cache["Cs"][t]
        dC_t = keep[..., None, None] * dC + dnum[..., :, None] * q[..., None, :]
        dn_t = keep[..., None] * dn + ds[..., None] * q
        grads["q"][t] = np.matmul(np.swapaxes(C_t, -1, -2), dnum[..., None])[..., 0] \
            + ds[..., None] * cache["ns"][t]
        # C_t = f' C_{t-1} + i' v k^T,  n_t = f' n_{t-1} + i' k
        dCk = np.matmul(dC_t, k[..., None])[..., 0]                       # dC_t k
        dCv = np.matmul(np.swapaxes(dC_t, -1, -2), v[..., None])[..., 0]  # dC_t^T v
        df_s = np.sum(dC_t * C_prev[t], axis=(-1, -2)) + np.sum(dn_t * n_prev[t], axis=-1)
        di_s = np.sum(v * dCk, axis=-1) + np.sum(dn_t * k, axis=-1)
        grads["v"][t] = i_s[..., None] * dCk
        grads["k"][t] = i_s[..., None] * (dCv + dn_t)
        dlog_i, dlog_f = di_s * i_s, df_s * f_s
        dm_t = dm_t - dlog_i - dlog_f
        dm_p = dlog_f.copy()
        take_f = g["log_f"][t] + m_prev[t] >= g["log_i"][t]    # the max's winner takes dm_t
        dlog_f += np.where(take_f, dm_t, 0)
        dm_p += np.where(take_f, dm_t, 0)
        dlog_i += np.where(take_f, 0, dm_t)
        grads["log_i"][t], grads["log_f"][t] = dlog_i, dlog_f
        dC_p, dn_p = f_s[..., None, None] * dC_t, f_s[..., None] * dn_t
        if mask is not None:                  # past a row's end the state was carried
            dC_p = dC_p + (1 - mask)[..., None, None] * dC
            dn_p = dn_p + (1 - mask)[..., None] * dn
            dm_p = dm_p + (1 - mask) * dm
        dC, dn, dm = dC_p, dn_p, dm_p
    dx, pgrads = project_backward(x, cache["params"], g, grads["q"], grads["k"], grads["v"],
                                  grads["o"], grads["log_i"], grads["log_f"], cache["forget_gate"])
    return dx, (dC, dn.reshape(B, H), dm), pgrads

"""The mLSTM's chunkwise-parallel form (as NX-AI's xLSTM kernels train it): the steps split into
chunks of L, the parallel form (mlstm_parallel.py) inside each chunk on (L, L) blocks, and the
recurrent state (C, n, m) carried from chunk to chunk. Same function as the recurrent form in
mlstm.py (tests/test_mlstm_chunkwise.py holds them to 1e-12 in float64, forward and backward);
the backward is in mlstm_chunkwise_backward.py.

Why it is exact: the stabiliser unrolls chunk by chunk. With the state (C_p, n_p, m_p) after
the step before chunk c and b_t = log f_s + ... + log f_t (s the chunk's first step), the
chunk is the parallel form with (C_p, n_p, m_p) as its initial state. Per head::

    log D[t, j] = b_t - b_j + log i_j     (s <= j <= t; -inf above the diagonal, at padding)
    g_t = b_t + m_p                        the carried state's weight, in logs
    m_t = max(g_t, max_j log D[t, j])      the recurrent form's m_t (m_p holds all before s)
    D = exp(log D - m_t),  d0_t = exp(g_t - m_t),  S[t, j] = (q_t . k_j) D[t, j]
    C_t q_t = sum_j S[t, j] v_j + d0_t C_p q_t,   n_t . q_t = sum_j S[t, j] + d0_t n_p . q_t
    h~_t = C_t q_t / max(|n_t . q_t|, exp(-m_t))

and the state carried on is the chunk's last row (w = D[L-1, :], d0_L = d0_{L-1})::

    m_e = m_{L-1},   C_e = d0_L C_p + sum_j w_j v_j k_j^T,   n_e = d0_L n_p + sum_j w_j k_j

So the forward runs three passes: m chunk by chunk (scalars per head), the chunks' writes
sum_j w_j v_j k_j^T all at once, C and n chunk by chunk (elementwise), then every chunk's
read-out at once. T is padded up to a multiple of L with padding steps (log f = 0, no write,
as the ragged rows' tails): they leave the state as it was, so the last chunk's end state is
the final state.

Cost per head and row: O(T L d) for the blocks and O(T d^2) for the carried state, and
(T/L) (L, L) blocks, i.e. O(T L) memory instead of the parallel form's O(T^2).

Shapes: heads first, chunked: q, k, v (B, heads, nc, L, d); the per-step scalars (B, heads,
nc, L); the blocks (B, heads, nc, L, L); the carried states C_p (B, heads, nc + 1, d, d),
n_p (B, heads, nc + 1, d), m_p (B, heads, nc + 1): entry c is the state chunk c starts from,
entry nc the final state.
"""
import numpy as np

from .mlstm_parts import add_gates, initial_state, project, sizes

# L, steps per chunk: about d, the head's units (the blocks cost O(T L d), the carried state
# O(T d^2)), within these bounds; benchmarks/mlstm_forms.py measured the choice (docs/cells.md)
MIN_CHUNK, MAX_CHUNK = 16, 64


def chunk_length(T, d):
    """L for T steps of heads of d units: about d, within [MIN_CHUNK, MAX_CHUNK], evened out so
    that the last chunk is nearly full (T = 100 runs as 2 x 50, not 64 + 36 padded to 128)."""
    chunks = max(1, -(-T // min(MAX_CHUNK, max(MIN_CHUNK, d))))
    return max(1, -(-T // chunks))


def chunked(a, T, L, fill=0.0):
    """(T, B, heads, ...) -> (B, heads, nc, L, ...), padded past T with `fill`,
    contiguous (the batched matmuls read whole blocks)."""
    nc = -(-T // L)
    out = np.full(a.shape[1:3] + (nc * L,) + a.shape[3:], fill, a.dtype)
    out[:, :, :T] = np.moveaxis(a, 0, 2)
    return out.reshape(a.shape[1:3] + (nc, L) + a.shape[3:])


def unchunked(a, T):
    """(B, heads, nc, L, ...) -> (T, B, heads, ...), the padding dropped."""
    B, heads, nc, L = a.shape[:4]
    return np.moveaxis(a.reshape((B, heads, nc * L) + a.shape[4:])[:, :, :T], 2, 0)


def chunk_decay(log_i, log_f, valid):
    """log D (B, heads, nc, L, L) (-inf above the diagonal and in padding columns) and b, the
    within-chunk cumulative log f (B, heads, nc, L). log_f is already 0 at padding."""
    L = log_f.shape[-1]
    b = np.cumsum(log_f, axis=-1)
    keep = np.tril(np.ones((L, L), bool)) & valid[:, None, :, None, :]
    log_D = b[..., :, None] - b[..., None, :]
    log_D += log_i[..., None, :]
    np.copyto(log_D, -np.inf, where=~keep)
    return log_D, b


def carried_states(C0, n0, m0, v, k, log_D, b):
    """The state each chunk starts from (and the final one): C_p, n_p, m_p (see the shapes
    above), with the chunk-end quantities the backward needs: d0_L (B, heads, nc) and w
    (B, heads, nc, L)."""
    nc = b.shape[2]
    row = log_D[..., -1, :]                                         # log D[L-1, j]
    row_max = row.max(axis=-1)
    m_p = np.empty(b.shape[:2] + (nc + 1,), b.dtype)
    m_p[..., 0] = m0
    for c in range(nc):                                             # m_e = max(g_{L-1}, row)
        m_p[..., c + 1] = np.maximum(b[..., c, -1] + m_p[..., c], row_max[..., c])
    d0_L = np.exp(b[..., -1] + m_p[..., :-1] - m_p[..., 1:])
    w = np.exp(row - m_p[..., 1:, None])
    writes = np.matmul(np.swapaxes(v * w[..., None], -1, -2), k)   # sum_j w_j v_j k_j^T
    key_sums = np.matmul(w[..., None, :], k)[..., 0, :]            # sum_j w_j k_j
    C_p = np.empty(C0.shape[:2] + (nc + 1,) + C0.shape[2:], C0.dtype)
    n_p = np.empty(n0.shape[:2] + (nc + 1,) + n0.shape[2:], n0.dtype)
    C_p[:, :, 0], n_p[:, :, 0] = C0, n0
    for c in range(nc):
        C_p[:, :, c + 1] = d0_L[..., c, None, None] * C_p[:, :, c] + writes[:, :, c]
        n_p[:, :, c + 1] = d0_L[..., c, None] * n_p[:, :, c] + key_sums[:, :, c]
    return C_p, n_p, m_p, d0_L, w


def forward_chunkwise(x, state, params, lengths=None, num_heads=1, forget_gate="sigmoid",
                      chunk=None):
    """Run the mLSTM over x (T, B, D) in chunks of `chunk` steps (None: chunk_length).
    Returns (y, (C_n, n_n, m_n), cache)."""
    T, B, _ = x.shape
    H, d = sizes(params, num_heads)
    g = project(x, params, num_heads, forget_gate)
    C0, n0, m0 = initial_state(state, B, H, num_heads, x.dtype)
    L = max(1, min(int(chunk or chunk_length(T, d)), T))
    valid_t = np.ones((T, B), bool) if lengths is None else np.arange(T)[:, None] < lengths
    valid = chunked(valid_t[:, :, None], T, L, False)[:, 0]          # (B, nc, L)
    q, k, v = (chunked(g[name], T, L) for name in "qkv")
    log_i = chunked(g["log_i"], T, L)
    log_f = chunked(np.where(valid_t[..., None], g["log_f"], 0), T, L)
    log_D, b = chunk_decay(log_i, log_f, valid)
    C_p, n_p, m_p, d0_L, w = carried_states(C0, n0, m0, v, k, log_D, b)
    Cs, ns, ms = C_p[:, :, :-1], n_p[:, :, :-1], m_p[..., :-1]      # chunk c starts from these
    g0 = b + ms[..., None]
    m = np.maximum(g0, log_D.max(axis=-1))
    D = np.subtract(log_D, m[..., None])
    np.exp(D, out=D)
    d0 = np.exp(g0 - m)
    qk = np.matmul(q, np.swapaxes(k, -1, -2))                        # q_t . k_j
    S = qk * D
    C0q = np.matmul(q, np.swapaxes(Cs, -1, -2))                      # C_p q_t
    n0q = np.matmul(q, ns[..., None])[..., 0]                        # n_p . q_t
    num = np.matmul(S, v) + d0[..., None] * C0q
    s = S.sum(axis=-1) + d0 * n0q
    den = np.maximum(np.abs(s), np.exp(-m))
    h_tilde = num / den[..., None]
    n_all = np.matmul(D, k) + d0[..., None] * ns[..., None, :]      # n_t, for the cache
    h_tilde_T = unchunked(h_tilde, T).reshape(T, B, H)
    y = g["o"] * h_tilde_T
    if lengths is not None:                                          # y is 0 past the end
        y *= valid_t[..., None]
    cache = dict(x=x, params=params, lengths=lengths, mode="chunkwise", heads=num_heads,
                 forget_gate=forget_gate, g=g, valid=valid, valid_t=valid_t, C_p=C_p, n_p=n_p,
                 m_p=m_p, d0_L=d0_L, w=w, log_D=log_D, b=b, m=m, D=D, d0=d0, qk=qk, S=S,
                 C0q=C0q, n0q=n0q, s=s, den=den, ht=h_tilde, qc=q, kc=k, vc=v)
    cache.update(_step_gates(log_i, log_f, m, m0, T))
    add_gates(cache, y, h_tilde_T, unchunked(n_all, T))
    return y, (C_p[:, :, -1], n_p[:, :, -1].reshape(B, H), m_p[..., -1]), cache


def _step_gates(log_i, log_f, m, m0, T):
    """The stabilised gates the cache shows, (T, B, heads): i' = exp(log i - m_t) and
    f' = exp(log f_t + m_{t-1} - m_t), capped at 1 (m_t can fall an ulp short)."""
    B, heads = m.shape[:2]
    m_flat = m.reshape(B, heads, -1)
    m_prev = np.concatenate([m0[..., None], m_flat[..., :-1]], axis=-1)
    fg = np.exp(np.minimum(log_f.reshape(B, heads, -1) + m_prev - m_flat, 0))
    ig = np.exp(log_i.reshape(B, heads, -1) - m_flat)
    return dict(ig=np.moveaxis(ig[..., :T], 2, 0), fg=np.moveaxis(fg[..., :T], 2, 0))

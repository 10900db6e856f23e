"""A compiled B = 1 ``Stepper`` for the mLSTM: one-token-at-a-time generation, one compiled
call per token. The equations are those of ``rnnlab.nn.cells.mlstm`` (its docstring; the
recurrent form there is the oracle); training runs that module's NumPy forms, so this module
has no ``forward``/``backward`` (the layer's ``kernel`` stays None; ``MLSTM.stepper_loader``
names this module for ``steppers()`` alone).

Per step: ``acc = b + x W_ih^T`` (``tiles.matvec_packed`` on W_ih^T packed once; the gates
read x alone, so there is no recurrent half), rows q, k, v, o (H each), i, f (one per head);
then per head one pass over the memory that updates C, n and reads C q out in the same loop.

The memory is kept transposed, ``CT[j, c, a] = C[j, a, c]`` (key index c outer, value index a
inner): the update ``C = f' C + i' v k^T`` and the read-out ``C q = sum_c q_c C[:, c]`` are
then both loops over a contiguous row with no sum across lanes, which LLVM vectorises without
reordering any sum (the read-out adds the c terms in order). ``reset`` and ``state`` take and
give C in the layer's layout (heads, d, d), C[j, a, c] = sum of v_a k_c.
"""
import math

import numpy as np
from numba import njit

from ._common import as_dtype
from .activations import one, sigm
from .slstm_gates import log_sigmoid
from .tiles import matvec_packed

FORGET_GATES = ("sigmoid", "exp")
MODES = ("parallel", "recurrent")


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _step(x, W, bias, no_h, xh, acc, CT, n, m, h, k_scale, exp_f):
    """One B = 1 step in place. CT (heads, d, d): C transposed; n (H,); m (heads,); h (H,):
    the output, also the read-out's accumulator. acc (4H + 2 heads,): the pre-activations."""
    heads, d = CT.shape[0], CT.shape[1]
    H = heads * d
    matvec_packed(x, no_h, W, bias, xh, acc)          # acc = b + W_ih x: no recurrent input
    o1 = one(acc)
    for j in range(heads):
        log_i = acc[4 * H + j]                        # i_t = exp(a_i): log i_t = a_i
        af = acc[4 * H + heads + j]
        log_f = af if exp_f else log_sigmoid(af)      # f_t = exp(a_f) or sigma(a_f)
        keep = log_f + m[j]                           # log f_t + m_{t-1}
        # m_t = max(log f_t + m_{t-1}, log i_t), i' = exp(log i_t - m_t),
        # f' = exp(log f_t + m_{t-1} - m_t): the max's winner has exp(0) = 1, one exp per head
        if keep >= log_i:
            m_new, f_s, i_s = keep, o1, math.exp(log_i - keep)
        else:
            m_new, i_s, f_s = log_i, o1, math.exp(keep - log_i)
        m[j] = m_new
        q0, k0, v0, u0 = j * d, H + j * d, 2 * H + j * d, j * d
        num = h[u0:u0 + d]                            # C_t q_t, summed over the keys c in order
        num[:] = 0
        s = o1 - o1                                   # n_t . q_t
        for c in range(d):
            k_c = acc[k0 + c] / k_scale               # k_t = (W_k x_t + b_k) / sqrt(d)
            q_c = acc[q0 + c]
            n_c = f_s * n[u0 + c] + i_s * k_c         # n_t = f' n_{t-1} + i' k_t
            n[u0 + c] = n_c
            s += n_c * q_c
            ik = i_s * k_c
            row = CT[j, c]                            # C[:, c], the values stored under key c
            for a in range(d):
                C_ac = f_s * row[a] + ik * acc[v0 + a]    # C_t = f' C_{t-1} + i' v_t k_t^T
                row[a] = C_ac
                num[a] += q_c * C_ac
        den = max(abs(s), math.exp(-m_new))           # max(|n_t . q_t|, exp(-m_t))
        for a in range(d):                            # h_t = sigma(a_o) * C_t q_t / den
            h[u0 + a] = sigm(acc[3 * H + u0 + a]) * (num[a] / den)


class Stepper:
    """Streaming mLSTM for generation: B = 1, one input vector at a time, no allocation per
    step; the same interface as the other kernels' steppers. W_ih is packed once (transposed,
    C-contiguous); each ``step`` is one compiled call.

    >>> s = Stepper(params, np.float32, num_heads=4); s.reset(); h = s.step(x_t)

    params: the layer's ``cell_params(k)`` (weight_ih (4H + 2 heads, D), bias optional).
    ``mode`` is accepted and ignored: both modes compute the same function, and one step is
    the recurrent form either way. ``step`` returns the internal h buffer (overwritten by the
    next step; copy to keep it).
    """

    def __init__(self, params, dtype=np.float32, num_heads=1, forget_gate="sigmoid",
                 mode="recurrent"):
        if forget_gate not in FORGET_GATES or mode not in MODES:
            from ...errors import RnnlabError
            raise RnnlabError(f"forget_gate must be one of {FORGET_GATES} and mode one of "
                              f"{MODES}, got {forget_gate!r} and {mode!r}")
        self.exp_f = forget_gate == "exp"
        self.dtype = dt = np.dtype(dtype)
        w_ih = np.asarray(params["weight_ih"], dt)
        heads = int(num_heads)
        H = (w_ih.shape[0] - 2 * heads) // 4
        d = H // heads
        self.heads, self.d, self.H = heads, d, H
        self.W = np.ascontiguousarray(w_ih.T)                       # (D, 4H + 2 heads)
        self.bias = as_dtype(params["bias"], dt) if "bias" in params \
            else np.zeros(w_ih.shape[0], dt)
        self.k_scale = dt.type(math.sqrt(d))   # the cell divides k by sqrt(d) in x's dtype
        self.no_h = np.empty(0, dt)
        self.xh = np.empty(w_ih.shape[1], dt)
        self.acc = np.empty(w_ih.shape[0], dt)
        self.CT = np.zeros((heads, d, d), dt)
        self.n = np.zeros(H, dt)
        self.m = np.zeros(heads, dt)
        self.h = np.zeros(H, dt)

    def reset(self, C0=None, n0=None, m0=None):
        """Start a new sequence from (C0 (heads, d, d), n0 (H,), m0 (heads,)), the layer's
        state parts for one row and layer; zeros when None (m_0 = 0, as the cell)."""
        self.CT[:] = 0 if C0 is None else np.swapaxes(np.asarray(C0), 1, 2)
        self.n[:] = 0 if n0 is None else n0
        self.m[:] = 0 if m0 is None else m0
        self.h[:] = 0

    def state(self):
        """(C, n, m) copies, C (heads, d, d) in the layer's layout."""
        return np.ascontiguousarray(np.swapaxes(self.CT, 1, 2)), self.n.copy(), self.m.copy()

    def step(self, x_t):
        """Advance one step with input x_t (D,) of the stepper's dtype; returns h (H,)."""
        _step(x_t, self.W, self.bias, self.no_h, self.xh, self.acc, self.CT, self.n, self.m,
              self.h, self.k_scale, self.exp_f)
        return self.h

"""The sLSTM cell (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"), forward and
backward through time.

The LSTM with an exponential input gate, a normaliser state n and a stabiliser m. Equations
(xLSTM's gate order i, f, z, o; sigma is the logistic function)::

    a_t = W_ih x_t + R h_{t-1} + b                      pre-activations, (B, 4H)
    i_t = exp(a_i)                 input gate: exponential, so one input can outweigh all before it
    f_t = sigma(a_f) or exp(a_f)   forget gate (``forget_gate='sigmoid'`` or ``'exp'``)
    z_t = tanh(a_z)                candidate: what new information is written
    o_t = sigma(a_o)               output gate
    c_t = f_t c_{t-1} + i_t z_t    the memory: a weighted sum of the candidates
    n_t = f_t n_{t-1} + i_t        the normaliser: the same sum of the weights alone
    h_t = o_t * (c_t / n_t)        c/n is a weighted average of the candidates, in (-1, 1)

exp(a_i) overflows, so the cell carries the stabiliser m_t and the memory scaled by exp(-m_t)::

    m_t = max(log f_t + m_{t-1}, log i_t)              the largest log weight so far
    i'_t = exp(log i_t - m_t)                           stabilised input gate, in (0, 1]
    f'_t = exp(log f_t + m_{t-1} - m_t)                 stabilised forget gate, in (0, 1]
    c_t = f'_t c_{t-1} + i'_t z_t,   n_t = f'_t n_{t-1} + i'_t

c_t and n_t are both exp(-m_t) times the unstabilised ones, so c_t / n_t and h_t are exactly
the same; nothing overflows (log i_t = a_i, log f_t = log sigma(a_f) or a_f). The state
(h, c, n, m) carries the stabilised c and n; a zero state starts with m_0 = 0.

Heads: H units split into ``num_heads`` heads of H/heads units; R is block-diagonal, so a
unit's gates read only the h of its own head. Stored compactly: ``weight_hh (4H, H/heads)``,
row g*H + j (gate g, unit j) holding the recurrent weights of unit j from the H/heads units of
its head. With one head it is the full (4H, H) matrix.

Shapes: x (T, B, D), state (h0, c0, n0, m0) each (B, H), y (T, B, H).
params: weight_ih (4H, D), weight_hh (4H, H/heads), bias (4H,) (optional); gate blocks of H
rows in the order i, f, z, o.
lengths: (B,) or None; past a row's length its state is carried and its y is 0.

The cache keeps, each (T, B, H): ``h c n m`` (the state after each step), ``z o``, ``log_i``
(= a_i), ``log_f``, ``i_s`` (= i'_t) and ``f_s`` (= f'_t). The backward pass follows the
stabilised equations literally, through m as well: the max sends its gradient to the branch
that won (log f_t + m_{t-1} on a tie).

References: Beck et al. (2024), xLSTM, section 2.2 and appendix A.2 (the stabiliser);
NX-AI/xlstm's pure-PyTorch "vanilla" sLSTM (the gate order and the stabiliser).
"""
import numpy as np

from ..functional import sigmoid
from ._common import blend, step_mask, zeros_or

FORGET_GATES = ("sigmoid", "exp")
STATE = ("h", "c", "n", "m")
STATE_MIN = {"n": 0.0}          # n sums positive weights: a given n_0 below 0 is refused
STABILISER = "m"               # the part that only rescales the others (no memory of its own)
GATES = ("h", "c", "n", "m", "z", "log_i", "log_f", "o", "i_s", "f_s")
PLOTTED = ("z", "log_i", "log_f", "o", "c", "h")
BOUNDS = {"z": (-1, 1), "o": (0, 1), "i_s": (0, 1), "f_s": (0, 1), "h": (-1, 1)}
LEGEND = {
    "h": "hidden state h = o * (c / n): what the cell shows the next step and the next layer",
    "c": "memory c: the candidates z written so far, each weighted by its input gate and the "
         "forget gates since (scaled by exp(-m))",
    "n": "normaliser n: the sum of those weights alone, so c / n is a weighted average of z",
    "m": "stabiliser m: the largest log weight so far; c and n are kept divided by exp(m) so "
         "the exponential gates never overflow",
    "z": "candidate z: what new information is written (tanh, in [-1, 1])",
    "log_i": "log of the input gate i = exp(a_i): unbounded; one step with a large log i can "
             "outweigh everything stored before it",
    "log_f": "log of the forget gate f (log sigma(a_f) <= 0, or a_f for the exp gate): how "
             "fast the old memory fades",
    "o": "output gate o: how much of the memory to show",
    "i_s": "stabilised input gate i' = exp(log i - m_t) in (0, 1]: the new input's weight "
           "relative to the largest weight so far",
    "f_s": "stabilised forget gate f' = exp(log f + m_{t-1} - m_t) in (0, 1]: how much of "
           "the old memory is kept, on the same scale",
}


def log_sigmoid(a):
    """log sigma(a) = min(a, 0) - log(1 + exp(-|a|)), without overflow."""
    return np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))


def log_forget(a_f, forget_gate):
    """log f_t from the forget gate's pre-activation."""
    return log_sigmoid(a_f) if forget_gate == "sigmoid" else a_f


def dlog_forget(log_f, forget_gate):
    """d log f / d a_f: sigma(-a_f) = 1 - f = -expm1(log f) for the sigmoid gate, 1 for exp."""
    return -np.expm1(log_f) if forget_gate == "sigmoid" else np.ones_like(log_f)


def head_weights(weight_hh):
    """weight_hh (4H, dh) -> R per head (heads, dh_in, 4*dh_out), for h (heads, B, dh) @ R."""
    GH, dh = weight_hh.shape
    heads = GH // 4 // dh
    return np.ascontiguousarray(
        weight_hh.reshape(4, heads, dh, dh).transpose(1, 3, 0, 2).reshape(heads, dh, 4 * dh))


def recurrent_projection(h, R):
    """R h_{t-1} with the block-diagonal R: h (B, H), R (heads, dh, 4dh) -> (B, 4H) in the
    gate-major order of the pre-activations."""
    B, H = h.shape
    heads, dh = R.shape[:2]
    out = np.matmul(h.reshape(B, heads, dh).transpose(1, 0, 2), R)     # (heads, B, 4dh)
    return out.reshape(heads, B, 4, dh).transpose(1, 2, 0, 3).reshape(B, 4 * H)


def recurrent_grad(dA, weight_hh):
    """dh_{t-1} = R^T dA_t: dA (B, 4H) -> (B, H)."""
    B, GH = dA.shape
    dh = weight_hh.shape[1]
    heads = GH // 4 // dh
    d = dA.reshape(B, 4, heads, dh).transpose(2, 0, 1, 3).reshape(heads, B, 4 * dh)
    W = weight_hh.reshape(4, heads, dh, dh).transpose(1, 0, 2, 3).reshape(heads, 4 * dh, dh)
    return np.matmul(d, W).transpose(1, 0, 2).reshape(B, heads * dh)


def weight_grads(params, x, h_prev, dA):
    """dW_ih = dA^T x, dW_hh per head (only the blocks R has), db = sum dA.
    x (T, B, D), h_prev (T, B, H), dA (T, B, 4H)."""
    T, B, D = x.shape
    dh = params["weight_hh"].shape[1]
    H = h_prev.shape[2]
    heads = H // dh
    d2 = dA.reshape(T * B, 4 * H)
    dR = np.matmul(d2.reshape(T * B, 4, heads, dh).transpose(2, 1, 3, 0).reshape(heads, 4 * dh, -1),
                   h_prev.reshape(T * B, heads, dh).transpose(1, 0, 2))   # (heads, 4dh, dh)
    grads = {"weight_ih": d2.T @ x.reshape(T * B, D),
             "weight_hh": dR.reshape(heads, 4, dh, dh).transpose(1, 0, 2, 3).reshape(4 * H, dh)}
    if "bias" in params:
        grads["bias"] = d2.sum(axis=0)
    return grads


def forward(x, state, params, lengths=None, forget_gate="sigmoid"):
    """Run the sLSTM over x (T, B, D). Returns (y, (h_n, c_n, n_n, m_n), cache)."""
    T, B, D = x.shape
    H = params["weight_ih"].shape[0] // 4
    h, c, n, m = (zeros_or(s, (B, H), x.dtype)
                  for s in ((None,) * 4 if state is None else state))
    cache = {name: np.empty((T, B, H), x.dtype) for name in GATES}
    cache.update(x=x, h0=h, c0=c, n0=n, m0=m, lengths=lengths, params=params,
                 forget_gate=forget_gate)
    y = np.zeros((T, B, H), x.dtype)
    ax = (x.reshape(T * B, D) @ params["weight_ih"].T).reshape(T, B, 4 * H)
    if "bias" in params:
        ax += params["bias"]
    R = head_weights(params["weight_hh"])
    for t in range(T):
        a = ax[t] + recurrent_projection(h, R)
        log_i = a[:, :H]
        log_f = log_forget(a[:, H:2 * H], forget_gate)
        z, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        m_new = np.maximum(log_f + m, log_i)          # the stabiliser
        i_s = np.exp(log_i - m_new)
        f_s = np.exp(log_f + m - m_new)
        c_new = f_s * c + i_s * z
        n_new = f_s * n + i_s
        h_new = o * (c_new / n_new)
        mask = step_mask(lengths, t, x.dtype)
        h, c, n, m = (blend(mask, new, old) for new, old in
                      ((h_new, h), (c_new, c), (n_new, n), (m_new, m)))
        y[t] = h_new if mask is None else mask * h_new
        for name, v in (("h", h), ("c", c), ("n", n), ("m", m), ("z", z), ("log_i", log_i),
                        ("log_f", log_f), ("o", o), ("i_s", i_s), ("f_s", f_s)):
            cache[name][t] = v
    return y, (h, c, n, m), cache


def _previous(cache, name):
    """The state part before each step: (T, B, H) = [part_0, part after step 0, ...]."""
    return np.concatenate([cache[name + "0"][None], cache[name][:-1]])


def backward(dy, dstate_n, cache):
    """Backpropagate through time. dy: (T, B, H); dstate_n: (dh_n, dc_n, dn_n, dm_n) or None
    (any part may be None). Returns (dx (T, B, D), (dh0, dc0, dn0, dm0), grads)."""
    x, params, lengths = cache["x"], cache["params"], cache["lengths"]
    T, B, _ = x.shape
    H = params["weight_ih"].shape[0] // 4
    # dL/d(state after step t), arriving from the future
    dh, dc, dn, dm = (zeros_or(s, (B, H), x.dtype)
                      for s in ((None,) * 4 if dstate_n is None else dstate_n))
    dA = np.empty((T, B, 4 * H), x.dtype)
    h_prev, c_prev, n_prev, m_prev = (_previous(cache, k) for k in "hcnm")
    for t in reversed(range(T)):
        mask = step_mask(lengths, t, x.dtype)
        dA[t], dc_p, dn_p, dm_p = _step_backward(cache, t, mask, dy[t], dh, dc, dn, dm,
                                                 c_prev[t], n_prev[t], m_prev[t])
        dh_p = recurrent_grad(dA[t], params["weight_hh"])
        if mask is not None:                  # past a row's end the state was carried
            dh_p, dc_p, dn_p, dm_p = (new + (1 - mask) * old for new, old in
                                      ((dh_p, dh), (dc_p, dc), (dn_p, dn), (dm_p, dm)))
        dh, dc, dn, dm = dh_p, dc_p, dn_p, dm_p
    grads = weight_grads(params, x, h_prev, dA)
    dx = (dA.reshape(T * B, 4 * H) @ params["weight_ih"]).reshape(T, B, -1)
    return dx, (dh, dc, dn, dm), grads


def _step_backward(cache, t, mask, dy_t, dh, dc, dn, dm, c_prev, n_prev, m_prev):
    """One real step back (rows past their end get zeros). dh, dc, dn, dm: dL/d(state after
    step t). Returns (dA_t (B, 4H), dc_{t-1}, dn_{t-1}, dm_{t-1}), the last three through
    this step only."""
    g = {k: cache[k][t] for k in ("z", "o", "i_s", "f_s", "log_i", "log_f", "c", "n")}
    keep = 1 if mask is None else mask
    n_t = g["n"] if mask is None else np.where(mask > 0, g["n"], 1)   # no 0/0 past the end
    r = g["c"] / n_t                                   # c_t / n_t
    dh_t = keep * (dy_t + dh)
    do = dh_t * r
    dr = dh_t * g["o"]
    dc_t = keep * dc + dr / n_t
    dn_t = keep * dn - dr * r / n_t
    # c_t = f' c_{t-1} + i' z,  n_t = f' n_{t-1} + i'
    di_s = dc_t * g["z"] + dn_t
    df_s = dc_t * c_prev + dn_t * n_prev
    dz = dc_t * g["i_s"]
    # i' = exp(log i - m_t), f' = exp(log f + m_{t-1} - m_t)
    dlog_i = di_s * g["i_s"]
    dlog_f = df_s * g["f_s"]
    dm_t = keep * dm - dlog_i - dlog_f
    dm_prev = dlog_f.copy()
    # m_t = max(log f + m_{t-1}, log i): the winner takes dm_t
    take_f = g["log_f"] + m_prev >= g["log_i"]
    dlog_f += np.where(take_f, dm_t, 0)
    dm_prev += np.where(take_f, dm_t, 0)
    dlog_i += np.where(take_f, 0, dm_t)
    da_f = dlog_f * dlog_forget(g["log_f"], cache["forget_gate"])
    dA = np.concatenate([dlog_i, da_f, dz * (1 - g["z"] ** 2), do * g["o"] * (1 - g["o"])],
                        axis=1)
    return dA, dc_t * g["f_s"], dn_t * g["f_s"], dm_prev

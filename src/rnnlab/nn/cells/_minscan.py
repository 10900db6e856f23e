"""The linear recurrence that minGRU and minLSTM share, in its two modes, forward and backward.

Both cells reduce to one elementwise recurrence whose coefficients depend on the input alone:

    h_t = a_t * h_{t-1} + b_t          a_t in (0, 1), b_t > 0, every array (T, B, H)

``mode="recurrent"`` steps it one token at a time, as written. ``mode="parallel"`` is the
scan in log space of Feng et al. (2024, appendix B; Heinsen 2023): with the cumulative log
coefficient A_t = log a_0 + ... + log a_t,

    h_t = exp(A_t) * h_0  +  exp(A_t + logcumsumexp_{k<=t}(log b_k - A_k))

so every product of gates is a sum of logs and no step waits for the previous one. The
paper puts log h_0 into the logcumsumexp, which needs h_0 > 0; rnnlab keeps the h_0 term in
linear space (the same number for h_0 > 0), so any real initial state works.

Backward: the gradient reaching h_t obeys the reverse recurrence

    g_t = dh_t + a_{t+1} * g_{t+1},     and then  da_t = g_t * h_{t-1},  db_t = g_t,  dh_0 = a_0 g_0

Recurrent mode steps it backwards; parallel mode computes it as a reverse scan in log space,
g_t = exp(-A_t) * sum_{s>=t} exp(A_s) dh_s, splitting dh into its positive and negative parts
(each has a logarithm) and subtracting at the end.

Precision of the log-space scan: h_t is formed as exp(A_t + S_t) with A_t ~ -S_t, two numbers
of size |A_t|, so its error is about |A_t| * eps (float64: 1e-13 at |A_t| = 500; float32:
6e-5 there). The recurrent mode's error does not grow with |A_t|.

Lengths: past a row's length, a_t = 1 and b_t = 0 (log a_t = 0, log b_t = -inf), so the state
is carried; ``mask_coefficients`` sets them.
"""
import numpy as np


# ----- the elementwise functions of the paper's log-space version -------------------------
def softplus(a):
    """log(1 + exp(a)), without overflow."""
    return np.logaddexp(0, a)


def g(a):
    """The paper's g: a + 1/2 for a >= 0, sigmoid(a) below; continuous, positive, increasing."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, a + 0.5, e / (1 + e))


def log_g(a):
    """log g(a), computed without forming g for a < 0: -softplus(-a)."""
    return np.where(a >= 0, np.log(np.maximum(a, 0) + 0.5), -softplus(-a))


def dg(a):
    """g'(a): 1 for a >= 0, sigmoid(a) (1 - sigmoid(a)) below."""
    s = g(a)
    return np.where(a >= 0, 1.0, s * (1 - s)).astype(a.dtype, copy=False)


# ----- masking --------------------------------------------------------------------------
def step_masks(lengths, T, B, dtype):
    """(T, B, 1) with 1 on real steps and 0 past each row's length, or None (no lengths)."""
    if lengths is None:
        return None
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :]).astype(dtype)[:, :, None]


def mask_coefficients(m, a, b, log=False):
    """Past a row's length the step must carry the state: a = 1, b = 0 (in log space
    log a = 0, log b = -inf)."""
    if m is None:
        return a, b
    real = m > 0
    if log:
        return np.where(real, a, 0), np.where(real, b, -np.inf)
    return np.where(real, a, 1), np.where(real, b, 0)


# ----- forward ----------------------------------------------------------------------------
def scan_recurrent(a, b, h0):
    """h_t = a_t h_{t-1} + b_t, one step at a time. a, b: (T, B, H), h0: (B, H) -> h (T, B, H)."""
    h = np.empty_like(b)
    prev = h0
    for t in range(b.shape[0]):
        prev = a[t] * prev + b[t]
        h[t] = prev
    return h


def scan_log(log_a, log_b, h0):
    """The same h from log a, log b in log space. Returns (h, A) with A = cumsum(log a), the
    log of the product of the coefficients so far, which the backward scan reuses."""
    A = np.cumsum(log_a, axis=0)
    S = np.logaddexp.accumulate(log_b - A, axis=0)
    return np.exp(A) * h0 + np.exp(A + S), A


# ----- backward ---------------------------------------------------------------------------
def grad_recurrent(dh, a):
    """g_t = dh_t + a_{t+1} g_{t+1}, stepped backwards. dh, a: (T, B, H) -> g (T, B, H)."""
    g_ = np.empty_like(dh)
    acc = np.zeros_like(dh[0])
    for t in reversed(range(dh.shape[0])):
        acc = dh[t] + acc
        g_[t] = acc
        acc = a[t] * acc
    return g_


def _reverse_lcse(v):
    """log sum_{s >= t} exp(v_s) along axis 0."""
    return np.logaddexp.accumulate(v[::-1], axis=0)[::-1]


def grad_log(dh, A):
    """The same g as a reverse scan in log space: exp(-A_t) sum_{s>=t} exp(A_s) dh_s, with the
    positive and negative parts of dh summed apart (only they have logarithms)."""
    with np.errstate(divide="ignore"):
        log_pos = np.log(np.where(dh > 0, dh, 0))
        log_neg = np.log(np.where(dh < 0, -dh, 0))
    return np.exp(_reverse_lcse(A + log_pos) - A) - np.exp(_reverse_lcse(A + log_neg) - A)


def state_gradient(dy, dh_n, m):
    """dL/dh_t arriving directly: dy_t on real steps, plus dh_n at the last step (it reaches
    each row's last real step through the carried padding)."""
    dh = dy if m is None else dy * m
    dh = dh.copy()
    if dh_n is not None:
        dh[-1] += dh_n
    return dh


def input_weight_grads(params, x, dax):
    """weight_ih and bias_ih gradients as one GEMM over all steps; dx = dA W_ih.
    x: (T, B, D), dax: (T, B, G*H)."""
    T, B, D = x.shape
    d2 = dax.reshape(T * B, -1)
    grads = {"weight_ih": d2.T @ x.reshape(T * B, D)}
    if "bias_ih" in params:
        grads["bias_ih"] = d2.sum(axis=0)
    dx = (d2 @ params["weight_ih"]).reshape(T, B, D)
    return dx, grads

"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"), forward and backward through time,
in the paper's log-space version (its appendix B.3).

Equations (gate order i, f, h, as the LSTM's i, f, g; the gates read x_t alone)::

    i_t       = sigma(W_ii x_t + b_ii)               input gate
    f_t       = sigma(W_if x_t + b_if)               forget gate
    h_tilde_t = g(W_ih x_t + b_ih)                   candidate, positive
    f'_t      = f_t / (f_t + i_t)                    the two gates normalised to sum to 1
    i'_t      = i_t / (f_t + i_t)  (= 1 - f'_t)
    h_t       = f'_t * h_{t-1} + i'_t * h_tilde_t

with g(a) = a + 1/2 for a >= 0 and sigma(a) below (see mingru.py for why). The seed note's
LSTM kept k = f * c_{t-1} and j = i * g in a cell state c and showed o * tanh(c); minLSTM has
no output gate and no tanh, and its one state h is the memory itself. The normalisation makes
h a weighted average of h_0 and the candidates, so its scale does not drift with T.

In log space: log f'_t = -softplus(d_t), log i'_t = -softplus(-d_t) with
d_t = softplus(-a_f) - softplus(-a_i) = log i_t - log f_t (as the paper's code).

Modes (see _minscan.py): ``"parallel"`` (default) the log-space scan, ``"recurrent"`` one
token at a time; they agree to rounding (1e-12 in float64), forward and backward.

Shapes: x (T, B, D), h0 (B, H), y (T, B, H).
params: weight_ih (3H, D) = [W_ii; W_if; W_ih], bias_ih (3H,) (optional). No weight_hh.
lengths: (B,) or None; past a row's length its state is carried and its y is 0.
The cache keeps ``h f_prime i_prime f i h_tilde`` (each (T, B, H)).

References: Feng et al. (2024), arXiv:2410.01201.
"""
import numpy as np

from ..functional import sigmoid
from . import _minscan as scan
from ._common import input_projection, zeros_or
from . import mingru as _mingru

MODES, check_mode = _mingru.MODES, _mingru.check_mode     # one definition of the modes

STATE = ("h",)
GATES = ("h", "f_prime", "i_prime", "f", "i", "h_tilde")
PLOTTED = ("f_prime", "h_tilde", "h")
BOUNDS = {"f_prime": (0, 1), "i_prime": (0, 1), "f": (0, 1), "i": (0, 1)}
LEGEND = {
    "h": "hidden state h: the memory, a weighted average of the past candidates, and the output",
    "f_prime": "kept share f' = f / (f + i): how much of the old h stays; it reads only the "
               "current input",
    "i_prime": "written share i' = i / (f + i) = 1 - f': how much of the candidate goes in",
    "f": "forget gate f, before normalising: the vote for keeping the old memory",
    "i": "input gate i, before normalising: the vote for writing the candidate",
    "h_tilde": "candidate h~ = g(W x + b): what this input proposes to write, always positive",
}


def forward(x, state, params, lengths=None, mode="parallel"):
    """Run minLSTM over x (T, B, D). Returns (y, h_n, cache)."""
    check_mode(mode)
    T, B, _ = x.shape
    H = params["weight_ih"].shape[0] // 3
    h0 = zeros_or(state, (B, H), x.dtype)
    ax = input_projection(x, params)               # all steps in one GEMM: (T, B, 3H)
    a_i, a_f, a_h = ax[:, :, :H], ax[:, :, H:2 * H], ax[:, :, 2 * H:]
    i, f, h_tilde = sigmoid(a_i), sigmoid(a_f), scan.g(a_h)
    f_prime, i_prime = f / (f + i), i / (f + i)
    m = scan.step_masks(lengths, T, B, x.dtype)
    A = None
    if mode == "recurrent":
        a, b = scan.mask_coefficients(m, f_prime, i_prime * h_tilde)
        h = scan.scan_recurrent(a, b, h0)
    else:
        d = scan.softplus(-a_f) - scan.softplus(-a_i)            # log i - log f
        log_a, log_b = scan.mask_coefficients(
            m, -scan.softplus(d), -scan.softplus(-d) + scan.log_g(a_h), log=True)
        h, A = scan.scan_log(log_a, log_b, h0)
    y = h if m is None else h * m
    cache = dict(x=x, h0=h0, params=params, lengths=lengths, mode=mode, a_h=a_h, A=A, h=h,
                 f_prime=f_prime, i_prime=i_prime, f=f, i=i, h_tilde=h_tilde)
    return y, h[-1].copy() if T else h0, cache


def backward(dy, dstate_n, cache):
    """Backpropagate. dy: (T, B, H); dstate_n: dh_n (B, H) or None.

    Returns (dx (T, B, D), dh0 (B, H), grads) with grads keyed like params."""
    x, h, h_tilde = cache["x"], cache["h"], cache["h_tilde"]
    fp, ip, f, i = cache["f_prime"], cache["i_prime"], cache["f"], cache["i"]
    T, B, _ = x.shape
    m = scan.step_masks(cache["lengths"], T, B, x.dtype)
    dh = scan.state_gradient(dy, dstate_n, m)
    if cache["mode"] == "recurrent":
        a, _ = scan.mask_coefficients(m, fp, fp)
        g_ = scan.grad_recurrent(dh, a)
        a0 = a[0] if T else None
    else:
        g_ = scan.grad_log(dh, cache["A"])
        a0 = np.exp(cache["A"][0]) if T else None          # A_0 = log a_0
    h_prev = np.concatenate([cache["h0"][None], h[:-1]])
    # h = f' h_prev + (1 - f') h_tilde: one free share, f'
    dfp = g_ * (h_prev - h_tilde)
    # f' = f / (f + i): df'/da_f = f' i' (1 - f), df'/da_i = -f' i' (1 - i)
    shared = dfp * fp * ip
    da_f = shared * (1 - f)
    da_i = -shared * (1 - i)
    da_h = g_ * ip * scan.dg(cache["a_h"])
    dax = np.concatenate([da_i, da_f, da_h], axis=2)
    if m is not None:                                      # padded steps have no gates
        dax *= m
    dx, grads = scan.input_weight_grads(cache["params"], x, dax)
    dh0 = a0 * g_[0] if T else zeros_or(dstate_n, cache["h0"].shape, x.dtype)
    return dx, dh0, grads

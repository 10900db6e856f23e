"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"), forward and backward through time,
in the paper's log-space version (its appendix B.3).

Equations (gate order z, h; the gates read x_t alone, never h_{t-1})::

    z_t       = sigma(W_iz x_t + b_iz)               update gate
    h_tilde_t = g(W_ih x_t + b_ih)                   candidate, positive
    h_t       = (1 - z_t) * h_{t-1} + z_t * h_tilde_t

with g(a) = a + 1/2 for a >= 0 and sigma(a) below. g is what makes the log-space scan
possible: it keeps the candidate positive, so log h_tilde exists. The paper's plain version
(h_tilde = W x + b, no g) is the same cell without that guarantee; rnnlab implements the
log-space version in both modes so that they compute one function. Unlike the GRU there is
no reset gate, no tanh and no W_hh: the recurrence is linear in h, so the input projection
is one GEMM over all steps and the time loop is elementwise.

Modes (see _minscan.py): ``"parallel"`` (default) the log-space scan of the paper,
``"recurrent"`` one token at a time. They agree to rounding (1e-12 in float64), forward and
backward. The state h stays positive when h_0 >= 0; any real h_0 is accepted.

Shapes: x (T, B, D), h0 (B, H), y (T, B, H).
params: weight_ih (2H, D) = [W_iz; W_ih], bias_ih (2H,) (optional). No weight_hh, no bias_hh.
lengths: (B,) or None; past a row's length its state is carried and its y is 0.
The cache keeps ``h z h_tilde`` (each (T, B, H)).

References: Feng et al. (2024), arXiv:2410.01201; Heinsen (2023), "Efficient parallelization
of a ubiquitous sequential computation", arXiv:2311.06281.
"""
import numpy as np

from ..functional import sigmoid
from . import _minscan as scan
from ._common import input_projection, zeros_or

MODES = ("parallel", "recurrent")
STATE = ("h",)
GATES = ("h", "z", "h_tilde")
PLOTTED = ("z", "h_tilde", "h")
BOUNDS = {"z": (0, 1)}
LEGEND = {
    "h": "hidden state h: the memory, a running blend of past candidates, and the output",
    "z": "update gate z: how much of the new candidate to take in (1 - z of the old h stays); "
         "it reads only the current input",
    "h_tilde": "candidate h~ = g(W x + b): what this input proposes to write, always positive",
}


def check_mode(mode):
    if mode not in MODES:
        from ...errors import RnnlabError
        raise RnnlabError(f"mode must be 'parallel' or 'recurrent', got {mode!r}")
    return mode


def forward(x, state, params, lengths=None, mode="parallel"):
    """Run minGRU over x (T, B, D). Returns (y, h_n, cache)."""
    check_mode(mode)
    T, B, _ = x.shape
    H = params["weight_ih"].shape[0] // 2
    h0 = zeros_or(state, (B, H), x.dtype)
    ax = input_projection(x, params)               # all steps in one GEMM: (T, B, 2H)
    a_z, a_h = ax[:, :, :H], ax[:, :, H:]
    z, h_tilde = sigmoid(a_z), scan.g(a_h)
    m = scan.step_masks(lengths, T, B, x.dtype)
    A = None
    if mode == "recurrent":
        a, b = scan.mask_coefficients(m, 1 - z, z * h_tilde)
        h = scan.scan_recurrent(a, b, h0)
    else:
        # log(1 - z) = -softplus(a_z), log z = -softplus(-a_z): no log of a rounded 1 - z
        log_a, log_b = scan.mask_coefficients(
            m, -scan.softplus(a_z), -scan.softplus(-a_z) + scan.log_g(a_h), log=True)
        h, A = scan.scan_log(log_a, log_b, h0)
    y = h if m is None else h * m
    cache = dict(x=x, h0=h0, params=params, lengths=lengths, mode=mode, a_h=a_h, A=A,
                 h=h, z=z, h_tilde=h_tilde)
    return y, h[-1].copy() if T else h0, cache


def backward(dy, dstate_n, cache):
    """Backpropagate. dy: (T, B, H); dstate_n: dh_n (B, H) or None.

    Returns (dx (T, B, D), dh0 (B, H), grads) with grads keyed like params."""
    x, h, z, h_tilde = cache["x"], cache["h"], cache["z"], cache["h_tilde"]
    T, B, _ = x.shape
    m = scan.step_masks(cache["lengths"], T, B, x.dtype)
    dh = scan.state_gradient(dy, dstate_n, m)
    if cache["mode"] == "recurrent":
        a, _ = scan.mask_coefficients(m, 1 - z, z)
        g_ = scan.grad_recurrent(dh, a)
        a0 = a[0] if T else None
    else:
        g_ = scan.grad_log(dh, cache["A"])
        a0 = np.exp(cache["A"][0]) if T else None          # A_0 = log a_0
    h_prev = np.concatenate([cache["h0"][None], h[:-1]])
    # h = (1 - z) h_prev + z h_tilde
    dz = g_ * (h_tilde - h_prev)
    dh_tilde = g_ * z
    da_z = dz * z * (1 - z)
    da_h = dh_tilde * scan.dg(cache["a_h"])
    dax = np.concatenate([da_z, da_h], axis=2)
    if m is not None:                                      # padded steps have no gates
        dax *= m
    dx, grads = scan.input_weight_grads(cache["params"], x, dax)
    dh0 = a0 * g_[0] if T else zeros_or(dstate_n, cache["h0"].shape, x.dtype)
    return dx, dh0, grads

"""The GRU cell in PyTorch's convention, forward and backward through time.

Equations (gate order r, z, n; the reset gate acts after the hidden matmul)::

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)         reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)         update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  new candidate memory
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

z plays the LSTM's forget gate and 1 - z its input gate, coupled; h is both memory and output.

Recurrent dropout (Gal & Ghahramani 2016, as Keras): ``recurrent_mask`` (B, H), one inverted-
dropout mask for the whole sequence, multiplies h_{t-1} where it enters W_hh (all three gates
read d * h_{t-1}); the update h_t = (1 - z_t) n_t + z_t h_{t-1} keeps the unmasked h_{t-1}.

Shapes: x (T, B, D), h0 (B, H), y (T, B, H).
params: weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,) (biases optional).
lengths: (B,) or None; past a row's length its state is carried and its y is 0.
The cache keeps ``r z n h hn`` (each (T, B, H); hn = W_hn h_{t-1} + b_hn), plus ``h0``.

References: Cho et al. (2014); PyTorch's nn.GRU docs.
"""
import numpy as np

from ..functional import sigmoid
from ._common import (blend, hidden_projection, input_grad, input_projection, masked,
                      step_mask, weight_grads, zeros_or)

STATE = ("h",)                  # the state's parts, in order
GATES = ("h", "z", "r", "n", "hn")   # what the cache keeps for inspection, most telling first
PLOTTED = ("r", "z", "n", "h")       # the gates a static plot shows
BOUNDS = {"r": (0, 1), "z": (0, 1), "n": (-1, 1), "h": (-1, 1)}
LEGEND = {
    "h": "hidden state h: both the memory and what the cell shows the next step and layer",
    "r": "reset gate r: how much of the previous state the new candidate may look at",
    "z": "update gate z: how much of the old state to keep (h_t = (1 - z_t) n_t + z_t h_{t-1})",
    "n": "new state n: the candidate built from the input and the reset previous state",
    "hn": "hn = W_hn h_{t-1} + b_hn: the part of n's input that the reset gate scales",
}


def forward(x, state, params, lengths=None, recurrent_mask=None):
    """Run the GRU over x. Returns (y, h_n, cache)."""
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]
    h = zeros_or(state, (B, H), x.dtype)
    cache = {name: np.empty((T, B, H), x.dtype) for name in ("r", "z", "n", "h", "hn")}
    cache.update(x=x, h0=h, lengths=lengths, params=params, recurrent_mask=recurrent_mask)
    y = np.zeros((T, B, H), x.dtype)
    ax = input_projection(x, params)               # W_ih x_t + b_ih for all t in one GEMM
    for t in range(T):
        ah = hidden_projection(masked(h, recurrent_mask), params)   # W_hh h_{t-1} + b_hh
        r = sigmoid(ax[t, :, :H] + ah[:, :H])
        z = sigmoid(ax[t, :, H:2 * H] + ah[:, H:2 * H])
        hn = ah[:, 2 * H:]
        n = np.tanh(ax[t, :, 2 * H:] + r * hn)     # reset applied after the matmul
        h_new = (1 - z) * n + z * h
        m = step_mask(lengths, t, x.dtype)
        h = blend(m, h_new, h)
        y[t] = h_new if m is None else m * h_new
        for name, v in (("r", r), ("z", z), ("n", n), ("h", h), ("hn", hn)):
            cache[name][t] = v
    return y, h, cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. dy: (T, B, H); dstate_n: dh_n (B, H) or None.

    Returns (dx (T, B, D), dh0 (B, H), grads) with grads keyed like params.
    """
    x, params, lengths = cache["x"], cache["params"], cache["lengths"]
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]
    dh = zeros_or(dstate_n, (B, H), x.dtype).copy()   # dL/dh_t arriving from the future
    dax = np.empty((T, B, 3 * H), x.dtype)         # gradient of the input pre-activations
    dah = np.empty((T, B, 3 * H), x.dtype)         # and of the hidden ones (differ in n)
    h_prev = np.concatenate([cache["h0"][None], cache["h"][:-1]])
    W_hh, mask = params["weight_hh"], cache["recurrent_mask"]
    for t in reversed(range(T)):
        r, z, n, hn, hp = cache["r"][t], cache["z"][t], cache["n"][t], cache["hn"][t], h_prev[t]
        m = step_mask(lengths, t, x.dtype)
        dh_new = dy[t] + dh if m is None else m * (dy[t] + dh)
        # h = (1 - z) * n + z * h_prev
        dn = dh_new * (1 - z)
        dz = dh_new * (hp - n)
        da_n = dn * (1 - n ** 2)                   # backprop through tanh
        dr = da_n * hn                             # n = tanh(... + r * hn)
        da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)
        dax[t] = np.concatenate([da_r, da_z, da_n], axis=1)
        dah[t] = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dh_prev = dh_new * z + masked(dah[t] @ W_hh, mask)
        if m is not None:                          # padded steps pass the gradient through
            dh_prev += (1 - m) * dh
        dh = dh_prev
    grads = weight_grads(params, x, masked(h_prev, mask), dax, dah)
    return input_grad(dax, params), dh, grads

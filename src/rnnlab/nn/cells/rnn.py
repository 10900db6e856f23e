"""The plain (Elman) RNN cell, forward and backward through time.

The seed note's equation, with PyTorch's two biases::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu instead of tanh)

h_t is the memory: the only thing that carries yesterday into today. Because every step
multiplies the gradient by W_hh and the slope of tanh, early information fades (vanishing
gradients) or blows up (exploding ones); that is why the LSTM exists.

Recurrent dropout (Gal & Ghahramani 2016): ``recurrent_mask`` (B, H), one inverted-dropout
mask d (0 or 1/(1-p)) for the whole sequence, multiplies h_{t-1} where it enters W_hh:
h_t = tanh(W_ih x_t + b_ih + W_hh (d * h_{t-1}) + b_hh). None (evaluation) leaves h_{t-1} be.

Shapes: x (T, B, D), h0 (B, H), y (T, B, H).
params: weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,) (biases optional).
lengths: (B,) or None; past a row's length its state is carried and its y is 0.
The cache keeps ``h`` (T, B, H), the state after each step, plus ``h0`` and the inputs.

References: Elman (1990), "Finding structure in time"; Karpathy's min-char-rnn.
"""
import numpy as np

from ._common import (blend, hidden_projection, input_grad, input_projection, masked,
                      step_mask, weight_grads, zeros_or)

NONLINEARITIES = ("tanh", "relu")
STATE = ("h",)                  # the state's parts, in order
GATES = ("h",)                  # what the cache keeps for inspection, most telling first
PLOTTED = ("h",)       # the gates a static plot shows
BOUNDS = {"h": (-1, 1)}           # tanh; the relu RNN's h is unbounded above
LEGEND = {"h": "hidden state h: the memory, the only thing that carries yesterday into today"}


def forward(x, state, params, lengths=None, nonlinearity="tanh", recurrent_mask=None):
    """Run the RNN over x. Returns (y, h_n, cache)."""
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]
    h = zeros_or(state, (B, H), x.dtype)
    cache = dict(x=x, h0=h, lengths=lengths, params=params, nonlinearity=nonlinearity,
                 recurrent_mask=recurrent_mask,
                 h=np.empty((T, B, H), x.dtype), h_new=np.empty((T, B, H), x.dtype))
    y = np.zeros((T, B, H), x.dtype)
    ax = input_projection(x, params)               # W_ih x_t + b_ih for all t in one GEMM
    for t in range(T):
        a = ax[t] + hidden_projection(masked(h, recurrent_mask), params)
        h_new = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        m = step_mask(lengths, t, x.dtype)
        h = blend(m, h_new, h)
        y[t] = h_new if m is None else m * h_new
        cache["h"][t], cache["h_new"][t] = h, h_new
    return y, h, cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. dy: (T, B, H); dstate_n: dh_n (B, H) or None.

    Returns (dx (T, B, D), dh0 (B, H), grads) with grads keyed like params.
    """
    x, params, lengths = cache["x"], cache["params"], cache["lengths"]
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]
    dh = zeros_or(dstate_n, (B, H), x.dtype).copy()   # dL/dh_t arriving from the future
    dA = np.empty((T, B, H), x.dtype)
    W_hh, mask = params["weight_hh"], cache["recurrent_mask"]
    for t in reversed(range(T)):
        m = step_mask(lengths, t, x.dtype)
        dh_new = dy[t] + dh if m is None else m * (dy[t] + dh)
        h_new = cache["h_new"][t]
        if cache["nonlinearity"] == "tanh":
            dA[t] = dh_new * (1 - h_new ** 2)      # backprop through tanh
        else:
            dA[t] = dh_new * (h_new > 0)           # backprop through relu
        dh_prev = masked(dA[t] @ W_hh, mask)       # through W_hh (d * h_{t-1})
        if m is not None:                          # padded steps pass the gradient through
            dh_prev += (1 - m) * dh
        dh = dh_prev
    h_prev = np.concatenate([cache["h0"][None], cache["h"][:-1]])
    grads = weight_grads(params, x, masked(h_prev, mask), dA, dA)
    return input_grad(dA, params), dh, grads

"""The LSTM cell, forward and backward through time, in the seed note's names.

Equations (PyTorch's gate order i, f, g, o; sigma is the logistic function)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        pre-activations, (B, 4H)
    i_t = sigma(a_i)     input gate: does new information get in?
    f_t = sigma(a_f)     forget gate: how much old memory to keep
    g_t = tanh(a_g)      candidate (the seed's C~): what new information, and how strongly
    o_t = sigma(a_o)     output gate: how much of the memory to show
    k_t = f_t * c_{t-1}  the old memory that is kept
    j_t = i_t * g_t      the new memory that is written
    c_t = k_t + j_t      the cell state, the road through time
    h_t = o_t * tanh(c_t)

Variants from colah's "Understanding LSTM Networks" that PyTorch lacks:

- ``peephole``: the gates look at the cell state. a_i += w_pi * c_{t-1}, a_f += w_pf * c_{t-1},
  and o is computed after c with a_o += w_po * c_t. Extra params ``weight_pi, weight_pf,
  weight_po``, each (H,).
- ``coupled``: one gate decides both forgetting and writing. Gates f, g, o (G = 3) and
  c_t = f_t * c_{t-1} + (1 - f_t) * g_t, so i_t = 1 - f_t.

Recurrent dropout (Gal & Ghahramani 2016, as Keras): ``recurrent_mask`` (B, H), one inverted-
dropout mask (0 or 1/(1-p)) for the whole sequence, multiplies h_{t-1} where it enters W_hh:
a_t = W_ih x_t + b_ih + W_hh (d * h_{t-1}) + b_hh. The cell state's road is left alone.
(Projection, layer normalisation and zoneout: cells/lstm_options.py.)

Shapes: x (T, B, D), state (h0, c0) each (B, H), y (T, B, H).
params: weight_ih (G*H, D), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,) (biases optional).
lengths: (B,) or None; past a row's length its state is carried and its y is 0.

The cache keeps every activation, each (T, B, H): ``i f g o j k c tanh_c h`` (c and h are the
states after each step), plus ``c0, h0`` and the inputs. Visualisation reads these names.

References: Hochreiter & Schmidhuber (1997); Gers & Schmidhuber (2000) for peepholes;
colah, "Understanding LSTM Networks" (2015); PyTorch's nn.LSTM docs for the layout.
"""
import numpy as np

from ..functional import sigmoid
from ._common import (blend, hidden_projection, input_grad, input_projection, masked,
                      step_mask, weight_grads, zeros_or)

VARIANTS = ("standard", "peephole", "coupled")
STATE = ("h", "c")              # the state's parts, in order
GATES = ("h", "c", "f", "i", "o", "g", "j", "k", "tanh_c")   # cache names, most telling first
PLOTTED = ("i", "f", "g", "o", "c", "h")       # the gates a static plot shows
BOUNDS = {"i": (0, 1), "f": (0, 1), "o": (0, 1), "g": (-1, 1), "h": (-1, 1),
          "tanh_c": (-1, 1), "j": (-1, 1)}
LEGEND = {                      # the seed note's words for each quantity
    "c": "cell state c: the road through time, the memory carried from step to step",
    "f": "forget gate f: how much old memory to keep (k_t = f_t * c_{t-1})",
    "i": "input gate i: whether new information gets in",
    "g": "candidate g (C\u0303): what new information, and how important "
         "(j_t = i_t * g_t, c_t = k_t + j_t)",
    "o": "output gate o: how much of the memory to show (h_t = o_t * tanh(c_t))",
    "tanh_c": "tanh(c_t): the memory squashed into [-1, 1] before the output gate",
    "j": "j_t = i_t * g_t: the new information written into the memory",
    "k": "k_t = f_t * c_{t-1}: the old memory kept",
    "h": "hidden state h: what the cell shows the next step and the next layer",
}


def num_gates(variant):
    return 3 if variant == "coupled" else 4


def forward(x, state, params, lengths=None, variant="standard", recurrent_mask=None):
    """Run the LSTM over x. Returns (y, (h_n, c_n), cache)."""
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]
    h0, c0 = (None, None) if state is None else state
    h = zeros_or(h0, (B, H), x.dtype)
    c = zeros_or(c0, (B, H), x.dtype)
    cache = {name: np.empty((T, B, H), x.dtype) for name in "i f g o j k c tanh_c h".split()}
    cache.update(x=x, h0=h, c0=c, lengths=lengths, variant=variant, params=params,
                 recurrent_mask=recurrent_mask)
    y = np.zeros((T, B, H), x.dtype)
    ax = input_projection(x, params)               # W_ih x_t + b_ih for all t in one GEMM
    peep = variant == "peephole"
    for t in range(T):
        a = ax[t] + hidden_projection(masked(h, recurrent_mask), params)   # (B, G*H)
        if variant == "coupled":
            f = sigmoid(a[:, :H])
            g = np.tanh(a[:, H:2 * H])
            i = 1 - f                              # coupled: what is not forgotten is written
        else:
            a_i, a_f = a[:, :H], a[:, H:2 * H]
            if peep:                               # i and f look at the old cell state
                a_i = a_i + params["weight_pi"] * c
                a_f = a_f + params["weight_pf"] * c
            i, f, g = sigmoid(a_i), sigmoid(a_f), np.tanh(a[:, 2 * H:3 * H])
        k = f * c                                  # keep part of the old memory
        j = i * g                                  # write part of the new
        c_new = k + j
        a_o = a[:, -H:]
        if peep:                                   # o looks at the new cell state
            a_o = a_o + params["weight_po"] * c_new
        o = sigmoid(a_o)
        tanh_c = np.tanh(c_new)
        h_new = o * tanh_c
        m = step_mask(lengths, t, x.dtype)
        c, h = blend(m, c_new, c), blend(m, h_new, h)
        y[t] = h_new if m is None else m * h_new
        for name, v in (("i", i), ("f", f), ("g", g), ("o", o), ("j", j), ("k", k),
                        ("c", c), ("tanh_c", tanh_c), ("h", h)):
            cache[name][t] = v
    return y, (h, c), cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. dy: (T, B, H); dstate_n: (dh_n, dc_n) or None.

    Returns (dx (T, B, D), (dh0, dc0), grads) with grads keyed like params.
    """
    x, params, lengths, variant = cache["x"], cache["params"], cache["lengths"], cache["variant"]
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]
    G = num_gates(variant)
    dh_n, dc_n = (None, None) if dstate_n is None else dstate_n
    dh = zeros_or(dh_n, (B, H), x.dtype).copy()    # dL/dh_t arriving from the future
    dc = zeros_or(dc_n, (B, H), x.dtype).copy()    # dL/dc_t arriving from the future
    dA = np.empty((T, B, G * H), x.dtype)          # gradient of every pre-activation
    h_prev = np.concatenate([cache["h0"][None], cache["h"][:-1]])
    c_prev = np.concatenate([cache["c0"][None], cache["c"][:-1]])
    peep = variant == "peephole"
    dpeep = {name: np.zeros(H, x.dtype) for name in ("weight_pi", "weight_pf", "weight_po")}
    W_hh, mask = params["weight_hh"], cache["recurrent_mask"]
    for t in reversed(range(T)):
        i, f, g, o = (cache[n][t] for n in "ifgo")
        tanh_c, cp = cache["tanh_c"][t], c_prev[t]
        m = step_mask(lengths, t, x.dtype)
        # past a row's end the state was copied through: its gradient flows straight back
        dh_new = dy[t] + dh if m is None else m * (dy[t] + dh)
        dc_new = dc if m is None else m * dc
        do = dh_new * tanh_c
        da_o = do * o * (1 - o)                    # backprop through sigma
        dc_new = dc_new + dh_new * o * (1 - tanh_c ** 2)   # backprop through tanh(c)
        if peep:
            c_new = cache["k"][t] + cache["j"][t]      # the c_t that o looked at
            dc_new = dc_new + da_o * params["weight_po"]
            dpeep["weight_po"] += (da_o * c_new).sum(0)
        dc_prev = dc_new * f                       # c_t = f * c_{t-1} + ...
        if variant == "coupled":                   # c_t = f * c_{t-1} + (1 - f) * g
            df = dc_new * (cp - g)
            dg = dc_new * (1 - f)
            dA[t] = np.concatenate([df * f * (1 - f), dg * (1 - g ** 2), da_o], axis=1)
        else:
            di, df, dg = dc_new * g, dc_new * cp, dc_new * i
            da_i, da_f = di * i * (1 - i), df * f * (1 - f)
            if peep:
                dc_prev = dc_prev + da_i * params["weight_pi"] + da_f * params["weight_pf"]
                dpeep["weight_pi"] += (da_i * cp).sum(0)
                dpeep["weight_pf"] += (da_f * cp).sum(0)
            dA[t] = np.concatenate([da_i, da_f, dg * (1 - g ** 2), da_o], axis=1)
        dh_prev = masked(dA[t] @ W_hh, mask)       # through W_hh (d * h_{t-1})
        if m is not None:
            dh_prev += (1 - m) * dh
            dc_prev = dc_prev + (1 - m) * dc
        dh, dc = dh_prev, dc_prev
    grads = weight_grads(params, x, masked(h_prev, mask), dA, dA)
    if peep:
        grads.update(dpeep)
    return input_grad(dA, params), (dh, dc), grads

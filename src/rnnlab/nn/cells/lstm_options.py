"""The LSTM with the options the fused kernels lack: a projection of h (proj_size), layer
normalisation (layer_norm) and zoneout, alone or together, and with recurrent dropout; forward
and backward through time. With every option off it is the plain LSTM of cells/lstm.py.

Equations (torch's gate order i, f, g, o; R is the width of h: P with a projection, else H)::

    a_t = LN(W_ih x_t; g_ih, b'_ih) + LN(W_hh (d * h_{t-1}); g_hh, b'_hh) + b_ih + b_hh
          (without layer_norm: a_t = W_ih x_t + W_hh (d * h_{t-1}) + b_ih + b_hh)
    i_t = sigma(a_i)   f_t = sigma(a_f)   g_t = tanh(a_g)   o_t = sigma(a_o)
    k_t = f_t * c_{t-1}       j_t = i_t * g_t       c^_t = k_t + j_t      the new memory
    c_norm_t = LN(c^_t; g_c, b'_c)                  (without layer_norm: c^_t)
    tanh_c_t = tanh(c_norm_t)
    m_t = o_t * tanh_c_t                            the cell's output, (B, H)
    h^_t = W_hr m_t                                 (without proj_size: m_t), (B, R)
    c_t = zc_t * c_{t-1} + (1 - zc_t) * c^_t        zoneout (without it: c_t = c^_t)
    h_t = zh_t * h_{t-1} + (1 - zh_t) * h^_t                    (without it: h_t = h^_t)
    y_t = h_t

- LN(v; g, b') = g * (v - mean(v)) / sqrt(var(v) + eps) + b' over the last axis (the whole
  4H gate vector, or the H units of c), eps = 1e-5: layer normalisation as in Ba et al. (2016),
  eq. 20-22, with its three gains g (1 at the start) and biases b' (0 at the start).
- proj_size (Sak et al. 2014; torch's nn.LSTM(proj_size=P)): h is P wide, W_hh reads it.
- zoneout (Krueger et al. 2016): zc_t (B, H), zh_t (B, R) are 0/1 masks in training, 1 with
  probability z_c, z_h (the unit keeps its previous value), drawn for every step; in evaluation
  they are the numbers z_c, z_h themselves, the expectation.
- recurrent dropout (Gal & Ghahramani 2016): d (B, R) is one inverted-dropout mask (0 or
  1/(1-p)) for the whole sequence; None (evaluation) leaves h_{t-1} as it is.

Shapes: x (T, B, D), state (h0 (B, R), c0 (B, H)), y (T, B, R).
params: weight_ih (4H, D), weight_hh (4H, R), bias_ih, bias_hh (4H,) (optional), and with
proj_size weight_hr (P, H); with layer_norm ln_ih_weight, ln_hh_weight (4H,), ln_c_weight (H,)
and, when the biases are there, ln_ih_bias, ln_hh_bias (4H,), ln_c_bias (H,). The options
are what params holds; zoneout and recurrent_mask are keyword options.
lengths: (B,) or None; past a row's length its state is carried and its y is 0.
The cache keeps ``i f g o j k c tanh_c`` (B, H) and ``h`` (B, R) for every step, as the plain
cell, plus ``c_norm`` (layer_norm) and ``m`` (proj_size).

References: Ba, Kiros & Hinton (2016), "Layer Normalization"; Sak, Senior & Beaufays (2014),
"Long Short-Term Memory Based Recurrent Neural Network Architectures for Large Vocabulary
Speech Recognition"; Krueger et al. (2016), "Zoneout"; Gal & Ghahramani (2016), "A
Theoretically Grounded Application of Dropout in Recurrent Neural Networks".
"""
import numpy as np

from ..functional import layer_norm, layer_norm_backward, sigmoid
from . import lstm
from ._common import blend, masked, step_mask, zeros_or

STATE = lstm.STATE
GATES = ("h", "c", "c_norm", "f", "i", "o", "g", "j", "k", "m", "tanh_c")
PLOTTED = lstm.PLOTTED
BOUNDS = {**lstm.BOUNDS, "m": (-1, 1)}
LEGEND = {
    **lstm.LEGEND,
    "c_norm": "LN(c_t): the new memory normalised over its units (layer_norm); what tanh "
              "squashes before the output gate",
    "tanh_c": "tanh(c_t): the memory squashed into [-1, 1] before the output gate "
              "(with layer_norm: tanh(LN(c_t)))",
    "m": "m_t = o_t * tanh(c_t): what the cell shows before the projection h_t = W_hr m_t "
         "(proj_size)",
}


def forward(x, state, params, lengths=None, zoneout=(0.0, 0.0), recurrent_mask=None):
    """Run the LSTM with its options over x. zoneout: (z_c, z_h), each a number (evaluation)
    or a 0/1 mask (T, B, H) / (T, B, R) (training). Returns (y, (h_n, c_n), cache)."""
    T, B, _ = x.shape
    H, R = params["weight_ih"].shape[0] // 4, params["weight_hh"].shape[1]
    proj, ln = "weight_hr" in params, "ln_ih_weight" in params
    h0, c0 = (None, None) if state is None else state
    h, c = zeros_or(h0, (B, R), x.dtype), zeros_or(c0, (B, H), x.dtype)
    keep_c, keep_h = _keep(zoneout[0], (T, B, H), x.dtype), _keep(zoneout[1], (T, B, R), x.dtype)
    names = "i f g o j k c tanh_c".split() + (["c_norm", "vhat_c", "rstd_c"] if ln else []) + \
        (["m"] if proj else [])
    cache = {n: np.empty((T, B, 1 if n == "rstd_c" else H), x.dtype) for n in names}
    cache.update(h=np.empty((T, B, R), x.dtype), x=x, h0=h, c0=c, lengths=lengths,
                 params=params, keep=(keep_c, keep_h), recurrent_mask=recurrent_mask)
    if ln:
        cache.update(vhat_hh=np.empty((T, B, 4 * H), x.dtype), rstd_hh=np.empty((T, B, 1), x.dtype))
    y = np.zeros((T, B, R), x.dtype)
    ax = (x.reshape(T * B, -1) @ params["weight_ih"].T).reshape(T, B, 4 * H)   # one GEMM
    if ln:                                         # the input side is normalised for all t
        ax, cache["vhat_ih"], cache["rstd_ih"] = layer_norm(ax, params["ln_ih_weight"],
                                                            params.get("ln_ih_bias"))
    bias = params["bias_ih"] + params["bias_hh"] if "bias_ih" in params else 0
    for t in range(T):
        ah = masked(h, recurrent_mask) @ params["weight_hh"].T
        if ln:
            ah, cache["vhat_hh"][t], cache["rstd_hh"][t] = layer_norm(
                ah, params["ln_hh_weight"], params.get("ln_hh_bias"))
        a = ax[t] + ah + bias
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        k, j = f * c, i * g                        # keep part of the old memory, write the new
        c_hat = k + j
        c_norm = c_hat
        if ln:
            c_norm, cache["vhat_c"][t], cache["rstd_c"][t] = layer_norm(
                c_hat, params["ln_c_weight"], params.get("ln_c_bias"))
            cache["c_norm"][t] = c_norm
        tanh_c = np.tanh(c_norm)
        m = o * tanh_c
        h_hat = m @ params["weight_hr"].T if proj else m
        live = step_mask(lengths, t, x.dtype)
        h_new = _zone(keep_h, t, h, h_hat)
        c, h = blend(live, _zone(keep_c, t, c, c_hat), c), blend(live, h_new, h)
        y[t] = h_new if live is None else live * h_new
        for name, v in (("i", i), ("f", f), ("g", g), ("o", o), ("j", j), ("k", k),
                        ("c", c), ("tanh_c", tanh_c), ("h", h)) + ((("m", m),) if proj else ()):
            cache[name][t] = v
    return y, (h, c), cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. dy: (T, B, R); dstate_n: (dh_n, dc_n) or None.

    Returns (dx (T, B, D), (dh0, dc0), grads) with grads keyed like params.
    """
    x, params, lengths = cache["x"], cache["params"], cache["lengths"]
    T, B, _ = x.shape
    H, R = params["weight_ih"].shape[0] // 4, params["weight_hh"].shape[1]
    proj, ln = "weight_hr" in params, "ln_ih_weight" in params
    (keep_c, keep_h), mask = cache["keep"], cache["recurrent_mask"]
    dh_n, dc_n = (None, None) if dstate_n is None else dstate_n
    dh = zeros_or(dh_n, (B, R), x.dtype).copy()    # dL/dh_t arriving from the future
    dc = zeros_or(dc_n, (B, H), x.dtype).copy()    # dL/dc_t arriving from the future
    dA = np.empty((T, B, 4 * H), x.dtype)          # gradient of every pre-activation a_t
    dAh = np.empty_like(dA) if ln else dA          # ... of W_hh (d * h_{t-1}) (before LN)
    dh_hat = np.empty((T, B, R), x.dtype) if proj else None
    grads = _zero_ln_grads(params) if ln else {}
    h_prev = np.concatenate([cache["h0"][None], cache["h"][:-1]])
    c_prev = np.concatenate([cache["c0"][None], cache["c"][:-1]])
    for t in reversed(range(T)):
        i, f, g, o = (cache[n][t] for n in "ifgo")
        tanh_c = cache["tanh_c"][t]
        live = step_mask(lengths, t, x.dtype)
        # past a row's end the state was copied through: its gradient flows straight back
        dh_new = dy[t] + dh if live is None else live * (dy[t] + dh)
        dc_new = dc if live is None else live * dc
        dh_cand, dh_prev = _unzone(keep_h, t, dh_new)   # h_t = zh h_{t-1} + (1 - zh) h^_t
        dc_hat, dc_prev = _unzone(keep_c, t, dc_new)    # c_t = zc c_{t-1} + (1 - zc) c^_t
        if proj:                                   # h^_t = W_hr m_t
            dh_hat[t] = dh_cand
            dm = dh_cand @ params["weight_hr"]
        else:
            dm = dh_cand
        da_o = dm * tanh_c * o * (1 - o)           # m = o * tanh(c_norm)
        dc_norm = dm * o * (1 - tanh_c ** 2)
        if ln:                                     # c_norm = LN(c^)
            dc_norm = _ln_backward(dc_norm, "ln_c", cache["vhat_c"][t], cache["rstd_c"][t],
                                   params, grads)
        dc_hat = dc_hat + dc_norm
        dc_prev = dc_prev + dc_hat * f             # c^ = f * c_{t-1} + i * g
        da_i, da_f = dc_hat * g * i * (1 - i), dc_hat * c_prev[t] * f * (1 - f)
        dA[t] = np.concatenate([da_i, da_f, dc_hat * i * (1 - g ** 2), da_o], axis=1)
        if ln:                                     # a = ... + LN(W_hh (d * h_{t-1})) + ...
            dAh[t] = _ln_backward(dA[t], "ln_hh", cache["vhat_hh"][t], cache["rstd_hh"][t],
                                  params, grads)
        dh_prev = dh_prev + masked(dAh[t] @ params["weight_hh"], mask)
        if live is not None:
            dh_prev += (1 - live) * dh
            dc_prev = dc_prev + (1 - live) * dc
        dh, dc = dh_prev, dc_prev
    dAx = dA                                       # the input side, for all t at once
    if ln:
        dAx = _ln_backward(dA, "ln_ih", cache["vhat_ih"], cache["rstd_ih"], params, grads)
    grads.update(_weight_grads(params, x, masked(h_prev, mask), dA, dAx, dAh, cache, dh_hat))
    dx = (dAx.reshape(T * B, -1) @ params["weight_ih"]).reshape(T, B, -1)
    return dx, (dh, dc), grads


def _weight_grads(params, x, h_read, dA, dAx, dAh, cache, dh_hat):
    """The weights' gradients as single GEMMs over all steps. h_read: (T, B, R) the h_{t-1}
    that W_hh read (masked by recurrent dropout); dA: the pre-activations' gradient (the
    biases'); dAx, dAh: the gradients of W_ih x_t and W_hh h_{t-1} (equal to dA without LN)."""
    T, B, D = x.shape
    flat = lambda a: a.reshape(T * B, -1)          # noqa: E731
    grads = {"weight_ih": flat(dAx).T @ flat(x), "weight_hh": flat(dAh).T @ flat(h_read)}
    if "bias_ih" in params:
        grads["bias_ih"] = flat(dA).sum(0)
        grads["bias_hh"] = grads["bias_ih"].copy()
    if dh_hat is not None:                         # h^_t = W_hr m_t
        grads["weight_hr"] = flat(dh_hat).T @ flat(cache["m"])
    return grads


def _ln_backward(dout, name, vhat, rstd, params, grads):
    """Through out = LN(v; gain, bias) (`name`: ln_ih, ln_hh or ln_c): adds the gain's and
    bias's gradients into grads and returns dL/dv. dout, vhat: (..., N)."""
    axes = tuple(range(dout.ndim - 1))
    grads[name + "_weight"] += (dout * vhat).sum(axes)
    if name + "_bias" in grads:
        grads[name + "_bias"] += dout.sum(axes)
    return layer_norm_backward(dout, vhat, rstd, params[name + "_weight"])


def _zero_ln_grads(params):
    return {k: np.zeros_like(v) for k, v in params.items() if k.startswith("ln_")}


def _keep(z, shape, dtype):
    """A zoneout keep-probability or mask as an array broadcast to (T, B, width); None when
    zoneout is off (z == 0), so that path does no work."""
    if np.ndim(z) == 0 and z == 0:
        return None
    return np.broadcast_to(np.asarray(z, dtype), shape)


def _zone(keep, t, old, new):
    """Zoneout at step t: keep * old + (1 - keep) * new, or new when zoneout is off."""
    return new if keep is None else keep[t] * old + (1 - keep[t]) * new


def _unzone(keep, t, dnew):
    """The backward of _zone: (d new, d old)."""
    if keep is None:
        return dnew, 0
    return (1 - keep[t]) * dnew, keep[t] * dnew

"""Pieces shared by the reference cells: the input projection, the length mask, the weight
gradients. Each cell file keeps its own time loop, so the equations stay readable there.

Shapes: x (T, B, D), h (T, B, H), gate pre-activations a (T, B, G*H).
"""
import numpy as np


def input_projection(x, params):
    """W_ih x_t + b_ih for every time step at once, as one GEMM: (T, B, D) -> (T, B, G*H)."""
    T, B, D = x.shape
    ax = (x.reshape(T * B, D) @ params["weight_ih"].T).reshape(T, B, -1)
    if "bias_ih" in params:
        ax += params["bias_ih"]
    return ax


def hidden_projection(h, params):
    """W_hh h_{t-1} + b_hh for one step: (B, H) -> (B, G*H)."""
    ah = h @ params["weight_hh"].T
    if "bias_hh" in params:
        ah += params["bias_hh"]
    return ah


def step_mask(lengths, t, dtype):
    """m_t: (B, 1) with 1 where step t is real (t < length) and 0 where it is padding, or None
    when every row is real (no lengths given), so the unmasked path does no extra work."""
    if lengths is None:
        return None
    return (t < lengths).astype(dtype)[:, None]


def blend(m, new, old):
    """The state after step t: the new value where the step is real, the old one past the end."""
    return new if m is None else m * new + (1 - m) * old


def weight_grads(params, x, h_prev, dax, dah):
    """Parameter gradients as single GEMMs over all steps.

    x: (T, B, D) inputs, h_prev: (T, B, H) the hidden state each step read,
    dax: (T, B, G*H) gradient of the input pre-activations, dah: same for the hidden ones
    (they differ only for the GRU, whose candidate multiplies the hidden part by r).
    """
    T, B, D = x.shape
    H = h_prev.shape[2]
    dax2, dah2 = dax.reshape(T * B, -1), dah.reshape(T * B, -1)
    grads = {
        "weight_ih": dax2.T @ x.reshape(T * B, D),
        "weight_hh": dah2.T @ h_prev.reshape(T * B, H),
    }
    if "bias_ih" in params:
        grads["bias_ih"] = dax2.sum(axis=0)
        grads["bias_hh"] = dah2.sum(axis=0)
    return grads


def input_grad(dax, params):
    """dx = dA W_ih for all steps as one GEMM: (T, B, G*H) -> (T, B, D)."""
    T, B, _ = dax.shape
    return (dax.reshape(T * B, -1) @ params["weight_ih"]).reshape(T, B, -1)


def masked(h, mask):
    """h times a recurrent-dropout mask that is the same at every step (B, H) (broadcast over
    a leading time axis), or h itself when there is no mask (evaluation, p = 0)."""
    return h if mask is None else h * mask


def zeros_or(a, shape, dtype):
    """An optional state/gradient: the array itself, or zeros when it is None."""
    return np.zeros(shape, dtype) if a is None else a

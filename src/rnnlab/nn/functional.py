"""The elementwise functions every room of the engine shares, written once:
the logistic sigmoid, softmax and log-softmax, layer normalisation (forward and backward), and
the inverted-dropout and zoneout masks.

The reference cells, the losses, the task models and the inspection tools all call these, so
there is one definition of each to check against torch.
"""
import numpy as np

from ..errors import RnnlabError


def sigmoid(a):
    """1 / (1 + exp(-a)), without overflow for large |a|; keeps a's float dtype."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)


def log_softmax(logits, axis=-1):
    """log softmax along `axis`, stable: z - max - log(sum(exp(z - max)))."""
    z = np.asarray(logits)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis=-1):
    """softmax along `axis`, stable (max subtracted before exp)."""
    z = np.asarray(logits)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


LN_EPS = 1e-5     # layer normalisation's epsilon, torch's LayerNorm default


def layer_norm(v, gain, bias=None, eps=LN_EPS):
    """Layer normalisation over the last axis (Ba et al. 2016), as torch's LayerNorm:
    LN(v) = gain * (v - mean(v)) / sqrt(var(v) + eps) + bias, var the biased variance.
    v: (..., N); gain, bias: (N,) (bias optional). Returns (out, vhat, rstd) with
    vhat = (v - mean) * rstd (..., N) and rstd = 1 / sqrt(var + eps) (..., 1), for backward."""
    mu = v.mean(axis=-1, keepdims=True)
    centred = v - mu
    rstd = 1.0 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    vhat = centred * rstd
    out = vhat * gain
    if bias is not None:
        out += bias
    return out, vhat, rstd


def layer_norm_backward(dout, vhat, rstd, gain):
    """dL/dv of layer_norm from dL/dout (..., N). The gain's gradient is sum(dout * vhat) and
    the bias's sum(dout) over every axis but the last; the caller sums them where it needs."""
    dvhat = dout * gain
    return rstd * (dvhat - dvhat.mean(axis=-1, keepdims=True)
                   - vhat * (dvhat * vhat).mean(axis=-1, keepdims=True))


def check_dropout(p, what="dropout p"):
    """p must be a probability in [0, 1); returns it as a float."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p < 1.0:
        flag = "--" + what.split()[0].replace("_", "-")
        raise RnnlabError(f"{what} must be in [0, 1), got {p!r}; use e.g. {flag} 0.2")
    return float(p)


def dropout_mask(shape, p, rng, dtype=np.float32):
    """Inverted-dropout mask of `shape`: kept / (1 - p), i.e. 0 or 1/(1-p); None when p == 0.

    Multiply activations by the mask in forward and the gradient by the same mask in backward.
    """
    check_dropout(p)
    if p == 0:
        return None
    keep = rng.random(shape) >= p
    return keep.astype(dtype) / np.asarray(1.0 - p, dtype=dtype)


def keep_mask(shape, z, rng, dtype=np.float32):
    """Zoneout's mask (Krueger et al. 2016) of `shape`: 1 where a unit keeps its previous value
    (probability z), 0 where it takes the new one; None when z == 0."""
    if z == 0:
        return None
    return (rng.random(shape) < z).astype(dtype)

"""The elementwise functions every room of the engine shares, written once:
the logistic sigmoid, softmax and log-softmax, layer normalisation (forward and backward), and
the inverted-dropout and zoneout masks.

The reference cells, the losses, the task models and the inspection tools all call these, so
there is one definition of each to check against torch.
"""
import numpy as np

from ..validate import probability


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
    flag = "--" + what.split()[0].replace("_", "-")
    return probability(what, p, hint=f"use e.g. {flag} 0.2")


def dropout_mask(shape, p, rng, dtype=np.float32):
    """Inverted-dropout mask of `shape`: kept / (1 - p), i.e. 0 or 1/(1-p); None when p == 0.

    Multiply activations by the mask in forward and the gradient by the same mask in backward.
    """
    check_dropout(p)
    if p == 0:
        return None
    keep = rng.random(shape) >= p
    return keep.astype(dtype) / np.asarray(1.0 - p, dtype=dtype)


class TokenInput:
    """A layer input given as token ids: x[t, b] = table[ids[t, b]], or the one-hot vector
    e_{ids[t, b]} when table is None (D = V). The numba kernels never build x: the input
    projection x W_ih^T becomes a row gather of the (V, G*H) matrix table W_ih^T, and its
    weight gradient a scatter-add of dA over the ids (``kernels.gemms``); the reference cells
    get ``dense()``. The gradient that flows back is the table's, (V, D) (None for one-hot).

    ids: (T, B) ints in [0, V); table: (V, D) float array or None; dtype: x's dtype.
    """

    def __init__(self, ids, V, table=None, dtype=np.float32):
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        self.V = int(V)
        self.table = table
        self.dtype = np.dtype(dtype if table is None else table.dtype)
        D = self.V if table is None else table.shape[1]
        self.shape = self.ids.shape + (D,)
        self.ndim = len(self.shape)

    def with_ids(self, ids):
        """The same table with other ids (a transposed or time-reversed batch)."""
        return TokenInput(ids, self.V, self.table, self.dtype)

    def dense(self):
        """x as an array: (..., D)."""
        if self.table is not None:
            return self.table[self.ids]
        x = np.zeros(self.shape, self.dtype)
        np.put_along_axis(x, self.ids[..., None], 1, axis=-1)
        return x

    def table_grad(self, dx):
        """The table's gradient from a dense dx (..., D): the rows of dx summed by id;
        None for one-hot (the identity has no parameters)."""
        if self.table is None:
            return None
        g = np.zeros(self.table.shape, dx.dtype)
        np.add.at(g, self.ids.reshape(-1), dx.reshape(-1, dx.shape[-1]))
        return g


def keep_mask(shape, z, rng, dtype=np.float32):
    """Zoneout's mask (Krueger et al. 2016) of `shape`: 1 where a unit keeps its previous value
    (probability z), 0 where it takes the new one; None when z == 0."""
    if z == 0:
        return None
    return (rng.random(shape) < z).astype(dtype)

"""One-pass compiled versions of the training step's small pieces, each the same arithmetic as
the NumPy code it replaces (tests/test_fused.py holds them equal):

- ``softmax_ce_rows``: softmax cross-entropy and its gradient over (N, V) logits in one pass
  (``losses.softmax_cross_entropy``);
- ``adam_flat``: Adam on flat parameter, gradient and moment buffers, with the operations,
  their order and their rounding exactly those of ``optim.Adam._update`` (so torch.optim's),
  no fused multiply-add and no temporaries;
- ``sum_squares`` / ``scale``: the global gradient norm and the clipping from one flat buffer
  (``optim.clip_grad_norm``).
"""
import math

import numpy as np
from numba import njit

from .activations import exp_


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _row_max(z):
    """max of a row (vectorised: fastmath lets LLVM split the reduction into lanes; a max is
    the same whatever the order, NaN aside: a NaN logit gives a NaN loss either way)."""
    m = z[0]
    for j in range(1, z.shape[0]):
        m = max(m, z[j])
    return m


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")
def _exp_row(z, m, d):
    """d = exp(z - m), returns sum(d) (float64, summed in lanes)."""
    s = 0.0
    for j in range(z.shape[0]):
        e = exp_(z[j] - m)
        d[j] = e
        s += e
    return s


@njit(cache=True, nogil=True, error_model="numpy")
def softmax_ce_rows(z, y, w, dz):
    """z (N, V) logits, y (N,) int targets, w (N,) weights already divided by their sum;
    dz (N, V) receives w * (softmax(z) - onehot(y)). Returns sum_r w[r] * -log softmax(z[r])[y[r]]
    (float64). Rows with w = 0 get dz = 0 and add nothing."""
    N, V = z.shape
    total = 0.0
    for r in range(N):
        d = dz[r]
        wr = w[r]
        if wr == 0:
            d[:] = 0
            continue
        zr = z[r]
        m = _row_max(zr)
        s = _exp_row(zr, m, d)
        total += wr * (math.log(s) - (zr[y[r]] - m))
        c = d.dtype.type(wr / s)
        for j in range(V):
            d[j] *= c
        d[y[r]] -= d.dtype.type(wr)
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def adam_flat(p, g, m, v, c1, b2, c2, step_size, bc2, eps, wd):
    """Adam over flat buffers, in the dtype of p, element by element as optim.Adam:
    g' = g + wd*p (wd > 0); m += c1*(g' - m); v = v*b2 + (c2*g')*g';
    p -= step_size * (m / (sqrt(v)/bc2 + eps)). Constants come cast to p's dtype."""
    for i in range(p.shape[0]):
        gi = g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        mi = m[i] + c1 * (gi - m[i])
        vi = v[i] * b2
        vi = vi + (c2 * gi) * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - step_size * (mi / (np.sqrt(vi) / bc2 + eps))


@njit(cache=True, nogil=True, error_model="numpy")
def sum_squares(g):
    """sum g^2 accumulated in float64."""
    s = 0.0
    for i in range(g.shape[0]):
        x = np.float64(g[i])
        s += x * x
    return s


@njit(cache=True, nogil=True, error_model="numpy")
def scale(g, c):
    """g *= c in place (c in g's dtype)."""
    for i in range(g.shape[0]):
        g[i] = g[i] * c

"""NADE: an exact, tractable distribution over the P binary units of one multi-hot frame (the
notes of a chord), conditioned from outside through its biases (Larochelle & Murray 2011; the
RNN-NADE of Boulanger-Lewandowski et al. 2012).

    p(v) = prod_p p(v_p | v_<p),   p(v_p = 1 | v_<p) = sigmoid(z_p)
    a_p  = b_h + sum_{q<p} v_q W[q]          (Hn,)  a running sum, one row of W per unit
    z_p  = b_v[p] + V[p] . sigmoid(a_p)

W and V (P, Hn) are this module's parameters ('weight', 'readout'), shared by every frame. The
biases b_v (P,) and b_h (Hn,) are an input: one vector of P + Hn per frame, [b_v, b_h], e.g. a
Linear layer of an RNN's hidden state (b = W_b h_t + c), so each step of a sequence gets its own
distribution over chords. The unit order is the pitch order, low to high.

`nll` is the exact negative log-likelihood of given frames (teacher forcing: each unit
conditioned on the true units below it); with a gradient it returns d/d(biases) and
accumulates dW, dV into `grads`. Backward, per frame, with dz_p = sigmoid(z_p) - v_p:
    dV[p] += dz_p h_p,   da_p = dz_p V[p] * h_p (1 - h_p),   db_v[p] = dz_p
    db_h = sum_p da_p,   dW[q] += v_q sum_{p>q} da_p
`sample` draws frames unit by unit, each given the ones already drawn (T = 0: the greedy frame,
each unit on when its conditional is >= 1/2). Both run in numba kernels (nn/kernels/nade.py)
on the numba backend, in NumPy (loop over units, vectorised over frames) on the numpy one.
"""
import numpy as np

from ..errors import RnnlabError
from ..validate import positive_int
from .backend import get_backend, numba_available
from .functional import sigmoid
from .module import Module


class NADE(Module):
    """params {'weight': W (P, Hn), 'readout': V (P, Hn)}; the biases come from outside."""

    def __init__(self, n_visible, n_hidden, dtype=np.float32, seed=None):
        super().__init__()
        self.P = positive_int("NADE n_visible", n_visible)
        self.Hn = positive_int("NADE n_hidden", n_hidden)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self._add_param("weight", rng.uniform(-1, 1, (self.P, self.Hn)) / np.sqrt(self.P))
        self._add_param("readout", rng.uniform(-1, 1, (self.P, self.Hn)) / np.sqrt(self.Hn))
        for k in self.params:
            self.params[k] = self.params[k].astype(self.dtype)
            self.grads[k] = np.zeros_like(self.params[k])

    @property
    def bias_size(self):
        """P + Hn: the length of the bias vector [b_v, b_h] each frame is given."""
        return self.P + self.Hn

    def _rows(self, bias, frames=None):
        bias = np.asarray(bias)
        if bias.shape[-1:] != (self.bias_size,):
            raise RnnlabError(f"NADE biases: got shape {bias.shape}, expected (..., "
                              f"{self.bias_size}) = (..., P + Hn)")
        b = np.ascontiguousarray(bias.reshape(-1, self.bias_size), self.dtype)
        bv, bh = np.ascontiguousarray(b[:, :self.P]), np.ascontiguousarray(b[:, self.P:])
        if frames is None:
            return bv, bh, None
        v = np.asarray(frames)
        if v.shape != bias.shape[:-1] + (self.P,):
            raise RnnlabError(f"NADE frames: got shape {v.shape}, expected "
                              f"{bias.shape[:-1] + (self.P,)}")
        return bv, bh, np.ascontiguousarray(v.reshape(-1, self.P), self.dtype)

    def nll(self, bias, frames, weights=None, grad=False, backend=None):
        """-log p(frame) of each frame (bias.shape[:-1]); with grad, also d(sum of weights *
        nll)/d bias (bias's shape), adding the same sum's dW, dV to `grads`. weights: one per
        frame (None: all 1); a frame of weight 0 is skipped (its nll is 0)."""
        bv, bh, v = self._rows(bias, frames)
        lead = np.shape(bias)[:-1]
        w = (np.ones(len(bv), self.dtype) if weights is None else
             np.ascontiguousarray(np.broadcast_to(weights, lead).reshape(-1), self.dtype))
        W, V = self.params["weight"], self.params["readout"]
        if kernel_runs(backend):
            from .kernels.nade import nade_nll_grad
            nll, dbv, dbh, dW, dV = nade_nll_grad(bv, bh, v, w, W, V, _chunks(len(bv)), grad)
        else:
            nll, dbv, dbh, dW, dV = _nll_grad_numpy(bv, bh, v, w, W, V, grad)
        if not grad:
            return nll.reshape(lead)
        self.grads["weight"] += dW
        self.grads["readout"] += dV
        return nll.reshape(lead), np.concatenate([dbv, dbh], axis=1).reshape(np.shape(bias))

    def conditionals(self, bias, frames):
        """p(v_p = 1 | v_<p) of each unit of the given frames (frames' shape), in NumPy."""
        bv, bh, v = self._rows(bias, frames)
        W, V = self.params["weight"], self.params["readout"]
        a, out = bh.copy(), np.empty_like(bv)
        for p in range(self.P):
            out[:, p] = sigmoid(bv[:, p] + sigmoid(a) @ V[p])
            a = a + v[:, p, None] * W[p]
        return out.reshape(np.shape(frames))

    def sample(self, bias, rng=None, temperature=1.0, backend=None):
        """One frame (bias.shape[:-1] + (P,), 0/1 in the module's dtype) per bias vector,
        unit by unit, unit p on with probability sigmoid(z_p / temperature) given the units
        drawn below it; temperature 0: on when z_p >= 0 (the greedy frame)."""
        if temperature < 0:
            raise RnnlabError(f"temperature must be >= 0, got {temperature}")
        bv, bh, _ = self._rows(bias)
        u = (np.zeros((0, self.P)) if temperature == 0 else
             np.random.default_rng(rng).random((len(bv), self.P)))
        u = np.ascontiguousarray(u, self.dtype)
        W, V = self.params["weight"], self.params["readout"]
        if kernel_runs(backend):
            from .kernels.nade import nade_sample
            out = nade_sample(bv, bh, W, V, u, float(temperature), _chunks(len(bv)))
        else:
            out = _sample_numpy(bv, bh, W, V, u, float(temperature))
        return out.reshape(np.shape(bias)[:-1] + (self.P,))


def kernel_runs(backend=None):
    """Whether the NADE runs in its numba kernels on `backend` (None: the process default);
    else the NumPy reference, which keeps every unit's hidden activations for the backward
    (what the memory estimate counts)."""
    return (backend or get_backend()) == "numba" and numba_available()


def _chunks(n):
    """Row chunks for the kernels' parallel loop: a few per thread, none empty."""
    import numba
    return max(1, min(n, 4 * numba.get_num_threads()))


def _nll_grad_numpy(bv, bh, v, w, W, V, grad):
    """The reference: the same sums as the kernel, vectorised over the N rows."""
    N, P = bv.shape
    a = bh.copy()
    nll = np.zeros(N, bv.dtype)
    hids, dz = [], np.empty_like(bv)
    for p in range(P):
        h = sigmoid(a)
        z = bv[:, p] + h @ V[p]
        nll += np.logaddexp(0, z) - v[:, p] * z
        dz[:, p] = (sigmoid(z) - v[:, p]) * w
        if grad:                # the backward's: P arrays of (N, Hn), not kept to score
            hids.append(h)
        a = a + v[:, p, None] * W[p]
    nll[w == 0] = 0
    if not grad:
        return nll, None, None, None, None
    dW, dV, acc = np.zeros_like(W), np.zeros_like(V), np.zeros_like(bh)
    for p in range(P - 1, -1, -1):
        dW[p] = v[:, p] @ acc
        h = hids[p]
        dV[p] = dz[:, p] @ h
        acc += dz[:, p, None] * V[p] * h * (1 - h)
    return nll, dz, acc, dW, dV


def _sample_numpy(bv, bh, W, V, u, temperature):
    N, P = bv.shape
    a, out = bh.copy(), np.zeros((N, P), bv.dtype)
    for p in range(P):
        z = bv[:, p] + sigmoid(a) @ V[p]
        on = z >= 0 if temperature == 0 else u[:, p] < sigmoid(z / temperature)
        out[:, p] = on
        a = a + on[:, None] * W[p]
    return out

"""Non-recurrent blocks: Embedding, Linear and Dropout (the losses are in losses.py).

Blocks follow the module protocol of docs/design.md: `params` and `grads` dicts with the same
keys, `zero_grad()`, `state_dict()`, `load_state_dict(d)`, `train()` / `eval()`, `.training`.
`forward` caches what `backward` needs; `backward` ACCUMULATES into `grads` (call `zero_grad()`
between optimizer steps) and returns the gradient w.r.t. the input (None for Embedding).
"""
import numpy as np

from ..errors import RnnlabError
from ..validate import positive_int
from .backend import get_backend, numba_available
from .functional import check_dropout, dropout_mask
from .module import Module


def _positive_int(name, value):
    return positive_int(name, value, hint=f"pass e.g. {name}=16")


class Embedding(Module):
    """Lookup table. params {'weight': (V, D)}, init N(0, 1) like torch.nn.Embedding.

    forward(ids: (T, B) int) -> (T, B, D) (any leading shape works: ids (...) -> (..., D)).
    """

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float32, seed=None):
        super().__init__()
        self.num_embeddings = _positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = _positive_int("embedding_dim", embedding_dim)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        weight = rng.standard_normal((self.num_embeddings, self.embedding_dim))
        self._add_param("weight", weight.astype(self.dtype))
        self._ids = None

    def forward(self, ids):
        """ids: (T, B) ints in [0, V) -> out: (T, B, D)."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise RnnlabError(f"Embedding ids must be integers, got dtype {ids.dtype}; "
                              "pass token ids as an int array")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise RnnlabError(f"Embedding ids must be in [0, {self.num_embeddings}), got {bad}; "
                              "encode inputs with the model's own vocabulary")
        self._ids = ids
        return self.params["weight"][ids]

    __call__ = forward

    def backward(self, dout):
        """dout: (T, B, D). Scatter-adds rows into grads['weight']: dW[ids[t,b]] += dout[t,b]."""
        if self._ids is None:
            raise RnnlabError("Embedding.backward called before forward; call forward first")
        expected = self._ids.shape + (self.embedding_dim,)
        if np.shape(dout) != expected:
            raise RnnlabError(f"Embedding.backward: dout has shape {np.shape(dout)}, "
                              f"expected {expected} (the forward output's shape)")
        flat = self._ids.reshape(-1)
        np.add.at(self.grads["weight"], flat, np.asarray(dout).reshape(flat.size, -1))
        return None


class Linear(Module):
    """y = x W^T + b with torch's layout: weight (out, in), bias (out,), init U(+-1/sqrt(in)).

    forward(x: (..., in)) -> (..., out); backward(dout: (..., out)) -> dx: (..., in).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, seed=None):
        super().__init__()
        self.in_features = _positive_int("in_features", in_features)
        self.out_features = _positive_int("out_features", out_features)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.in_features)
        w = rng.uniform(-bound, bound, (self.out_features, self.in_features))
        self._add_param("weight", w.astype(self.dtype))
        if bias:
            b = rng.uniform(-bound, bound, self.out_features)
            self._add_param("bias", b.astype(self.dtype))
        self._x2d = None
        self._lead = None
        self._backend = None

    def forward(self, x, backend=None):
        """x: (..., in) -> (..., out), computed as one GEMM on x reshaped to (N, in); backend:
        'numba' (the packed kernels) or 'numpy', None for the process default. backward uses
        the same one, so a model's run gives the same bits whatever the process default."""
        x = np.asarray(x, dtype=self.dtype)
        self._backend = backend
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise RnnlabError(f"Linear input has shape {x.shape}, expected (..., "
                              f"{self.in_features}); check the previous layer's output size")
        self._lead = x.shape[:-1]
        self._x2d = x.reshape(-1, self.in_features)
        y = _product(self._x2d, self.params["weight"].T, backend=backend)
        if "bias" in self.params:
            y += self.params["bias"]
        return y.reshape(self._lead + (self.out_features,))

    __call__ = forward

    def backward(self, dout):
        """dout: (..., out). Accumulates dweight = dout^T x, dbias = sum dout; returns dx."""
        if self._x2d is None:
            raise RnnlabError("Linear.backward called before forward; call forward first")
        expected = self._lead + (self.out_features,)
        if np.shape(dout) != expected:
            raise RnnlabError(f"Linear.backward: dout has shape {np.shape(dout)}, "
                              f"expected {expected} (the forward output's shape)")
        dout2d = np.asarray(dout, dtype=self.dtype).reshape(-1, self.out_features)
        self.grads["weight"] += _product(dout2d, self._x2d, trans_a=True, backend=self._backend)
        if "bias" in self.grads:
            self.grads["bias"] += dout2d.sum(axis=0)
        dx = _product(dout2d, self.params["weight"], backend=self._backend)
        return dx.reshape(self._lead + (self.in_features,))


def _product(a, w, trans_a=False, backend=None):
    """a @ w (trans_a: a^T @ w) for 2-D arrays of one float dtype: the packed kernels
    (``kernels.gemms``) when the numba backend runs (backend, else the process default),
    else NumPy."""
    if (a.dtype != w.dtype or a.dtype not in (np.float32, np.float64)
            or (backend or get_backend()) != "numba" or not numba_available()):
        return (a.T if trans_a else a) @ w
    from .kernels.gemms import gemm, gemm_t
    from .kernels.panels import pack
    # read-only inputs (a recurrent layer's y) are copied: numba would compile every product
    # a second time for the read-only array type (about 2 s on a cold cache); the copy is
    # one pass over `a` against a product over it
    a, w = (np.array(v, order="C") if not v.flags.writeable else np.ascontiguousarray(v)
            for v in (a, w))
    out = np.empty((a.shape[1] if trans_a else a.shape[0], w.shape[1]), a.dtype)
    return (gemm_t if trans_a else gemm)(a, pack(w), out)


class Dropout(Module):
    """Inverted dropout with no parameters; identity in eval mode or when p == 0."""

    def __init__(self, p=0.0, seed=None):
        super().__init__()
        self.p = check_dropout(p)
        self.rng = np.random.default_rng(seed)
        self._mask = None

    def forward(self, x):
        x = np.asarray(x)
        self._mask = dropout_mask(x.shape, self.p, self.rng, x.dtype) if self.training else None
        return x if self._mask is None else x * self._mask

    __call__ = forward

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask

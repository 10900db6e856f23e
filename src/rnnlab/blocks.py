"""Non-recurrent blocks: Embedding, Linear, dropout masks, and the losses.

Blocks follow the module protocol of docs/design.md: `params` and `grads` dicts with the same
keys, `zero_grad()`, `state_dict()`, `load_state_dict(d)`, `train()` / `eval()`, `.training`.
`forward` caches what `backward` needs; `backward` ACCUMULATES into `grads` (call `zero_grad()`
between optimizer steps) and returns the gradient w.r.t. the input (None for Embedding).

Losses are pure functions returning `(loss, dinput)`, where `loss` is a Python float and
`dinput` is the gradient of exactly that (averaged) loss.
"""
import numpy as np

from .errors import RnnlabError
from .module import Module


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise RnnlabError(f"{name} must be a positive integer, got {value!r}; pass e.g. {name}=16")
    return int(value)


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

    def forward(self, x):
        """x: (..., in) -> (..., out), computed as one GEMM on x reshaped to (N, in)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise RnnlabError(f"Linear input has shape {x.shape}, expected (..., "
                              f"{self.in_features}); check the previous layer's output size")
        self._lead = x.shape[:-1]
        self._x2d = x.reshape(-1, self.in_features)
        y = self._x2d @ self.params["weight"].T
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
        self.grads["weight"] += dout2d.T @ self._x2d
        if "bias" in self.grads:
            self.grads["bias"] += dout2d.sum(axis=0)
        dx = dout2d @ self.params["weight"]
        return dx.reshape(self._lead + (self.in_features,))


def _check_p(p):
    if not 0.0 <= p < 1.0:
        raise RnnlabError(f"dropout p must be in [0, 1), got {p!r}; use e.g. --dropout 0.2")


def dropout_mask(shape, p, rng, dtype=np.float32):
    """Inverted-dropout mask of `shape`: kept / (1 - p), i.e. 0 or 1/(1-p); None when p == 0.

    Multiply activations by the mask in forward and the gradient by the same mask in backward.
    """
    _check_p(p)
    if p == 0:
        return None
    keep = rng.random(shape) >= p
    return keep.astype(dtype) / np.asarray(1.0 - p, dtype=dtype)


class Dropout(Module):
    """Inverted dropout with no parameters; identity in eval mode or when p == 0."""

    def __init__(self, p=0.0, seed=None):
        super().__init__()
        _check_p(p)
        self.p = float(p)
        self.rng = np.random.default_rng(seed)
        self._mask = None

    def forward(self, x):
        x = np.asarray(x)
        self._mask = dropout_mask(x.shape, self.p, self.rng, x.dtype) if self.training else None
        return x if self._mask is None else x * self._mask

    __call__ = forward

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask


# ---------------------------------------------------------------- losses

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


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp(-softplus(-x))."""
    return np.exp(-np.logaddexp(0, -np.asarray(x)))


def _float_array(a):
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return a


def _check_shape(name, a, expected, hint):
    if a.shape != tuple(expected):
        raise RnnlabError(f"{name} has shape {a.shape}, expected {tuple(expected)}; {hint}")


def _mask_weights(mask, shape, dtype):
    """mask (bool or float, nonnegative) -> float weights of `shape`; None -> ones."""
    if mask is None:
        return np.ones(shape, dtype=dtype)
    m = np.asarray(mask)
    _check_shape("mask", m, shape, "the mask marks real (1/True) and padded (0/False) steps")
    w = m.astype(dtype)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise RnnlabError("mask must be finite and nonnegative, got negative or non-finite "
                          "values; use a bool mask or weights >= 0")
    return w


def _elementwise_weights(mask, shape, dtype):
    """Mask of `shape` or `shape[:-1]` (one weight per step, shared by the last axis)."""
    if mask is not None and np.ndim(mask) == len(shape) - 1:
        return np.broadcast_to(_mask_weights(mask, shape[:-1], dtype)[..., None], shape)
    return _mask_weights(mask, shape, dtype)


def softmax_cross_entropy(logits, targets, mask=None):
    """Mean cross-entropy of softmax(logits) against integer targets.

    logits: (T, B, V) (any (..., V)), targets: (T, B) ints in [0, V), mask: (T, B) bool/float.
    loss = sum_{t,b} w[t,b] * -log softmax(logits[t,b])[targets[t,b]] / sum_{t,b} w[t,b],
    i.e. the mean over unmasked (t, b) positions (a weighted mean for a float mask); the sum
    over the vocabulary is NOT averaged. Targets at masked positions are ignored (may be any
    int). If every position is masked, loss is 0.0 and dlogits is zero.
    Returns (loss: float, dlogits: same shape as logits).
    """
    z = _float_array(logits)
    if z.ndim < 1:
        raise RnnlabError("logits must have a vocabulary axis, got a scalar; pass (T, B, V)")
    y = np.asarray(targets)
    _check_shape("targets", y, z.shape[:-1], "targets hold one class id per logits row")
    if not np.issubdtype(y.dtype, np.integer):
        raise RnnlabError(f"targets must be integer class ids, got dtype {y.dtype}; "
                          "pass an int array")
    w = _mask_weights(mask, y.shape, z.dtype)
    V = z.shape[-1]
    real = w != 0
    if real.any() and (y[real].min() < 0 or y[real].max() >= V):
        bad = y[real].min() if y[real].min() < 0 else y[real].max()
        raise RnnlabError(f"targets must be in [0, {V}) (the vocabulary size), got {bad}; "
                          "check the vocabulary or mask out padding")
    y = np.where(real, y, 0)
    total = w.sum()
    if total == 0:
        return 0.0, np.zeros_like(z)
    logp = log_softmax(z)
    picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    loss = float(-(w * picked).sum() / total)
    # d(-log p_y)/dz = softmax(z) - onehot(y), weighted by w / sum(w)
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, y[..., None],
                      np.take_along_axis(dlogits, y[..., None], axis=-1) - 1, axis=-1)
    dlogits *= (w / total)[..., None]
    return loss, dlogits


def mse(pred, target, mask=None):
    """Mean squared error: mean over all (unmasked) elements of (pred - target)^2.

    pred, target: same shape, e.g. (T, B, D). mask: pred's shape, or pred.shape[:-1] = (T, B)
    to mask whole steps. loss = sum(w * (pred - target)^2) / sum(w) with w broadcast to pred's
    shape (so with a (T, B) mask the mean is over real steps AND the D features).
    All masked -> (0.0, zeros). Returns (loss: float, dpred: like pred).
    """
    p = _float_array(pred)
    t = np.asarray(target)
    _check_shape("target", t, p.shape, "target must match pred element for element")
    w = _elementwise_weights(mask, p.shape, p.dtype)
    total = w.sum()
    if total == 0:
        return 0.0, np.zeros_like(p)
    diff = p - t
    loss = float((w * diff * diff).sum() / total)
    # d/dpred of w (pred - target)^2 / sum(w)
    return loss, (2.0 / total) * w * diff


def sigmoid_bce(logits, targets, mask=None, reduction="mean"):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1] (multi-hot).

    Per element l = softplus(x) - y x = log(1 + e^x) - y x (stable form of
    -[y log s(x) + (1 - y) log(1 - s(x))]).
    reduction='mean': sum(w * l) / sum(w), the mean over all (unmasked) elements; mask has
      logits' shape or logits.shape[:-1] (whole steps).
    reduction='sum_per_step': l summed over the last (pitch) axis, then the mean over unmasked
      steps: sum_{t,b} w[t,b] sum_p l[t,b,p] / sum w -- the NLL per time step of piano-roll
      music; mask must be logits.shape[:-1] = (T, B).
    All masked -> (0.0, zeros). Returns (loss: float, dlogits: like logits).
    """
    x = _float_array(logits)
    y = np.asarray(targets)
    _check_shape("targets", y, x.shape, "targets must match logits element for element")
    if y.size and (np.min(y) < 0 or np.max(y) > 1):
        raise RnnlabError(f"targets must be in [0, 1] (multi-hot), got values in "
                          f"[{np.min(y)}, {np.max(y)}]; pass 0/1 note-on indicators")
    if reduction == "mean":
        w = _elementwise_weights(mask, x.shape, x.dtype)
        total = w.sum()  # normaliser counts elements
    elif reduction == "sum_per_step" and x.ndim >= 1:
        w_step = _mask_weights(mask, x.shape[:-1], x.dtype)
        total = w_step.sum()  # normaliser counts steps, not elements
        w = np.broadcast_to(w_step[..., None], x.shape)
    else:
        raise RnnlabError(f"reduction must be 'mean' or 'sum_per_step' (the latter needs a "
                          f"pitch axis), got {reduction!r} for logits of shape {x.shape}")
    if total == 0 or x.size == 0:
        return 0.0, np.zeros_like(x)
    elem = np.logaddexp(0, x) - y * x
    loss = float((w * elem).sum() / total)
    # d l / dx = sigmoid(x) - y
    return loss, (sigmoid(x) - y) * (w / total)


def sigmoid_bce_sum_per_step(logits, targets, mask=None):
    """sigmoid_bce(..., reduction='sum_per_step'): NLL per step summed over pitches."""
    return sigmoid_bce(logits, targets, mask, reduction="sum_per_step")

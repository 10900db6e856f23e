"""The losses: pure functions returning `(loss, dinput)`, where `loss` is a Python float and
`dinput` is the gradient of exactly that (averaged) loss. Each takes an optional mask of the
real (1) and padded (0) positions.

    softmax_cross_entropy(logits (T, B, V), targets (T, B) ints)     text, copy, classification
    mse(pred (T, B, D), target (T, B, D))                            series, adding
    sigmoid_bce(logits (T, B, P), targets (T, B, P) in [0, 1])       music (multi-hot)
"""
import numpy as np

from ..errors import RnnlabError
from .backend import numba_available
from .functional import log_softmax, sigmoid


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


def softmax_cross_entropy(logits, targets, mask=None, fused=True):
    """Mean cross-entropy of softmax(logits) against integer targets.

    logits: (T, B, V) (any (..., V)), targets: (T, B) ints in [0, V), mask: (T, B) bool/float.
    loss = sum_{t,b} w[t,b] * -log softmax(logits[t,b])[targets[t,b]] / sum_{t,b} w[t,b],
    i.e. the mean over unmasked (t, b) positions (a weighted mean for a float mask); the sum
    over the vocabulary is NOT averaged. Targets at masked positions are ignored (may be any
    int). If every position is masked, loss is 0.0 and dlogits is zero.
    fused: one compiled pass over the logits for the loss and its gradient (float32/64 logits,
    numba available); False, or when it cannot run, the NumPy formulas below. The two agree to
    rounding (the fused pass sums in float64; tests/test_fused.py).
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
    if fused and z.dtype in (np.float32, np.float64) and V > 0 and numba_available():
        from .kernels.fused import softmax_ce_rows
        z2 = np.ascontiguousarray(z).reshape(-1, V)
        dz = np.empty_like(z2)
        loss = softmax_ce_rows(z2, y.reshape(-1).astype(np.int64), (w / total).reshape(-1), dz)
        return float(loss), dz.reshape(z.shape)
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

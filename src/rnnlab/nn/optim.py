"""Optimizers on parameter dicts, gradient clipping and learning-rate decay.

An optimizer holds references to the parameter arrays (`params: dict[str, ndarray]`) and
`step(grads)` updates them IN PLACE, matching torch.optim's update formulas exactly:
SGD, Momentum (torch SGD with momentum, dampening 0), Adagrad, RMSprop, Adam. `weight_decay`
is torch's L2 form: g <- g + weight_decay * p before the update.

`state_dict()` returns `(arrays, meta)`: the buffers (safetensors-ready, keys
'<buffer>/<param name>') and a JSON-ready dict (name, step, lr, hyperparameters), so that
`load_state_dict(arrays, meta)` resumes exactly.
"""
import math

import numpy as np

from ..errors import RnnlabError
from ..validate import number
from .backend import numba_available
from .module import flat_of


class Optimizer:
    """Base class: bookkeeping, L2 weight decay, state dicts. Subclasses define `_update`."""

    name = "optimizer"
    buffers = ()  # names of per-parameter state arrays, allocated as zeros

    def __init__(self, params, lr, weight_decay=0.0):
        if not isinstance(params, dict) or not params:
            raise RnnlabError(f"optimizer params must be a non-empty dict name -> ndarray, "
                              f"got {type(params).__name__}; pass model.params")
        _check_positive("lr", lr)
        if weight_decay < 0:
            raise RnnlabError(f"weight_decay must be >= 0, got {weight_decay}; use e.g. 1e-5")
        self.params = params
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.step_count = 0
        # parameters that are views into one flat buffer (a SequenceModel's) get flat state
        # buffers too, for the one-pass update (``_step_flat``); the per-name views stay
        self.flat = flat_of(params.values())
        self.flat_state = {}
        if self.flat is not None:
            for b in self.buffers:
                self.flat_state[b] = np.zeros_like(self.flat)
        self.state = {b: (dict(zip(params, _views_like(self.flat_state[b], params)))
                          if self.flat is not None else
                          {k: np.zeros_like(p) for k, p in params.items()})
                      for b in self.buffers}

    def hyperparams(self):
        """JSON-ready hyperparameters (besides lr), stored in meta."""
        return {"weight_decay": self.weight_decay}

    def step(self, grads):
        """Update every parameter in place from `grads` (same keys and shapes as params)."""
        missing = [k for k in self.params if k not in grads]
        if missing:
            raise RnnlabError(f"grads lack '{missing[0]}' ({len(missing)} missing); pass the "
                              "grads dict of the same model whose params the optimizer holds")
        for k, p in self.params.items():
            if grads[k].shape != p.shape:
                raise RnnlabError(f"grad '{k}' has shape {grads[k].shape}, expected {p.shape}")
        self.step_count += 1
        if self.flat is not None and numba_available() and hasattr(self, "_step_flat"):
            flat_g = flat_of(grads[k] for k in self.params)
            if flat_g is not None and flat_g.dtype == self.flat.dtype:
                self._step_flat(self.flat, flat_g)
                return
        for k, p in self.params.items():
            g = grads[k]
            if self.weight_decay:
                g = g + self.weight_decay * p  # L2 penalty: d/dp (wd/2 |p|^2)
            self._update(k, p, g)

    def _update(self, name, p, g):
        raise NotImplementedError

    def state_dict(self):
        """-> (arrays: {'<buffer>/<param>': ndarray}, meta: JSON-ready dict)."""
        arrays = {f"{b}/{k}": v.copy() for b, d in self.state.items() for k, v in d.items()}
        meta = {"name": self.name, "step": self.step_count, "lr": self.lr,
                **self.hyperparams()}
        return arrays, meta

    def load_state_dict(self, arrays, meta):
        """Restore buffers, step count and current lr saved by `state_dict()`."""
        if not isinstance(meta, dict) or meta.get("name") != self.name:
            got = meta.get("name") if isinstance(meta, dict) else meta
            raise RnnlabError(f"optimizer state is for {got!r}, this optimizer is "
                              f"{self.name!r}; resume with the same --optimizer")
        expected = {f"{b}/{k}": p.shape for b in self.buffers for k, p in self.params.items()}
        for key, shape in expected.items():
            if key not in arrays:
                raise RnnlabError(f"optimizer state lacks '{key}'; it was saved for another "
                                  "model, resume with the same model options")
            if arrays[key].shape != shape:
                raise RnnlabError(f"optimizer state '{key}' has shape {arrays[key].shape}, "
                                  f"expected {shape}; resume with the same model options")
        extra = sorted(set(arrays) - set(expected))
        if extra:
            raise RnnlabError(f"optimizer state has unexpected array '{extra[0]}'; it was "
                              "saved for another model, resume with the same model options")
        for key in expected:
            b, k = key.split("/", 1)
            self.state[b][k][...] = arrays[key]
        self.step_count = int(meta["step"])
        self.lr = float(meta["lr"])


def _views_like(flat, params):
    """Views of flat with the shapes of params, in order."""
    out, off = [], 0
    for p in params.values():
        out.append(flat[off:off + p.size].reshape(p.shape))
        off += p.size
    return out


class SGD(Optimizer):
    """p <- p - lr * g."""

    name = "sgd"

    def __init__(self, params, lr, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)

    def _update(self, name, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    """torch SGD(momentum): buf <- momentum * buf + g; p <- p - lr * (g + momentum*buf if
    nesterov else buf). (buf starts at zero, so the first step gives buf = g as in torch.)"""

    name = "momentum"
    buffers = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise RnnlabError(f"momentum must be in [0, 1), got {momentum}; use e.g. 0.9")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def hyperparams(self):
        return {**super().hyperparams(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, name, p, g):
        buf = self.state["momentum_buffer"][name]
        buf *= self.momentum
        buf += g
        p -= self.lr * (g + self.momentum * buf if self.nesterov else buf)


class Adagrad(Optimizer):
    """sum <- sum + g^2; p <- p - lr * g / (sqrt(sum) + eps)."""

    name = "adagrad"
    buffers = ("sum",)

    def __init__(self, params, lr=0.01, eps=1e-10, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = float(eps)

    def hyperparams(self):
        return {**super().hyperparams(), "eps": self.eps}

    def _update(self, name, p, g):
        s = self.state["sum"][name]
        s += g * g
        p -= self.lr * (g / (np.sqrt(s) + self.eps))


class RMSprop(Optimizer):
    """avg <- alpha * avg + (1 - alpha) g^2; p <- p - lr * g / (sqrt(avg) + eps)."""

    name = "rmsprop"
    buffers = ("square_avg",)

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        if not 0 <= alpha < 1:
            raise RnnlabError(f"alpha must be in [0, 1), got {alpha}; use e.g. 0.99")
        self.alpha = float(alpha)
        self.eps = float(eps)

    def hyperparams(self):
        return {**super().hyperparams(), "alpha": self.alpha, "eps": self.eps}

    def _update(self, name, p, g):
        sq = self.state["square_avg"][name]
        sq *= self.alpha
        sq += (1 - self.alpha) * g * g
        p -= self.lr * (g / (np.sqrt(sq) + self.eps))


class Adam(Optimizer):
    """m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)  (torch's arrangement)."""

    name = "adam"
    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise RnnlabError(f"Adam betas must be in [0, 1), got {tuple(betas)}; "
                              "use e.g. (0.9, 0.999)")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)

    def hyperparams(self):
        return {**super().hyperparams(), "betas": list(self.betas), "eps": self.eps}

    def _step_flat(self, p, g):
        """The same update as ``_update`` over the flat buffers, one compiled pass with the
        same float operations in the same order (kernels.fused.adam_flat)."""
        from .kernels.fused import adam_flat
        b1, b2 = self.betas
        t = self.step_count
        c = p.dtype.type
        adam_flat(p, g, self.flat_state["exp_avg"], self.flat_state["exp_avg_sq"], c(1 - b1),
                  c(b2), c(1 - b2), c(self.lr / (1 - b1 ** t)), c(math.sqrt(1 - b2 ** t)),
                  c(self.eps), c(self.weight_decay))

    def _update(self, name, p, g):
        b1, b2 = self.betas
        m = self.state["exp_avg"][name]
        v = self.state["exp_avg_sq"][name]
        m += (1 - b1) * (g - m)  # torch's lerp: m + (1 - b1)(g - m)
        v *= b2
        v += (1 - b2) * g * g
        t = self.step_count
        step_size = self.lr / (1 - b1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
        p -= step_size * (m / denom)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": Adagrad, "rmsprop": RMSprop,
              "adam": Adam}


def make_optimizer(name, params, lr, **kw):
    """Factory: name in 'sgd', 'momentum', 'adagrad', 'rmsprop', 'adam'."""
    if name not in OPTIMIZERS:
        raise RnnlabError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    _check_positive("lr", lr)
    return OPTIMIZERS[name](params, lr=lr, **kw)


def _check_positive(name, value):
    number(name, value, lo=0, lo_open=True, hint="use e.g. --lr 0.001")


# ---------------------------------------------------------------- learning-rate decay

SCHEDULES = ("constant", "step", "exponential")


def lr_schedule(kind, base_lr, step, decay_rate=1.0, decay_every=1, warmup=0):
    """Learning rate at optimizer step `step` (0-based).

    warmup: for step < warmup, lr ramps linearly: base_lr * (step + 1) / warmup. After it
    (s = step - warmup): 'constant' base_lr; 'step' base_lr * decay_rate ** (s // decay_every);
    'exponential' base_lr * decay_rate ** (s / decay_every) (smooth).
    """
    if kind not in SCHEDULES:
        raise RnnlabError(f"unknown lr schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    _check_positive("base_lr", base_lr)
    if not 0 < decay_rate <= 1:
        raise RnnlabError(f"decay_rate must be in (0, 1], got {decay_rate}; use e.g. 0.5")
    if int(decay_every) < 1 or int(warmup) < 0 or int(step) < 0:
        raise RnnlabError(f"need decay_every >= 1, warmup >= 0, step >= 0; got decay_every="
                          f"{decay_every}, warmup={warmup}, step={step}")
    if step < warmup:
        return base_lr * (step + 1) / warmup
    s = step - warmup
    if kind == "step":
        return base_lr * decay_rate ** (s // decay_every)
    if kind == "exponential":
        return base_lr * decay_rate ** (s / decay_every)
    return float(base_lr)


class LRSchedule:
    """lr_schedule with its options bound: `sched(step) -> lr`; `sched.apply(opt)` sets opt.lr
    for the optimizer's next step (from opt.step_count)."""

    def __init__(self, kind, base_lr, decay_rate=1.0, decay_every=1, warmup=0):
        self.kind, self.base_lr = kind, base_lr
        self.decay_rate, self.decay_every, self.warmup = decay_rate, decay_every, warmup
        self(0)  # validate now

    def __call__(self, step):
        return lr_schedule(self.kind, self.base_lr, step, self.decay_rate, self.decay_every,
                           self.warmup)

    def apply(self, opt):
        opt.lr = self(opt.step_count)
        return opt.lr


# ---------------------------------------------------------------- gradient checks

def clip_grad_norm(grads, max_norm):
    """Scale all grads in place so their global L2 norm is at most max_norm (torch's
    clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied when < 1). Returns the norm
    before clipping as a float; a non-finite norm is returned without scaling."""
    _check_positive("max_norm", max_norm)
    flat = flat_of(grads.values()) if numba_available() else None
    if flat is not None:             # one compiled pass over the flat buffer (float64 sum)
        from .kernels.fused import scale, sum_squares
        total = math.sqrt(sum_squares(flat))
    else:
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    coef = max_norm / (total + 1e-6)
    if math.isfinite(total) and coef < 1:
        if flat is not None:
            scale(flat, flat.dtype.type(coef))
        else:
            for g in grads.values():
                g *= coef
    return total


def grads_finite(grads):
    """Name of the first gradient holding NaN or inf, or None when all are finite."""
    flat = flat_of(grads.values())
    if flat is not None and np.isfinite(flat).all():
        return None
    for k, g in grads.items():
        if not np.all(np.isfinite(g)):
            return k
    return None

"""Shared helpers for the engine's tests (gradcheck, torch parity, layers, bad input).

The loss every engine test differentiates is

    L = sum(y * R) + sum(h_n * S) (+ sum(c_n * U) for the LSTM)

so dL/dy = R, dL/dh_n = S, dL/dc_n = U are what backward receives.
"""
import numpy as np

from rnnlab.nn import registry

# every cell of the registry with each of its command-line choices:
# (layer class name, constructor options, id), e.g. ("LSTM", {"variant": "peephole"}, "lstm-peephole")
LAYERS = {spec.layer.__name__: spec.layer for spec in registry.CELLS.values()}
CELLS = [(spec.layer.__name__, dict(opts), choice)
         for choice, (spec, opts) in registry.choices().items()]
# ... and each other value of a cell option with a fixed set of choices (minGRU's mode), so
# that every way a cell can compute is checked, e.g. ("MinGRU", {"mode": "recurrent"},
# "mingru[mode=recurrent]")
CELLS += [(spec.layer.__name__, {**opts, o.name: value}, f"{choice}[{o.name}={value}]")
          for choice, (spec, opts) in registry.choices().items()
          for o in spec.options if o.choices for value in o.choices if value != o.default]
CELL_IDS = [c[2] for c in CELLS]


def make_layer(kind, D, H, **kw):
    return LAYERS[kind](D, H, **kw)


def num_dirs(layer):
    return 2 if layer.bidirectional else 1


def random_state(layer, B, rng, unbatched=False, scale=0.5):
    """A random initial state in the layer's shape: h0, or (h0, c0) for the LSTM."""
    LD, H = layer.num_layers * num_dirs(layer), layer.hidden_size
    shape = (LD, H) if unbatched else (LD, B, H)
    h0 = (scale * rng.standard_normal(shape)).astype(layer.dtype)
    if layer.has_cell_state:
        return h0, (scale * rng.standard_normal(shape)).astype(layer.dtype)
    return h0


def loss_weights(y, state_n, rng, dtype):
    """R, and S (or (S, U)) shaped like y and the final state."""
    R = rng.standard_normal(y.shape).astype(dtype)
    if isinstance(state_n, tuple):
        return R, tuple(rng.standard_normal(s.shape).astype(dtype) for s in state_n)
    return R, rng.standard_normal(state_n.shape).astype(dtype)


def loss_value(y, state_n, R, W):
    total = float(np.sum(y * R))
    if isinstance(state_n, tuple):
        return total + sum(float(np.sum(s * w)) for s, w in zip(state_n, W))
    return total + float(np.sum(state_n * W))


def rel_err(a, b):
    """Norm-based relative error of two arrays: ||a - b|| / max(1e-8, ||a|| + ||b||)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b)))

"""Shared helpers for the engine's tests (gradcheck, torch parity, layers, bad input).

The loss every engine test differentiates is

    L = sum(y * R) + sum(h_n * S) (+ sum(c_n * U) for the LSTM, + one term per further part
    of the state)

so dL/dy = R, dL/dh_n = S, dL/dc_n = U are what backward receives.
"""
import numpy as np

from rnnlab.nn import registry

# every cell of the registry with each of its command-line choices:
# (layer class name, constructor options, id), e.g. ("LSTM", {"variant": "peephole"}, "lstm-peephole")
LAYERS = {spec.layer.__name__: spec.layer for spec in registry.CELLS.values()}
CELLS = [(spec.layer.__name__, dict(opts), choice)
         for choice, (spec, opts) in registry.choices().items()]
CELL_IDS = [c[2] for c in CELLS]


def make_layer(kind, D, H, **kw):
    return LAYERS[kind](D, H, **kw)


def num_dirs(layer):
    return 2 if layer.bidirectional else 1


def state_shapes(layer, B, unbatched=False):
    """{part: full shape} of the layer's state: (L*dirs, B) + the part's shape per row
    ((L*dirs, B, H) for the RNN, LSTM and GRU; the mLSTM's matrix memory is per head)."""
    LD = layer.num_layers * num_dirs(layer)
    lead = (LD,) if unbatched else (LD, B)
    return {part: lead + shape for part, (shape, _) in layer.state_parts().items()}


def random_state(layer, B, rng, unbatched=False, scale=0.5):
    """A random initial state in the layer's shape: h0, or a tuple (h0, c0) for the LSTM, one
    array per part in the cell's STATE order. A part with a least value (the cell's STATE_MIN,
    the sLSTM's normaliser n >= 0) is drawn above it: min + 0.5 + scale * |normal|."""
    lows = getattr(layer.reference, "STATE_MIN", {})
    parts = []
    for part, shape in state_shapes(layer, B, unbatched).items():
        a = scale * rng.standard_normal(shape)
        if part in lows:
            a = lows[part] + 0.5 + np.abs(a)
        parts.append(a.astype(layer.dtype))
    return tuple(parts) if len(parts) > 1 else parts[0]


def state_list(state):
    """A state (array or tuple) as a list of parts."""
    return list(state) if isinstance(state, tuple) else [state]


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

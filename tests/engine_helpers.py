"""Shared helpers for the engine's tests (gradcheck, torch parity, layers, bad input).

The loss every engine test differentiates is

    L = sum(y * R) + sum(h_n * S) (+ sum(c_n * U) for the LSTM, + one term per further part
    of the state)

so dL/dy = R, dL/dh_n = S, dL/dc_n = U are what backward receives.
"""
import numpy as np

from rnnlab.nn import registry

EPS = 1e-5          # the centred finite differences' step
TOL = 1e-6          # the relative error every backward must beat in float64

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

# the cells' own options (the registry's CellOptions), alone and together, in the same form;
# tests/test_cell_options.py runs them through the engine's contracts (H >= 3)
OPTION_CELLS = [
    ("LSTM", {"proj_size": 2}, "lstm-proj"),
    ("LSTM", {"layer_norm": True}, "lstm-ln"),
    ("LSTM", {"zoneout": (0.3, 0.2)}, "lstm-zoneout"),
    ("LSTM", {"recurrent_dropout": 0.3}, "lstm-rdrop"),
    ("LSTM", {"variant": "peephole", "recurrent_dropout": 0.3}, "lstm-peephole-rdrop"),
    ("LSTM", {"variant": "coupled", "recurrent_dropout": 0.3}, "lstm-coupled-rdrop"),
    ("LSTM", {"proj_size": 2, "layer_norm": True}, "lstm-proj-ln"),
    ("LSTM", {"proj_size": 2, "layer_norm": True, "zoneout": (0.25, 0.4),
              "recurrent_dropout": 0.3}, "lstm-all"),
    ("RNN", {"recurrent_dropout": 0.3}, "rnn-rdrop"),
    ("RNN", {"nonlinearity": "relu", "recurrent_dropout": 0.3}, "rnn-relu-rdrop"),
    ("GRU", {"recurrent_dropout": 0.3}, "gru-rdrop"),
]
OPTION_IDS = [c[2] for c in OPTION_CELLS]


def make_layer(kind, D, H, **kw):
    return LAYERS[kind](D, H, **kw)


def num_dirs(layer):
    return 2 if layer.bidirectional else 1


def state_shapes(layer, B, unbatched=False):
    """{part: full shape} of the layer's state: (L*dirs, B) + the part's shape per row
    ((L*dirs, B, H) for the RNN, LSTM and GRU; the mLSTM's matrix memory is per head)."""
    LD = layer.num_layers * num_dirs(layer)
    lead = (LD,) if unbatched else (LD, B)
    return {part: lead + shape for part, shape in layer.state_shapes().items()}


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


def check_steppers_like_forward(layer, x, y, state_n, state0=None, tol=1e-12):
    """Stream x (T, 1, D) token by token through the layer's B = 1 steppers (started from
    state0's row 0, or zeros): each step's top output within tol of forward's y[t, 0], and
    each stepper's final state within tol of forward's state_n (layer k, row 0)."""
    steppers = layer.steppers()
    for k, s in enumerate(steppers):
        s.reset(*(() if state0 is None else (p[k, 0] for p in state0)))
    for t in range(x.shape[0]):
        h = x[t, 0]
        for s in steppers:
            h = s.step(h)
        assert rel_err(h, y[t, 0]) < tol
    for k, s in enumerate(steppers):
        for a, b in zip(s.state(), state_n):
            assert rel_err(a, b[k, 0]) < tol


def gradcheck(fresh, x, state, lengths, n_param_entries=6, seed=0, eps=EPS):
    """Analytic vs numeric gradients. fresh() builds a new layer; since its seed is fixed, every
    build has the same parameters and, in train mode, draws the same dropout masks (between
    layers, recurrent, zoneout), so the finite differences see exactly the function that was
    backpropagated.
    eps: the difference step; the truncation error of centred differences grows as eps^2 times
    the curvature (layer norm's gains make it larger), the rounding error as 1e-16 / eps.
    Returns {tensor name: rel err}."""
    rng = np.random.default_rng(seed)
    layer = fresh()
    y, sn = layer(x, state, lengths, backend="numpy")
    R, W = loss_weights(y, sn, rng, np.float64)
    dx, ds0 = layer.backward(R, W)

    inputs = {"x": x.copy()}
    analytic = {"x": dx}
    parts = [f"{p}_0" for p in layer.state_names]
    if state is not None:
        for name, s, ds in zip(parts, state_list(state), state_list(ds0)):
            inputs[name], analytic[name] = s.copy(), ds
    params = layer.state_dict()
    for k, v in params.items():
        inputs["param:" + k] = v
        analytic["param:" + k] = layer.grads[k]

    def loss():
        lay = fresh()
        lay.load_state_dict({k[6:]: v for k, v in inputs.items() if k.startswith("param:")})
        st = None
        if parts[0] in inputs:
            st = tuple(inputs[n] for n in parts) if len(parts) > 1 else inputs[parts[0]]
        y2, sn2 = lay(inputs["x"], st, lengths, backend="numpy")
        return loss_value(y2, sn2, R, W)

    errs = {}
    for name, arr in inputs.items():
        flat = np.arange(arr.size)
        if name.startswith("param:") and arr.size > n_param_entries:
            flat = rng.choice(arr.size, n_param_entries, replace=False)
        num, ana = [], []
        for f in flat:
            idx = np.unravel_index(f, arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            lp = loss()
            arr[idx] = old - eps
            lm = loss()
            arr[idx] = old
            num.append((lp - lm) / (2 * eps))
            ana.append(analytic[name][idx])
        assert np.linalg.norm(ana) > 0, f"{name}: analytic gradient is zero on the checked entries"
        errs[name] = rel_err(ana, num)
    return errs

"""How the loss reaches back through time, measured with rnnlab's own backward (the reference
layer's `backward`, never a second implementation):

- connectivity: |d log p(target_t) / d x_s| for s <= t (L2 norm over the input features, as in
  Distill's "Memorization in RNNs"), one backward pass of rnnlab's layer per target step t,
  batched: many target steps run side by side as rows of one batch, each row ending at its own t
  (lengths), starting from the model's real state a window before (exact for the steps inside
  the window: the state there does not depend on the inputs after it);
- gradient norms through time, all from one routine, `backprop_states`: the recurrent stack is
  run one step at a time and each step's backward, given dL/dy_t and the gradient carried back
  from the steps after it, returns dL/dstate_{t-1}; so dL/dh_t (top layer) and, for the LSTM,
  the gradient along the cell state c_t come out for every t in one backward sweep (O(T)).
  `grad_norms`: one input, L the loss of its last prediction, ||dL/dh_t|| and ||dL/dc_t||
  against the distance from it (the explain page, `rnnlab plot`). `loss_grad_norms`: a batch
  of sequences, L the model's own loss (its kind, its mask), ||dL/dh_t|| over batch and hidden
  units for every t (the long-memory experiments). A cell with more state parts (the xLSTM
  cells' h, c, n) reports every part but its stabiliser (the cell's STABILISER, m).

The real states come from the reference forward's cache; a cell that does not keep a part per
step (the mLSTM's matrix memory) has its states recorded by running the layer step by step.

Everything runs on a copy of the model (the Subject's, or `Module.clone`): the model itself is
never disturbed.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn.functional import sigmoid, softmax
from rnnlab.viz.limits import CONN_WINDOW
from rnnlab.viz.subject import Subject, read_input, reference_forward

MAX_CONN_STEPS = 200          # target steps t that get a connectivity row
_BATCH_VALUES = 3_000_000     # cache values per batched backward (memory of one chunk)


def connectivity(model, inputs, *, vocab=None, steps=None, max_steps=MAX_CONN_STEPS,
                 window=CONN_WINDOW):
    """{t: array}: |d log p(target_t) / d x_s| (L2 norm over the input features) for the steps
    s = max(0, t-window+1) .. t, for each chosen target step t (default: every t < T-1, or
    `max_steps` evenly spaced ones, the last included). With one-hot text input x_s is the
    one-hot vector; with an embedding it is the embedded vector."""
    subject, sm, ids, x = _one_directional_input(model, vocab, inputs, "connectivity")
    _, _, states = reference_forward(sm, x)
    return connectivity_from(sm, subject, ids, x, states, steps, max_steps, window)


def connectivity_from(sm, subject, ids, x, states, steps, max_steps, window):
    """`connectivity` after `reference_forward` has given the states."""
    T = x.shape[0]
    steps = _conn_steps(T, max_steps) if steps is None else sorted({int(t) for t in steps})
    if any(not 0 <= t <= T - 2 for t in steps):
        raise RnnlabError(f"connectivity steps must lie in [0, {T - 2}] (steps with a target)")
    targets = _targets_of(subject, ids, x)
    result = {}
    for chunk in _chunks([(max(0, t + 1 - window), t + 1) for t in steps], sm, x):
        # one shared start, a window before the chunk's earliest target: exact in the window
        start = min(s for s, _ in chunk)
        rows = [(start, e) for _, e in chunk]
        dx, _ = _rows_backward(sm, x, _all_states(sm, x, states), rows,
                               targets[[e - 1 for _, e in rows]])
        norms = np.linalg.norm(dx.astype(np.float64), axis=2)      # (Tm, K)
        for k, (s, e) in enumerate(rows):
            result[e - 1] = norms[:e - s, k][-window:]
    return result


def _conn_steps(T, max_steps):
    last = T - 2                                   # the last step that has a target
    if last + 1 <= max_steps:
        return list(range(last + 1))
    return sorted({int(round(v)) for v in np.linspace(0, last, max_steps)})


def grad_norms(model, inputs, *, vocab=None, max_distance=None):
    """||dL/dh_t|| of the top layer (and ||dL/dc_t|| for the LSTM) against the distance
    d = t_L - t from the loss L = -log p(target) of the last prediction (step t_L = T-2).
    Returns {label: array}, index = distance (0 .. min(t_L+1, max_distance))."""
    subject, sm, ids, x = _one_directional_input(model, vocab, inputs, "the gradient-norm plot")
    _, gates, _ = reference_forward(sm, x)
    return grad_norms_from(sm, subject, ids, x, gates, max_distance)


def grad_norms_from(sm, subject, ids, x, gates, max_distance):
    """`grad_norms` after `reference_forward` has given the gates."""
    T, L = x.shape[0], sm.rnn.num_layers
    tl = T - 2
    dmax = tl + 1 if max_distance is None else min(tl + 1, int(max_distance))
    target = _targets_of(subject, ids, x)[[tl]]
    # distance 0: the gradient arriving from the head at step t_L
    logits = sm.head.forward(gates[(L - 1, 0, "h")][tl][None].astype(x.dtype))
    dh_last = sm.head.backward(_dloss(sm, logits, target).astype(x.dtype))[0]
    dy = np.zeros((tl + 1, 1, dh_last.shape[-1]), x.dtype)
    dy[tl, 0] = dh_last
    grads = backprop_states(sm.rnn, x[:tl + 1], dy)
    rows = tl + 1 - np.arange(dmax + 1)                   # row of the state d steps back
    label = (lambda s: s + (f" (layer {L - 1})" if L > 1 else ""))   # layers count from 0
    out = {}
    for part in _reported_parts(sm.rnn):
        g = grads[part][rows, 0]
        norm = np.linalg.norm(g.reshape(len(rows), -1), axis=-1)
        if part == "c":
            norm[0] = _dc_norm_at_output(gates, L - 1, tl, dh_last.astype(np.float64))
        elif part != "h":
            norm[0] = np.nan           # the loss reads h only: the other parts start at d = 1
        out[label(f"\u2016\u2202L/\u2202{part}_t\u2016")] = norm
    return out


def _reported_parts(layer):
    """The state parts whose gradient norms are reported: all but a stabiliser (the xLSTM
    cells' m, which only rescales the others)."""
    return [p for p in layer.state_names if p != getattr(layer.reference, "STABILISER", None)]


def _dc_norm_at_output(gates, k, t, dh):
    """||dL/dc_t|| at distance 0, where the loss reads h_t = o_t * tanh(c_t): dh * o * (1 -
    tanh(c_t)^2). That premise is checked on the cached values; where it fails (a projected
    or layer-normalised LSTM, zoneout, another cell) distance 0 is left out (NaN), and the
    curve starts at distance 1, which the layer's own backward measures for every cell."""
    need = [(k, 0, n) for n in ("o", "tanh_c", "c", "h")]
    if not all(key in gates for key in need):
        return np.nan
    o, tc, c, h = (gates[key][t] for key in need)
    if h.shape != o.shape or not (np.allclose(h, o * tc, rtol=1e-5, atol=1e-6)
                                  and np.allclose(tc, np.tanh(c), rtol=1e-5, atol=1e-6)):
        return np.nan
    return np.linalg.norm(dh * o * (1 - tc ** 2))


def loss_grad_norms(model, inputs, targets, mask=None):
    """||dL/dh_t|| of the top layer (Frobenius norm over the batch and the hidden units; for a
    cell whose output is not a state part, the mLSTM, its memory C's) for every step t of a
    batch, L the model's own loss on it (`SequenceModel.loss`: the batch mean over the unmasked
    targets), indexed by the distance d = T - 1 - t from the last step; inf where the gradient
    carried back overflowed the model's dtype (an exploding gradient).
    inputs, targets, mask: as the model's forward and loss take them. Runs on a copy of the
    model, so its parameters and gradients are left as they were."""
    sm = model.clone().eval()
    if sm.rnn.num_directions != 1:
        raise RnnlabError("gradient norms through time need a one-directional model")
    x = sm.encode(inputs)
    y, _ = sm.rnn(x, backend="numpy")
    _, dout = sm.loss(sm.head.forward(y), targets, mask)
    grads = backprop_states(sm.rnn, x, sm.head.backward(dout.astype(y.dtype)))
    # h, or for a cell whose output is not a state part (the mLSTM) its first reported part
    g = grads["h"] if "h" in grads else grads[_reported_parts(sm.rnn)[0]]
    return np.linalg.norm(g[1:].reshape(g.shape[0] - 1, -1), axis=1)[::-1].copy()


def backprop_states(rnn, x, dy):
    """The loss gradient on the top layer's state after every step, carried back one step at a
    time through the layer's own forward and backward (the NumPy reference cells).

    x (T, B, D): the stack's input; dy (T, B, W): dL/dy_t on the top layer's outputs. The state
    before every step is recorded in a forward pass; then, from the last step back, step t is
    re-run from its state and its backward, given dy_t and the gradient carried from the steps
    after it, returns dL/dstate_{t-1} (the part through the recurrence, every layer).
    Returns {part: float64 (T + 1, B) + the part's shape}, row t + 1 for the state after step t,
    row 0 for the initial state (inf from the step back where the carried gradient overflowed
    the layer's dtype: an exploding gradient is a reading, not an error):

        ["h"][t + 1] = dL/dh_t = dy_t + what step t + 1 sends back   (h_t is also y_t)
        ["c"][t + 1] = what step t + 1 sends back to c_t             (the path along the cell)

    The layer's parameter gradients are added to: run it on a copy (`Module.clone`)."""
    if rnn.num_directions != 1:
        raise RnnlabError("gradients through time need a one-directional layer")
    T, top, B = x.shape[0], rnn.num_layers - 1, x.shape[1]
    states, s = [], None
    for t in range(T):                           # the state before step t (None: zeros)
        states.append(s)
        _, s = rnn(x[t:t + 1], s, backend="numpy")
    grads = {part: np.zeros((T + 1, B) + tuple(shape))
             for part, shape in rnn.state_shapes().items()}
    carried = None                               # dL/dstate_t through the steps after t
    for t in range(T, -1, -1):                   # row t: the state after step t - 1
        parts = rnn.state_parts(carried)
        if not all(np.isfinite(v).all() for v in parts):
            for part in grads:                   # overflowed: this row and every earlier one
                grads[part][:t + 1] = np.inf
            break
        for part, value in zip(rnn.state_names, parts):
            grads[part][t] = value[top]
        if t == 0:
            break
        if "h" in grads:                         # h_t is also the output y_t
            grads["h"][t] += dy[t - 1]
        rnn(x[t - 1:t], states[t - 1], backend="numpy")
        with np.errstate(over="ignore", invalid="ignore"):   # an overflow is caught above
            _, carried = rnn.backward(np.ascontiguousarray(dy[t - 1:t]), carried)
    return grads


def _all_states(sm, x, states):
    """states with every part of the layer's state after each step, (L, T) + the part's shape:
    the parts the reference cache does not keep are recorded by running the layer step by
    step (the mLSTM's C and m)."""
    missing = [p for p in sm.rnn.state_names if p not in states]
    if not missing:
        return states
    recorded, s = {p: [] for p in sm.rnn.state_names}, None
    for t in range(x.shape[0]):
        _, s = sm.rnn(x[t:t + 1], s, backend="numpy")
        for p, a in zip(sm.rnn.state_names, sm.rnn.state_parts(s)):
            recorded[p].append(a[:, 0].copy())
    return {**states, **{p: np.stack(recorded[p], axis=1) for p in missing}}


# ---- batched rows ------------------------------------------------------------------------------
def _rows_backward(sm, x, states, rows, targets):
    """Rows (start, end): each runs x[start:end] from the real state after step start-1, and the
    loss of the prediction after step end-1 (target targets[k]) is backpropagated through the
    layer. states: every part of the state after each step (`_all_states`). Returns
    (dx (Tm, K, D), dstate0 like the state: (LD, K, H) or a tuple of parts)."""
    K = len(rows)
    n = np.array([e - s for s, e in rows], np.int64)
    Tm, D = int(n.max()), x.shape[2]
    xb = np.zeros((Tm, K, D), x.dtype)
    for k, (s, e) in enumerate(rows):
        xb[:e - s, k] = x[s:e, 0]

    def init(name):
        a = states[name]                                        # (L, T) + the part's shape
        st = np.zeros((a.shape[0], K) + a.shape[2:], x.dtype)
        for k, (s, _) in enumerate(rows):
            if s > 0:
                st[:, k] = a[:, s - 1]
        return st
    parts = [init(p) for p in sm.rnn.state_names]
    state = tuple(parts) if len(parts) > 1 else parts[0]
    y, _ = sm.rnn(xb, state, n, backend="numpy")
    last = y[n - 1, np.arange(K)]                              # (K, dirs*H)
    logits = sm.head.forward(last)
    dlast = sm.head.backward(_dloss(sm, logits, targets).astype(x.dtype))
    dy = np.zeros_like(y)
    dy[n - 1, np.arange(K)] = dlast
    return sm.rnn.backward(dy)


def _chunks(rows, sm, x):
    """Split rows (sorted by length) into batches whose caches stay under _BATCH_VALUES."""
    per_step = sm.rnn.hidden_size * sm.rnn.num_layers * 12 + x.shape[2]
    out, cur = [], []
    for r in rows:
        cur.append(r)
        tm = max(e for _, e in cur) - min(s for s, _ in cur)     # rows share one start
        if len(cur) > 1 and tm * len(cur) * per_step > _BATCH_VALUES:
            out.append(cur[:-1])
            cur = [r]
    return out + ([cur] if cur else [])


def _dloss(sm, logits, target):
    """Gradient of the loss of one prediction wrt the output row. Text: -log p(target)."""
    if sm.loss_kind == "ce":
        g = softmax(logits.astype(np.float64))
        g[np.arange(len(target)), target] -= 1.0
        return g
    if sm.loss_kind == "mse":
        return 2 * (logits - np.reshape(target, (len(target), -1)))
    if getattr(sm, "nade", None) is not None:      # music, head nade: -log p(chord)
        return sm.nade.nll(logits, target.astype(logits.dtype), grad=True, backend="numpy")[1]
    return sigmoid(logits) - target


def _targets_of(subject, ids, x):
    """What the prediction after step t should be, for t = 0 .. T-2."""
    if ids is not None:
        return ids[1:]
    if subject.cfg.task == "music":          # input t+1 is the frame the step t predicts
        return x[1:, 0].astype(np.float64)
    return x[1:, 0, :1].astype(np.float64)   # series: the next (scaled) target value


def _one_directional_input(model, vocab, inputs, what):
    """(subject, its SequenceModel, ids, x) for a measurement that needs a causal model."""
    subject = Subject.of(model, vocab)
    if subject.model.rnn.num_directions != 1:
        raise RnnlabError(f"{what} needs a one-directional model (a bidirectional layer sees "
                          "the future of every step)")
    ids, x, _ = read_input(subject, inputs)
    return subject, subject.model, ids, x

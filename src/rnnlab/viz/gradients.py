"""How the loss reaches back through time, measured with rnnlab's own backward (the reference
layer's `backward`, never a second implementation):

- connectivity: |d log p(target_t) / d x_s| for s <= t (L2 norm over the input features, as in
  Distill's "Memorization in RNNs"), one backward pass of rnnlab's layer per target step t,
  batched: many target steps run side by side as rows of one batch, each row ending at its own t
  (lengths), starting from the model's real state a window before (exact for the steps inside
  the window: the state there does not depend on the inputs after it);
- gradient norms through time: ||dL/dh_t|| (top layer) and, for the LSTM, ||dL/dc_t|| (for any
  cell: every part of its state but a stabiliser, the cell's STABILISER), L the loss of the
  last prediction, against the distance from it. Row s of a batch runs the tail x_s.. from
  the real state after step s-1; the backward's dstate0 is dL/dstate_{s-1}. For the top layer
  that is the whole gradient (its h reaches the loss only through the recurrence).

The real states come from the reference forward's cache; a cell that does not keep a part per
step (the mLSTM's matrix memory) has its states recorded by running the layer step by step.

Everything runs on the Subject's own copy of the model: the model itself is never disturbed.
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
    states = _all_states(sm, x, states)
    result = {}
    for chunk in _chunks([(max(0, t + 1 - window), t + 1) for t in steps], sm, x):
        # one shared start, a window before the chunk's earliest target: exact in the window
        start = min(s for s, _ in chunk)
        rows = [(start, e) for _, e in chunk]
        dx, _ = _rows_backward(sm, x, states, rows, targets[[e - 1 for _, e in rows]])
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
    _, gates, states = reference_forward(sm, x)
    return grad_norms_from(sm, subject, ids, x, gates, states, max_distance)


def grad_norms_from(sm, subject, ids, x, gates, states, max_distance):
    """`grad_norms` after `reference_forward` has given gates and states."""
    T, L = x.shape[0], sm.rnn.num_layers
    tl = T - 2
    dmax = tl + 1 if max_distance is None else min(tl + 1, int(max_distance))
    target = _targets_of(subject, ids, x)[[tl]]
    # distance 0: the gradient arriving from the head at step t_L
    logits = sm.head.forward(gates[(L - 1, 0, "h")][tl][None].astype(x.dtype))
    dh_last = sm.head.backward(_dloss(sm, logits, target).astype(x.dtype))[0].astype(np.float64)
    norms = {p: np.full(dmax + 1, np.nan) for p in _reported_parts(sm.rnn)}
    if "h" in norms:
        norms["h"][0] = np.linalg.norm(dh_last)
    if "c" in norms and (L - 1, 0, "tanh_c") in gates:     # the LSTM: h_t = o_t tanh(c_t)
        o, tc = gates[(L - 1, 0, "o")][tl], gates[(L - 1, 0, "tanh_c")][tl]
        norms["c"][0] = np.linalg.norm(dh_last * o * (1 - tc ** 2))
    # distance d >= 1: row s = t_L + 1 - d runs x[s : t_L + 1]; dstate0 = dL/dstate_{s-1}
    rows = [(tl + 1 - d, tl + 1) for d in range(1, dmax + 1)]
    states = _all_states(sm, x, states)
    for chunk in _chunks(rows, sm, x):
        _, ds0 = _rows_backward(sm, x, states, chunk, np.repeat(target, len(chunk), axis=0))
        parts = dict(zip(sm.rnn.state_names, ds0 if isinstance(ds0, tuple) else (ds0,)))
        for k, (s, e) in enumerate(chunk):
            for p in norms:
                norms[p][e - s] = np.linalg.norm(parts[p][L - 1, k].astype(np.float64))
    suffix = f" (layer {L})" if L > 1 else ""
    return {f"\u2016\u2202L/\u2202{p}_t\u2016{suffix}": a for p, a in norms.items()}


def _reported_parts(layer):
    """The state parts whose gradient norms are reported: all but a stabiliser (the xLSTM
    cells' m, which only rescales the others)."""
    return [p for p in layer.state_names if p != getattr(layer.reference, "STABILISER", None)]


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
        for p, a in zip(sm.rnn.state_names, s if isinstance(s, tuple) else (s,)):
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

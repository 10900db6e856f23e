"""One recurrent layer plus a Linear head, and ``grad_norms``: ||dL/dh_t|| for every t.

The cells are the cell registry's command-line choices (rnn, lstm, gru, lstm-peephole, slstm,
mlstm, ...), each with its layer's defaults; the LSTM gets the experiment's forget bias.

``grad_norms`` is computed with the layer's own backward one step at a time (no edits to the
cells): after the forward pass the loss gradient is put on the outputs and carried backwards;
each step's backward returns dstate0 = the gradient on the state before it. Recorded at
initialisation and after training, against the distance T_total - 1 - t from the end of the
sequence (where the loss is read).
"""
from __future__ import annotations

import numpy as np

from ..nn import registry
from ..nn.blocks import Linear
from ..nn.layers import LSTM

# every command-line cell name of the registry -> (layer class, its options)
CELLS = {choice: (spec.layer, dict(opts)) for choice, (spec, opts) in registry.choices().items()}


class _Model:
    """One recurrent layer and a Linear head; params/grads keyed 'rnn.*' and 'head.*' (views
    of the children's arrays, so the optimizer updates the children in place)."""

    def __init__(self, task, cell, hidden, seed, forget_bias=1.0, dtype=np.float32):
        cls, kw = CELLS[cell]
        if cls is LSTM and forget_bias is not None:
            kw = dict(kw, forget_bias=float(forget_bias))
        self.task, self.cell = task, cell
        self.rnn = cls(task.input_size, hidden, seed=seed, dtype=dtype, **kw)
        self.head = Linear(hidden, task.output_size, dtype=dtype, seed=seed + 10_000)
        self.params = {**{"rnn." + k: v for k, v in self.rnn.params.items()},
                       **{"head." + k: v for k, v in self.head.params.items()}}
        self.grads = {**{"rnn." + k: v for k, v in self.rnn.grads.items()},
                      **{"head." + k: v for k, v in self.head.grads.items()}}
        self.backend = None

    def zero_grad(self):
        for g in self.grads.values():
            g.fill(0)

    def forward(self, x):
        y, _ = self.rnn(x, backend=self.backend)
        self._y_shape = y.shape
        return self.head(y[-1] if self.task.readout == "last" else y)

    def backward(self, dout):
        dh = self.head.backward(dout)
        if self.task.readout == "last":
            dy = np.zeros(self._y_shape, dh.dtype)
            dy[-1] = dh
        else:
            dy = dh
        self.rnn.backward(dy)
        return dy

    def outputs_grad(self, x, target):
        """Forward on x, the loss, and dL/dy (T, B, H) on the layer's outputs (no param grads
        are kept)."""
        saved = {k: g.copy() for k, g in self.head.grads.items()}
        out = self.forward(x)
        loss, dout = self.task.loss(out, target)
        dy = self.head.backward(dout)
        for k, g in self.head.grads.items():
            g[...] = saved[k]
        if self.task.readout == "last":
            full = np.zeros(self._y_shape, dy.dtype)
            full[-1] = dy
            dy = full
        return loss, dy


def grad_norms(model, x, target):
    """||dL/dh_t|| (Frobenius norm over the batch and hidden units; L the batch-mean loss) for
    every step t, indexed by distance d = T_total - 1 - t from the end of the sequence.

    Uses the layer's own forward/backward one step at a time: the states s_t are recorded in a
    forward pass; then from the last step back, step t is re-run from s_{t-1} and its backward,
    given dy_t and the gradient carried from the future, returns dstate0 = dL/ds_{t-1} (the part
    through the recurrence). dL/dh_t = carried + dy_t (h_t is also the output y_t).
    For the LSTM the h part of the state is reported (the c part is carried along). A cell
    whose state has no h (the mLSTM: its memory C, normaliser n, stabiliser m) reports the
    norm of the gradient on its memory, C and n together, the path its recurrence takes."""
    layer = model.rnn
    _, dy = model.outputs_grad(x, target)
    T = x.shape[0]
    names = layer.state_names
    states, s = [], None
    for t in range(T):                           # s_{t-1} before step t, in layer shape (1, B, H)
        states.append(s)
        _, s = layer(x[t:t + 1], s, backend=model.backend)
    norms = np.empty(T)
    carried = None                               # dL/ds_t from steps after t
    saved = {k: g.copy() for k, g in layer.grads.items()}
    for t in reversed(range(T)):
        norms[T - 1 - t] = _state_grad_norm(names, dy[t], carried)
        layer(x[t:t + 1], states[t], backend=model.backend)
        _, carried = layer.backward(dy[t:t + 1], carried)
    for k, g in layer.grads.items():             # leave the model's gradients as they were
        g[...] = saved[k]
    return norms


def _state_grad_norm(names, dy_t, carried):
    """||dL/dh_t|| = ||dy_t + the h part of the carried state gradient||; for a state without
    h, the norm of its memory parts' gradients (all parts but the stabiliser m) together."""
    if carried is None:
        parts = []
    else:
        parts = list(carried) if isinstance(carried, tuple) else [carried]
    if "h" in names:
        dh = dy_t if not parts else dy_t + parts[names.index("h")][0]
        return float(np.linalg.norm(dh))
    return float(np.sqrt(sum(np.sum(np.square(p[0])) for n, p in zip(names, parts) if n != "m")))

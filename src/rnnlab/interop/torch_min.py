"""torch twins of rnnlab's MinGRU and MinLSTM (torch has no such layer), so that a minGRU or
minLSTM run trains in torch (GPUs, DistributedDataParallel) and comes back. Imported by
``interop/torch.py`` only when a twin of one of these cells is built; torch is imported here.

    layer = MinRNN("mingru", input_size=D, hidden_size=H, num_layers=2, bidirectional=True)
    y, h_n = layer(x, h_0)        # x (T, B, D) time-major, h_0 / h_n (L*dirs, B, H)

The same parameters as rnnlab's layers, under the same names: ``weight_ih_l{k}[_reverse]``
(G*H, D_k) and ``bias_ih_l{k}[_reverse]`` (G*H,), gates stacked z, h (minGRU) or i, f, h
(minLSTM); a state dict moves between the two unchanged. The forward is the one of
rnnlab/nn/cells/mingru.py and minlstm.py, written with torch ops so autograd differentiates
it: ``mode="parallel"`` the log-space scan (torch.logcumsumexp), ``mode="recurrent"`` a loop
over time. Dropout acts between layers in training, as in torch's and rnnlab's layers.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

GATES = {"mingru": 2, "minlstm": 3}


def _g(a):
    """The paper's g: a + 1/2 for a >= 0, sigmoid(a) below (positive, so log g exists)."""
    return torch.where(a >= 0, a + 0.5, torch.sigmoid(a))


def _log_g(a):
    return torch.where(a >= 0, torch.log(F.relu(a) + 0.5), -F.softplus(-a))


def _coefficients(cell, ax, log):
    """The scan's a_t, b_t (or log a_t, log b_t) from the pre-activations ax (T, B, G*H)."""
    if cell == "mingru":
        a_z, a_h = ax.chunk(2, dim=-1)
        if log:
            return -F.softplus(a_z), -F.softplus(-a_z) + _log_g(a_h)
        z = torch.sigmoid(a_z)
        return 1 - z, z * _g(a_h)
    a_i, a_f, a_h = ax.chunk(3, dim=-1)
    if log:
        d = F.softplus(-a_f) - F.softplus(-a_i)          # log i - log f
        return -F.softplus(d), -F.softplus(-d) + _log_g(a_h)
    i, f = torch.sigmoid(a_i), torch.sigmoid(a_f)
    return f / (f + i), i / (f + i) * _g(a_h)


def scan(cell, ax, h0, mode):
    """h (T, B, H) from the pre-activations ax (T, B, G*H) and h0 (B, H)."""
    if mode == "parallel":
        log_a, log_b = _coefficients(cell, ax, True)
        A = torch.cumsum(log_a, dim=0)
        return torch.exp(A) * h0 + torch.exp(A + torch.logcumsumexp(log_b - A, dim=0))
    a, b = _coefficients(cell, ax, False)
    out, h = [], h0
    for t in range(ax.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out)


class MinRNN(nn.Module):
    """A stack of minGRU or minLSTM layers in torch, time-major, rnnlab's names and shapes."""

    def __init__(self, cell, input_size, hidden_size, num_layers=1, bias=True, dropout=0.0,
                 bidirectional=False, mode="parallel", dtype=torch.float32):
        super().__init__()
        if cell not in GATES or mode not in ("parallel", "recurrent"):
            raise ValueError(f"MinRNN: cell {cell!r} / mode {mode!r} unknown")
        self.cell, self.mode, self.hidden_size = cell, mode, hidden_size
        self.num_layers, self.dropout, self.bias = num_layers, float(dropout), bias
        self.num_directions = 2 if bidirectional else 1
        G, bound = GATES[cell], 1 / math.sqrt(hidden_size)
        for k in range(num_layers):
            D = input_size if k == 0 else hidden_size * self.num_directions
            for d in range(self.num_directions):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                w = torch.empty(G * hidden_size, D, dtype=dtype).uniform_(-bound, bound)
                self.register_parameter("weight_ih" + sfx, nn.Parameter(w))
                if bias:
                    b = torch.empty(G * hidden_size, dtype=dtype).uniform_(-bound, bound)
                    self.register_parameter("bias_ih" + sfx, nn.Parameter(b))

    def _direction(self, x, h0, k, d):
        sfx = f"_l{k}" + ("_reverse" if d else "")
        ax = F.linear(x if d == 0 else x.flip(0), getattr(self, "weight_ih" + sfx),
                      getattr(self, "bias_ih" + sfx) if self.bias else None)
        h = scan(self.cell, ax, h0, self.mode)
        return h if d == 0 else h.flip(0), h[-1]

    def forward(self, x, state=None):
        """x: (T, B, D); state: h_0 (L*dirs, B, H) or None. Returns (y (T, B, dirs*H), h_n)."""
        LD = self.num_layers * self.num_directions
        if state is None:
            state = x.new_zeros(LD, x.shape[1], self.hidden_size)
        inp, h_n = x, []
        for k in range(self.num_layers):
            if k > 0:
                inp = F.dropout(inp, self.dropout, self.training)
            outs = []
            for d in range(self.num_directions):
                y, h = self._direction(inp, state[k * self.num_directions + d], k, d)
                outs.append(y)
                h_n.append(h)
            inp = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]
        return inp, torch.stack(h_n)


def build(mcfg, input_size, **kw):
    """The recurrent stack of a ModelConfig (cell 'mingru' or 'minlstm') as a MinRNN. kw:
    torch's layer keywords (num_layers, dropout, bidirectional, dtype)."""
    return MinRNN(mcfg.cell, input_size, mcfg.hidden,
                  mode=(mcfg.cell_options or {}).get("mode", "parallel"), **kw)

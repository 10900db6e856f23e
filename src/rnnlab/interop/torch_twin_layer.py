"""The stacked, bidirectional recurrent layer in torch that the cells' twins share, for the
configurations torch's own layers lack (rnnlab/interop/torch_lstm.py, torch_rnn.py).

Same parameter names, shapes and order as rnnlab's layer (torch's: ``weight_ih_l{k}``,
``weight_hh_l{k}``, ... with ``_reverse``), the same call and state shapes:

    twin = LSTMTwin(D, H, num_layers=2, bidirectional=True, layer_norm=True)
    y, (h_n, c_n) = twin(x, state=None, lengths=None)       # x: (T, B, D) or batch_first

lengths (B,) give what rnnlab's layer gives (y zero past a row's length, h_n from its last real
step, the reverse direction starting at its own end). A subclass names its state parts, its
parameter shapes and one direction's time loop (`direction`); the loop is plain autograd, so
DDP and every optimizer work on it. Random masks (recurrent dropout, zoneout) are drawn in
training by `masks(k, d, T, B, like)`, from torch's generator; evaluation is deterministic.

torch is imported by the module: import this file only where torch is wanted (interop/torch.py
does so lazily).
"""
import math

import torch
from torch import nn


def reverse_padded(x, lengths):
    """Flip each row of x (T, B, ...) in time within its own length (rnnlab's reverse_padded)."""
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[:2]
    t = torch.arange(T, device=x.device)[:, None]
    idx = torch.where(t < lengths, lengths - 1 - t, t)
    return x[idx, torch.arange(B, device=x.device)]


def live_mask(lengths, t, like):
    """(B, 1): 1 where step t is real, 0 past a row's length; None without lengths."""
    return None if lengths is None else (t < lengths).to(like.dtype)[:, None]


def blend(live, new, old):
    return new if live is None else live * new + (1 - live) * old


class TwinLayer(nn.Module):
    """The shared machinery; subclasses define STATE, param_shapes, init_direction,
    state_sizes and direction."""
    STATE = ("h",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, recurrent_dropout=0.0, dtype=None,
                 device=None):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.recurrent_dropout = float(recurrent_dropout)
        for k in range(num_layers):
            for d in range(self.num_directions):
                for name, shape in self.param_shapes(self.layer_input_size(k)).items():
                    self.register_parameter(self.param_key(name, k, d), nn.Parameter(
                        torch.empty(shape, dtype=dtype, device=device)))
        self.reset_parameters()

    # ----- parameters -------------------------------------------------------------------
    def param_key(self, name, k, d=0):
        return f"{name}_l{k}" + ("_reverse" if d == 1 else "")

    def output_width(self):
        """One direction's h width (H, or P for a projected LSTM)."""
        return self.state_sizes()[0]

    def layer_input_size(self, k):
        return self.input_size if k == 0 else self.num_directions * self.output_width()

    def direction_params(self, k, d):
        return {name: getattr(self, self.param_key(name, k, d))
                for name in self.param_shapes(self.layer_input_size(k))}

    def reset_parameters(self):
        """torch's U(-1/sqrt(H), 1/sqrt(H)) for everything, then each subclass's touches."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)
            for k in range(self.num_layers):
                for d in range(self.num_directions):
                    self.init_direction(self.direction_params(k, d))

    def init_direction(self, params):
        """A subclass's own initialisation of one direction's parameters (in place)."""

    # ----- masks ------------------------------------------------------------------------
    def recurrent_mask(self, B, like):
        """Recurrent dropout's mask (B, width of h) for one call, or None (evaluation)."""
        p = self.recurrent_dropout
        if not (self.training and p > 0):
            return None
        keep = torch.rand((B, self.output_width()), dtype=like.dtype, device=like.device) >= p
        return keep.to(like.dtype) / (1 - p)

    def masks(self, k, d, T, B, like):
        """The random masks of layer k, direction d for one call: {'recurrent': (B, R) or
        None}. A test may replace this method to feed the masks rnnlab drew."""
        return {"recurrent": self.recurrent_mask(B, like)}

    # ----- forward ----------------------------------------------------------------------
    def forward(self, x, state=None, lengths=None):
        unbatched = x.dim() == 2
        x = x[:, None] if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        T, B, _ = x.shape
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device)
        parts = self._state_parts(state, B, x, unbatched)
        finals, inp = [[] for _ in self.STATE], x
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0:
                inp = nn.functional.dropout(inp, self.dropout, self.training)
            outs = []
            for d in range(self.num_directions):
                i = k * self.num_directions + d
                xin = inp if d == 0 else reverse_padded(inp, lengths)
                y, s_n = self.direction(xin, tuple(p[i] for p in parts),
                                        self.direction_params(k, d), lengths,
                                        self.masks(k, d, T, B, x))
                outs.append(y if d == 0 else reverse_padded(y, lengths))
                for f, s in zip(finals, s_n):
                    f.append(s)
            inp = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
        state_n = tuple(torch.stack(f) for f in finals)
        if unbatched:
            inp, state_n = inp[:, 0], tuple(s[:, 0] for s in state_n)
        elif self.batch_first:
            inp = inp.transpose(0, 1)
        return inp, (state_n[0] if len(state_n) == 1 else state_n)

    def _state_parts(self, state, B, x, unbatched):
        LD = self.num_layers * self.num_directions
        if state is None:
            return [x.new_zeros((LD, B, n)) for n in self.state_sizes()]
        parts = (state,) if len(self.STATE) == 1 else tuple(state)
        return [p[:, None] if unbatched else p for p in parts]

"""The torch twins of rnnlab's RNN and GRU with recurrent dropout, which torch's nn.RNN and
nn.GRU lack (Gal & Ghahramani 2016: one dropout mask on h_{t-1}, where it enters W_hh, for the
whole sequence). The equations are rnnlab/nn/cells/rnn.py's and gru.py's; without recurrent
dropout build_twin takes torch's own layer, whose weights are the same.

In training the masks come from torch's generator (each DDP process draws its own); in
evaluation there is none, and the twin computes exactly what torch's layer computes.
"""
import torch

from .torch_twin_layer import TwinLayer, blend, live_mask


def build(mcfg, input_size, **kw):
    """The recurrent module of a SequenceModel twin for an RNN or GRU ModelConfig with
    recurrent dropout (interop/torch.py decides; without it torch's own layer is the twin).
    kw: torch's layer keywords (num_layers, dropout, bidirectional, dtype; nonlinearity)."""
    twin = RNNTwin if mcfg.cell == "rnn" else GRUTwin
    return twin(input_size, mcfg.hidden, **kw, **(mcfg.cell_options or {}))


class _Torchlike(TwinLayer):
    """torch's layout for G gates: weight_ih (G*H, D), weight_hh (G*H, H), the two biases."""
    G = 1

    def state_sizes(self):
        return (self.hidden_size,)

    def param_shapes(self, D):
        GH = self.G * self.hidden_size
        shapes = {"weight_ih": (GH, D), "weight_hh": (GH, self.hidden_size)}
        if self.bias:
            shapes.update(bias_ih=(GH,), bias_hh=(GH,))
        return shapes

    def projections(self, x, h, p, mask):
        """(W_ih x_t + b_ih for all t, a function h -> W_hh (d * h) + b_hh)."""
        ax = x @ p["weight_ih"].T + (p["bias_ih"] if self.bias else 0)

        def hidden(h):
            return (h if mask is None else h * mask) @ p["weight_hh"].T + \
                (p["bias_hh"] if self.bias else 0)
        return ax, hidden


class RNNTwin(_Torchlike):
    """rnnlab.RNN(nonlinearity, recurrent_dropout) in torch."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **kw):
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def direction(self, x, state, p, lengths, masks):
        (h,), ys = state, []
        ax, hidden = self.projections(x, h, p, masks["recurrent"])
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        for t in range(x.shape[0]):
            h_new = act(ax[t] + hidden(h))
            live = live_mask(lengths, t, x)
            h = blend(live, h_new, h)
            ys.append(h_new if live is None else live * h_new)
        return torch.stack(ys), (h,)


class GRUTwin(_Torchlike):
    """rnnlab.GRU(recurrent_dropout) in torch (gates r, z, n; reset after the matmul)."""
    G = 3

    def direction(self, x, state, p, lengths, masks):
        (h,), ys, H = state, [], self.hidden_size
        ax, hidden = self.projections(x, h, p, masks["recurrent"])
        for t in range(x.shape[0]):
            ah = hidden(h)
            r = torch.sigmoid(ax[t, :, :H] + ah[:, :H])
            z = torch.sigmoid(ax[t, :, H:2 * H] + ah[:, H:2 * H])
            n = torch.tanh(ax[t, :, 2 * H:] + r * ah[:, 2 * H:])
            h_new = (1 - z) * n + z * h              # the unmasked h_{t-1}, as rnnlab's GRU
            live = live_mask(lengths, t, x)
            h = blend(live, h_new, h)
            ys.append(h_new if live is None else live * h_new)
        return torch.stack(ys), (h,)

"""The torch twin of rnnlab's LSTM with the options torch's nn.LSTM lacks: layer_norm,
zoneout and recurrent_dropout, alone or together, with or without proj_size (which nn.LSTM
has). The equations are rnnlab/nn/cells/lstm_options.py's, step for step; the names, shapes
and initialisation are rnnlab.LSTM's, so the state dicts load both ways.

    twin = build(mcfg, input_size, num_layers=2, dropout=0.0, bidirectional=False,
                 dtype=torch.float32)       # what rnnlab.torch.build_twin calls
    twin = LSTMTwin(D, H, proj_size=8, layer_norm=True, zoneout=(0.1, 0.05),
                    recurrent_dropout=0.25)
    y, (h_n, c_n) = twin(x, state=None, lengths=None)

In training the zoneout and recurrent-dropout masks come from torch's generator (each DDP
process draws its own, as for torch's dropout); in evaluation zoneout is its expectation and
recurrent dropout is off, so the twin computes exactly what rnnlab computes.
"""
import torch
from torch.nn import functional as F

from ..nn.functional import LN_EPS
from .torch_twin_layer import TwinLayer, blend, live_mask

def build(mcfg, input_size, **kw):
    """The recurrent module of a SequenceModel twin for an LSTM ModelConfig whose options
    nn.LSTM lacks (interop/torch.py decides; proj_size alone is nn.LSTM's own). kw: torch's
    layer keywords (num_layers, dropout, bidirectional, dtype)."""
    return LSTMTwin(input_size, mcfg.hidden, **kw, **(mcfg.cell_options or {}))


class LSTMTwin(TwinLayer):
    """rnnlab.LSTM(proj_size, layer_norm, zoneout, recurrent_dropout) in torch."""
    STATE = ("h", "c")

    def __init__(self, input_size, hidden_size, num_layers=1, proj_size=0, layer_norm=False,
                 zoneout=0.0, recurrent_dropout=0.0, **kw):
        self.proj_size, self.layer_norm = int(proj_size), bool(layer_norm)
        z = tuple(zoneout) if isinstance(zoneout, (tuple, list)) else (zoneout, zoneout)
        self.zoneout = tuple(float(v) for v in z)
        super().__init__(input_size, hidden_size, num_layers,
                         recurrent_dropout=recurrent_dropout, **kw)

    def state_sizes(self):
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def param_shapes(self, D):
        H, P, GH = self.hidden_size, self.proj_size, 4 * self.hidden_size
        shapes = {"weight_ih": (GH, D), "weight_hh": (GH, P or H)}
        if self.bias:
            shapes.update(bias_ih=(GH,), bias_hh=(GH,))
        if P:
            shapes["weight_hr"] = (P, H)
        if self.layer_norm:
            for name, n in (("ln_ih", GH), ("ln_hh", GH), ("ln_c", H)):
                shapes[name + "_weight"] = (n,)
                if self.bias:
                    shapes[name + "_bias"] = (n,)
        return shapes

    def init_direction(self, params):
        for name, p in params.items():             # LN starts as the plain normalisation
            if name.startswith("ln_"):
                p.fill_(1.0 if name.endswith("_weight") else 0.0)

    def masks(self, k, d, T, B, like):
        """{'recurrent': (B, R) or None, 'zoneout': (keep_c, keep_h)}: in training 0/1 masks
        (T, B, H), (T, B, R) that are 1 with probability z_c, z_h; in evaluation z_c, z_h."""
        masks = super().masks(k, d, T, B, like)
        keep = []
        for z, width in zip(self.zoneout, (self.hidden_size, self.output_width())):
            if self.training and z > 0:
                u = torch.rand((T, B, width), dtype=like.dtype, device=like.device)
                keep.append((u < z).to(like.dtype))
            else:
                keep.append(z)
        masks["zoneout"] = tuple(keep)
        return masks

    def direction(self, x, state, p, lengths, masks):
        """One direction over x (T, B, D) from state (h (B, R), c (B, H)): y (T, B, R), (h, c)."""
        T, GH = x.shape[0], 4 * self.hidden_size
        h, c = state
        ax = x @ p["weight_ih"].T
        if self.layer_norm:
            ax = F.layer_norm(ax, (GH,), p["ln_ih_weight"], p.get("ln_ih_bias"), LN_EPS)
        bias = p["bias_ih"] + p["bias_hh"] if self.bias else 0
        rmask, (keep_c, keep_h) = masks["recurrent"], masks["zoneout"]
        ys = []
        for t in range(T):
            ah = (h if rmask is None else h * rmask) @ p["weight_hh"].T
            if self.layer_norm:
                ah = F.layer_norm(ah, (GH,), p["ln_hh_weight"], p.get("ln_hh_bias"), LN_EPS)
            i, f, g, o = (ax[t] + ah + bias).chunk(4, dim=1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c_hat = f * c + i * g
            c_norm = c_hat
            if self.layer_norm:
                c_norm = F.layer_norm(c_hat, (self.hidden_size,), p["ln_c_weight"],
                                      p.get("ln_c_bias"), LN_EPS)
            m = o * torch.tanh(c_norm)
            h_hat = m @ p["weight_hr"].T if self.proj_size else m
            c_new, h_new = _zone(keep_c, t, c, c_hat), _zone(keep_h, t, h, h_hat)
            live = live_mask(lengths, t, x)
            c, h = blend(live, c_new, c), blend(live, h_new, h)
            ys.append(h_new if live is None else live * h_new)
        return torch.stack(ys), (h, c)


def _zone(keep, t, old, new):
    """Zoneout: keep * old + (1 - keep) * new, keep a number (evaluation) or a (T, ...) mask."""
    if not torch.is_tensor(keep):
        return new if keep == 0 else keep * old + (1 - keep) * new
    return keep[t] * old + (1 - keep[t]) * new

"""torch twins of rnnlab's sLSTM and mLSTM layers (torch has no such layers).

The same parameter names and shapes (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_l{k}``,
``_reverse``), the same initialisation (the weights are drawn by rnnlab's own layer), the same
state ((h, c, n, m) for the sLSTM, (C, n, m) for the mLSTM, each (L*dirs, B, ...)), and the
same equations (rnnlab/nn/cells/slstm.py, mlstm.py, mlstm_parallel.py) written in torch
operations, so autograd differentiates them. Built by ``rnnlab.torch.build_twin`` (the cell's
registry entry names this module in ``torch_twin``), so a run of either cell trains in torch
(DDP, GPUs) and comes back with ``rnnlab import``. tests/test_xlstm_torch.py compares them with
rnnlab forward and backward in float64.

    layer = twin_layer("slstm", E, H, num_layers=2, dtype=torch.float64, num_heads=2)
    y, (h_n, c_n, n_n, m_n) = layer(x)          # x (T, B, E), time-major; y (T, B, dirs*H)

torch is imported lazily, as everywhere in rnnlab.
"""
import math

import numpy as np

from ..nn import registry

_CLASSES = {}


def build(mcfg, input_size, **kw):
    """The recurrent stack of a ModelConfig (cell 'slstm' or 'mlstm') in torch. kw: torch's
    layer keywords (num_layers, dropout, bidirectional, dtype)."""
    spec = registry.get(mcfg.cell)
    return twin_layer(mcfg.cell, input_size, mcfg.hidden, **kw, **spec.layer_options(mcfg))


def twin_layer(cell, input_size, hidden_size, num_layers=1, dropout=0.0, bidirectional=False,
               dtype=None, **options):
    """The torch twin of rnnlab's `cell` layer ('slstm' or 'mlstm') with these options (the
    rnnlab layer's keyword arguments: num_heads, forget_gate, forget_bias, mode)."""
    if not _CLASSES:
        _define()
    return _CLASSES[cell](cell, input_size, hidden_size, num_layers, dropout, bidirectional,
                          dtype, options)


def _define():
    import torch
    F = torch.nn.functional

    class XLSTMTwin(torch.nn.Module):
        """A stack of one xLSTM cell: directions, dropout between layers, the state."""

        def __init__(self, cell, input_size, hidden_size, num_layers, dropout, bidirectional,
                     dtype, options):
            super().__init__()
            # rnnlab's own layer draws the weights: the same names, shapes and init
            ref = registry.get(cell).layer(input_size, hidden_size, num_layers=num_layers,
                                           bidirectional=bidirectional, dtype=np.float64,
                                           **options)
            dtype = dtype or torch.float32
            for name, value in ref.params.items():
                self.register_parameter(name, torch.nn.Parameter(torch.tensor(value, dtype=dtype)))
            self.ref_layer = ref                 # its hooks: param_key, state_shapes, options
            self.num_layers, self.dropout = num_layers, float(dropout)
            self.dirs = 2 if bidirectional else 1
            self.options = ref.cell_options()

        def forward(self, x, state=None):
            """x (T, B, E) -> (y (T, B, dirs*H), state_n: a tuple of parts (L*dirs, B, ...))."""
            ref, B = self.ref_layer, x.shape[1]
            if state is None:
                state = tuple(torch.zeros((self.num_layers * self.dirs, B) + shape,
                                          dtype=x.dtype, device=x.device)
                              for shape in ref.state_shapes().values())
            finals, inp = [], x
            for k in range(self.num_layers):
                if k > 0 and self.dropout > 0:
                    inp = F.dropout(inp, self.dropout, self.training)
                outs = []
                for d in range(self.dirs):
                    i = k * self.dirs + d
                    p = {name: getattr(self, ref.param_key(name, k, d))
                         for name in ref.param_shapes(ref.layer_input_size(k))}
                    xin = inp if d == 0 else inp.flip(0)
                    y, s = self.run(xin, tuple(part[i] for part in state), p)
                    outs.append(y if d == 0 else y.flip(0))
                    finals.append(s)
                inp = outs[0] if self.dirs == 1 else torch.cat(outs, dim=2)
            return inp, tuple(torch.stack(parts) for parts in zip(*finals))

    class SLSTMTwin(XLSTMTwin):
        def run(self, x, state, p):
            """One direction of one layer (rnnlab.nn.cells.slstm.forward)."""
            T, B, _ = x.shape
            w_hh = p["weight_hh"]
            H, d = p["weight_ih"].shape[0] // 4, w_hh.shape[1]
            R = w_hh.reshape(4, H // d, d, d)                  # [gate, head, out, in]
            ax = x @ p["weight_ih"].T + (p["bias"] if "bias" in p else 0)
            h, c, n, m = state
            ys = []
            for t in range(T):
                rec = torch.einsum("gjak,bjk->bgja", R, h.reshape(B, H // d, d))
                a = ax[t] + rec.reshape(B, 4 * H)
                log_i, a_f, a_z, a_o = a.split(H, dim=1)
                log_f = a_f if self.options["forget_gate"] == "exp" else F.logsigmoid(a_f)
                m_new = torch.maximum(log_f + m, log_i)
                i_s, f_s = torch.exp(log_i - m_new), torch.exp(log_f + m - m_new)
                c = f_s * c + i_s * torch.tanh(a_z)
                n = f_s * n + i_s
                h, m = torch.sigmoid(a_o) * (c / n), m_new
                ys.append(h)
            return torch.stack(ys), (h, c, n, m)

    class MLSTMTwin(XLSTMTwin):
        def run(self, x, state, p):
            """One direction of one layer (rnnlab.nn.cells.mlstm / mlstm_parallel)."""
            T, B, _ = x.shape
            heads = self.options["num_heads"]
            H = (p["weight_ih"].shape[0] - 2 * heads) // 4
            d = H // heads
            A = x @ p["weight_ih"].T + (p["bias"] if "bias" in p else 0)
            per_head = lambda a: a.reshape(T, B, heads, d).permute(1, 2, 0, 3)  # noqa: E731
            q, k, v = (per_head(A[..., j * H:(j + 1) * H]) for j in range(3))
            k = k / math.sqrt(d)
            o = torch.sigmoid(A[..., 3 * H:4 * H])
            log_i = A[..., 4 * H:4 * H + heads].permute(1, 2, 0)        # (B, heads, T)
            a_f = A[..., 4 * H + heads:].permute(1, 2, 0)
            log_f = a_f if self.options["forget_gate"] == "exp" else F.logsigmoid(a_f)
            C0, n0, m0 = state
            n0 = n0.reshape(B, heads, d)
            step = self.recurrent if self.options["mode"] == "recurrent" else self.parallel
            h_tilde, (C, n, m) = step(q, k, v, log_i, log_f, C0, n0, m0)
            y = o * h_tilde.permute(2, 0, 1, 3).reshape(T, B, H)
            return y, (C, n.reshape(B, H), m)

        @staticmethod
        def recurrent(q, k, v, log_i, log_f, C, n, m):
            outs = []
            for t in range(q.shape[2]):
                qt, kt, vt = q[:, :, t], k[:, :, t], v[:, :, t]
                m_new = torch.maximum(log_f[..., t] + m, log_i[..., t])
                i_s = torch.exp(log_i[..., t] - m_new)
                f_s = torch.exp(log_f[..., t] + m - m_new)
                vk = vt[..., :, None] * kt[..., None, :]
                C = f_s[..., None, None] * C + i_s[..., None, None] * vk
                n = f_s[..., None] * n + i_s[..., None] * kt
                den = torch.maximum((n * qt).sum(-1).abs(), torch.exp(-m_new))
                outs.append((C @ qt[..., None])[..., 0] / den[..., None])
                m = m_new
            return torch.stack(outs, dim=2), (C, n, m)

        @staticmethod
        def parallel(q, k, v, log_i, log_f, C0, n0, m0):
            T = q.shape[2]
            Fc = torch.cumsum(log_f, dim=-1)
            causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
            log_D = (Fc[..., :, None] - Fc[..., None, :] + log_i[..., None, :]).masked_fill(
                ~causal, float("-inf"))
            g0 = Fc + m0[..., None]
            m = torch.maximum(g0, log_D.max(dim=-1).values)
            D, d0 = torch.exp(log_D - m[..., None]), torch.exp(g0 - m)
            S = (q @ k.transpose(-1, -2)) * D
            num = S @ v + d0[..., None] * (q @ C0.transpose(-1, -2))
            s = S.sum(-1) + d0 * (q @ n0[..., None])[..., 0]
            den = torch.maximum(s.abs(), torch.exp(-m))
            last = D[..., -1, :]
            C = (v * last[..., None]).transpose(-1, -2) @ k + d0[..., -1, None, None] * C0
            n = (last[..., None, :] @ k)[..., 0, :] + d0[..., -1, None] * n0
            return num / den[..., None], (C, n, m[..., -1])

    _CLASSES.update(slstm=SLSTMTwin, mlstm=MLSTMTwin)

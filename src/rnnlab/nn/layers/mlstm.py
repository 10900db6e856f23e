"""The mLSTM layer (xLSTM, Beck et al. 2024): a matrix memory per head, written with keys and
values and read with queries, gates from x alone; ``mode='parallel'`` (training) or
``'recurrent'`` (generation), the same function. The equations and their backward passes:
rnnlab/nn/cells/mlstm.py (recurrent), mlstm_chunkwise.py and mlstm_chunkwise_backward.py
(parallel, in chunks), mlstm_parallel.py (parallel, one chunk)."""
import numpy as np

from ...errors import RnnlabError
from ..cells import mlstm as mlstm_cell
from ..cells import slstm as slstm_cell
from .base import RecurrentLayer
from .slstm import check_forget_gate, check_heads, forget_bias_values


def _stepper_kernel():
    """The compiled B = 1 mLSTM stepper, imported on first use (it compiles on its first step
    only: a training run that never samples never compiles it)."""
    from ..kernels import mlstm
    return mlstm


class MLSTM(RecurrentLayer):
    """mLSTM with heads, an exponential input gate and a sigmoid or exponential forget gate.
    Returns (y, (C_n, n_n, m_n)).

    MLSTM(input_size, hidden_size, num_layers=1, num_heads=1, forget_gate='sigmoid',
          mode='parallel', forget_bias=None, bias=True, batch_first=False, dropout=0.0,
          bidirectional=False, dtype=np.float32, seed=None)

    The state has three parts, none of them (L*dirs, B, H) like the other cells':
    ``C`` (num_layers*num_directions, B, heads, H/heads, H/heads), the matrix memories;
    ``n`` (num_layers*num_directions, B, H), the normalisers of the heads side by side;
    ``m`` (num_layers*num_directions, B, heads), the stabilisers. Unbatched: without B.

    Parameters per layer k (suffix ``_reverse`` for the backward direction):
    ``weight_ih_l{k}`` (4H + 2 heads, D_k) and ``bias_l{k}`` (4H + 2 heads,), rows q, k, v,
    o (H each), i, f (one per head). No recurrent weights: the gates read x alone.
    Initialisation: U(-1/sqrt(H), 1/sqrt(H)), then the forget-gate biases: evenly spaced from 3
    to 6 over the heads (as xLSTM's mLSTM; one head gets 3), or all ``forget_bias``.
    ``mode='parallel'`` runs chunks of L steps, L about H/heads within [16, 64] (the
    attention-like form on (L, L) blocks, the memory carried between chunks): O(T L d + T d^2)
    time and O(T L + T d^2 / L) memory per head and row, d = H/heads; where T fits one chunk,
    the whole sequence at once, O(T^2). 'recurrent': O(T d^2) time and memory.
    Training and ``forward`` run these NumPy forms on every backend (no fused kernel:
    ``kernel`` is None); ``steppers()`` (generation, B = 1) runs the compiled stepper of
    rnnlab/nn/kernels/mlstm.py, any heads, either forget gate, either mode.
    """
    reference = mlstm_cell
    kernel = None
    num_heads, forget_gate, mode = 1, "sigmoid", "parallel"   # defaults for parameter_shapes

    def __init__(self, input_size, hidden_size, num_layers=1, num_heads=1,
                 forget_gate="sigmoid", mode="parallel", forget_bias=None, **kw):
        self.num_heads = check_heads(num_heads, hidden_size)
        self.forget_gate = check_forget_gate(forget_gate)
        if mode not in mlstm_cell.MODES:
            raise RnnlabError(f"mode must be 'parallel' or 'recurrent', got {mode!r}")
        if kw.get("recurrent_init", "uniform") == "orthogonal":
            raise RnnlabError("recurrent_init='orthogonal' does not apply to the mLSTM: it has "
                              "no recurrent weights (its gates read x alone); remove it")
        if forget_bias is not None and (isinstance(forget_bias, bool) or
                                        not np.isfinite(float(forget_bias))):
            raise RnnlabError(f"forget_bias must be a finite number or None, got {forget_bias!r}")
        self.mode, self.forget_bias = mode, forget_bias
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return 4

    def stepper_fits(self):
        """The compiled stepper computes every configuration (the options it could lack,
        dropout between layers, are off in evaluation); a bidirectional layer cannot step
        (``steppers()`` says so)."""
        return True

    def stepper_loader(self):
        return _stepper_kernel

    def cell_options(self):
        return {"num_heads": self.num_heads, "forget_gate": self.forget_gate, "mode": self.mode}

    def param_shapes(self, D):
        rows = 4 * self.hidden_size + 2 * self.num_heads
        return {"weight_ih": (rows, D), **({"bias": (rows,)} if self.bias else {})}

    def state_shapes(self):
        H, heads = self.hidden_size, self.num_heads
        d = H // heads
        return {"C": (heads, d, d), "n": (H,), "m": (heads,)}

    def state_shape_text(self, part):
        return {"C": "heads, H/heads, H/heads", "n": "H", "m": "heads"}[part]

    @property
    def output_size(self):
        return self.num_directions * self.hidden_size

    def _forget_slice(self):
        start = 4 * self.hidden_size + self.num_heads
        return slice(start, start + self.num_heads)

    def _init_direction(self, params, k, d):
        if self.bias:
            values = forget_bias_values(self.forget_bias, "sigmoid", self.num_heads)
            if self.forget_gate == "exp" and self.forget_bias is None:
                values = slstm_cell.log_sigmoid(values)
            params[self.param_key("bias", k, d)][self._forget_slice()] = values

    def init_overrides(self):
        if not self.bias:
            return {}
        what = ("forget_bias" if self.forget_bias is not None else
                "evenly spaced over the heads: sigma(b) from sigma(3) to sigma(6)")
        return {"bias": (self._forget_slice(), what)}

    def __repr__(self):
        return (f"MLSTM({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"num_heads={self.num_heads}, forget_gate={self.forget_gate!r}, "
                f"mode={self.mode!r}, bidirectional={self.bidirectional}, "
                f"dtype={self.dtype.name})")

"""The sLSTM layer (xLSTM, Beck et al. 2024): exponential input gate, normaliser n, stabiliser
m, heads with block-diagonal recurrent weights. The equations and their backward pass:
rnnlab/nn/cells/slstm.py."""
import numpy as np

from ...errors import RnnlabError
from ...validate import is_integer, positive_int
from ..cells import slstm as slstm_cell
from .base import RecurrentLayer

# The forget gate starts near "keep": its bias spreads from 3 to 6 over each head's units, as
# xLSTM's small_init (sigma(3) = 0.95 .. sigma(6) = 0.9975, memories of ~20 to ~400 steps).
FORGET_BIAS_RANGE = (3.0, 6.0)


def _kernel():
    """The fused numba sLSTM, imported on first use (importing numba takes about half a second)."""
    from ..kernels import slstm
    return slstm


def check_heads(num_heads, hidden_size):
    """num_heads must be a positive integer dividing hidden_size."""
    positive_int("num_heads", num_heads)
    if is_integer(hidden_size) and hidden_size >= 1 \
            and hidden_size % num_heads:
        raise RnnlabError(f"num_heads={num_heads} does not divide hidden_size={hidden_size}; "
                          f"pick a divisor of {hidden_size} (e.g. --heads 1)")
    return int(num_heads)


def check_forget_gate(forget_gate):
    if forget_gate not in slstm_cell.FORGET_GATES:
        raise RnnlabError(f"forget_gate must be 'sigmoid' or 'exp', got {forget_gate!r}")
    return forget_gate


def forget_bias_values(forget_bias, forget_gate, n):
    """The initial forget-gate biases of n units (or heads): a float for all of them, or None
    for evenly spaced values whose forget gates run from sigma(3) to sigma(6). For the exp gate
    the same gate values: bias = log sigma(3 .. 6)."""
    if forget_bias is not None:
        return np.full(n, float(forget_bias))
    b = np.linspace(*FORGET_BIAS_RANGE, n) if n > 1 else np.array([FORGET_BIAS_RANGE[0]])
    return slstm_cell.log_sigmoid(b) if forget_gate == "exp" else b


class SLSTM(RecurrentLayer):
    """sLSTM with gates i (exponential), f (sigmoid or exponential), z, o and heads.
    Returns (y, (h_n, c_n, n_n, m_n)), each state part (num_layers*num_directions, B, H).

    SLSTM(input_size, hidden_size, num_layers=1, num_heads=1, forget_gate='sigmoid',
          forget_bias=None, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
          dtype=np.float32, seed=None, recurrent_init='uniform')

    Parameters per layer k (suffix ``_reverse`` for the backward direction):
    ``weight_ih_l{k}`` (4H, D_k), ``weight_hh_l{k}`` (4H, H/num_heads): the diagonal blocks of
    the block-diagonal recurrent matrix (see the cell), ``bias_l{k}`` (4H,); gate order
    i, f, z, o. Initialisation: U(-1/sqrt(H), 1/sqrt(H)), then the forget-gate bias: by default
    evenly spaced from 3 to 6 over each head's units (sigma(b) from 0.95 to 0.9975; for the
    exp gate b = log sigma(3 .. 6), the same gate values); ``forget_bias=v`` sets all to v.
    ``recurrent_init='orthogonal'`` makes each gate's block of each head orthogonal.
    """
    reference = slstm_cell
    kernel = staticmethod(_kernel)
    num_heads, forget_gate = 1, "sigmoid"     # defaults param_shapes reads (parameter_shapes)

    def __init__(self, input_size, hidden_size, num_layers=1, num_heads=1,
                 forget_gate="sigmoid", forget_bias=None, **kw):
        self.num_heads = check_heads(num_heads, hidden_size)
        self.forget_gate = check_forget_gate(forget_gate)
        if forget_bias is not None and (isinstance(forget_bias, bool) or
                                        not np.isfinite(float(forget_bias))):
            raise RnnlabError(f"forget_bias must be a finite number or None, got {forget_bias!r}")
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return 4

    def cell_options(self):
        return {"forget_gate": self.forget_gate}

    def param_shapes(self, D):
        H = self.hidden_size
        shapes = {"weight_ih": (4 * H, D), "weight_hh": (4 * H, H // self.num_heads)}
        if self.bias:
            shapes["bias"] = (4 * H,)
        return shapes

    def recurrent_block(self, shape):
        n = self.hidden_size // self.num_heads        # one square block per gate and head
        return n, n

    def _forget_slice(self):
        return slice(self.hidden_size, 2 * self.hidden_size)

    def _init_direction(self, params, k, d):
        if not self.bias:
            return
        dh = self.hidden_size // self.num_heads
        values = forget_bias_values(self.forget_bias, self.forget_gate, dh)
        params[self.param_key("bias", k, d)][self._forget_slice()] = np.tile(values,
                                                                            self.num_heads)

    def init_overrides(self):
        if not self.bias:
            return {}
        what = ("forget_bias" if self.forget_bias is not None else
                "evenly spaced over each head's units: sigma(b) from sigma(3) to sigma(6)")
        return {"bias": (self._forget_slice(), what)}

    def __repr__(self):
        return (f"SLSTM({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"num_heads={self.num_heads}, forget_gate={self.forget_gate!r}, "
                f"bidirectional={self.bidirectional}, dtype={self.dtype.name})")

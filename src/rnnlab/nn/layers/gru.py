"""The GRU layer in torch's convention (gates r, z, n; the reset gate acts after the hidden
matmul). The equations and their backward pass: rnnlab/nn/cells/gru.py."""
from ..cells import gru as gru_cell
from .base import RecurrentLayer
from .recurrent_dropout import RecurrentDropout


def _kernel():
    """The fused numba GRU, imported on first use (importing numba takes about half a second)."""
    from ..kernels import gru
    return gru


class GRU(RecurrentDropout, RecurrentLayer):
    """GRU with torch's layout (G = 3: r, z, n). Returns (y, h_n).

    GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
        bidirectional=False, dtype=np.float32, seed=None, recurrent_dropout=0.0)

    recurrent_dropout=p: one dropout mask on h_{t-1} (where it enters W_hh) for the whole
    sequence, in training (Gal & Ghahramani 2016; see rnnlab/nn/layers/recurrent_dropout.py),
    on the numba kernel (rnnlab/nn/kernels/rdrop_gates.py).
    """
    reference = gru_cell
    kernel = staticmethod(_kernel)

    def __init__(self, input_size, hidden_size, num_layers=1, recurrent_dropout=0.0, **kw):
        self._set_recurrent_dropout(recurrent_dropout)
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return 3

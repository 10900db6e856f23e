"""The GRU layer in torch's convention (gates r, z, n; the reset gate acts after the hidden
matmul). The equations and their backward pass: rnnlab/nn/cells/gru.py."""
from ..cells import gru as gru_cell
from .base import RecurrentLayer


def _kernel():
    """The fused numba GRU, imported on first use (importing numba takes about half a second)."""
    from ..kernels import gru
    return gru


class GRU(RecurrentLayer):
    """GRU with torch's layout (G = 3: r, z, n). Returns (y, h_n).

    GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
        bidirectional=False, dtype=np.float32, seed=None)
    """
    reference = gru_cell
    kernel = staticmethod(_kernel)

    def num_gates(self):
        return 3

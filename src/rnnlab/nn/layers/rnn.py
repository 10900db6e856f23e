"""The Elman RNN layer: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), or relu.
The equations and their backward pass: rnnlab/nn/cells/rnn.py."""
from ...errors import RnnlabError
from ..cells import rnn as rnn_cell
from .base import RecurrentLayer
from .recurrent_dropout import RecurrentDropout


def _kernel():
    """The fused numba RNN, imported on first use (importing numba takes about half a second)."""
    from ..kernels import rnn
    return rnn


class RNN(RecurrentDropout, RecurrentLayer):
    """Elman RNN in torch's layout (one gate, G = 1). Returns (y, h_n).

    RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
        batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, seed=None,
        recurrent_dropout=0.0)

    recurrent_dropout=p: one dropout mask on h_{t-1} for the whole sequence, in training
    (Gal & Ghahramani 2016; see rnnlab/nn/layers/recurrent_dropout.py), on the numba kernel
    (rnnlab/nn/kernels/rdrop_gates.py).
    """
    reference = rnn_cell
    kernel = staticmethod(_kernel)

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 recurrent_dropout=0.0, **kw):
        if nonlinearity not in rnn_cell.NONLINEARITIES:
            raise RnnlabError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._set_recurrent_dropout(recurrent_dropout)
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return 1

    def cell_options(self):
        return {"nonlinearity": self.nonlinearity}

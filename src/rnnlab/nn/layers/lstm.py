"""The LSTM layer: gates i, f, g, o in torch's order, plus colah's peephole and coupled
variants. The equations, in the seed note's names, and their backward pass:
rnnlab/nn/cells/lstm.py."""
from ...errors import RnnlabError
from ..cells import lstm as lstm_cell
from .base import RecurrentLayer


def _kernel():
    """The fused numba LSTM, imported on first use (importing numba takes about half a second)."""
    from ..kernels import lstm
    return lstm


class LSTM(RecurrentLayer):
    """LSTM with gates i, f, g, o and the variants 'peephole' and 'coupled'.
    Returns (y, (h_n, c_n)).

    LSTM(input_size, hidden_size, num_layers=1, variant='standard', forget_bias=None,
         bias=True, batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32,
         seed=None, recurrent_init='uniform')

    G = 4 (i, f, g, o), or 3 for the coupled variant (f, g, o). The peephole variant adds
    ``weight_pi_l{k}``, ``weight_pf_l{k}``, ``weight_po_l{k}`` (H,). ``forget_bias=1.0`` sets
    the forget gate's bias (in bias_ih; bias_hh's part is zeroed), as Keras'
    unit_forget_bias does.
    """
    reference = lstm_cell
    kernel = staticmethod(_kernel)

    def __init__(self, input_size, hidden_size, num_layers=1, variant="standard",
                 forget_bias=None, **kw):
        if variant not in lstm_cell.VARIANTS:
            raise RnnlabError(f"variant must be 'standard', 'peephole' or 'coupled', got {variant!r}")
        self.variant, self.forget_bias = variant, forget_bias
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return lstm_cell.num_gates(self.variant)

    def cell_options(self):
        return {"variant": self.variant}

    def _extra_params(self):
        return ("weight_pi", "weight_pf", "weight_po") if self.variant == "peephole" else ()

    def _init_direction(self, params, k, d):
        if self.forget_bias is None or not self.bias:
            return
        H = self.hidden_size
        f = slice(0, H) if self.variant == "coupled" else slice(H, 2 * H)
        params[self.param_key("bias_ih", k, d)][f] = self.forget_bias
        params[self.param_key("bias_hh", k, d)][f] = 0.0

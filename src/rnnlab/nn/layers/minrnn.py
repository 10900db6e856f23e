"""The minimal recurrent layers of Feng et al. (2024), minGRU and minLSTM: gates that read the
input alone, so the recurrence is linear in h and trains with a parallel scan. The equations
and their backward passes: rnnlab/nn/cells/mingru.py, minlstm.py (the scan: _minscan.py)."""
from ...errors import RnnlabError
from ..cells import mingru as mingru_cell
from ..cells import minlstm as minlstm_cell
from .base import RecurrentLayer


def _mingru_kernel():
    """The fused numba minGRU, imported on first use (importing numba takes half a second)."""
    from ..kernels import mingru
    return mingru


def _minlstm_kernel():
    from ..kernels import minlstm
    return minlstm


class MinRecurrentLayer(RecurrentLayer):
    """What minGRU and minLSTM share: the ``mode`` option, and parameters without recurrent
    weights: per layer k and direction, ``weight_ih_l{k}`` (G*H, D_k) stacking the gates and
    ``bias_ih_l{k}`` (G*H,), nothing else (no weight_hh, no bias_hh)."""

    def __init__(self, input_size, hidden_size, num_layers=1, mode="parallel", **kw):
        self.mode = self.reference.check_mode(mode)
        if kw.get("recurrent_init") == "orthogonal":
            raise RnnlabError(f"recurrent_init='orthogonal' does not apply to the "
                              f"{type(self).__name__}: it has no recurrent weights (its gates "
                              "read only the input); leave recurrent_init at 'uniform'")
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def cell_options(self):
        return {"mode": self.mode}

    def param_shapes(self, D):
        G, H = self.num_gates(), self.hidden_size
        shapes = {"weight_ih": (G * H, D)}
        if self.bias:
            shapes["bias_ih"] = (G * H,)
        return shapes

    def __repr__(self):
        return super().__repr__()[:-1] + f", mode={self.mode!r})"


class MinGRU(MinRecurrentLayer):
    """minGRU: h_t = (1 - z_t) h_{t-1} + z_t g(W_ih x_t + b_ih), z_t = sigma(W_iz x_t + b_iz).
    Returns (y, h_n).

    MinGRU(input_size, hidden_size, num_layers=1, mode='parallel', bias=True,
           batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, seed=None)

    G = 2 (z, h): ``weight_ih_l{k}`` (2H, D_k) = [W_iz; W_ih], ``bias_ih_l{k}`` (2H,).
    mode='parallel' runs the log-space scan of the paper, mode='recurrent' one step at a time;
    both compute the same function (1e-12 in float64), forward and backward.
    """
    reference = mingru_cell
    kernel = staticmethod(_mingru_kernel)

    def num_gates(self):
        return 2


class MinLSTM(MinRecurrentLayer):
    """minLSTM: h_t = f'_t h_{t-1} + i'_t g(W_ih x_t + b_ih) with f' = f / (f + i),
    i' = i / (f + i), f and i sigmoids of the input alone. Returns (y, h_n): one state, h.

    MinLSTM(input_size, hidden_size, num_layers=1, mode='parallel', bias=True,
            batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, seed=None)

    G = 3 (i, f, h): ``weight_ih_l{k}`` (3H, D_k) = [W_ii; W_if; W_ih], ``bias_ih_l{k}`` (3H,).
    """
    reference = minlstm_cell
    kernel = staticmethod(_minlstm_kernel)

    def num_gates(self):
        return 3

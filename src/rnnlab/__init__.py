"""rnnlab: recurrent networks from first principles.

The plain RNN, the LSTM (and its peephole and coupled variants) and the GRU, written in NumPy
with hand-written backpropagation through time, exact against PyTorch, with every gate visible.
"""
from ._version import __version__
from .backtesting import backtest
from .errors import RnnlabError
from .inference import load
from .nn.backend import get_backend, set_backend
from .nn.layers import GRU, LSTM, RNN
from .train import Trainer, train

__all__ = ["RNN", "LSTM", "GRU", "load", "train", "backtest", "Trainer", "RnnlabError",
           "set_backend", "get_backend", "__version__"]

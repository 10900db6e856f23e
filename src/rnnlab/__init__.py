"""rnnlab: recurrent networks from first principles.

The plain RNN, the LSTM (its peephole and coupled variants, and projection, layer norm, zoneout
and recurrent dropout as options), the GRU, minGRU and minLSTM, and xLSTM's sLSTM and mLSTM,
written in NumPy with hand-written backpropagation through time, exact against PyTorch, with
every gate visible.
"""
from ._version import __version__
from .backtesting import backtest
from .errors import RnnlabError, RnnlabWarning
from .inference import load
from .nn.backend import get_backend, set_backend
from .nn.layers import GRU, LSTM, MLSTM, RNN, SLSTM, MinGRU, MinLSTM
from .train import train
from .trainer import Trainer

__all__ = ["RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "SLSTM", "MLSTM", "load", "train",
           "backtest", "Trainer", "RnnlabError", "RnnlabWarning", "set_backend", "get_backend",
           "__version__"]

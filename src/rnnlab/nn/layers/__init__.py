"""The recurrent layers, one file each, on the shared machinery of base.py."""
from .base import RecurrentLayer, reverse_padded
from .gru import GRU
from .lstm import LSTM
from .minrnn import MinGRU, MinLSTM, MinRecurrentLayer
from .mlstm import MLSTM
from .rnn import RNN
from .slstm import SLSTM

__all__ = ["RecurrentLayer", "RNN", "LSTM", "GRU", "MinRecurrentLayer", "MinGRU", "MinLSTM",
           "SLSTM", "MLSTM", "reverse_padded"]

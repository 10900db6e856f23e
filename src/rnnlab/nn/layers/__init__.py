"""The recurrent layers, one file each, on the shared machinery of base.py."""
from .base import RecurrentLayer, reverse_padded
from .gru import GRU
from .lstm import LSTM
from .mlstm import MLSTM
from .rnn import RNN
from .slstm import SLSTM

__all__ = ["RecurrentLayer", "RNN", "LSTM", "GRU", "SLSTM", "MLSTM", "reverse_padded"]

"""The recurrent layers, one file each, on the shared machinery of base.py."""
from .base import RecurrentLayer, reverse_padded
from .gru import GRU
from .lstm import LSTM
from .minrnn import MinGRU, MinLSTM, MinRecurrentLayer
from .rnn import RNN

__all__ = ["RecurrentLayer", "RNN", "LSTM", "GRU", "MinRecurrentLayer", "MinGRU", "MinLSTM",
           "reverse_padded"]

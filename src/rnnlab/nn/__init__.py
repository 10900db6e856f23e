"""The engine: it knows nothing about tasks, files or runs.

    cells/      the reference cells in NumPy, one file each: the equations and their backward
    kernels/    the same functions fused and compiled with numba, checked against cells/
    layers/     torch-style layers (stacking, directions, lengths, dropout) over either
    registry    every cell, one entry each
    blocks, losses, functional, optim, module, backend, checks
"""
from . import registry
from .layers import GRU, LSTM, MLSTM, RNN, SLSTM

__all__ = ["RNN", "LSTM", "GRU", "SLSTM", "MLSTM", "registry"]

"""rnnlab: recurrent networks from first principles.

The plain RNN, the LSTM (its peephole and coupled variants, and projection, layer norm, zoneout
and recurrent dropout as options), the GRU, minGRU and minLSTM, and xLSTM's sLSTM and mLSTM,
written in NumPy with hand-written backpropagation through time, exact against PyTorch, with
every gate visible.
"""
from ._version import __version__
from .training.backtest import backtest
from .errors import RnnlabError, RnnlabWarning
from .training.forecaster import Forecaster
from .training.load import load
from .nn.backend import get_backend, set_backend
from .nn.layers import GRU, LSTM, MLSTM, RNN, SLSTM, MinGRU, MinLSTM
from .training.api import train
from .training.trainer import Trainer
from . import viz  # noqa: F401,E402  (gives every trained model its explain(text))


def lesson(source=None, *, lang="en", seed=0, sentences=1000, say=None):
    """The seed note's lesson as a page: inline in Jupyter, `.save(path)` writes lesson.html.
    source: a folder written by `rnnlab demo` (instant), or None to train the demo's models
    here. See rnnlab.app.lesson.lesson."""
    from .app.lesson import lesson as build
    return build(source, lang=lang, seed=seed, sentences=sentences, say=say)


__all__ = ["RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "SLSTM", "MLSTM", "load", "train",
           "backtest", "Forecaster", "lesson", "Trainer", "RnnlabError", "RnnlabWarning", "set_backend",
           "get_backend", "__version__"]

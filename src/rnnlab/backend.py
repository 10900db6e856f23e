"""Which implementation the layers run: the numba kernels (fast, default) or the NumPy cells
(the readable reference). `set_backend` sets the default, `layer(x, backend=...)` overrides it.

(Minimal version; the kernels work extends it.)
"""
import importlib
import os

from .errors import RnnlabError

BACKENDS = ("numba", "numpy")
_default = os.environ.get("RNNLAB_BACKEND", "numpy")


def set_backend(name):
    global _default
    if name not in BACKENDS:
        raise RnnlabError(f"backend {name!r} is unknown; choose one of {', '.join(BACKENDS)}")
    _default = name


def get_backend():
    return _default


def cell_functions(cell, backend=None):
    """The module with forward/backward for `cell` ('rnn', 'lstm', 'gru') on `backend`."""
    backend = backend or _default
    if backend not in BACKENDS:
        raise RnnlabError(f"backend {backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    package = "kernels" if backend == "numba" else "cells"
    try:
        return importlib.import_module(f"rnnlab.{package}.{cell}")
    except ImportError:
        return importlib.import_module(f"rnnlab.cells.{cell}")

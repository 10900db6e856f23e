"""Fused numba minGRU: ``forward``/``backward`` as ``rnnlab.nn.cells.mingru`` (both modes)
and a B=1 ``Stepper``; the compiled passes are shared with the other minimal cell in
``minscan.py``."""
from . import minscan
from .minscan import backward                # the cache names its cell

__all__ = ["forward", "backward", "Stepper"]


def forward(x, state, params, lengths=None, mode="parallel"):
    """Run minGRU over x (T, B, D). Returns (y, h_n, cache)."""
    return minscan.forward(minscan.MINGRU, x, state, params, lengths, mode)


class Stepper(minscan.Stepper):
    cell = minscan.MINGRU

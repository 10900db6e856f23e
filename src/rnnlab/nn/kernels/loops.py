"""The time loops of the RNN, GRU and LSTM kernels, and the one place that chooses how they
run: on one thread, with the batch rows split over the threads, or with the hidden units
split over them (``policy`` decides; ``units`` holds the unit-split loops).

The loops take the cell's argument tuple (``steps``): one loop serves every cell. The choice
is made here, in Python, before entering compiled code: one policy call and one call of a
compiled loop, so a B = 1 call pays no more than it did with the choice written out in each
kernel. Every way computes each number with the same sums in the same order.
"""
import numpy as np
from numba import njit, prange

from . import sync
from ._common import forward_skipped
from .background import ready
from .panels import gemm_rows, pack
from .policy import batch_split, split_warm, unit_split
from .steps import carry_in, project, step_bwd, step_fwd
from .units import bwd_units, fwd_units, pack_parts


@njit(cache=True, nogil=True, error_model="numpy")
def _fwd_rows(a, whp, wht, acc, b0, b1):
    """Batch rows b0..b1-1 through all T steps (rows are independent), after their input
    projection where the cell's tuple carries its input (``steps.project``: in the same
    thread, so a batch split wakes its threads once per call, not twice)."""
    T, B = a.A.shape[0], a.A.shape[1]
    H = a.y.shape[2]
    h = a.hs[:B]
    project(a, b0, b1)
    for t in range(T):
        gemm_rows(h, whp, wht, acc, b0, b1)
        step_fwd(a, acc, t, b0, b1, 0, H)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _fwd_split(a, whp, wht, acc, nsplit):
    """The forward with the batch split into nsplit row blocks, one thread each running the
    whole time loop for its rows (no synchronisation per step)."""
    B = a.A.shape[1]
    for p in prange(nsplit):
        _fwd_rows(a, whp, wht, acc, p * B // nsplit, (p + 1) * B // nsplit)


@njit(cache=True, nogil=True, error_model="numpy")
def _bwd_rows(a, whp, wht, tmp, b0, b1, blk):
    """Batch rows b0..b1-1 backward through all T steps; blk: their block's index."""
    T = a.A.shape[0]
    H = a.dhs.shape[1]
    for t in range(T - 1, -1, -1):
        step_bwd(a, t, b0, b1, 0, H, blk)
        gemm_rows(a.dAh[t], whp, wht, tmp, b0, b1)
        for b in range(b0, b1):
            if t < a.lens[b]:
                carry_in(a, b, tmp[b])


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _bwd_split(a, whp, wht, tmp, nsplit):
    B = a.A.shape[1]
    for p in prange(nsplit):
        _bwd_rows(a, whp, wht, tmp, p * B // nsplit, (p + 1) * B // nsplit, p)


def plan(B, H, G, dtype, whole_rows=False):
    """(unit parts, batch blocks) for a layer of H units, G gates, B rows: (n, 1) for the
    unit split in n parts, else (1, n) for n row blocks (1: one thread). The backward of the
    LSTM sizes its per-block peephole gradients by the second number. whole_rows: the cell's
    gate pass needs every unit of a row (the LSTM's layer norm), so no unit split."""
    nunits = 1 if whole_rows else unit_split(H, G, np.dtype(dtype).itemsize)
    return (nunits, 1) if nunits > 1 else (1, batch_split(B, H, G * H))


def run_forward(a, w_hh, G, ws=None, planned=None):
    """Run a cell's forward loop (a: its ``steps`` tuple; w_hh (G*H, H)) the way ``plan``
    chooses (planned: its answer, when the caller asked already); ws: the workspace for the
    packed weights."""
    if forward_skipped():
        return
    T, B, GH = a.A.shape
    H = GH // G
    nunits, nsplit = planned or plan(B, H, G, a.A.dtype, getattr(a, "WHOLE_ROWS", False))
    if nunits > 1:
        pans, tails = _packed(ws, ("units", G, nunits, B < 4), w_hh,
                              lambda to: pack_parts(w_hh, G, nunits, True, B < 4, to))
        accs = np.empty((nunits, B, GH // nunits), a.A.dtype)
        args = (a, pans, tails, a.hs[:B].copy(), accs, nunits, sync.spins())
        if ready(fwd_units, args):
            fwd_units(*args)
            if ws is not None:
                ws.give_unkept(pans, tails)
            return
    whp = _packed(ws, ("rows", B < 4), w_hh, lambda to: pack(w_hh.T, to, narrow=B < 4))
    acc = np.empty((B, GH), a.A.dtype)
    if (nsplit > 1 and split_warm(_fwd_split, B * H * GH)
            and ready(_fwd_split, (a, *whp, acc, nsplit))):
        _fwd_split(a, *whp, acc, nsplit)
    else:                          # one thread (the rows are independent: the same numbers)
        _fwd_rows(a, *whp, acc, 0, B)
    if ws is not None:
        ws.give_unkept(*whp)


def _packed(ws, key, w_hh, build):
    """build(to): the forward's packed W_hh (its arrays taken from the workspace `to`, or new
    when None), kept between eval-mode calls (``Workspace.kept``)."""
    return build(None) if ws is None else ws.kept(key, w_hh, build)


def run_backward(a, w_hh, G, ws=None):
    """Run a cell's backward loop (a: its ``steps`` tuple, built for ``plan``'s blocks)."""
    T, B, GH = a.A.shape
    H = GH // G
    nunits, nsplit = plan(B, H, G, a.A.dtype, getattr(a, "WHOLE_ROWS", False))
    tmp = np.empty((nunits, B, H // nunits), a.A.dtype)
    if nunits > 1:
        pans, tails = pack_parts(w_hh, G, nunits, False, B < 4, ws)
        if ready(bwd_units, (a, pans, tails, tmp, nunits, sync.spins())):
            bwd_units(a, pans, tails, tmp, nunits, sync.spins())
            if ws is not None:
                ws.give(pans, tails)
            return
        tmp = np.empty((1, B, H), a.A.dtype)
    whp = pack(w_hh, ws, narrow=B < 4)
    if (nsplit > 1 and split_warm(_bwd_split, B * H * GH)
            and ready(_bwd_split, (a, *whp, tmp[0], nsplit))):
        _bwd_split(a, *whp, tmp[0], nsplit)
    else:                          # one thread, block by block as the split would run them
        for p in range(nsplit):    # (each block sums its own peephole gradients)
            _bwd_rows(a, *whp, tmp[0], p * B // nsplit, (p + 1) * B // nsplit, p)
    if ws is not None:
        ws.give(*whp)

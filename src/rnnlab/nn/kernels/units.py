"""The time loops with the hidden units split between the threads: for big layers and small
batches, where the batch split (``policy.batch_split``) has too few rows or too little reuse.

Thread p owns units [p*H/n, (p+1)*H/n) and keeps only their columns of W_hh: forward
``h_{t-1} W_hh^T[:, its gates' columns]`` then its units' gates; backward its units' gates,
then ``dA_t W_hh[:, its units]``, which is all the previous step's gates need. Each core so
streams half the weights every step and keeps that half in its own cache. Between steps one
synchronisation: step t's parts are claimed and counted through ``sync`` (each thread takes
its own part first, then any part nobody has claimed), and every thread waits until all parts
of step t are done. A thread never waits for a particular other thread: a descheduled one
delays the step only by the part it holds, and one thread alone does every part.

The product reads h_{t-1} from y[t-1] (h0 at t = 0), never from the state being written:
rows past their length read a zero there, but those rows are padding at t too and are
skipped. The same numbers as the single-thread loops: each unit's sums run in the same order.
The loops take the cell's argument tuple (``steps``) and serve every cell.
"""
import numpy as np
from numba import njit, prange

from .copies import add_into, copy_into
from ._common import take
from .panels import gemm_rows, pack, panel_width
from .steps import adds_carry, step_bwd, step_fwd
from .sync import claim, finish, wait_all


def pack_parts(w_hh, G, nparts, forward, narrow=False, ws=None):
    """Each part's columns of the recurrent weights, packed and stacked: forward, W_hh^T's
    columns of the part's units in every gate ((H, G*Hp) per part); backward, W_hh's columns
    of the part's units ((G*H, Hp)). Returns (panels (n, P, K, W), tails (n, K, R)); narrow
    panels for products of fewer than 4 rows (``panels.pack``); ws: a workspace to take them
    from. Each part is packed straight into its slot of the stack, the forward's through
    ``pack``'s transposed read: at H = 1024 the earlier gather, transposed copy and stack
    took 33 ms (forward) and 53 ms (backward) per call, more than 100 steps of the loop."""
    GH, H = w_hh.shape
    Hp = H // nparts
    K, N = (H, G * Hp) if forward else (GH, Hp)
    W = panel_width(w_hh.dtype, narrow)
    L = 64 // w_hh.dtype.itemsize
    P = N // W
    pans = take(ws, (nparts, P, K, W), w_hh.dtype)
    tails = take(ws, (nparts, K, -(-(N - P * W) // L) * L), w_hh.dtype)
    by_gate = w_hh.reshape(G, H, H)
    for p in range(nparts):
        units = slice(p * Hp, (p + 1) * Hp)
        if forward:        # rows of the part's units in every gate, read transposed by pack
            part = by_gate[:, units].reshape(G * Hp, H).T
        else:
            part = np.ascontiguousarray(w_hh[:, units])
        pack(part, out=(pans[p], tails[p]), narrow=narrow)
    return pans, tails


@njit(cache=True, nogil=True, error_model="numpy")
def _fwd_part(a, pan, tail, h0, acc, t, p, nparts):
    """Step t, part p, forward (a: the cell's forward tuple, ``steps``)."""
    B = a.A.shape[1]
    H = a.y.shape[2]
    j0 = p * (H // nparts)
    gemm_rows(h0 if t == 0 else a.y[t - 1], pan, tail, acc, 0, B)
    step_fwd(a, acc, t, 0, B, j0, j0 + H // nparts)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def fwd_units(a, pans, tails, h0, accs, nthreads, spins):
    """The forward time loop, units split into pans.shape[0] parts over nthreads threads;
    h0: the initial h (B, H); spins: ``sync.wait_all``'s."""
    T = a.A.shape[0]
    n = pans.shape[0]
    flags = np.zeros(T * n, np.int64)
    done = np.zeros(T, np.int64)
    for me in prange(nthreads):
        for t in range(T):
            for k in range(n):
                p = (me + k) % n
                if claim(flags, t, p, n):
                    _fwd_part(a, pans[p], tails[p], h0, accs[p], t, p, n)
                    finish(done, t)
            wait_all(done, t, n, spins)


@njit(cache=True, nogil=True, error_model="numpy")
def _bwd_part(a, pan, tail, t, p, nparts, tmp):
    """Part p: dh of its units from the product of step t+1's dA (all its rows), then its
    units' gates of step t (t = -1: the product only, giving dh0)."""
    T, B = a.A.shape[0], a.A.shape[1]
    H = a.dhs.shape[1]
    j0 = p * (H // nparts)
    j1 = j0 + H // nparts
    if t + 1 < T:
        gemm_rows(a.dAh[t + 1], pan, tail, tmp, 0, B)
        for b in range(B):
            if t + 1 < a.lens[b]:
                if adds_carry(a):
                    add_into(a.dhs[b, j0:j1], tmp[b])
                else:
                    copy_into(a.dhs[b, j0:j1], tmp[b])
    if t >= 0:
        step_bwd(a, t, 0, B, j0, j1, 0)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def bwd_units(a, pans, tails, tmps, nthreads, spins):
    """The backward time loop, units split into pans.shape[0] parts over nthreads threads."""
    T = a.A.shape[0]
    n = pans.shape[0]
    flags = np.zeros((T + 1) * n, np.int64)
    done = np.zeros(T + 1, np.int64)
    for me in prange(nthreads):
        for s in range(T + 1):                     # s = T-1-t: steps T-1 .. 0, then dh0
            for k in range(n):
                p = (me + k) % n
                if claim(flags, s, p, n):
                    _bwd_part(a, pans[p], tails[p], T - 1 - s, p, n, tmps[p])
                    finish(done, s)
            wait_all(done, s, n, spins)

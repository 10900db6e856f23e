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
"""
import numpy as np
from numba import njit, prange

from .gates import gru_bwd, gru_fwd, rnn_bwd, rnn_fwd
from .lstm_gates import gates_bwd as lstm_bwd
from .lstm_gates import gates_fwd as lstm_fwd
from .panels import gemm_rows, pack
from .sync import claim, finish, wait_all

CELL_LSTM, CELL_GRU, CELL_RNN = 0, 1, 2


def pack_parts(w_hh, G, nparts, forward, narrow=False):
    """Each part's columns of the recurrent weights, packed and stacked: forward, W_hh^T's
    columns of the part's units in every gate ((H, G*Hp) per part); backward, W_hh's columns
    of the part's units ((G*H, Hp)). Returns (panels (n, P, K, W), tails (n, K, R)); narrow
    panels for products of fewer than 4 rows (``panels.pack``)."""
    GH, H = w_hh.shape
    Hp = H // nparts
    packs = []
    for p in range(nparts):
        units = np.arange(p * Hp, (p + 1) * Hp)
        if forward:
            cols = np.concatenate([g * H + units for g in range(G)])
            packs.append(pack(np.ascontiguousarray(w_hh[cols].T), narrow=narrow))
        else:
            packs.append(pack(np.ascontiguousarray(w_hh[:, units]), narrow=narrow))
    return np.stack([a for a, _ in packs]), np.stack([b for _, b in packs])


@njit(cache=True, nogil=True, error_model="numpy")
def _fwd_part(cell, A, pan, tail, h0, acc, t, p, nparts, lens, code, wpi, wpf, wpo, bhh, c1,
              c2, y, hs):
    """Step t, part p, forward. LSTM: c1, c2 = c, tanh c; GRU: c1 = hn; code = variant or
    relu."""
    B = A.shape[1]
    H = y.shape[2]
    j0 = p * (H // nparts)
    j1 = j0 + H // nparts
    gemm_rows(h0 if t == 0 else y[t - 1], pan, tail, acc, 0, B)
    if cell == CELL_LSTM:
        lstm_fwd(A, acc, t, 0, B, H, j0, j1, lens, code, wpi, wpf, wpo, c1, c2, y, hs)
    elif cell == CELL_GRU:
        gru_fwd(A, acc, bhh, t, 0, B, H, j0, j1, lens, c1, y, hs)
    else:
        rnn_fwd(A, acc, t, 0, B, H, j0, j1, lens, code, y, hs)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def fwd_units(cell, A, pans, tails, h0, accs, lens, code, wpi, wpf, wpo, bhh, c1, c2, y, hs,
              nthreads):
    """The forward time loop, units split into pans.shape[0] parts over nthreads threads."""
    T = A.shape[0]
    n = pans.shape[0]
    flags = np.zeros(T * n, np.int64)
    done = np.zeros(T, np.int64)
    for me in prange(nthreads):
        for t in range(T):
            for k in range(n):
                p = (me + k) % n
                if claim(flags, t, p, n):
                    _fwd_part(cell, A, pans[p], tails[p], h0, accs[p], t, p, n, lens, code,
                              wpi, wpf, wpo, bhh, c1, c2, y, hs)
                    finish(done, t)
            wait_all(done, t, n)


@njit(cache=True, nogil=True, error_model="numpy")
def _bwd_part(cell, A, dAh, pan, tail, dy, t, p, nparts, lens, code, wpi, wpf, wpo, dwp, c1,
              c2, h0, y, dhs, tmp):
    """Part p: dh of its units from the product of step t+1's dA (all its rows), then its
    units' gates of step t (t = -1: the product only, giving dh0). GRU: A holds dA_x, dAh the
    recurrent part; LSTM: c1, c2 = c, tanh c, h0 = c0; GRU: c1 = hn, h0 = h0."""
    T, B = A.shape[0], A.shape[1]
    H = dhs.shape[1]
    j0 = p * (H // nparts)
    j1 = j0 + H // nparts
    if t + 1 < T:
        gemm_rows(dAh[t + 1], pan, tail, tmp, 0, B)
        for b in range(B):
            if t + 1 < lens[b]:
                if cell == CELL_GRU:
                    dhs[b, j0:j1] += tmp[b]
                else:
                    dhs[b, j0:j1] = tmp[b]
    if t < 0:
        return
    if cell == CELL_LSTM:
        lstm_bwd(A, dy, t, 0, B, H, j0, j1, lens, code, wpi, wpf, wpo, dwp, c1, c2, h0, dhs)
    elif cell == CELL_GRU:
        gru_bwd(A, dAh, dy, t, 0, B, H, j0, j1, lens, c1, y, h0, dhs)
    else:
        rnn_bwd(A, dy, y, t, 0, B, H, j0, j1, lens, code, dhs)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def bwd_units(cell, A, dAh, pans, tails, dy, lens, code, wpi, wpf, wpo, dwp, c1, c2, h0, y,
              dhs, tmps, nthreads):
    """The backward time loop, units split into pans.shape[0] parts over nthreads threads
    (dAh is A itself for the LSTM and the RNN)."""
    T = A.shape[0]
    n = pans.shape[0]
    flags = np.zeros((T + 1) * n, np.int64)
    done = np.zeros(T + 1, np.int64)
    for me in prange(nthreads):
        for s in range(T + 1):                     # s = T-1-t: steps T-1 .. 0, then dh0
            for k in range(n):
                p = (me + k) % n
                if claim(flags, s, p, n):
                    _bwd_part(cell, A, dAh, pans[p], tails[p], dy, T - 1 - s, p, n, lens, code,
                              wpi, wpf, wpo, dwp, c1, c2, h0, y, dhs, tmps[p])
                    finish(done, s)
            wait_all(done, s, n)

"""Packed-panel GEMMs: every product of the kernels, in the time loop and around it.

The right-hand matrix w (K, N) is stored once per call as *panels*: ``panels`` (P, K, W)
holds columns [p*W, (p+1)*W) of w contiguously (W = 4 registers = 64 float32 or 32 float64
columns), ``tail`` (K, N - P*W) the last columns. A 4-row x 4-register tile (``tiles``)
then walks a panel with unit stride. Stored as plain rows (``w[k, n0:n0+W]`` at a stride of
N elements) the same loop ran at half the speed: with N*4 bytes a power of two (2, 8 or 16 KB
at H = 128, 512, 1024) every row of a panel maps to the same few cache sets, and the panel
that should stay in L1/L2 keeps evicting itself. Measured on one Zen 5 core (float32, CPU
time): 50x128 @ 128x512 191 -> 201 GFLOP/s, 32x512 @ 512x2048 140 -> 228, 64x1024 @
1024x4096 96 -> 222, 6400x1024 @ 1024x4096 75 -> 249; NumPy's OpenBLAS 99-124 on one core.

Long sums are cut into K blocks (``KC_ROWS``, ``KC_TN``) so that the panel block stays in L1
while every row passes over it; each block after the first adds to out's partial sums (the
accumulating tiles), so the order of the sum over k, and so every bit of the result, is the
same for any blocking and any split of the rows over threads.

- ``gemm_rows(a, panels, tail, out, b0, b1)``: out[b0:b1] = a[b0:b1] @ w, a (M, K).
- ``gemm_tn(a, panels, tail, out, b0, b1)``: out[b0:b1] = a[:, b0:b1]^T @ w, a (K, M): the
  weight-gradient form dW = dA^T X without a transposed copy of dA.
- ``gemm_rows_par`` / ``gemm_tn_par``: the same with the rows split over the threads.
"""
import numpy as np
from numba import njit, prange

from ._common import take
from .copies import copy_into, copy_rows
from .machine import SIZES, k_block_rows
from .tiles import (T11, T11A, T12, T12A, T14, T14A, T41, T41A, T44, T44A, TT11, TT11A,
                    TT12, TT12A, TT14, TT14A, TT41, TT41A, TT44, TT44A, lanes)

KC_ROWS = k_block_rows(SIZES)
# ^ K block of the row form, from this machine's L2 (``machine``): 512 on a 1 MB L2, where
#   64x4096 @ 4096x1024 ran at 222 GFLOP/s with 512, 192 unblocked; K <= 512 (every weight
#   of H <= 128, the projections up to D = 512) is one block.
KC_TN = 256
# ^ K block of the transposed form, where K = T*B is long: 3200x512 -> 512x2048 201-218
#   GFLOP/s with 128-512, 127 unblocked; 6400x1024 -> 1024x4096 176-188 vs 80.
TN_PACK_MIN_PANELS = 4
# ^ the packed strips pay from this many panels on (each strip is copied once and read once
#   per panel): 6400x1024 -> 1024x4096 152 -> 219 GFLOP/s, 3200x512 -> 512x2048 152 -> 192;
#   with 1-2 panels (D = 64, 128) the copy cost more than it saved (223 -> 151, 199 -> 175).
MC_TN = 128
# ^ rows of the transposed form whose A strips are packed together (128 x 256 floats: 128 KB,
#   in L2 while every panel passes over them).


def panel_width(dtype, narrow=False):
    """Columns in one panel: 4 AVX-512 registers, or 2 for a narrow panel."""
    return (128 if narrow else 256) // np.dtype(dtype).itemsize


def pack(w, ws=None, top=None, narrow=False, out=None):
    """w (K, N) -> (panels (P, K, W), tail (K, R)), both C-contiguous: P = N // W full panels,
    and the last N - P*W columns zero-padded to R, a whole number of registers (the tiles
    then never read or write past a row; ``gemm_*`` copy back only the real columns).
    top: rows stacked above w (the packed matrix is [top; w]) without building the stack.
    ws: a ``_common.Workspace`` to take the two arrays from (give them back after use).
    narrow: panels of 2 registers, for products of 1-3 rows (the B=1 matrix-vector product of
    a time step): 1 x 128 @ 128 x 512 took 1.56 us with them against 2.1-2.25 us with 4.
    out: (panels, tail) of those shapes to fill instead of new arrays."""
    w = np.asarray(w)
    N = w.shape[1]
    K = w.shape[0] + (0 if top is None else top.shape[0])
    W = (128 if narrow else 256) // w.dtype.itemsize
    L = 64 // w.dtype.itemsize
    P = N // W
    R = -(-(N - P * W) // L) * L
    panels, tail = out if out is not None else (take(ws, (P, K, W), w.dtype),
                                                take(ws, (K, R), w.dtype))
    if top is not None:
        _fill(np.asarray(top, w.dtype), panels, tail, 0)
    if not w.flags.c_contiguous and w.T.flags.c_contiguous:
        _fill_t(w.T, panels, tail, K - w.shape[0])     # a transposed weight, W^T: read its rows
    else:
        _fill(w, panels, tail, K - w.shape[0])
    return panels, tail


@njit(cache=True, nogil=True, error_model="numpy")
def _fill(w, panels, tail, k0):
    """Rows k0.. of the packed matrix from w (one compiled pass: a few numpy calls cost more
    than the copy for small weights)."""
    P, _, W = panels.shape
    N = w.shape[1]
    for k in range(w.shape[0]):
        row = w[k]
        for p in range(P):
            copy_into(panels[p, k0 + k], row[p * W:(p + 1) * W])
        t = tail[k0 + k]
        copy_into(t[:N - P * W], row[P * W:])
        t[N - P * W:] = 0


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_t(v, panels, tail, k0):
    """Rows k0.. of the packed matrix from w = v^T, v (N, K) C-contiguous: each row of v (a
    column of w) read once in order and written down a panel's column (the panel, K x W, stays
    in L1). Reading w = v^T row by row instead strides across v: 2.2 GB/s for a 128 x 512
    weight."""
    P, _, W = panels.shape
    N, K = v.shape
    for p in range(P):
        pan = panels[p]
        for j in range(W):
            src = v[p * W + j]
            for k in range(K):
                pan[k0 + k, j] = src[k]
    R = tail.shape[1]
    for j in range(R):
        n = P * W + j
        if n < N:
            src = v[n]
            for k in range(K):
                tail[k0 + k, j] = src[k]
        else:
            for k in range(K):
                tail[k0 + k, j] = 0


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _rows_block(a, w, out, b0, b1, n0, first):
    """out[b0:b1, n0:n0+W] (+)= a[b0:b1] @ w for one panel block w (k, W)."""
    b = b0
    if w.shape[1] < 4 * lanes(w):                  # a narrow panel: rows one by one
        while b < b1:
            if first:
                T12(a, w, out, b, n0)
            else:
                T12A(a, w, out, b, n0)
            b += 1
        return
    if first:
        while b + 4 <= b1:
            T44(a, w, out, b, n0)
            b += 4
        while b < b1:
            T14(a, w, out, b, n0)
            b += 1
    else:
        while b + 4 <= b1:
            T44A(a, w, out, b, n0)
            b += 4
        while b < b1:
            T14A(a, w, out, b, n0)
            b += 1


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _tail_block(a, tail, sc, trans, first):
    """sc (+)= a @ tail (trans: a^T @ tail) in 1-register tiles; sc (rows, R) is scratch."""
    L = lanes(sc)
    n = sc.shape[0]
    for n0 in range(0, tail.shape[1], L):
        b = 0
        while b + 4 <= n:
            if trans:
                if first:
                    TT41(a, tail, sc, b, n0)
                else:
                    TT41A(a, tail, sc, b, n0)
            elif first:
                T41(a, tail, sc, b, n0)
            else:
                T41A(a, tail, sc, b, n0)
            b += 4
        while b < n:
            if trans:
                if first:
                    TT11(a, tail, sc, b, n0)
                else:
                    TT11A(a, tail, sc, b, n0)
            elif first:
                T11(a, tail, sc, b, n0)
            else:
                T11A(a, tail, sc, b, n0)
            b += 1


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gemm_rows(a, panels, tail, out, b0, b1):
    """out[b0:b1] = a[b0:b1] @ w, w given packed (``pack``); a (M, K), out (M, N), rows
    contiguous (any row stride)."""
    P, K, W = panels.shape
    if K == 0:
        out[b0:b1, :] = 0
        return
    for p in range(P):
        op = out[:, p * W:(p + 1) * W]
        for k0 in range(0, K, KC_ROWS):
            k1 = min(K, k0 + KC_ROWS)
            _rows_block(a[:, k0:k1], panels[p, k0:k1], op, b0, b1, 0, k0 == 0)
    if tail.shape[1] > 0 and b1 > b0:
        sc = np.empty((b1 - b0, tail.shape[1]), out.dtype)
        ab = a[b0:b1]
        for k0 in range(0, K, KC_ROWS):
            k1 = min(K, k0 + KC_ROWS)
            _tail_block(ab[:, k0:k1], tail[k0:k1], sc, False, k0 == 0)
        copy_rows(out[b0:b1, P * W:], sc)


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _tn_block(a, w, out, b0, b1, n0, first):
    """out[b0:b1, n0:n0+W] (+)= a[:, b0:b1]^T @ w for one panel block (a (k, M), w (k, W))."""
    b = b0
    if w.shape[1] < 4 * lanes(w):                  # a narrow panel: rows one by one
        while b < b1:
            if first:
                TT12(a, w, out, b, n0)
            else:
                TT12A(a, w, out, b, n0)
            b += 1
        return
    if first:
        while b + 4 <= b1:
            TT44(a, w, out, b, n0)
            b += 4
        while b < b1:
            TT14(a, w, out, b, n0)
            b += 1
    else:
        while b + 4 <= b1:
            TT44A(a, w, out, b, n0)
            b += 4
        while b < b1:
            TT14A(a, w, out, b, n0)
            b += 1


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gemm_tn(a, panels, tail, out, b0, b1):
    """out[b0:b1] = a[:, b0:b1]^T @ w, w given packed; a (K, M), out (M, N)."""
    P, K, W = panels.shape
    if K == 0:
        out[b0:b1, :] = 0
        return
    tailed = tail.shape[1] > 0 and b1 > b0
    sc = np.empty((b1 - b0 if tailed else 0, tail.shape[1]), out.dtype)
    wide = W == 4 * lanes(out) and P >= TN_PACK_MIN_PANELS
    apack = np.empty((MC_TN // 4, KC_TN, 4), out.dtype)
    for k0 in range(0, K, KC_TN):
        k1 = min(K, k0 + KC_TN)
        ak = a[k0:k1]
        if wide:
            for m0 in range(b0, b1, MC_TN):
                _tn_packed(ak, panels[:, k0:k1], out, m0, min(b1, m0 + MC_TN), apack,
                           k0 == 0)
        else:
            for p in range(P):
                _tn_block(ak, panels[p, k0:k1], out[:, p * W:(p + 1) * W], b0, b1, 0, k0 == 0)
        if tailed:
            _tail_block(ak[:, b0:b1], tail[k0:k1], sc, True, k0 == 0)
    if tailed:
        copy_rows(out[b0:b1, P * W:], sc)


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _tn_packed(ak, pblk, out, m0, m1, apack, first):
    """out[m0:m1, :P*W] (+)= ak[:, m0:m1]^T @ (the panels' block pblk (P, k, W)), with the
    4-column strips of ak copied first into apack (tiles, k, 4): the tile then broadcasts
    from one sequential stream instead of a column 4 floats wide read across k rows of dA."""
    P, kc, W = pblk.shape
    nt = (m1 - m0) // 4
    for i in range(nt):
        c = m0 + 4 * i
        ap = apack[i]
        for k in range(kc):
            for r in range(4):
                ap[k, r] = ak[k, c + r]
    for p in range(P):
        wb = pblk[p]
        ob = out[:, p * W:(p + 1) * W]
        for i in range(nt):
            ap = apack[i, :kc]
            if first:
                TT44(ap, wb, ob[m0 + 4 * i:m0 + 4 * i + 4], 0, 0)
            else:
                TT44A(ap, wb, ob[m0 + 4 * i:m0 + 4 * i + 4], 0, 0)
        for b in range(m0 + 4 * nt, m1):
            if first:
                TT14(ak, wb, ob, b, 0)
            else:
                TT14A(ak, wb, ob, b, 0)


@njit(cache=True, nogil=True)
def _split(M, p, n):
    """Row p-th of n blocks of M rows, on multiples of 4 (whole tiles)."""
    q = (M + 3) // 4
    return min(M, 4 * (p * q // n)), min(M, 4 * ((p + 1) * q // n))


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def gemm_rows_par(a, panels, tail, out, nsplit):
    """``gemm_rows`` over all rows, split into nsplit blocks, one thread each."""
    for p in prange(nsplit):
        b0, b1 = _split(out.shape[0], p, nsplit)
        gemm_rows(a, panels, tail, out, b0, b1)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def gemm_tn_par(a, panels, tail, out, nsplit):
    """``gemm_tn`` over all rows, split into nsplit blocks, one thread each."""
    for p in prange(nsplit):
        b0, b1 = _split(out.shape[0], p, nsplit)
        gemm_tn(a, panels, tail, out, b0, b1)

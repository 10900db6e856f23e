"""Element loops for copying one array slice into another inside compiled code.

``dst[a:b] = src[c:d]`` in numba checks that the shapes broadcast and builds its error message
with numba's string helpers, which compile once per process: 1.7 s of a cold start's compile
(measured alone: a function holding one such assignment compiled in 1.8 s, the same copy as a
loop in 0.09 s). These loops do the same copy without the check; the callers' shapes agree by
construction. Filling with a scalar (``dst[a:b] = 0``) needs no check and stays as it is.
"""
from numba import njit


@njit(nogil=True, error_model="numpy", inline="always")
def copy_into(dst, src):
    """dst[j] = src[j] for j < len(dst) (1-D)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(nogil=True, error_model="numpy", inline="always")
def add_into(dst, src):
    """dst[j] += src[j] for j < len(dst) (1-D)."""
    for j in range(dst.shape[0]):
        dst[j] += src[j]


@njit(nogil=True, error_model="numpy", inline="always")
def copy_rows(dst, src):
    """dst[r, j] = src[r, j] for the rows and columns of dst (2-D)."""
    for r in range(dst.shape[0]):
        d = dst[r]
        s = src[r]
        for j in range(d.shape[0]):
            d[j] = s[j]

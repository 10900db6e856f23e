"""Argument handling shared by the numba kernels: dtypes, lengths, the summed bias, the
packed weights of the B=1 steppers, and the single-use check of a kernel cache.

The rest of the kernel machinery lives one idea per module: ``activations`` (float32/64
sigm, tanh), ``tiles`` (the register tiles), ``panels`` (the packed-panel GEMMs built on
them), ``units`` and ``sync`` (the time loop split by hidden units), ``policy`` (which split
runs where), ``gemms`` (the GEMMs around the time loop) and ``fused`` (cross-entropy, Adam and
the clipping norm in one pass each).
"""
from contextlib import contextmanager

import numpy as np


def as_dtype(a, dtype):
    """a as a C-contiguous array of dtype, without a copy when it already is one."""
    return np.ascontiguousarray(a, dtype=dtype)


def check_dtype(x):
    dt = np.dtype(x.dtype)
    if dt not in (np.float32, np.float64):
        from ...errors import RnnlabError
        raise RnnlabError(f"x: got dtype {dt}, expected float32 or float64; "
                          "fix: x.astype(np.float32)")
    return dt


def lengths_array(lengths, T, B):
    """lengths as int64 (B,), clipped to [0, T]; all T when None."""
    if lengths is None:
        return np.full(B, T, np.int64)
    ln = np.asarray(lengths).astype(np.int64).reshape(-1)
    if ln.shape[0] != B:
        from ...errors import RnnlabError
        raise RnnlabError(f"lengths: got shape {ln.shape}, expected ({B},) (one per batch row)")
    return np.clip(ln, 0, T)


def state_rows(s, B, H, dtype):
    """A fresh (B, H) array holding s (a state or its gradient), zeros when s is None."""
    out = np.zeros((B, H), dtype)
    if s is not None:
        out[:] = s
    return out


def bias_sum(params, GH, dtype):
    """b_ih + b_hh (or zeros when the layer has no bias)."""
    if "bias_ih" in params:
        return (as_dtype(params["bias_ih"], dtype) + as_dtype(params["bias_hh"], dtype))
    return np.zeros(GH, dtype)


def pack_weights(params, dtype):
    """(D+H, N) = [W_ih^T; W_hh^T], C-contiguous, and the summed bias, for the B=1
    steppers (``tiles.matvec_packed``)."""
    w_ih = np.asarray(params["weight_ih"], dtype)
    w_hh = np.asarray(params["weight_hh"], dtype)
    W = np.ascontiguousarray(np.concatenate([w_ih.T, w_hh.T], axis=0))
    return W, bias_sum(params, w_hh.shape[0], dtype)


def use_cache_once(cache):
    """Mark a cache whose gate buffer backward overwrites with dA as used; raise if it was."""
    if cache["used"]:
        from ...errors import RnnlabError
        raise RnnlabError("cache: this numba-kernel cache was already backpropagated (its gate "
                          "buffer now holds dA); run forward again before a second backward")
    cache["used"] = True


_SKIPPED = []      # non-empty within ``forward_loops_skipped``


@contextmanager
def forward_loops_skipped():
    """Within the block the kernels' forward time loops do not run: their outputs stay as
    allocated. For compiling a backward loop ahead of time (training/ahead.py), whose machine
    code depends on its arguments' types only, without compiling the forward loop first."""
    _SKIPPED.append(True)
    try:
        yield
    finally:
        _SKIPPED.pop()


def forward_skipped():
    """Whether a forward time loop is to be skipped (``forward_loops_skipped``)."""
    return bool(_SKIPPED)


KEPT_MAX = 8
# ^ packed weights a workspace keeps (``Workspace.kept``): a layer's W_hh per layer and
#   direction, more than any stacked layer here has.


class Workspace:
    """Scratch arrays kept from one call to the next, by shape and dtype.

    A training step allocates the same big buffers every time (the gate buffer, the cell
    states, packed copies); fresh ones cost a page fault per 4 KB on first touch (about 1800
    faults and 2-4 ms of a 2x128 char-LM step here). A layer owns one Workspace and passes it
    to its kernel; the kernel ``take``s its internal buffers from it and ``give``s them back
    once nothing can read them any more (after backward, or when the layer's next forward
    replaces an unused cache). Never for arrays handed to the caller (y, dx, gradients).
    """

    def __init__(self):
        self._free = {}
        self._kept = {}
        self.keep_packed = False
        # ^ set by the layer: True in eval mode, where the same weights serve call after call
        #   (evaluation, generation, serving), so their packed copies are kept (``kept``)

    def kept(self, key, w, build):
        """build(), a packing of the weight w, kept under key for later calls while
        ``keep_packed``: rebuilt only when w's bits differ from the copy kept with it (after
        an optimizer step, a load, any write into the weights). Comparing costs one read of
        w and its copy (1.4 ms for the LSTM's W_hh at H = 1024), packing it 10 ms. Outside
        eval mode every call packs afresh and nothing is kept."""
        if not self.keep_packed or not w.flags.c_contiguous:
            self._kept.clear()
            return build(self)
        bits = w.view(f"u{w.dtype.itemsize}")
        key = (key, w.ctypes.data, w.dtype.str)     # each weight of a stacked layer its own
        hit = self._kept.get(key)
        if hit is not None and hit[0].shape == bits.shape and np.array_equal(hit[0], bits):
            return hit[1]
        packed = build(None)               # not from the free list: these stay out of it
        self._kept.pop(key, None)
        while len(self._kept) >= KEPT_MAX:            # a weight cast afresh on every call
            self._kept.pop(next(iter(self._kept)))    # would add a key per call: oldest out
        self._kept[key] = (bits.copy(), packed)
        return packed

    def take(self, shape, dtype):
        """An uninitialised array of that shape and dtype, reused when one is free."""
        free = self._free.get((shape, np.dtype(dtype)))
        return free.pop() if free else np.empty(shape, dtype)

    def give(self, *arrays):
        """Return arrays (whole buffers from ``take``) for later calls."""
        for a in arrays:
            if a is not None:
                self._free.setdefault((a.shape, a.dtype), []).append(a)

    def nbytes(self):
        """Bytes held free."""
        return sum(a.nbytes for v in self._free.values() for a in v)

    def give_unkept(self, *arrays):
        """``give`` the arrays back unless they are kept packings (``kept``)."""
        if not self.keep_packed:
            self.give(*arrays)


def take(ws, shape, dtype):
    """ws.take(shape, dtype), or a fresh array without a workspace."""
    return np.empty(shape, dtype) if ws is None else ws.take(shape, dtype)


def release(cache, names):
    """Give a kernel cache's internal buffers (cache[name] for each name) back to the
    workspace it took them from, once; the cache can no longer be backpropagated."""
    ws = cache.get("ws")
    if ws is not None and not cache.get("released"):
        ws.give(*(cache[n] for n in names))
    cache["released"] = cache["used"] = True

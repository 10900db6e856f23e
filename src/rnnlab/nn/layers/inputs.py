"""What a layer hands its kernel besides the parameters: the input of one direction (an array,
or a ``functional.TokenInput`` the kernels turn into a gather), the gradient that comes back
for a token input, and the kernel's workspace (``kernels._common.Workspace``) kept between
calls. Helpers of ``base.RecurrentLayer``; a kernel module says what it takes with
``TOKEN_INPUT`` and ``WORKSPACE``.
"""
import numpy as np

from ...errors import RnnlabError
from .. import compiling
from ..functional import TokenInput


def reverse_padded(x, lengths):
    """Flip each row of x (T, B, ...) in time within its own length; padding stays in place.
    Applying it twice gives x back."""
    if lengths is None:
        return x[::-1]
    T, B = x.shape[:2]
    t = np.arange(T)[:, None]
    idx = np.where(t < lengths, lengths - 1 - t, t)
    return x[idx, np.arange(B)]


def direction_input(fn, inp, d, lengths):
    """Direction d's input: reversed in time for d = 1; a TokenInput goes to a kernel that
    takes one as it is, to any other implementation as a dense array."""
    if isinstance(inp, TokenInput):
        if d == 1:
            inp = inp.with_ids(reverse_padded(inp.ids, lengths))
        return inp if getattr(fn, "TOKEN_INPUT", False) else inp.dense()
    return np.ascontiguousarray(inp if d == 0 else reverse_padded(inp, lengths))


def check_tokens(x, input_size, dtype, batch_first):
    """A TokenInput: width input_size, ids in range, the layer's dtype. Returns (x as
    (T, B) ids, unbatched)."""
    if x.shape[-1] != input_size or x.ids.ndim not in (1, 2):
        raise RnnlabError(f"token input has shape {x.shape}, expected (T, B, {input_size}) "
                          f"or (T, {input_size})")
    if x.dtype != dtype:
        raise RnnlabError(f"token input has dtype {x.dtype}, expected {dtype.name}")
    if x.ids.size and (x.ids.min() < 0 or x.ids.max() >= x.V):
        raise RnnlabError(f"token ids must lie in [0, {x.V}), got "
                          f"{x.ids.min() if x.ids.min() < 0 else x.ids.max()}")
    if x.ids.ndim == 1:
        return x.with_ids(x.ids[:, None]), True
    return (x.with_ids(x.ids.T) if batch_first else x), False


def input_grad(tokens, dx, d, lengths):
    """Direction d's gradient for its input, in natural time order: dx reversed back for
    d = 1; for a token input the table's (V, D) (a dense dx, from a kernel without token
    input, summed by id), None for one-hot."""
    if tokens is None:
        return reverse_padded(dx, lengths) if d == 1 else dx
    if dx is not None and dx.ndim == 3:
        return tokens.table_grad(reverse_padded(dx, lengths) if d == 1 else dx)
    return dx


def kernel_options(layer, fn, k, d, T, B):
    """The options of one call of the cell's forward (``layer.call_options``: the cell's
    options and this call's regulariser masks), plus the layer's workspace for a kernel that
    takes one."""
    kw = dict(layer.call_options(k, d, T, B))
    compiling.wait_for(layer.cell)           # its kernels compiling in a second process
    if getattr(fn, "WORKSPACE", False):
        if layer._workspace is None:
            from ..kernels import Workspace
            layer._workspace = Workspace()
        layer._workspace.keep_packed = not layer.training   # the weights stay as they are
        kw["workspace"] = layer._workspace
    return kw


def release(ctx):
    """A forward's kernel caches that will never be backpropagated (a new forward replaces
    them): their buffers go back to the workspace."""
    if ctx is not None and hasattr(ctx["fn"], "release"):
        for cache in ctx["caches"]:
            ctx["fn"].release(cache)

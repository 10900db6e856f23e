"""The module protocol every trainable piece follows (layers, blocks, task models).

A module keeps its parameters in ``params`` (name -> ndarray) and their gradients, summed over
backward calls, in ``grads`` (same keys and shapes). Optimizers update ``params`` in place, so
the arrays are never replaced, only written into.
"""
import copy

import numpy as np

from .checks import check_state_dict


class Module:
    """Base class: subclasses fill ``params`` (with ``_add_param``) and ``grads``."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True

    def _add_param(self, name, value):
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def zero_grad(self):
        """Clear the accumulated gradients."""
        for g in self.grads.values():
            g.fill(0)

    def train(self, mode=True):
        """Training mode: dropout is on."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode: dropout is off."""
        return self.train(False)

    def state_dict(self):
        """A copy of every parameter, keyed by name (PyTorch's names for the layers)."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state, source="state_dict"):
        """Copy arrays into the parameters. Keys and shapes must match exactly; the arrays are
        cast to this module's dtype (torch tensors converted with .numpy() load as they are)."""
        check_state_dict(self.params, state, source)
        for k, v in state.items():
            self.params[k][...] = np.asarray(v)

    def clone(self):
        """An independent copy (parameters, gradients, mode, generators): what inspection
        tools run on, so that the model a user trains is never disturbed by them."""
        return copy.deepcopy(self)

    def move_to(self, params, grads):
        """Copy every parameter and gradient into the given arrays (same keys and shapes, e.g.
        views into one flat buffer, ``flat_views``) and keep those from now on. For an owner
        that packs its children into one buffer before anything else holds their arrays
        (SequenceModel): an optimizer made earlier would still hold the old ones."""
        for k in self.params:
            params[k][...] = self.params[k]
            grads[k][...] = self.grads[k]
            self.params[k] = params[k]
            self.grads[k] = grads[k]

    def num_parameters(self):
        return int(sum(v.size for v in self.params.values()))



def flat_views(arrays):
    """(flat, views): one C-contiguous 1-D buffer holding every array of the dict, in order,
    and {name: view of it with that array's shape} (the values copied in)."""
    arrays = dict(arrays)
    dtype = np.result_type(*arrays.values())
    flat = np.empty(sum(a.size for a in arrays.values()), dtype)
    views, off = {}, 0
    for k, a in arrays.items():
        views[k] = flat[off:off + a.size].reshape(a.shape)
        views[k][...] = a
        off += a.size
    return flat, views


def flat_of(arrays):
    """The 1-D buffer the arrays tile exactly, in order (as ``flat_views`` makes them), or
    None: then callers take their per-array path."""
    arrays = list(arrays)
    if not arrays:
        return None
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    addr, size = base.__array_interface__["data"][0], base.itemsize
    off = 0
    for a in arrays:
        if (a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != addr + off * size):
            return None
        off += a.size
    return base if off == base.size else None

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

    def num_parameters(self):
        return int(sum(v.size for v in self.params.values()))


"""The module protocol every trainable piece follows (layers, blocks, task models).

A module keeps its parameters in ``params`` (name -> ndarray) and their gradients, summed over
backward calls, in ``grads`` (same keys and shapes). Optimizers update ``params`` in place, so
the arrays are never replaced, only written into.
"""
import numpy as np

from .errors import RnnlabError


class Module:
    params: dict
    grads: dict
    training: bool = True

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

    def num_parameters(self):
        return int(sum(v.size for v in self.params.values()))


def check_state_dict(expected, got, source="state_dict"):
    """Every expected key present with the right shape, and no stranger keys."""
    missing = [k for k in expected if k not in got]
    if missing:
        raise RnnlabError(f"{source} is missing {missing[0]!r} (and {len(missing) - 1} more); "
                          f"it was saved from a different model configuration")
    unexpected = [k for k in got if k not in expected]
    if unexpected:
        raise RnnlabError(f"{source} has an unexpected key {unexpected[0]!r}; expected only "
                          f"{', '.join(list(expected)[:6])}...; check the model configuration")
    for k, v in got.items():
        shape = tuple(np.shape(v))
        if shape != expected[k].shape:
            raise RnnlabError(f"{source}[{k!r}] has shape {shape}, expected "
                              f"{expected[k].shape}; check hidden size, layers and input size")

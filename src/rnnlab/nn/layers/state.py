"""The state of a recurrent layer: its parts, their shapes, the checks of a state passed in
and the arrays handed out. A mixin of RecurrentLayer (base.py), which it serves alone.

Each part of the state (h_0, c_0, ...) is (L*dirs, B, ...) with the part's own shape last:
(H,) for every part by default (``state_shapes()``); the projected LSTM's h is (P,). Unbatched
input drops B. A cell with one part takes and returns an array, a cell with several a tuple in
its ``STATE`` order.
"""
import numpy as np

from ...errors import RnnlabError
from ..checks import check_array, check_finite, check_shape


class LayerState:
    """The state's parts and shapes (see the module's docstring)."""

    @property
    def state_names(self):
        """The parts of the state, in order: ('h',) or ('h', 'c') ..."""
        return self.reference.STATE

    @property
    def has_cell_state(self):
        return len(self.state_names) > 1

    def state_shapes(self):
        """{part: shape of one layer-direction's part for one sequence}: (H,) for every part
        by default; a layer with other widths (the projected LSTM's h: (P,)) overrides it."""
        return {name: (self.hidden_size,) for name in self.state_names}

    def state_shape_text(self, part):
        """How the messages write a state part's shape: 'H' for (H,) (a layer with other widths
        names its option, e.g. 'proj_size')."""
        return ", ".join("H" if n == self.hidden_size else str(n)
                         for n in self.state_shapes()[part])

    @property
    def output_size(self):
        """The last dimension of y: every direction's h, side by side (dirs * H)."""
        return self.num_directions * self.state_shapes()[self.state_names[0]][0]


    def _check_state(self, state, B, unbatched, what="state", suffix="_0", prefix=""):
        """None, or the list of state parts, each checked and shaped (LD, B, ...)."""
        if state is None:
            return None
        names = [f"{prefix}{n}{suffix}" for n in self.state_names]
        if len(names) == 1:
            return [self._check_one_state(names[0], state, B, unbatched, self.state_names[0])]
        if not (isinstance(state, (tuple, list)) and len(state) == len(names)):
            got = (f"an array of shape {state.shape}" if isinstance(state, np.ndarray) else
                   f"{type(state).__name__} of length {len(state)}"
                   if isinstance(state, (tuple, list)) else type(state).__name__)
            raise RnnlabError(f"{what} for the {self.cell.upper()} must be a tuple "
                              f"({', '.join(names)}), got {got}")
        return [self._check_one_state(n, s, B, unbatched, part)
                for n, s, part in zip(names, state, self.state_names)]

    def _check_one_state(self, name, s, B, unbatched, part):
        LD, shape = self.num_layers * self.num_directions, self.state_shapes()[part]
        expected = (LD,) + shape if unbatched else (LD, B) + shape
        check_array(name, s, self.dtype, (len(expected),), str(expected))
        check_shape(name, s, expected, f"{expected} = (num_layers*num_directions, B, "
                                       f"{self.state_shape_text(part)})")
        check_finite(name, s)
        return s[:, None] if unbatched else s

    def _pick(self, parts, i):
        """Layer-direction i's slice of the state parts, in the cell's form (array or tuple)."""
        if parts is None:
            return None
        return parts[0][i] if len(parts) == 1 else tuple(p[i] for p in parts)

    def state_parts(self, s):
        """A cell's state (array or tuple, or None) as a list of parts in state_names' order
        (empty for None)."""
        if s is None:
            return []
        return [s] if len(self.state_names) == 1 else list(s)

    def zero_state(self, B):
        """Zeros in the layer's state form for a batch of B."""
        parts = self._state_arrays(B, np.zeros)
        return parts[0] if len(parts) == 1 else tuple(parts)

    def _state_arrays(self, B, make):
        """One (L*dirs, B, ...) array per state part, made by np.empty or np.zeros."""
        LD = self.num_layers * self.num_directions
        return [make((LD, B) + shape, self.dtype) for shape in self.state_shapes().values()]

    def _out(self, y, unbatched):
        if unbatched:
            return y[:, 0, :]
        return y.transpose(1, 0, 2) if self.batch_first else y

    def _state_out(self, parts, unbatched):
        if unbatched:
            parts = [p[:, 0] for p in parts]
        return parts[0] if len(parts) == 1 else tuple(parts)

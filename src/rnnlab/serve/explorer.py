"""One loaded model as the server sees it: what it can do (`describe`), its input read from
plain JSON (`read`), the gates over an input (`states`) and the units on across a span
(`hypothesis`). The states come from the layer's public `forward_with_gates` on the fused
kernels (where they fit; the NumPy reference otherwise, or with backend="numpy"), the same
forward training runs, never a second implementation of the equations.

An Explorer works on its own copy of the model (viz.subject.Subject). It is not thread-safe:
the layers keep what their last forward read, so the server runs one request at a time.
"""
from __future__ import annotations

import warnings

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn import registry
from rnnlab.viz.subject import Subject, read_input


class Explorer:
    """A TrainedModel (rnnlab.load) ready to be asked about its states."""

    def __init__(self, trained, backend=None):
        self.trained, self.backend = trained, backend
        self.subject = Subject(trained)
        self.model, self.cfg = self.subject.model, self.subject.cfg
        self.rnn = self.model.rnn
        self.spec = registry.get(self.cfg.cell)
        probe = self._gates(self.read(self._probe_input())[1])
        self.names = [n for n in self.spec.gates if (0, 0, n) in probe]

    # ----- what the model is ------------------------------------------------------------
    def describe(self) -> dict:
        cfg = self.cfg
        return {"task": cfg.task, "cell": cfg.cell, "layers": cfg.layers,
                "directions": self.rnn.num_directions, "hidden": cfg.hidden,
                "quantities": self.names, "verbs": list(self.trained.verbs),
                "reads": "text" if self.reads_text else "list",
                "bounds": {n: list(b) for n, b in self.spec.bounds.items() if n in self.names},
                "join": self.join, "roll": self.roll_range()}

    @property
    def reads_text(self) -> bool:
        return self.subject.vocab is not None

    @property
    def join(self) -> str:
        return self.subject.vocab.separator if self.reads_text else " "

    def roll_range(self):
        """[lo, pitches] when the inputs are piano-roll frames (the page draws a roll)."""
        lo = getattr(self.trained, "lo", None)
        return None if lo is None else [int(lo), int(self.cfg.input_size)]

    def _probe_input(self):
        if self.reads_text:
            return self.subject.vocab.tokens[-1] * 2
        return {"x": np.zeros((2, self.cfg.input_size)), "labels": ["", ""]}

    # ----- reading an input -------------------------------------------------------------
    def read(self, data):
        """(ids or None, x (T, 1, D), labels) from a str (text models) or a list (music: steps
        of MIDI pitches; series: rows in the data's units), through the task's own reader."""
        if isinstance(data, str) != self.reads_text:
            raise RnnlabError("this model reads " + ("text: send a string" if self.reads_text
                                                     else "a list, not a string"))
        if isinstance(data, dict) and "x" in data:           # the probe
            return read_input(self.subject, data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # an unseen character is read as <unk>
            return read_input(self.subject, data if self.reads_text
                              else self.trained.model_input(data))

    def _gates(self, x, state=None):
        _, state_n, gates = self.rnn.forward_with_gates(x, state, backend=self.backend)
        return gates

    def check_place(self, layer, direction):
        if not 0 <= layer < self.cfg.layers:
            raise RnnlabError(f"layer {layer} does not exist: the model has layers "
                              f"0..{self.cfg.layers - 1}")
        if not 0 <= direction < self.rnn.num_directions:
            raise RnnlabError(f"direction {direction} does not exist: the model has "
                              f"direction(s) 0..{self.rnn.num_directions - 1}")

    def check_units(self, units, width):
        u = np.asarray(units if units is not None else np.arange(width), np.int64)
        bad = u[(u < 0) | (u >= width)]
        if bad.size:
            raise RnnlabError(f"unit {int(bad[0])} does not exist: units are 0..{width - 1}")
        return u

    # ----- the states -------------------------------------------------------------------
    def states(self, data, layer=0, direction=0, names=None, units=None):
        """{"tokens": [str] * T, "units": [int], "gates": {name: (T, len(units)) float32}}:
        every quantity `names` lists (default all) of one layer and direction, after each step."""
        self.check_place(layer, direction)
        names = list(self.names if names is None else names)
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise RnnlabError(f"unknown quantity {unknown[0]!r}: this {self.cfg.cell} keeps "
                              f"{', '.join(self.names)}")
        _, x, labels = self.read(data)
        gates = self._gates(x)
        out, chosen = {}, None
        for n in names:
            a = gates[(layer, direction, n)][:, 0]
            chosen = self.check_units(units, a.shape[1]) if chosen is None else chosen
            out[n] = np.array(a[:, chosen], np.float32)        # a copy: the cache is reused
        return {"tokens": labels, "units": [] if chosen is None else chosen.tolist(),
                "gates": out}

    def hypothesis(self, data, start, end, threshold, layer=0, direction=0, quantity="h"):
        """The units whose `quantity` is above `threshold` at every step of [start, end): the
        hypothesis of LSTMVis (Strobelt et al., 2017). Returns (units, T)."""
        s = self.states(data, layer, direction, [quantity])
        a = s["gates"][quantity]
        if not 0 <= start < end <= a.shape[0]:
            raise RnnlabError(f"the span [{start}, {end}) is not inside the input's "
                              f"{a.shape[0]} steps; expected 0 <= start < end <= {a.shape[0]}")
        return np.flatnonzero((a[start:end] > threshold).all(axis=0)).tolist(), a.shape[0]

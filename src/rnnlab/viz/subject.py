"""What the inspection tools read: a model with its vocabulary (`Subject`), an input in the
model's terms (`read_input`), and one forward pass with the NumPy reference backend that
returns every gate (`reference_forward`, on the layer's public `forward_with_gates`). The
explain page (inspect.py), the gradient measurements (gradients.py) and the plots (report.py)
all start here, so none of them carries a second implementation of the equations.

A Subject works on its own copy of the model (`Module.clone`): inspecting a model never
changes its parameters, gradients, training mode or the context its next backward reads.
"""
from __future__ import annotations

import warnings

import numpy as np

from rnnlab.errors import RnnlabError, RnnlabWarning
from rnnlab.tasks.model import SequenceModel
from rnnlab.tasks.text import describe_unknown, unknown_policy
from rnnlab.viz.limits import MAX_TOKENS


class Subject:
    """A SequenceModel (a private copy, in eval mode) with what is needed to read an input: the
    vocabulary (text) and, for a loaded run, its folder (for history.json)."""

    def __init__(self, model, vocab=None):
        path = None
        if isinstance(model, (tuple, list)) and len(model) == 2:
            model, vocab = model
        self.trained = None
        if isinstance(getattr(model, "model", None), SequenceModel):     # a TrainedModel
            self.trained = model
            path, vocab = model.path, vocab or model.vocab
            model = model.model
        if not isinstance(model, SequenceModel):
            raise RnnlabError(f"expected a TrainedModel (rnnlab.load), a SequenceModel or a pair "
                              f"(SequenceModel, vocab); got {type(model).__name__}")
        self.model, self.cfg, self.path = model.clone().eval(), model.cfg, path
        self.vocab = _as_vocab(vocab) if vocab is not None else None
        if self.cfg.task == "text":
            if self.vocab is None:
                raise RnnlabError("a text model needs its vocabulary: pass (model, vocab tokens)")
            if self.vocab.size != self.cfg.input_size:
                raise RnnlabError(f"the vocabulary has {self.vocab.size} tokens but the model "
                                  f"reads {self.cfg.input_size}; they do not belong together")

    @classmethod
    def of(cls, model, vocab=None) -> "Subject":
        """`model` itself when it already is a Subject, else a new one."""
        return model if isinstance(model, cls) else cls(model, vocab)

    def history(self):
        if self.path is None:
            return None
        from rnnlab.training.run_folder import RunFolder
        return RunFolder(self.path).read_history()

    def labels(self):
        """Output labels: the vocabulary (text), the trained model's (MIDI pitches for music),
        else output indices."""
        if self.vocab is not None:
            return list(self.vocab.tokens)
        if self.trained is not None:
            return self.trained.labels()
        return [str(j) for j in range(self.cfg.output_size)]


def _as_vocab(vocab):
    from rnnlab.data.text import Vocab
    if isinstance(vocab, Vocab):
        return vocab
    tokens = list(vocab)
    return Vocab(tokens, "char" if all(isinstance(t, str) and len(t) == 1 for t in tokens)
                 else "word")


def read_input(subject: Subject, inputs):
    """The model's input as (ids (T,) or None, x (T, 1, D), labels [str] * T). Text: a str (read
    with the vocabulary) or a sequence of token ids; other tasks: an array (T, D) of features.
    Inputs longer than MAX_TOKENS keep their first MAX_TOKENS steps (the page shows no more)."""
    if subject.cfg.task == "text":
        ids, x, labels = _read_text(subject, inputs)
    else:
        ids, (x, labels) = None, _read_features(subject, inputs)
    return ids, np.ascontiguousarray(x, dtype=subject.model.dtype), labels


def _read_text(subject, inputs):
    if isinstance(inputs, str):
        if not inputs:
            raise RnnlabError("the text is empty; pass at least 2 characters, e.g. "
                              "--text 'The cat'")
        ids, unknown = subject.vocab.encode_counted(inputs, unknown_policy(subject.vocab))
        note = describe_unknown(subject.vocab, unknown, "the text")
        if note:
            warnings.warn(note, RnnlabWarning, stacklevel=3)
        ids = ids.astype(np.int64)
    else:
        ids = np.asarray(inputs)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise RnnlabError("text input must be a str or a 1-D sequence of token ids")
        ids = ids.astype(np.int64)
    if ids.size < 2:
        raise RnnlabError(f"the input has {ids.size} token(s); at least 2 are needed "
                          "(one to read, one to predict)")
    ids = ids[:MAX_TOKENS]
    return ids, subject.model.encode(ids[:, None]), [subject.vocab.tokens[i] for i in ids.tolist()]


def _read_features(subject, inputs):
    given = None
    if isinstance(inputs, dict):
        inputs, given = inputs["x"], inputs.get("labels")
    a = np.asarray(inputs, dtype=subject.model.dtype)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] != subject.cfg.input_size or a.shape[0] < 2:
        raise RnnlabError(f"a {subject.cfg.task} model reads an array (T >= 2, "
                          f"{subject.cfg.input_size}); got shape {a.shape}")
    if not np.isfinite(a).all():
        raise RnnlabError("the input contains NaN or infinity")
    a = a[:MAX_TOKENS]
    labels = (list(given)[:MAX_TOKENS] if given is not None else
              [f"{v:.4g}" for v in a[:, 0]] if subject.cfg.task == "series" else
              [" ".join(str(j) for j in np.flatnonzero(r > 0.5)) or "\u00b7" for r in a])
    return a[:, None, :], labels


def reference_forward(sm, x):
    """One forward on x (T, 1, D) with the reference backend. Returns (out (T, O), gates
    {(layer, dir, name): (T, H) float64}, states {part: (L, T, H)}: each state part ('h', 'c')
    of every layer's forward direction after each step, for the parts the cell keeps per step
    (all of them but the mLSTM's matrix memory C and stabiliser m, which are not (T, H); see
    gradients.py). The reverse direction's gates are in natural time order (row t = step t)."""
    y, _, gates = sm.rnn.forward_with_gates(x)
    out = sm.head.forward(y)[:, 0].astype(np.float64)
    gates = {key: np.array(a[:, 0], dtype=np.float64) for key, a in gates.items()}
    states = {part: np.stack([gates[(k, 0, part)] for k in range(sm.rnn.num_layers)])
              for part in sm.rnn.state_names if (0, 0, part) in gates}
    return out, gates, states

"""Task models: an input encoder, a recurrent layer stack, and an output head.

    tokens (T, B) --one-hot or Embedding--> (T, B, E) --RNN/LSTM/GRU--> (T, B, H) --Linear--> (T, B, O)
    x      (T, B, D) -----------------------^

One class covers the three tasks; the config says which input and which loss:

    task    input                          output O            loss
    text    token ids, one-hot or embed    V logits            softmax cross-entropy
    series  D float features               1 value (scaled)    mean squared error
    music   P-pitch multi-hot piano roll   P logits            sigmoid binary cross-entropy

The config (`ModelConfig`) is saved with every run as JSON, so a model is rebuilt from it and
its safetensors weights alone. Parameter names: ``embed.weight``, ``rnn.<torch name>``,
``head.weight``, ``head.bias``.

Music has two heads (``ModelConfig.head``): ``bernoulli``, one independent sigmoid per pitch,
and ``nade``, a NADE over the pitches of a step (nn/nade.py) whose biases the Linear head
computes from h_t (O = P + nade_hidden outputs; ``nade.weight``, ``nade.readout``), so the
notes of a chord are predicted one after another, each given those below it.
"""
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..errors import RnnlabError
from ..nn import registry
from ..nn.blocks import Embedding, Linear
from ..nn.functional import TokenInput, dropout_mask
from ..nn.losses import mse, sigmoid_bce, softmax_cross_entropy
from ..defaults import MODEL
from ..validate import positive_int
from ..nn.module import Module, flat_views
from ..nn.nade import NADE

# The input a task model reads and the loss it is trained with, by task kind.
TASKS = {"text": "ce", "series": "mse", "music": "bce"}
# The output heads: every task has "bernoulli" (its own loss above); music may have "nade".
HEADS = {"bernoulli": "one independent sigmoid per pitch (music); the task's own loss "
                      "elsewhere",
         "nade": "music: a NADE over the pitches of each step, conditioned on the RNN state, "
                 "so the notes of a chord are predicted jointly"}


@dataclass
class ModelConfig:
    """The model of a run, saved in config.json; defaults from rnnlab/defaults.py."""
    task: str = "text"            # text | series | music
    cell: str = MODEL['cell']
    input_size: int = 0           # V for text, D features for series, P pitches for music
    output_size: int = 0          # V, 1, P
    hidden: int = MODEL['hidden']
    layers: int = MODEL['layers']
    dropout: float = MODEL['dropout']
    input_dropout: float = MODEL['input_dropout']
    output_dropout: float = MODEL['output_dropout']
    variant: str = MODEL['variant']
    nonlinearity: str = MODEL['nonlinearity']
    embed: int = MODEL['embed']
    forget_bias: float | None = MODEL['forget_bias']
    dtype: str = MODEL['dtype']
    seed: int = 0
    cell_options: dict = field(default_factory=dict)   # the cell's own options (its registry
                                                        # entry's `options`), e.g. proj_size
    head: str = MODEL['head']     # a name of HEADS (a config without it: bernoulli)
    nade_hidden: int = MODEL['nade_hidden']     # head nade: the NADE's hidden units (Hn)

    def validate(self):
        if self.task not in TASKS:
            raise RnnlabError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        registry.get(self.cell).check_options(self.cell_options)
        for name in ("input_size", "output_size", "hidden", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise RnnlabError(f"{name} must be a positive integer, got {v!r}; e.g. --hidden 128")
        for name in ("dropout", "input_dropout", "output_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise RnnlabError(f"--{name.replace('_', '-')} must be in [0, 1), got "
                                  f"{getattr(self, name)}; e.g. 0.2")
        if self.head not in HEADS:
            raise RnnlabError(f"--head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.head == "nade" and self.task != "music":
            raise RnnlabError(f"--head nade is for music (piano roll), not {self.task}; "
                              f"remove --head")
        positive_int("--nade-hidden", self.nade_hidden, hint="e.g. 150")
        if self.embed < 0:
            raise RnnlabError(f"embed must be >= 0 (0 = one-hot input), got {self.embed}")
        if self.dtype not in ("float32", "float64"):
            raise RnnlabError(f"dtype must be float32 or float64, got {self.dtype!r}")
        return self

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, d):
        if not isinstance(d, dict):
            raise RnnlabError("model config must be a JSON object; the run's config.json is damaged")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise RnnlabError(f"model config has an unknown key {unknown[0]!r}; it was written by "
                              f"another rnnlab version or is not an rnnlab config")
        try:
            return cls(**d).validate()
        except TypeError as e:
            raise RnnlabError(f"model config is invalid: {e}") from None


def make_layer(cfg, rng):
    """The recurrent stack a config describes, its layer class taken from the cell registry."""
    spec = registry.get(cfg.cell)
    return spec.layer(cfg.embed or cfg.input_size, cfg.hidden, num_layers=cfg.layers,
                      dropout=cfg.dropout if cfg.layers > 1 else 0.0, dtype=np.dtype(cfg.dtype),
                      rng=rng, **spec.layer_options(cfg))


class SequenceModel(Module):
    """Encoder + recurrent stack + head, following the module protocol (see module.py)."""

    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg.validate()
        self.dtype = np.dtype(cfg.dtype)
        self.loss_kind = TASKS[cfg.task]
        self.embed = (Embedding(cfg.input_size, cfg.embed, dtype=self.dtype, seed=cfg.seed + 1)
                      if cfg.task == "text" and cfg.embed else None)
        # the layer's initial weights and then its dropout masks come from this generator;
        # a resumed run restores its state (rng.bit_generator.state)
        self.rng = np.random.default_rng(cfg.seed)
        self.rnn = make_layer(cfg, self.rng)
        # the head reads y: H per direction, or P for a projected LSTM (rnn.output_size)
        # nade: the head computes the NADE's biases [b_v, b_h] (P + Hn) from h_t
        self.nade = (NADE(cfg.output_size, cfg.nade_hidden, self.dtype, seed=cfg.seed + 3)
                     if cfg.head == "nade" else None)
        n_out = cfg.output_size if self.nade is None else self.nade.bias_size
        self.head = Linear(self.rnn.output_size, n_out, dtype=self.dtype, seed=cfg.seed + 2)
        self.children = {"rnn": self.rnn, "head": self.head}
        if self.nade is not None:
            self.children["nade"] = self.nade
        if self.embed is not None:
            self.children = {"embed": self.embed, **self.children}
        self._flatten()
        self.training = True
        self.backend = None                      # None: the process default (rnnlab.backend)
        self._eye = None
        self._table_input = False
        self._in_mask = self._out_mask = None    # this forward's dropout masks (training)

    def _flatten(self):
        """Every parameter (and gradient) a view into one flat buffer, the children's arrays
        moved there: optimizers update them in place, Adam and the clipping norm in one
        compiled pass over the buffer (nn.optim)."""
        self.flat_params, self.params = flat_views(
            {f"{p}.{k}": v for p, m in self.children.items() for k, v in m.params.items()})
        self.flat_grads, self.grads = flat_views(
            {f"{p}.{k}": v for p, m in self.children.items() for k, v in m.grads.items()})
        for p, m in self.children.items():
            m.move_to({k: self.params[f"{p}.{k}"] for k in m.params},
                      {k: self.grads[f"{p}.{k}"] for k in m.grads})

    def __setstate__(self, state):
        """A copy (clone, pickle) packs its own arrays into one flat buffer again: a deep copy
        copies every view on its own."""
        self.__dict__.update(state)
        self._flatten()

    def train(self, mode=True):
        self.training = bool(mode)
        for m in self.children.values():
            m.train(mode)
        return self

    # ----- forward / backward -------------------------------------------------------------
    def encode(self, inputs):
        """Token ids (T, B) -> (T, B, E) via embedding or one-hot; dense x passes through."""
        if self.cfg.task != "text":
            return np.ascontiguousarray(inputs, dtype=self.dtype)
        ids = np.asarray(inputs)
        if ids.size and (ids.min() < 0 or ids.max() >= self.cfg.input_size):
            raise RnnlabError(f"token id out of range [0, {self.cfg.input_size}); the input was "
                              f"encoded with another vocabulary")
        if self.embed is not None:
            return self.embed.forward(ids)
        if self._eye is None:
            self._eye = np.eye(self.cfg.input_size, dtype=self.dtype)
        return self._eye[ids]                      # one-hot: x_t = e_{token}

    def layer_input(self, inputs):
        """What the recurrent stack reads: for text a TokenInput (one-hot, or the embedding
        table when the vocabulary has at most T*B tokens, so that table W_ih^T is the smaller
        product), which the kernels turn into a row gather; else ``encode(inputs)``."""
        if self.cfg.task != "text" or (self.embed is not None
                                       and self.cfg.input_size > np.size(inputs)):
            return self.encode(inputs)
        ids = np.asarray(inputs)
        if ids.size and (ids.min() < 0 or ids.max() >= self.cfg.input_size):
            self.encode(ids)                       # raises the out-of-range error
        table = None if self.embed is None else self.embed.params["weight"]
        return TokenInput(ids, self.cfg.input_size, table, self.dtype)

    def forward(self, inputs, state=None, lengths=None, backend=None):
        """inputs: tokens (T, B) or x (T, B, D). Returns (out (T, B, O), state_n).

        In training mode, input_dropout and output_dropout (non-recurrent dropout, Zaremba et
        al. 2014) multiply x (T, B, D) and the top layer's h (T, B, H) by inverted-dropout
        masks drawn from self.rng; the state carried from step to step is never dropped.
        Text input goes to the layers as token ids (a gather in the kernels) unless input
        dropout needs the dense x."""
        self._in_mask = self._mask(self.encoded_shape(inputs), self.cfg.input_dropout)
        if self._in_mask is not None:
            x = self.encode(inputs) * self._in_mask
        else:
            x = self.layer_input(inputs)
        self._table_input = isinstance(x, TokenInput) and x.table is not None
        y, state_n = self.rnn(x, state, lengths, backend=backend or self.backend)
        self._out_mask = self._mask(y.shape, self.cfg.output_dropout)
        if self._out_mask is not None:
            y = y * self._out_mask
        return self.head.forward(y, backend=backend or self.backend), state_n

    def encoded_shape(self, inputs):
        """The shape of encode(inputs): (T, B, D) (D: the embedding, the vocabulary or the
        input size), without building it."""
        shape = np.shape(inputs)
        if self.cfg.task != "text":
            return shape
        return shape + (self.cfg.embed or self.cfg.input_size,)

    def _mask(self, shape, p):
        return dropout_mask(shape, p, self.rng, self.dtype) if self.training and p else None

    def backward(self, dout, dstate_n=None):
        """dout: (T, B, O), the loss gradient. Accumulates every parameter's gradient."""
        dy = self.head.backward(dout)
        if self._out_mask is not None:
            dy = dy * self._out_mask
        dx, dstate0 = self.rnn.backward(dy, dstate_n)
        if self._table_input:                      # dx is the embedding table's gradient
            self.embed.grads["weight"] += dx
        elif self.embed is not None:
            if self._in_mask is not None:
                dx = dx * self._in_mask
            self.embed.backward(dx)
        return dstate0

    def loss(self, out, targets, mask=None):
        """The task's loss, mean over the (unmasked) targets: (loss, dout). The NADE head's
        is its exact NLL summed over the pitches, divided by P (the scale of the bernoulli
        head's mean BCE); it adds the NADE's own gradients to `grads` here."""
        if self.nade is not None:
            w = np.ones(out.shape[:-1]) if mask is None else np.asarray(mask)
            total = float(w.sum()) * self.cfg.output_size
            if total == 0:
                return 0.0, np.zeros_like(out)
            nll, dout = self.nade.nll(out, targets, w / total, grad=True, backend=self.backend)
            return float((w * nll).sum() / total), dout
        if self.loss_kind == "ce":
            return softmax_cross_entropy(out, targets, mask)
        if self.loss_kind == "mse":
            return mse(out, targets, mask)
        return sigmoid_bce(out, targets, mask)

    def initial_state(self, B):
        """Zeros of the layer's state shape for a batch of B."""
        return self.rnn.zero_state(B)


def detach_state(state):
    """Copy a state so that carrying it to the next batch keeps no reference into caches."""
    if state is None:
        return None
    return tuple(s.copy() for s in state) if isinstance(state, tuple) else state.copy()

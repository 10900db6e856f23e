"""How much memory a training run needs, worked out before anything big is allocated.

    est = estimate_training_memory(mcfg, batch=50, seq_len=50, optimizer="adam")
    est.params, est.total                  # parameter count; peak bytes, roughly
    check_fits(est)                        # RnnlabError naming both numbers if it cannot fit

The trainer prints `est.summary()` when a run starts and refuses a run whose estimate exceeds
the memory the machine has available (`available_memory`), instead of letting NumPy fail
after minutes of allocating. The estimate is an upper bound for the NumPy reference cells
(the numba kernels keep fewer arrays) and counts:

  weights, gradients and the optimizer's buffers      P x (2 + buffers) x itemsize
  one training step's activations                     per layer ARRAYS[cell] arrays of
                                                      (T, B, H), its input (T, B, D_k), the
                                                      one-hot or embedded input, and the
                                                      head's logits, probabilities and
                                                      their gradient (T, B, O) each
  validation's forward, when it reads more steps than a training batch (text: up to
  1000 x 16 tokens at a time)
  the one-hot table (V, V) of a text model without --embed
  a checkpoint's serialised copies                    P x (4 + 2 x buffers) x itemsize
                                                      (the weights, then the training
                                                      state as bytes, twice: safetensors
                                                      serialises into a buffer of its own)

tests/test_memory.py checks the parameter count against the built model exactly, and the
estimate against the traced peak of real training steps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import RnnlabError
from ..nn import registry
from ..nn.optim import OPTIMIZERS

# arrays of (T, B, H) that one layer keeps for backward (the reference cells' caches, plus its
# output and the gradient flowing back through it)
ARRAYS = {"rnn": 8, "gru": 16, "lstm": 20}
# buffers each optimizer keeps per parameter
BUFFERS = {"sgd": 0, "momentum": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}
# arrays of (T, B, O) the head and the loss hold at once (logits, log-probabilities,
# probabilities, their gradient), counted in float64 (the losses compute in it)
HEAD_ARRAYS = 4


def parameter_shapes(mcfg):
    """{name: shape} of a SequenceModel's parameters, from its ModelConfig alone."""
    spec = registry.get(mcfg.cell)
    shapes = {}
    if mcfg.task == "text" and mcfg.embed:
        shapes["embed.weight"] = (mcfg.input_size, mcfg.embed)
    layer = spec.layer.parameter_shapes(mcfg.embed or mcfg.input_size, mcfg.hidden,
                                        num_layers=mcfg.layers, **spec.layer_options(mcfg))
    shapes.update({f"rnn.{k}": v for k, v in layer.items()})
    nade = mcfg.head == "nade"          # the head computes the NADE's P + Hn biases
    O = mcfg.output_size + (mcfg.nade_hidden if nade else 0)
    shapes["head.weight"] = (O, mcfg.hidden)
    shapes["head.bias"] = (O,)
    if nade:
        shapes["nade.weight"] = shapes["nade.readout"] = (mcfg.output_size, mcfg.nade_hidden)
    return shapes


def parameter_count(mcfg):
    return int(sum(int(np.prod(s, dtype=np.int64)) for s in parameter_shapes(mcfg).values()))


@dataclass
class MemoryEstimate:
    params: int            # parameter count
    weights: int           # bytes: weights + gradients + optimizer buffers
    activations: int       # bytes: the largest forward/backward (training or validation)
    other: int             # bytes: one-hot table, checkpoint copies
    itemsize: int

    @property
    def total(self):
        return self.weights + self.activations + self.other

    def summary(self, available=None):
        """One line for the start of a run."""
        line = (f"model: {self.params:,} parameters ({fmt_bytes(self.params * self.itemsize)}); "
                f"estimated peak memory {fmt_bytes(self.total)} (weights, gradients and "
                f"optimizer {fmt_bytes(self.weights)}, activations "
                f"{fmt_bytes(self.activations)}, checkpoints and tables {fmt_bytes(self.other)})")
        return line + (f"; {fmt_bytes(available)} available" if available else "")


def estimate_training_memory(mcfg, batch, seq_len, optimizer="adam", eval_tokens=0):
    """A MemoryEstimate for training `mcfg` on batches of `batch` x `seq_len`; `eval_tokens`:
    the most (step, sequence) pairs one validation forward reads."""
    s = np.dtype(mcfg.dtype).itemsize
    P = parameter_count(mcfg)
    buffers = BUFFERS.get(optimizer, 2) if optimizer in OPTIMIZERS else 2
    weights = P * (2 + buffers) * s
    D = mcfg.embed or mcfg.input_size
    H, O, A = mcfg.hidden, mcfg.output_size, ARRAYS.get(mcfg.cell, max(ARRAYS.values()))

    def step(tokens):
        per_layer = A * H + D + (mcfg.layers - 1) * (A * H + H)
        head = HEAD_ARRAYS * O * 8 // s + H
        return tokens * (D + per_layer + head) * s

    activations = max(step(batch * seq_len), step(eval_tokens))
    table = mcfg.input_size ** 2 * s if mcfg.task == "text" and not mcfg.embed else 0
    return MemoryEstimate(P, weights, activations, table + P * (4 + 2 * buffers) * s, s)


def _read_int(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory():
    """Bytes this process can still allocate: the kernel's MemAvailable plus free swap, and
    no more than a cgroup's limit minus its usage (containers). None when unknown."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f
                    if line.split()[1:2] and line.split()[1].isdigit()}
        if "MemAvailable" in info:
            found.append(info["MemAvailable"] + info.get("SwapFree", 0))
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        lim, use = _read_int(limit), _read_int(usage)
        if lim is not None and use is not None and lim < 1 << 60:
            found.append(max(lim - use, 0))
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(found) if found else None


def check_fits(est, available=None):
    """RnnlabError when the estimate exceeds the available memory (both numbers in it)."""
    available = available_memory() if available is None else available
    if available is not None and est.total > available:
        raise RnnlabError(
            f"this model needs about {fmt_bytes(est.total)} of memory to train "
            f"({est.params:,} parameters: {fmt_bytes(est.weights)} with their gradients and "
            f"optimizer buffers, {fmt_bytes(est.activations)} of activations), but this machine "
            f"has {fmt_bytes(available)} available; use a smaller --hidden, --layers, --batch "
            f"or --seq-len")
    return available


def fmt_bytes(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.1f} {unit}"
        n /= 1024

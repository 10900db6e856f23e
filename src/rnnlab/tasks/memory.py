"""How much memory a training run needs, worked out before anything big is allocated.

    est = estimate_training_memory(mcfg, batch=50, seq_len=50, optimizer="adam")
    est.params, est.total                  # parameter count; peak bytes, roughly
    check_fits(est)                        # RnnlabError naming both numbers if it cannot fit

The trainer prints `est.summary()` when a run starts and refuses a run whose estimate exceeds
the memory the machine has available (`available_memory`), instead of letting NumPy fail
after minutes of allocating. It counts:

  weights, gradients and the optimizer's buffers      P x (2 + buffers) x itemsize
  one training step's activations, per layer          what the cell's registry entry says
                                                      it holds (nn/cell_memory.py): arrays
                                                      of (T, B, H), with the fused kernel
                                                      or the reference cell, whichever the
                                                      run uses, its input (T, B, D_k), and
                                                      what is not (T, B, H): the mLSTM's
                                                      T x T per head (parallel) or its
                                                      memory C per step (recurrent)
  the head's logits, probabilities and gradient       (T, B, O) each, in float64 (the NADE
                                                      head: O = P + Hn; its NumPy reference
                                                      also keeps (T, B, P, Hn) for the backward)
  validation's forward instead, when it is larger     in its own chunks (text: up to 1000
                                                      steps x 16 rows; the forward's share)
  the one-hot table (V, V) of a text model without --embed
  a checkpoint's serialised copies                    P x (4 + 2 x buffers) x itemsize
                                                      (the weights, then the training
                                                      state as bytes, twice: safetensors
                                                      serialises into a buffer of its own)

A term that is not O(T B H) and is a quarter of the activations or more is named in the
summary, and a refusal offers what avoids it (the mLSTM's other mode, more heads).

The bound (docs/guarantees.md): within 30% of the peak resident memory a run adds, for every
cell and mode (tests/test_memory.py measures two sizes in a subprocess, tests/memory_probe.py);
the parameter count from the config alone is exact.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import RnnlabError
from ..nn import registry
from ..nn.nade import kernel_runs as nade_kernel_runs
from ..nn.optim import OPTIMIZERS

# buffers each optimizer keeps per parameter
BUFFERS = {"sgd": 0, "momentum": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}
# arrays of (T, B, O) the head and the loss hold at once (logits, log-probabilities,
# probabilities, their gradient), counted in float64 (the losses compute in it)
HEAD_ARRAYS = 4
# a term that is not O(T B H) is named in the summary when it is at least this share of the
# activations (the mLSTM's T x T matrices, its per-step memory C)
NOTE_SHARE = 0.25


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
    notes: tuple = ()      # (what, bytes, fix) of the terms that are not O(T B H)
    checkpoint: int = 0    # bytes: a checkpoint's serialised copies (after a step, not during)

    @property
    def total(self):
        """The peak: weights, the table, a step's activations and a checkpoint's copies (a
        layer keeps its last forward's cache while the checkpoint is written)."""
        return self.weights + self.other + self.activations + self.checkpoint

    def summary(self, available=None):
        """One line for the start of a run."""
        line = (f"model: {self.params:,} parameters ({fmt_bytes(self.params * self.itemsize)}); "
                f"estimated peak memory {fmt_bytes(self.total)} (weights, gradients and "
                f"optimizer {fmt_bytes(self.weights)}, activations "
                f"{fmt_bytes(self.activations)}, checkpoints and tables "
                f"{fmt_bytes(self.other + self.checkpoint)})")
        line += "".join(f"; of the activations, {fmt_bytes(n)} are {what}"
                        for what, n, _ in self.notes)
        return line + (f"; {fmt_bytes(available)} available" if available else "")


def estimate_training_memory(mcfg, batch, seq_len, optimizer="adam", eval_tokens=0,
                             backend=None, eval_seq_len=None):
    """A MemoryEstimate for training `mcfg` on batches of `batch` x `seq_len`; `eval_tokens`:
    the most (step, sequence) pairs one validation forward reads, in chunks of
    `eval_seq_len` steps (None: seq_len); backend: the run's (None: the process default),
    which decides whether the fused kernel or the reference cell runs (nn/cell_memory.py)."""
    s = np.dtype(mcfg.dtype).itemsize
    P = parameter_count(mcfg)
    buffers = BUFFERS.get(optimizer, 2) if optimizer in OPTIMIZERS else 2
    weights = P * (2 + buffers) * s
    spec = registry.get(mcfg.cell)
    kernel = spec.kernel_runs(mcfg, backend)
    options = spec.layer_options(mcfg)
    D, H, O = mcfg.embed or mcfg.input_size, mcfg.hidden, mcfg.output_size
    Hn = mcfg.nade_hidden if mcfg.head == "nade" else 0     # the NADE head's hidden units
    nade_reference = Hn and not nade_kernel_runs(backend)

    def step(T, B, forward=False):
        """(bytes, notes) of one forward (and backward) over (T, B)."""
        if T * B == 0:
            return 0, []
        numbers, notes = 0, []
        for k in range(mcfg.layers):
            n, extra = spec.memory.numbers(T, B, D if k == 0 else H, H, kernel, options, forward,
                                           first=k == 0)
            numbers += n
            notes += [(what, m * s, fix) for what, m, fix in extra]
        # (the first layer's input, one-hot or embedded, is its x, counted with the layer)
        # the head's gradient into the top layer, the loss's arrays
        numbers += T * B * H
        numbers += HEAD_ARRAYS * T * B * (O + Hn) * 8 // s     # nade: P + Hn biases a row
        if nade_reference and not forward:       # NumPy NADE: (Hn,) per pitch and row
            numbers += T * B * O * Hn
        return numbers * s, notes

    T_eval = min(eval_seq_len or seq_len, eval_tokens) if eval_tokens else 0
    train, train_notes = step(seq_len, batch)
    val, val_notes = step(T_eval, eval_tokens // T_eval if T_eval else 0, forward=True)
    activations, notes = (train, train_notes) if train >= val else (val, val_notes)
    notes = tuple(_merge(notes, activations))
    table = mcfg.input_size ** 2 * s if mcfg.task == "text" and not mcfg.embed else 0
    return MemoryEstimate(P, weights, activations, table, s, notes, P * (4 + 2 * buffers) * s)


def _merge(notes, activations):
    """The notes of every layer as one per kind, those that matter (NOTE_SHARE)."""
    merged = {}
    for what, n, fix in notes:
        merged[what] = (what, merged.get(what, (0, 0))[1] + n, fix)
    return [v for v in merged.values() if v[1] >= NOTE_SHARE * activations]


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
        of = "".join(f", {fmt_bytes(n)} of them {what}" for what, n, _ in est.notes)
        fixes = "".join(f", {fix}" for _, _, fix in est.notes)
        raise RnnlabError(
            f"this model needs about {fmt_bytes(est.total)} of memory to train "
            f"({est.params:,} parameters: {fmt_bytes(est.weights)} with their gradients and "
            f"optimizer buffers, {fmt_bytes(est.activations)} of activations{of}), but this "
            f"machine has {fmt_bytes(available)} available; use a smaller --hidden, --layers, "
            f"--batch or --seq-len{fixes}")
    return available


def fmt_bytes(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.1f} {unit}"
        n /= 1024

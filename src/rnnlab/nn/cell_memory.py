"""What one training step of a recurrent layer holds in memory, per cell: the numbers the
memory estimate (rnnlab/tasks/memory.py) counts before a model is built. Every entry of the
cell registry must give one (`CellSpec.memory` has no default), so a new cell cannot be left
out of the estimate.

    spec.memory.numbers(T, B, D, H, kernel=True, options={"mode": "parallel"})
        -> (numbers, notes)   numbers of the layer's dtype one layer holds at its peak;
                              notes: [(what, numbers, fix)] for the terms that are not
                              O(T B H), e.g. the mLSTM's T x T per head (what the refusal
                              message offers instead: `fix`)

The peak of a training step is at the start of the backward pass: the forward's cache, the
output, and the gradients the backward allocates. The counts are arrays of (T, B, H), read
from the code (the cache each forward keeps: the reference cells' `cache` dicts, the kernels'
workspaces) and checked against the measured peak resident memory of real training runs,
every cell and mode at two sizes (tests/test_memory.py, ±30%). A layer's input (T, B, D) and
its gradient add 2 T B D. A validation forward keeps the forward's part only (`forward=True`).
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CellMemory:
    # arrays of (T, B, H) at the peak of a training step with the fused kernel (None: the cell
    # has none) and with the reference cell; a dict {mode: count} where the mode changes them
    kernel: object
    reference: object
    # the arrays that are not (T, B, H): (T, B, H, options, forward) -> [(what, numbers, fix)]
    extra: object = None
    # the forward's share of the (T, B, H) arrays (a validation forward keeps no gradients)
    forward_share: float = 0.6
    notes: tuple = field(default=())

    def numbers(self, T, B, D, H, kernel, options=None, forward=False, first=True):
        """(numbers, notes) of one layer of input width D: see the module docstring. A layer
        above the first reads the output of the one below (counted there): only its input's
        gradient is its own."""
        options = options or {}
        count = self.kernel if kernel and self.kernel is not None else self.reference
        if isinstance(count, dict):
            count = count[options.get("mode", "parallel")]
        n = count * T * B * H * (self.forward_share if forward else 1) + \
            (2 if first else 1) * T * B * D
        notes = self.extra(T, B, H, options, forward) if self.extra else []
        return n + sum(k for _, k, _ in notes), notes


def mlstm_extra(T, B, H, options, forward, *, chunk_length):
    """The mLSTM's arrays beyond (T, B, H). Parallel, as one chunk (T <= L, the whole-sequence
    form): per sequence and head, T x T numbers: log D, D, q.k and S in the cache, the
    where/exp temporaries while they are made, and dS, dD, d(q.k), dlog D in the backward.
    Parallel in chunks of L (cells/mlstm_chunkwise.py): the same per (L, L) block, the state
    carried into each chunk, (heads, d, d) per chunk (with its gradients in the backward), and
    the chunked copies of q, k, v and their gradients. Recurrent: the memory C (heads, d, d),
    d = H/heads, kept for every step (Cs), and its copy shifted by one step (C_{t-1}) in the
    backward. chunk_length(T, d): the parallel form's L (cells/mlstm_chunkwise.py; the registry
    passes it in, the cells being above this module)."""
    heads = int(options.get("num_heads", 1))
    d = H // heads
    if options.get("mode", "parallel") == "parallel":
        L = chunk_length(T, d)
        if L >= T:
            k = (6 if forward else 29) * B * heads * T * T
            return [(f"the parallel form's {T} x {T} matrices per head and sequence (O(T^2))",
                     k, "or --mode recurrent (one step at a time: it keeps a heads x "
                     "(H/heads)^2 memory per step instead of the T x T matrices)")]
        chunks = -(-T // L)
        blocks = (6 if forward else 20) * B * heads * chunks * L * L
        carried = (2 if forward else 4) * B * heads * (chunks + 1) * d * d
        copies = (3 if forward else 6) * B * chunks * L * H
        return [(f"the parallel form's {L} x {L} blocks and the {heads} x {d} x {d} state "
                 f"carried into each of {chunks} chunks of {L} steps per sequence",
                 blocks + carried + copies, "or --mode recurrent (one step at a time: it keeps "
                 "a heads x (H/heads)^2 memory per step instead)")]
    k = (1 if forward else 2) * T * B * heads * d * d
    return [(f"the recurrent form's matrix memory C, {heads} x {d} x {d} per step and "
             f"sequence", k, "or more --num-heads (C is heads x (H/heads)^2 per step), or "
             "--mode parallel (T x T per head instead)")]

"""The corpus a text model is searched over, indexed once at start-up: the hidden state h of
every layer and direction after each token, as 8-bit codes (a unit's row contiguous, so a
search reads only the hypothesis's units), and the search for the spans where a hypothesis's
units are on together, as LSTMVis's match view does (Strobelt et al., 2017).

Indexing reads the corpus as `ROWS` streams side by side (row b is the b-th slice of the
corpus), `CHUNK` steps at a time, each stream's state carried from chunk to chunk, on the
layers' normal forward (the fused kernels): the states are the model's own, except that each
of the ROWS streams starts from a zero state (as the text's first token does). A bidirectional
model reads each chunk on its own (its reverse direction cannot carry a state forward).

Memory: layers x directions x H bytes per corpus token (2 x 256 units: 512 MB for 1 MB).

Search: for a hypothesis (units U, threshold th) and a span length L, every window of L tokens
is scored by the fraction of (unit, step) pairs in it where a unit of U is above th: one
comparison of |U| rows, a count per step, a cumulative sum. The best windows that do not
overlap come first; among equal scores, fewer other units on (LSTMVis's ranking) first,
chosen from a pool of the 5 x k best (ties in a fixed random order).
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError

ROWS = 64         # streams read side by side while indexing
CHUNK = 256       # steps per forward while indexing (bounds the buffers: CHUNK x ROWS x 4H)
LEVELS = 255      # 8-bit codes
POOL = 5          # windows ranked per match returned


class CorpusIndex:
    """h of every (layer, direction) over a corpus, as uint8 codes (H, N)."""

    def __init__(self, explorer, text: str, rows=ROWS, chunk=CHUNK, progress=None):
        if not explorer.reads_text:
            raise RnnlabError("--corpus is for text models: a corpus is searched token by token")
        vocab = explorer.subject.vocab
        ids = vocab.encode_counted(text, _unknown_policy(vocab))[0].astype(np.int64)
        if ids.size < 2:
            raise RnnlabError("the corpus has fewer than 2 tokens; pass a longer --corpus file")
        self.ids, self.tokens, self.sep = ids, list(vocab.tokens), vocab.separator
        self.N = N = ids.size
        B = max(1, min(rows, N // chunk))
        R = self.stream = -(-N // B)                    # steps per stream
        grid = np.zeros(B * R, np.int64)
        grid[:N] = ids
        grid = grid.reshape(B, R).T                     # (R, B): column b is stream b
        ex = explorer
        lo, hi = ex.spec.bounds.get("h", (None, None))
        self.codes = {}
        state, carry = None, ex.rnn.num_directions == 1
        for t0 in range(0, R, chunk):
            x = ex.model.layer_input(np.ascontiguousarray(grid[t0:t0 + chunk]))
            _, state, gates = ex.rnn.forward_with_gates(x, state if carry else None,
                                                        backend=ex.backend)
            if lo is None:                              # unbounded h (relu): scale from here
                m = max(float(np.abs(gates[(k, d, "h")]).max()) for (k, d, n) in gates
                        if n == "h")
                lo, hi = -max(m, 1e-6), max(m, 1e-6)
            for (k, d, n), a in gates.items():
                if n != "h":
                    continue
                codes = self.codes.get((k, d))
                if codes is None:
                    codes = self.codes[(k, d)] = np.empty((a.shape[2], B * R), np.uint8)
                q = np.rint((np.clip(a, lo, hi) - lo) * (LEVELS / (hi - lo)))
                codes.reshape(a.shape[2], B, R)[:, :, t0:t0 + a.shape[0]] = \
                    q.astype(np.uint8).transpose(2, 1, 0)
            if progress is not None:
                progress(min(t0 + chunk, R) * B, B * R)
        self.codes = {key: np.ascontiguousarray(c[:, :N]) for key, c in self.codes.items()}
        self.lo, self.hi = float(lo), float(hi)
        self.tie = np.random.default_rng(0).random(N).astype(np.float32)   # equal scores' order

    def describe(self) -> dict:
        return {"tokens": int(self.N), "bytes": int(sum(c.nbytes for c in self.codes.values()))}

    def level(self, threshold: float) -> int:
        """The code above which a value is above `threshold`."""
        return int(math.floor((min(max(threshold, self.lo), self.hi) - self.lo)
                              * LEVELS / (self.hi - self.lo)))

    def search(self, units, threshold, length, layer=0, direction=0, k=10, context=40):
        """The top `k` windows of `length` tokens where `units` are on together (above
        `threshold`): [{"start", "end", "score", "others", "left", "span", "right"}], best
        first. score: the fraction of (unit, step) pairs on; others: the mean number of units
        outside the hypothesis that are on, per step."""
        codes = self.codes.get((layer, direction))
        if codes is None:
            raise RnnlabError(f"layer {layer}, direction {direction} is not in the index")
        units = np.unique(np.asarray(units, np.int64))
        if units.size == 0:
            raise RnnlabError("the hypothesis has no units: choose a shorter span or a lower "
                              "threshold")
        if units[0] < 0 or units[-1] >= codes.shape[0]:
            raise RnnlabError(f"unit {int(units[-1] if units[-1] >= 0 else units[0])} does not "
                              f"exist: units are 0..{codes.shape[0] - 1}")
        L = int(min(max(length, 1), self.N))
        level = self.level(threshold)
        count = np.zeros(self.N + 1, np.int32)
        for u in units:                          # one row at a time: no (|U|, N) temporary
            count[1:] += codes[u] > level
        cum = np.cumsum(count, dtype=np.int64)
        win = cum[L:] - cum[:-L]                    # (unit, step) pairs on in [s, s + L)
        score = win / float(L * units.size)
        # a pool of POOL x k windows (ties in a fixed random order, so that a long run of
        # equal scores does not fill the pool from the corpus's start), ranked by score and
        # then by fewer other units on
        pool = [s for s in _best_windows(win, L, POOL * k, self.tie[:win.size])
                if score[s] > 0]
        others = [((codes[:, s:s + L] > level).sum() - (cum[s + L] - cum[s])) / L for s in pool]
        ranked = sorted(zip(pool, others), key=lambda p: (-score[p[0]], p[1]))[:k]
        return [{"start": int(s), "end": int(s + L), "score": round(float(score[s]), 4),
                 "others": round(float(o), 2), "left": self._text(max(0, s - context), s),
                 "span": self._text(s, s + L),
                 "right": self._text(s + L, min(self.N, s + L + context))} for s, o in ranked]

    def _text(self, a, b):
        return self.sep.join(self.tokens[i] for i in self.ids[a:b].tolist())


def _best_windows(win, L, k, tie):
    """Starts of the k windows with the largest counts `win` (ints >= 0), no two overlapping
    (greedy, best first; equal counts in the order of `tie`, a fixed random number per
    window). The candidates come from a histogram of the counts, not a partial sort: the
    counts take few values, and a partition of many equal keys is slow."""
    n = win.size
    at_least = np.cumsum(np.bincount(win)[::-1])[::-1]      # at_least[c] = #(win >= c)
    m = min(n, max(4 * k * L, 64))
    while True:
        c = int(np.flatnonzero(at_least >= m)[-1])
        sure, tied = np.flatnonzero(win > c), np.flatnonzero(win == c)
        need = m - sure.size
        if 0 < need < tied.size:
            tied = tied[np.argpartition(tie[tied], need - 1)[:need]]
        cand = np.concatenate([sure, tied if need > 0 else tied[:0]])
        cand = cand[np.lexsort((tie[cand], -win[cand]))]
        taken, chosen = np.zeros(n, bool), []
        for s in cand.tolist():
            if not taken[s]:
                chosen.append(s)
                taken[max(0, s - L + 1):s + L] = True       # windows overlapping this one
                if len(chosen) == k:
                    return chosen
        if m >= n:
            return chosen
        m = min(n, m * 4)


def _unknown_policy(vocab):
    from rnnlab.tasks.text import unknown_policy
    return unknown_policy(vocab)

"""Synthetic data: the seed note's toy examples and the classic long-memory tasks.

- Dinner rotation (pizza -> sushi -> waffles -> pizza ...): the smallest thing an RNN can learn.
- The children's book: sentences "Name saw Name2 ." over BOOK_WORDS, and a judge that counts
  the typical mistakes of a model that has not learned the grammar.
- Adding problem, copy memory, temporal order (Hochreiter & Schmidhuber 1997; Bai et al. 2018).
- Chorales: random four-voice diatonic progressions for the polyphonic music model.
- Melodies: scales and arpeggios, one voice, for the melody model.

Model inputs (one-hot, adding-problem values) are float32, the library's default dtype; token
inputs and targets are int64. Every generator takes `rng`: a seed or a numpy Generator.
"""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.validate import integer

DINNERS = ("pizza", "sushi", "waffles")
BOOK_WORDS = ("Doug", "Jane", "Spot", "saw", ".")
BOOK_NAMES = ("Doug", "Jane", "Spot")
# Temporal order: ids 0-3 are noise symbols, 4/5 the relevant X/Y, 6/7 the start/end markers.
TEMPORAL_ORDER_ALPHABET = ("a", "b", "c", "d", "X", "Y", "B", "E")


def _positive(name: str, v, minimum: int = 1) -> int:
    return integer(name, v, minimum)


def dinner_days(n_days: int, start: int = 0) -> np.ndarray:
    """Dinner ids `(n_days,)` int64 following the fixed rotation, starting at DINNERS[start]."""
    return (int(start) + np.arange(_positive("n_days", n_days, 0))) % len(DINNERS)


def one_hot(ids, V: int, dtype=np.float32) -> np.ndarray:
    """ids `(n,)` (any shape) -> `(n, V)` one-hot rows."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise RnnlabError(f"ids must be in 0..{V - 1}, got {int(ids.min())}..{int(ids.max())}")
    return np.eye(V, dtype=dtype)[ids]


def book_corpus(n_sentences: int, seed=0) -> list:
    """Tokens of `n_sentences` sentences "Name saw Name2 ." with Name2 != Name."""
    rng = np.random.default_rng(seed)
    tokens = []
    for _ in range(_positive("n_sentences", n_sentences, 0)):
        a = int(rng.integers(3))
        b = (a + 1 + int(rng.integers(2))) % 3  # one of the two OTHER names
        tokens += [BOOK_NAMES[a], "saw", BOOK_NAMES[b], "."]
    return tokens


def _is_chain(s) -> bool:
    """Name saw Name saw Name ... (names at even positions, 'saw' at odd), odd length."""
    return len(s) % 2 == 1 and all(
        (w in BOOK_NAMES) if i % 2 == 0 else (w == "saw") for i, w in enumerate(s)
    )


# What judge_sentences counts, in the order the lesson shows them: the grammatical sentences,
# then the mistakes a model without enough memory makes.
SENTENCE_KINDS = ("grammatical", "self_reference", "run_on", "missing_period", "fragment",
                  "other")


def sentence_kind(s) -> str:
    """The kind of one sentence (its words, without the '.'); see judge_sentences."""
    if _is_chain(s) and len(s) == 3:
        return "grammatical" if s[0] != s[2] else "self_reference"
    if _is_chain(s) and len(s) > 3:
        return "run_on"
    if len(s) > 3 and _is_chain(s[:3]) and s[3] in BOOK_NAMES:
        return "missing_period"
    if 1 <= len(s) < 3 and _is_chain(s[:1]) and s[1:] in ([], ["saw"]):
        return "fragment"
    return "other"


def judge_sentences(tokens) -> dict:
    """Split a token stream at '.' and classify each finished sentence.

    The grammar has one rule: Sentence -> Name 'saw' OtherName '.', Name in BOOK_NAMES and the
    object different from the subject. Mistake kinds (SENTENCE_KINDS):
      self_reference  Name saw Name .             ("Doug saw Doug .")
      run_on          Name saw Name saw Name ...  (a chain longer than one clause: the period
                                                   after the object never came)
      missing_period  Name saw Name Name ...      ("Doug saw Jane Spot saw Doug .": the next
                                                   sentence starts without the period)
      fragment        Name .  or  Name saw .      (the period came too early)
      other           anything else (wrong word order, empty sentence, "saw saw", ...)
    Tokens after the last '.' are an unfinished sentence, counted in 'unfinished' only.
    Returns {'total', <each of SENTENCE_KINDS>, 'unfinished'}.
    """
    counts = dict(total=0, **dict.fromkeys(SENTENCE_KINDS, 0), unfinished=0)
    sentence = []
    for tok in tokens:
        if tok != ".":
            sentence.append(tok)
            continue
        counts["total"] += 1
        counts[sentence_kind(sentence)] += 1
        sentence = []
    counts["unfinished"] = int(bool(sentence))
    return counts


def adding_problem(T: int, n: int, rng=0):
    """x `(T, n, 2)` float32: channel 0 values U[0, 1], channel 1 a marker that is 1 at exactly
    two steps, one in [0, T//2) and one in [T//2, T). y `(n, 1)` float32: sum of the two marked
    values. Predicting 1.0 always gives MSE 1/6 ~ 0.167, the baseline to beat."""
    T, n = _positive("T", T, 2), _positive("n", n)
    rng = np.random.default_rng(rng)
    x = np.zeros((T, n, 2), np.float32)
    x[:, :, 0] = rng.uniform(0, 1, (T, n))
    half = T // 2
    cols = np.arange(n)
    p1 = rng.integers(0, half, n)
    p2 = rng.integers(half, T, n)
    x[p1, cols, 1] = 1.0
    x[p2, cols, 1] = 1.0
    y = (x[p1, cols, 0] + x[p2, cols, 0])[:, None].astype(np.float32)
    return x, y


def copy_memory(T: int, n: int, rng=0, n_symbols: int = 8, length: int = 10):
    """Copy-memory task. Tokens: 0 blank, 1..n_symbols symbols, n_symbols+1 delimiter
    (vocabulary n_symbols + 2). Input of T + 2*length steps: `length` random symbols, T-1 blanks,
    the delimiter, `length` blanks. Target: blanks, then the symbols in the last `length` steps.
    Returns x, y each `(T + 2*length, n)` int64."""
    T, n = _positive("T", T), _positive("n", n)
    n_symbols, length = _positive("n_symbols", n_symbols), _positive("length", length)
    rng = np.random.default_rng(rng)
    total = T + 2 * length
    symbols = rng.integers(1, n_symbols + 1, (length, n))
    x = np.zeros((total, n), np.int64)
    y = np.zeros((total, n), np.int64)
    x[:length] = symbols
    x[length + T - 1] = n_symbols + 1
    y[-length:] = symbols
    return x, y


def copy_baseline(length: int = 10, T: int = 100, n_symbols: int = 8) -> float:
    """Mean cross-entropy per step of the best memoryless guess: blanks everywhere, and a
    uniform guess over the symbols for the last `length` steps: length*log(n_symbols)/(T+2*length)
    (Bai et al. 2018: 10 log 8 / (T + 20))."""
    return length * math.log(n_symbols) / (T + 2 * length)


def temporal_order(T: int, n: int, rng=0):
    """Temporal-order task (Hochreiter & Schmidhuber 1997, task 6a). Alphabet of 8 symbols
    (TEMPORAL_ORDER_ALPHABET): the sequence starts with B (6) and ends with E (7); every other
    step is noise a-d (0-3) except two steps t1 in [0.1T, 0.2T] and t2 in [0.5T, 0.6T] holding
    X (4) or Y (5). Class = order of the two: XX 0, XY 1, YX 2, YY 3.
    Returns x `(T, n)` int64, y `(n,)` int64."""
    T, n = _positive("T", T, 10), _positive("n", n)
    rng = np.random.default_rng(rng)
    x = rng.integers(0, 4, (T, n))
    x[0], x[-1] = 6, 7
    cols = np.arange(n)
    t1 = rng.integers(round(0.1 * T), round(0.2 * T) + 1, n)
    t2 = rng.integers(round(0.5 * T), round(0.6 * T) + 1, n)
    s1, s2 = rng.integers(0, 2, n), rng.integers(0, 2, n)  # 0 = X, 1 = Y
    x[t1, cols] = 4 + s1
    x[t2, cols] = 4 + s2
    return x.astype(np.int64), (2 * s1 + s2).astype(np.int64)


# Chorales: C major triads and where each chord may go next (a small functional harmony).
_CHORDS = {"I": (0, 4, 7), "IV": (5, 9, 0), "V": (7, 11, 2), "vi": (9, 0, 4)}
_NEXT = {"I": ("IV", "V", "vi"), "IV": ("V", "I"), "V": ("I", "vi"), "vi": ("IV", "V")}
_RANGES = {"S": (60, 81), "A": (55, 74), "T": (48, 67), "B": (36, 60)}  # SATB, MIDI pitches


def _voice(rng, chord, prev, lo, hi, below, root_only=False):
    """A chord tone in [lo, hi], strictly below `below`, nearest the voice's previous pitch."""
    pcs = (chord[0],) if root_only else chord
    cands = [p for p in range(lo, min(hi, below - 1) + 1) if p % 12 in pcs]
    if not cands:  # cannot happen with these ranges; fall back to any chord tone in range
        cands = [p for p in range(lo, hi + 1) if p % 12 in pcs]
    if prev is None:
        return int(rng.choice(cands))
    return min(cands, key=lambda p: (abs(p - prev), p))


def chorales(n: int, T: int, seed=0) -> list:
    """n random four-voice progressions in C major, T steps each (note-step format). Chords
    I, IV, V, vi follow a simple functional grammar, each held 2-4 steps; soprano, alto, tenor
    and bass stay in their ranges, move to the nearest chord tone, and the bass plays the root."""
    n, T = _positive("n", n), _positive("T", T)
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n):
        steps, chord, prev = [], "I", dict.fromkeys("SATB")
        while len(steps) < T:
            pcs = _CHORDS[chord]
            s = _voice(rng, pcs, prev["S"], *_RANGES["S"], below=128)
            a = _voice(rng, pcs, prev["A"], *_RANGES["A"], below=s)
            t = _voice(rng, pcs, prev["T"], *_RANGES["T"], below=a)
            b = _voice(rng, pcs, prev["B"], *_RANGES["B"], below=t, root_only=True)
            prev = dict(S=s, A=a, T=t, B=b)
            steps += [sorted({s, a, t, b}) for _ in range(int(rng.integers(2, 5)))]
            chord = str(rng.choice(_NEXT[chord]))
        seqs.append(steps[:T])
    return seqs


# Melodies: scales and arpeggios, semitones above the tonic, for the melody model.
_PHRASES = {"scale up": (0, 2, 4, 5, 7, 9, 11, 12), "scale down": (12, 11, 9, 7, 5, 4, 2, 0),
            "arpeggio up": (0, 4, 7, 12), "arpeggio down": (12, 7, 4, 0),
            "arpeggio up-down": (0, 4, 7, 12, 7, 4, 0)}


def melodies(n: int, phrases: int = 4, seed=0) -> list:
    """n one-voice pieces (note-step format, one pitch or none per step) with known structure:
    each piece has a tonic (MIDI 55-66) and a note length (1, 2 or 4 steps) of its own and
    plays `phrases` phrases, each a major scale or arpeggio from _PHRASES starting on the
    tonic's octave, followed by a rest of twice the note length. No pitch repeats on
    consecutive notes, so the steps keep every note apart. Given a piece's tonic, note length
    and a phrase's first two notes, the rest of the phrase is determined."""
    n, phrases = _positive("n", n), _positive("phrases", phrases)
    rng = np.random.default_rng(seed)
    names = sorted(_PHRASES)
    pieces = []
    for _ in range(n):
        tonic, dur = int(rng.integers(55, 67)), int(rng.choice([1, 2, 4]))
        steps = []
        for _ in range(phrases):
            for semis in _PHRASES[names[int(rng.integers(len(names)))]]:
                steps += [[tonic + semis]] * dur
            steps += [[] for _ in range(2 * dur)]
        pieces.append(steps)
    return pieces

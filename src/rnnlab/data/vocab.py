"""The token vocabulary of a text model, with an unknown token `<unk>`.

    vocab = Vocab.build(text, level="char")                 # every character seen, plus <unk>
    vocab = Vocab.build(text, level="word", min_count=2)    # words seen once become <unk>
    ids = vocab.encode(text)                                 # unseen tokens -> <unk>'s id
    ids, unknown = vocab.encode_counted(new_text)            # ... and how many there were

`<unk>` stands for every token the vocabulary does not hold: tokens rarer than `min_count` in
the training text (or beyond the `max_vocab` most frequent), and tokens never seen at all. It
is trained like any other token, on the rare tokens mapped to it, so its probability is the
model's estimate of "a token I do not know comes next" (with `min_count=2` that is the share
of tokens seen once, Good and Turing's estimate of the unseen). A vocabulary saved before
`<unk>` existed has none: `encode_counted(..., unknown="skip")` then drops unknown tokens and
counts them.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.validate import is_integer, positive_int

UNK = "<unk>"
# Words, whitespace runs and single punctuation marks: together they cover every character, so
# "".join(tokens) gives the text back exactly (decode(encode(t)) == t when nothing is unknown).
# "<unk>" in a text is three tokens ("<", "unk", ">"): it can never clash with UNK.
WORD_RE = re.compile(r"\w+|\s+|[^\w\s]")
LEVELS = ("char", "word")
# Char-level work goes this many characters at a time, to bound temporary memory.
CHUNK = 1 << 20
_UNKNOWN = ("map", "skip", "error")


def id_dtype(size: int):
    """The smallest unsigned dtype that holds ids 0..size-1."""
    if size <= 1 << 8:
        return np.uint8
    if size <= 1 << 16:
        return np.uint16
    return np.uint32


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), np.uint32)


@dataclass
class Unknown:
    """What `encode_counted` did not find in the vocabulary: how many tokens, and how often
    each distinct one occurred."""
    count: int = 0
    tokens: Counter = field(default_factory=Counter)

    def examples(self, k=5):
        """The k most frequent unknown tokens, as repr()s for a message."""
        return [repr(t) for t, _ in self.tokens.most_common(k)]


def count_tokens(text: str, level: str) -> Counter:
    """token -> occurrences in `text`; chars are counted in pieces (bincount over code points,
    no list of every character)."""
    if level == "word":
        return Counter(m.group() for m in WORD_RE.finditer(text))
    counts = np.zeros(0x110000, np.int64)
    for start in range(0, len(text), CHUNK):
        cps = _code_points(text[start:start + CHUNK])
        counts[:cps.max() + 1] += np.bincount(cps)
    return Counter({chr(c): int(counts[c]) for c in np.flatnonzero(counts)})


def keep_tokens(counts: dict, min_count: int = 1, max_vocab: int = 0) -> list:
    """The tokens a vocabulary keeps (sorted): those seen at least `min_count` times, and of
    those only the `max_vocab - 1` most frequent when `max_vocab` is set (<unk> is the last
    place); ties go to the token that sorts first."""
    positive_int("--min-count", min_count)
    if not is_integer(max_vocab) or max_vocab < 0 or max_vocab in (1, 2):
        raise RnnlabError(f"--max-vocab must be 0 (no limit) or at least 3 (2 tokens and <unk>),"
                          f" got {max_vocab!r}")
    kept = [t for t, n in counts.items() if n >= min_count]
    if max_vocab:
        kept = sorted(kept, key=lambda t: (-counts[t], t))[:max_vocab - 1]
    return sorted(kept)


class Vocab:
    """Token <-> id table. `tokens[i]` is the token with id i, sorted (so deterministic).

    Char level: single characters. Word level: words (`\\w+`), whitespace runs and single
    punctuation characters, so spaces and newlines are tokens too and decoding is exact.
    A vocabulary whose tokens include UNK ("<unk>") maps every token it lacks to it.

    A word-level vocabulary made by hand without whitespace tokens (the demo's dinners, the
    children's book) reads whitespace as the gap between words, not as a token:
    `separator` is then " " (encode skips whitespace, decode puts one space between words);
    otherwise it is "" (whitespace runs are tokens and decoding is exact).
    """

    def __init__(self, tokens, level: str = "char"):
        if level not in LEVELS:
            raise RnnlabError(f"vocab level {level!r} is not known; use 'char' or 'word'")
        tokens = list(tokens)
        if not all(isinstance(t, str) and t for t in tokens):
            raise RnnlabError("vocab tokens must be non-empty strings; rebuild the vocab")
        if len(set(tokens)) != len(tokens):
            raise RnnlabError("vocab tokens contain duplicates; rebuild the vocab")
        if level == "char" and any(len(t) != 1 and t != UNK for t in tokens):
            raise RnnlabError("a char-level vocab holds single characters (and <unk>); "
                              "rebuild the vocab")
        self.level = level
        self.tokens = tokens
        self._index = {t: i for i, t in enumerate(tokens) if t != UNK}
        self.unk_id = tokens.index(UNK) if UNK in tokens else None
        self.dtype = id_dtype(len(tokens))
        self.separator = " " if level == "word" and not any(t.isspace() for t in tokens) else ""
        if level == "char":   # sorted code points and their ids, for a binary search
            chars = sorted(self._index)
            self._codes = np.array([ord(c) for c in chars], np.uint32)
            self._code_ids = np.array([self._index[c] for c in chars], np.int64)

    @classmethod
    def build(cls, text: str, level: str = "char", min_count: int = 1, max_vocab: int = 0,
              unk: bool = True) -> "Vocab":
        """The tokens of `text` seen at least `min_count` times (at most `max_vocab` tokens in
        all, <unk> included), sorted, plus <unk> (unless unk=False: then min_count and
        max_vocab must drop nothing). Fewer than 2 kept tokens is an error."""
        if level not in LEVELS:
            raise RnnlabError(f"vocab level {level!r} is not known; use 'char' or 'word'")
        return cls.from_counts(count_tokens(text, level), level, min_count, max_vocab, unk)

    @classmethod
    def from_counts(cls, counts: dict, level: str, min_count: int = 1, max_vocab: int = 0,
                    unk: bool = True) -> "Vocab":
        tokens = keep_tokens(counts, min_count, max_vocab)
        if len(tokens) < 2:
            if len(counts) < 2:
                got = "no tokens" if not counts else f"only the token {next(iter(counts))!r}"
                raise RnnlabError(f"the text has {got}; a model needs at least 2 distinct "
                                  f"{level} tokens to learn")
            raise RnnlabError(f"only {len(tokens)} of the text's {len(counts)} distinct {level} "
                              f"tokens are seen at least --min-count {min_count} times; a model "
                              f"needs 2: lower --min-count or raise --max-vocab")
        if not unk and len(tokens) < len(counts):
            raise RnnlabError("a vocabulary without <unk> must keep every token; pass unk=True")
        return cls(sorted(tokens + [UNK]) if unk else tokens, level)

    @property
    def size(self) -> int:
        """V, the number of tokens (<unk> included)."""
        return len(self.tokens)

    @property
    def has_unk(self) -> bool:
        return self.unk_id is not None

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and (self.level, self.tokens) == (other.level, other.tokens)

    def __contains__(self, token) -> bool:
        return token in self._index

    # ----- encoding ---------------------------------------------------------------------------
    def encode(self, text: str, unknown: str | None = None) -> np.ndarray:
        """text -> ids `(N,)` in `self.dtype`. unknown: what to do with a token the vocabulary
        lacks: 'map' to <unk> (the default when there is one), 'skip' it, or 'error' (the
        default without <unk>: the message names the token and where it is)."""
        return self.encode_counted(text, unknown)[0]

    def encode_counted(self, text: str, unknown: str | None = None):
        """-> (ids, Unknown): encode() and what it did not find."""
        unknown = unknown or ("map" if self.has_unk else "error")
        if unknown not in _UNKNOWN:
            raise RnnlabError(f"unknown must be one of {', '.join(_UNKNOWN)}, got {unknown!r}")
        if unknown == "map" and not self.has_unk:
            raise RnnlabError("this vocabulary has no <unk> (it was saved before rnnlab had "
                              "one): pass unknown='skip' or 'error'")
        found = Unknown()
        if self.level == "char":
            return self._encode_chars(text, unknown, found), found
        ids = np.empty(len(text), self.dtype)  # upper bound on the token count
        n, index, unk = 0, self._index, self.unk_id
        for m in WORD_RE.finditer(text):
            if self.separator and m.group().isspace():
                continue                    # the gap between words, not a token
            i = index.get(m.group())
            if i is None:
                if unknown == "error":
                    self._unknown(m.group(), m.start())
                found.count += 1
                found.tokens[m.group()] += 1
                if unknown == "skip":
                    continue
                i = unk
            ids[n] = i
            n += 1
        return ids[:n].copy(), found

    def _encode_chars(self, text, unknown, found):
        # Code points via UTF-32 and a binary search: ~100x faster than a dict lookup per char.
        out = np.empty(len(text), self.dtype)
        n = 0
        for start in range(0, len(text), CHUNK):
            part = text[start:start + CHUNK]
            cps = _code_points(part)
            pos = np.minimum(np.searchsorted(self._codes, cps), len(self._codes) - 1)
            ids = self._code_ids[pos]
            bad = self._codes[pos] != cps
            if bad.any():
                where = np.flatnonzero(bad)
                if unknown == "error":
                    self._unknown(part[where[0]], start + int(where[0]))
                found.count += len(where)
                codes, counts = np.unique(cps[where], return_counts=True)
                found.tokens.update({chr(c): int(k) for c, k in zip(codes, counts)})
                if unknown == "skip":
                    ids = ids[~bad]
                else:
                    ids[bad] = self.unk_id
            out[n:n + len(ids)] = ids
            n += len(ids)
        return out[:n] if n < len(out) else out

    def _unknown(self, token: str, offset: int):
        raise RnnlabError(
            f"{token!r} at character {offset} is not in the model's {self.level} vocabulary "
            f"({self.size} tokens); use only tokens seen in training"
        )

    def decode(self, ids) -> str:
        """ids (any int array or list) -> text (<unk> is written as "<unk>")."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise RnnlabError(
                f"token id {int(ids.max() if ids.max() >= self.size else ids.min())} is outside "
                f"the vocabulary 0..{self.size - 1}; check the model and vocab belong together"
            )
        tokens = self.tokens
        return self.separator.join(tokens[i] for i in ids.tolist())

    # ----- saving -------------------------------------------------------------------------------
    def to_json(self) -> dict:
        d = {"level": self.level, "tokens": list(self.tokens)}
        if self.has_unk:
            d["unk"] = UNK
        return d

    @classmethod
    def from_json(cls, d) -> "Vocab":
        """A saved vocabulary; one saved before <unk> existed (no "unk" key) loads without it."""
        if not isinstance(d, dict) or "tokens" not in d or "level" not in d:
            raise RnnlabError(
                "vocab JSON must be an object with 'level' and 'tokens'; the run folder is damaged"
            )
        if not isinstance(d["tokens"], list):
            raise RnnlabError("vocab JSON 'tokens' must be a list of strings; the run is damaged")
        if d.get("unk") is not None and (d["unk"] != UNK or UNK not in d["tokens"]):
            raise RnnlabError(f"vocab JSON names the unknown token {d['unk']!r} but its tokens "
                              f"lack {UNK!r}; the run folder is damaged")
        return cls(d["tokens"], d["level"])

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={self.size}, unk={self.has_unk})"

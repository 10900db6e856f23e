"""Text data: reading a corpus, a token vocabulary, and truncated-BPTT batches.

The pipeline for a text model is::

    text = read_text("input.txt")
    vocab = Vocab.build(text, level="char")        # or level="word"
    ids = vocab.encode(text)                        # (N,) uint8/uint16/uint32
    train_ids, val_ids = split_ids(ids, 0.1)        # validation = the end of the text
    stream = TokenStream(train_ids, batch=32, seq_len=64)
    x, y = stream.get(k)                            # (T, B) int64 each, y = next token

The ids of a large corpus (100 MB) are kept as one array; the batcher only takes views of it.
"""

from __future__ import annotations

import os
import re

import numpy as np

from rnnlab.errors import RnnlabError

# Words, whitespace runs and single punctuation marks: together they cover every character, so
# "".join(tokens) gives the text back exactly (decode(encode(t)) == t).
_WORD_RE = re.compile(r"\w+|\s+|[^\w\s]")
_LEVELS = ("char", "word")
# Char-level encoding works on this many characters at a time, to bound temporary memory.
_CHUNK = 1 << 20


def read_text(path, encoding: str = "utf-8") -> str:
    """Read a whole text file; errors name the file and the fix."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise RnnlabError(f"{path} is a directory, expected a text file; pass the file itself")
    if not os.path.exists(path):
        raise RnnlabError(f"text file {path} not found; check the path")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise RnnlabError(f"text file {path} is empty; a model needs text to learn from")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise RnnlabError(
            f"{path} is not valid {encoding}: bad byte 0x{raw[e.start]:02x} at byte offset "
            f"{e.start}; if the file uses another encoding pass e.g. --encoding latin-1"
        ) from None
    except LookupError:
        raise RnnlabError(
            f"unknown encoding {encoding!r}; use a Python codec name such as utf-8 or latin-1"
        ) from None
    if not text:
        raise RnnlabError(f"text file {path} is empty; a model needs text to learn from")
    return text


def _id_dtype(size: int):
    """The smallest unsigned dtype that holds ids 0..size-1."""
    if size <= 1 << 8:
        return np.uint8
    if size <= 1 << 16:
        return np.uint16
    return np.uint32


class Vocab:
    """Token <-> id table. `tokens[i]` is the token with id i (tokens sorted, so deterministic).

    Char level: every distinct character. Word level: words (`\\w+`), whitespace runs and single
    punctuation characters, so spaces and newlines are tokens too and decoding is exact.
    """

    def __init__(self, tokens, level: str = "char"):
        if level not in _LEVELS:
            raise RnnlabError(f"vocab level {level!r} is not known; use 'char' or 'word'")
        tokens = list(tokens)
        if not all(isinstance(t, str) and t for t in tokens):
            raise RnnlabError("vocab tokens must be non-empty strings; rebuild the vocab")
        if len(set(tokens)) != len(tokens):
            raise RnnlabError("vocab tokens contain duplicates; rebuild the vocab")
        if level == "char" and any(len(t) != 1 for t in tokens):
            raise RnnlabError("a char-level vocab holds single characters; rebuild the vocab")
        self.level = level
        self.tokens = tokens
        self._index = {t: i for i, t in enumerate(tokens)}
        self.dtype = _id_dtype(len(tokens))
        # Sorted code points for fast char-level encoding (tokens are sorted by code point).
        self._codes = np.array(sorted(ord(t) for t in tokens), np.uint32) if level == "char" else None
        self._code_ids = (
            np.array([self._index[chr(c)] for c in self._codes], np.int64)
            if level == "char" else None
        )

    @classmethod
    def build(cls, text: str, level: str = "char") -> "Vocab":
        """All distinct tokens of `text`, sorted. One distinct token is an error."""
        if level not in _LEVELS:
            raise RnnlabError(f"vocab level {level!r} is not known; use 'char' or 'word'")
        tokens = sorted(set(text) if level == "char" else  # finditer: no list of every token
                        {m.group() for m in _WORD_RE.finditer(text)})
        if len(tokens) < 2:
            got = "no tokens" if not tokens else f"only the token {tokens[0]!r}"
            raise RnnlabError(
                f"the text has {got}; a model needs at least 2 distinct {level} tokens to learn"
            )
        return cls(tokens, level)

    @property
    def size(self) -> int:
        """V, the number of tokens."""
        return len(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and (self.level, self.tokens) == (other.level, other.tokens)

    def encode(self, text: str) -> np.ndarray:
        """text -> ids `(N,)` in `self.dtype`. An unknown token raises, naming it and where."""
        if self.level == "char":
            return self._encode_chars(text)
        ids = np.empty(len(text), self.dtype)  # upper bound on the token count
        n = 0
        index = self._index
        for m in _WORD_RE.finditer(text):
            i = index.get(m.group())
            if i is None:
                self._unknown(m.group(), m.start())
            ids[n] = i
            n += 1
        return ids[:n].copy()

    def _encode_chars(self, text: str) -> np.ndarray:
        # Code points via UTF-32 and a binary search: ~100x faster than a dict lookup per char.
        out = np.empty(len(text), self.dtype)
        for start in range(0, len(text), _CHUNK):
            part = text[start:start + _CHUNK]
            cps = np.frombuffer(part.encode("utf-32-le"), np.uint32)
            pos = np.searchsorted(self._codes, cps)
            pos = np.minimum(pos, len(self._codes) - 1)
            bad = np.flatnonzero(self._codes[pos] != cps)
            if bad.size:
                self._unknown(part[bad[0]], start + int(bad[0]))
            out[start:start + len(part)] = self._code_ids[pos]
        return out

    def _unknown(self, token: str, offset: int):
        raise RnnlabError(
            f"{token!r} at character {offset} is not in the model's {self.level} vocabulary "
            f"({self.size} tokens); use only tokens seen in training"
        )

    def decode(self, ids) -> str:
        """ids (any int array or list) -> text."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise RnnlabError(
                f"token id {int(ids.max() if ids.max() >= self.size else ids.min())} is outside "
                f"the vocabulary 0..{self.size - 1}; check the model and vocab belong together"
            )
        tokens = self.tokens
        return "".join(tokens[i] for i in ids.tolist())

    def to_json(self) -> dict:
        return {"level": self.level, "tokens": list(self.tokens)}

    @classmethod
    def from_json(cls, d) -> "Vocab":
        if not isinstance(d, dict) or "tokens" not in d or "level" not in d:
            raise RnnlabError(
                "vocab JSON must be an object with 'level' and 'tokens'; the run folder is damaged"
            )
        if not isinstance(d["tokens"], list):
            raise RnnlabError("vocab JSON 'tokens' must be a list of strings; the run is damaged")
        return cls(d["tokens"], d["level"])

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={self.size})"


def _check_ids(ids, what="ids") -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (ids.dtype.kind in "ui" or ids.size == 0):
        raise RnnlabError(
            f"{what} must be a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}; "
            "pass Vocab.encode(text)"
        )
    return ids


def split_ids(ids, val_fraction: float):
    """Split `ids (N,)` into (train, val) views; validation is the END of the text."""
    ids = _check_ids(ids)
    if not 0.0 <= float(val_fraction) <= 0.5:
        raise RnnlabError(
            f"val_fraction is {val_fraction}, expected a number in [0, 0.5]; try 0.1"
        )
    n_val = int(len(ids) * float(val_fraction))
    return ids[:len(ids) - n_val], ids[len(ids) - n_val:]


class TokenStream:
    """Char-rnn style batches for truncated BPTT.

    The ids are cut into `batch` contiguous streams of length L = (N - 1) // batch. Batch k is
    columns [k*T, (k+1)*T) of every stream, so row b of batch k+1 continues row b of batch k and
    the hidden state can be carried across batches. `get(k)` is a pure function of k (modulo
    `batches_per_epoch`), so resuming needs only k.
    """

    def __init__(self, ids, batch: int, seq_len: int):
        ids = _check_ids(ids)
        for name, v in (("batch", batch), ("seq_len", seq_len)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise RnnlabError(f"{name} is {v!r}, expected a positive integer")
        self.batch, self.seq_len = int(batch), int(seq_len)
        needed = self.batch * self.seq_len + 1
        if len(ids) < needed:
            raise RnnlabError(
                f"the text has {len(ids)} tokens but one batch needs {needed} "
                f"(batch {self.batch} x seq_len {self.seq_len} + 1); use a longer text or "
                "smaller --batch/--seq-len"
            )
        L = (len(ids) - 1) // self.batch
        # Views, not copies: x streams and y streams (shifted by one) share the caller's array.
        self._x = ids[:self.batch * L].reshape(self.batch, L)
        self._y = ids[1:self.batch * L + 1].reshape(self.batch, L)
        self.stream_len = L
        self.batches_per_epoch = L // self.seq_len

    def __len__(self) -> int:
        return self.batches_per_epoch

    def get(self, k: int):
        """Batch k (mod batches_per_epoch) -> x, y each `(T, B)` int64, y[t] = token after x[t]."""
        k = int(k) % self.batches_per_epoch
        cols = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return self._x[:, cols].T.astype(np.int64), self._y[:, cols].T.astype(np.int64)

    def __iter__(self):
        return (self.get(k) for k in range(self.batches_per_epoch))


_ASCII_COMPATIBLE = {"utf-8", "utf8", "utf_8", "ascii", "us-ascii", "latin-1", "latin1",
                     "iso-8859-1", "iso8859-1", "cp1252", "windows-1252"}


def read_ascii_char_ids(path, encoding: str = "utf-8", vocab: "Vocab | None" = None,
                        chunk: int = 1 << 22):
    """Char-level fast path for large files: -> (vocab, ids) without ever holding the text as
    a str. Reads the file twice in `chunk`-byte pieces (a bincount for the vocabulary, then a
    table lookup into one preallocated id array), so the only large allocation is the ids
    (1 byte per char for up to 256 distinct chars). Returns None when the file is not pure
    ASCII in an ASCII-compatible encoding, is empty, has fewer than 2 distinct chars, or holds
    a char outside `vocab`: the caller then takes the general path (read_text +
    Vocab.build/encode), which also produces the usual located error messages."""
    if str(encoding).lower().replace(" ", "") not in _ASCII_COMPATIBLE:
        return None
    path = os.fspath(path)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    n = os.path.getsize(path)
    buf = np.empty(chunk, np.uint8)
    counts = np.zeros(256, np.int64)
    with open(path, "rb") as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            counts += np.bincount(buf[:k], minlength=256)
    codes = np.flatnonzero(counts)
    if codes.size < 2 or codes[-1] >= 128:
        return None
    if vocab is None:
        vocab = Vocab([chr(c) for c in codes], "char")
    elif vocab.level != "char" or any(chr(c) not in vocab._index for c in codes):
        return None
    table = np.zeros(128, vocab.dtype)
    table[codes] = [vocab._index[chr(c)] for c in codes]
    ids = np.empty(n, vocab.dtype)
    pos = 0
    with open(path, "rb") as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            ids[pos:pos + k] = table[buf[:k]]
            pos += k
    return vocab, ids[:pos]

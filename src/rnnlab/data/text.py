"""Text data: reading a corpus, a token vocabulary, and truncated-BPTT batches.

The pipeline for a text model is::

    text = read_text("input.txt")
    vocab = Vocab.build(text, level="char")        # or level="word"; plus <unk> (vocab.py)
    ids = vocab.encode(text)                        # (N,) uint8/uint16/uint32
    train_ids, val_ids = split_ids(ids, 0.1)        # validation = the end of the text
    stream = TokenStream(train_ids, batch=32, seq_len=64)
    x, y = stream.get(k)                            # (T, B) int64 each, y = next token

The ids of a large corpus (100 MB) are kept as one array; the batcher only takes views of it.
"""

from __future__ import annotations

import os

import numpy as np

from rnnlab.data.vocab import UNK, Unknown, Vocab, keep_tokens  # noqa: F401  (the text API)
from rnnlab.errors import RnnlabError
from rnnlab.validate import positive_int

# Bytes that no text file holds (controls other than tab, newline, form feed, carriage
# return, escape and backspace); a file where many of them are is binary.
_CONTROL = np.zeros(256, bool)
_CONTROL[[b for b in range(32) if b not in (8, 9, 10, 12, 13, 27)] + [127]] = True


def _binary(path, raw: bytes, encoding: str) -> RnnlabError | None:
    """An error when `raw` looks like a binary file (a NUL byte, or over 10% control bytes in
    its first 8 kB), else None. Wide encodings (utf-16/32) hold NULs and are not checked."""
    if str(encoding).lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32")):
        return None
    nul = raw.find(b"\x00")
    head = np.frombuffer(raw[:8192], np.uint8)
    if nul < 0 and (head.size == 0 or _CONTROL[head].mean() <= 0.1):
        return None
    why = f"a NUL byte at offset {nul}" if nul >= 0 else \
        f"{_CONTROL[head].mean():.0%} control bytes in its first {head.size} bytes"
    return RnnlabError(f"{path} looks binary, not text ({why}); pass a text file (.txt), a CSV, "
                       f"notes JSON or MIDI")


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
    binary = _binary(path, raw, encoding)
    if binary is not None:
        raise binary
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
            positive_int(name, v)
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
                        chunk: int = 1 << 22, min_count: int = 1, max_vocab: int = 0):
    """Char-level fast path for large files: -> (vocab, ids) without ever holding the text as
    a str. Reads the file twice in `chunk`-byte pieces (a bincount for the vocabulary, then a
    table lookup into one preallocated id array), so the only large allocation is the ids
    (1 byte per char for up to 256 distinct chars). Without `vocab` it builds one as
    Vocab.build(text, "char", min_count, max_vocab) would (rare chars -> <unk>); with one, chars
    outside it map to its <unk>. Returns None when the file is not pure ASCII in an
    ASCII-compatible encoding, is empty, looks binary, has fewer than 2 kept chars, or holds a
    char outside a `vocab` without <unk>: the caller then takes the general path (read_text +
    Vocab.build/encode), which gives the same result or the usual located error message."""
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
    if codes[-1] >= 128 or counts[0] or counts[_CONTROL].sum() > 0.1 * n:
        return None                         # not ASCII, or binary: read_text says which
    if vocab is None:
        kept = keep_tokens({chr(c): int(counts[c]) for c in codes}, min_count, max_vocab)
        if len(kept) < 2:
            return None
        vocab = Vocab(sorted(kept + [UNK]), "char")
    elif vocab.level != "char" or (not vocab.has_unk and any(chr(c) not in vocab for c in codes)):
        return None
    table = np.zeros(128, vocab.dtype)
    table[codes] = [vocab.encode(chr(c), "map" if vocab.has_unk else "error")[0] for c in codes]
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

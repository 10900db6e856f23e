"""Tasks: what the trainer trains on. A task turns a user's file into batches and a validation
score, and carries what a saved model needs to read new data (the vocabulary, say).

The trainer talks to every task through the same small interface:

    task.kind                      'text' | 'series' | 'music'
    task.input_size, task.output_size
    task.carries_state             True when batch k+1 continues batch k (truncated BPTT)
    task.batches_per_epoch
    task.batch(k)                  -> (inputs, targets, mask or None) for training step k
    task.validation_loss(model)    -> mean loss over the validation part (eval mode)
    task.meta()                    -> JSON-ready dict saved in config.json["data"]

Text: char-rnn's scheme. The token ids are cut into B contiguous streams; batch k is the k-th
window of T tokens of every stream, so the state is carried from one batch to the next.
"""
import numpy as np

from .data.text import TokenStream, Vocab, read_text, split_ids
from .errors import RnnlabError
from .models import detach_state


def run_stream_loss(model, ids, chunk=1000, batch=1):
    """Mean next-token cross-entropy (nats) over an id sequence, as one stream per row with the
    state carried across chunks: exact, every token after the first is predicted once.
    Returns (mean_loss, n_predictions)."""
    ids = np.asarray(ids)
    if len(ids) < 2:
        raise RnnlabError("the text has fewer than 2 tokens: nothing to predict")
    L = (len(ids) - 1) // batch
    x = ids[:batch * L].reshape(batch, L).T            # (L, B)
    y = ids[1:batch * L + 1].reshape(batch, L).T
    model.eval()
    total, count, state = 0.0, 0, None
    for s in range(0, L, chunk):
        logits, state = model.forward(x[s:s + chunk].astype(np.int64), state)
        loss, _ = model.loss(logits, y[s:s + chunk].astype(np.int64))
        n = y[s:s + chunk].size
        total += loss * n
        count += n
        state = detach_state(state)
    return total / count, count


class TextTask:
    kind = "text"
    carries_state = True

    def __init__(self, ids, vocab, batch=50, seq_len=50, val_fraction=0.1):
        """ids: (N,) token ids of the whole text, vocab: the Vocab that made them."""
        self.vocab = vocab
        self.train_ids, self.val_ids = split_ids(ids, val_fraction)
        self.stream = TokenStream(self.train_ids, batch, seq_len)
        self.input_size = self.output_size = vocab.size
        self.batches_per_epoch = self.stream.batches_per_epoch
        self.tokens_per_batch = batch * seq_len
        self.initial_loss = float(np.log(vocab.size))   # uniform guessing: ln V

    @classmethod
    def from_file(cls, path, tokens="char", encoding="utf-8", batch=50, seq_len=50,
                  val_fraction=0.1, vocab=None):
        if tokens == "char":        # large ASCII files: ids only, never the text as a str
            from .data.text import read_ascii_char_ids
            fast = read_ascii_char_ids(path, encoding, vocab)
            if fast is not None:
                return cls(fast[1], fast[0], batch, seq_len, val_fraction)
        text = read_text(path, encoding)
        vocab = vocab or Vocab.build(text, tokens)
        return cls(vocab.encode(text), vocab, batch, seq_len, val_fraction)

    @classmethod
    def from_config(cls, tcfg, meta=None):
        vocab = Vocab.from_json(meta["vocab"]) if meta else None
        return cls.from_file(tcfg.data, tcfg.tokens, tcfg.encoding, tcfg.batch, tcfg.seq_len,
                             tcfg.val_fraction, vocab=vocab)

    def batch(self, k):
        x, y = self.stream.get(k)
        return x, y, None

    def validation_loss(self, model):
        if len(self.val_ids) < 2:
            return None
        return run_stream_loss(model, self.val_ids, batch=min(16, max(1, len(self.val_ids) // 200)))[0]

    def meta(self):
        return {"kind": "text", "vocab": self.vocab.to_json()}


def _series_task():
    from .series_task import SeriesTask
    return SeriesTask


def _music_task():
    from .music_task import MusicTask
    return MusicTask


class _LazyTask:
    """Imports a task's module only when that task is used."""

    def __init__(self, load):
        self._load = load

    def from_config(self, tcfg, meta=None):
        return self._load().from_config(tcfg, meta)


TASK_BUILDERS = {"text": TextTask, "series": _LazyTask(_series_task),
                 "music": _LazyTask(_music_task)}


def task_for_file(path, task=None):
    """The task name for a data file: --task if given, else from the file type."""
    if task:
        if task not in ("text", "series", "music"):
            raise RnnlabError(f"--task must be text, series or music, got {task!r}")
        return task
    p = str(path).lower()
    if p.endswith(".csv"):
        return "series"
    if p.endswith((".json", ".mid", ".midi")) or _is_midi_folder(path):
        return "music"
    return "text"


def _is_midi_folder(path):
    import os
    return os.path.isdir(path) and any(f.lower().endswith((".mid", ".midi")) for f in os.listdir(path))

"""Melody mode of the music task: one voice as (pitch, duration) tokens, learned by the text
task's language model.

    rnnlab train tunes/ --music-mode melody --out run      # MIDI file/folder or notes JSON
    rnnlab sample run -o tune.mid --length 64               # a monophonic MIDI file
    rnnlab evaluate run test.json                           # nats per token beside a unigram

The data become melody tokens (data/melody.py: the top voice, `p60_d4`, `rest_d2`, END between
pieces). From there it is the text task's machinery: the pieces are joined into one token
stream (END before each piece), cut into --batch streams for truncated BPTT (TokenStream),
validated and evaluated exactly with the state carried through (run_stream_loss), sampled one
token at a time (TextModel.sample_ids). The model is a text model over that vocabulary
(ModelConfig.task 'text'); the run's data kind 'melody' makes `rnnlab.load` return a
MelodyModel, which reads and writes music.

Validation: the notes JSON's 'valid' pieces, else the last --val-fraction of the pieces, else
(one piece) the last --val-fraction of its tokens. The vocabulary is the training tokens' (and
END): a token of new data that it lacks (a pitch or duration never seen in training) cannot be
scored; it is skipped and counted (`unknown_tokens`).
"""
import math
import warnings
from collections import Counter

import numpy as np

from ..data.melody import (END, MAX_DUR, VOICE_RULE, chord_report, load_melodies,
                           tokens_to_notes, tokens_to_steps, write_melody_midi)
from ..data.music import steps_per_beat
from ..data.text import TokenStream, Vocab
from ..errors import RnnlabError, RnnlabWarning
from ..fileio import atomic_write_json
from ..validate import positive_int
from .base import default_steps, hold_out
from .text import TextModel, run_stream_loss, sampled_stream_loss

PASSES = 100                  # the default stopping rule's cap, in passes over the tokens
END_BEATS = 4                 # a sampled END is written as a rest of this many beats


def stream_ids(pieces, vocab):
    """Token lists -> (ids (N,) of END p1 END p2 ... END, unknown tokens skipped)."""
    index = {t: i for i, t in enumerate(vocab.tokens)}
    ids, unknown = [index[END]], 0
    for p in pieces:
        for tok in p:
            if tok in index:
                ids.append(index[tok])
            else:
                unknown += 1
        ids.append(index[END])
    return np.asarray(ids, np.int64), unknown


def unigram_nll(counts, ids, vocab):
    """Nats per predicted token (ids[1:]) of the unigram baseline: each token with its
    training frequency, (count + 0.5) / (total + 0.5 V), whatever came before."""
    c = np.array([counts.get(t, 0) for t in vocab.tokens], np.float64) + 0.5
    logp = np.log(c / c.sum())
    return float(-logp[np.asarray(ids[1:])].mean())


class MelodyTask:
    """The Task protocol (tasks/base.py) for melody tokens; MusicTask builds it for
    --music-mode melody."""
    kind = "music"
    carries_state = True
    model_task = "text"             # ModelConfig.task: a token language model

    def __init__(self, path, grid="16th", seq_len=50, batch=50, val_fraction=0.1, vocab=None,
                 report=True):
        splits = load_melodies(path, grid)
        self.grid = grid
        train = [m.tokens for m in splits["train"]]
        valid = [m.tokens for m in splits["valid"]] if splits.get("valid") else None
        if valid is None:
            train, valid = hold_out(train, val_fraction)
        self.chords = chord_report(splits["train"] + splits.get("valid", []))
        if self.chords and report:
            warnings.warn(self.chords, RnnlabWarning, stacklevel=2)
        self.counts = Counter(t for p in train for t in p)
        self.vocab = vocab or Vocab(sorted(set(self.counts) | {END}), "word")
        self.train_ids, _ = stream_ids(train, self.vocab)
        self.val_ids, self.val_unknown = stream_ids(valid, self.vocab) if valid else (None, 0)
        self.stream = TokenStream(self.train_ids, _streams(len(self.train_ids), batch, seq_len),
                                  seq_len)
        self.input_size = self.output_size = self.vocab.size
        self.batches_per_epoch = self.stream.batches_per_epoch
        self.tokens_per_batch = self.stream.batch * seq_len
        self.initial_loss = float(np.log(self.vocab.size))
        self.pieces = len(train)

    @classmethod
    def from_config(cls, tcfg, grid, meta=None):
        vocab = Vocab.from_json(meta["vocab"]) if meta else None
        return cls(tcfg.data, grid, tcfg.seq_len, tcfg.batch, tcfg.val_fraction, vocab,
                   report=meta is None)

    def batch(self, k):
        x, y = self.stream.get(k)
        return x, y, None

    @property
    def validation_size(self):
        return 0 if self.val_ids is None else max(0, len(self.val_ids) - 1)

    def validation_loss(self, model, limit=None):
        if not self.validation_size:
            return None
        if limit is not None and limit < self.validation_size:
            return sampled_stream_loss(model, self.val_ids, limit,
                                       min(16, max(1, self.validation_size // 200)))[0]
        return run_stream_loss(model, self.val_ids, batch=1)[0]

    def default_steps(self):
        return default_steps(self.batches_per_epoch, 1, 10 ** 9,
                             f"the {len(self.train_ids):,} training tokens", passes=PASSES)

    def meta(self):
        return {"kind": "melody", "vocab": self.vocab.to_json(), "grid": self.grid,
                "voice": VOICE_RULE, "max_dur": MAX_DUR,
                "token_counts": {t: int(n) for t, n in sorted(self.counts.items())}}


def _streams(n_ids, batch, seq_len):
    """The number of token streams: --batch, fewer when the melodies are too short to fill
    them (each stream needs at least one window of seq_len tokens)."""
    fit = (n_ids - 1) // seq_len
    if fit < 1:
        raise RnnlabError(f"the melodies have {n_ids} tokens (END between pieces included) "
                          f"but one window needs {seq_len + 1}; use a smaller --seq-len "
                          f"(e.g. --seq-len {max(2, (n_ids - 1) // 2)}) or more music")
    if fit < batch:
        warnings.warn(f"the melodies have {n_ids:,} tokens: {fit} streams of --seq-len "
                      f"{seq_len} instead of --batch {batch}", RnnlabWarning, stacklevel=3)
    return min(batch, fit)


class MelodyModel(TextModel):
    """A trained melody model: `sample(..., output='tune.mid')`, `evaluate(path)`."""
    kind = "music"
    WRITES_MUSIC = True
    token_join = " "                # how the explain page joins the tokens into a text

    def __init__(self, model, data_meta, train_cfg=None, path=None):
        super().__init__(model, data_meta, train_cfg, path)
        self.grid = data_meta.get("grid", "16th")
        self.end_id = self.vocab.tokens.index(END)

    def sample_tokens(self, length=64, temperature=1.0, top_k=0, seed=None):
        """`length` tokens, starting from END (the start of a tune)."""
        length = positive_int("--length", length)
        ids = self.sample_ids(length, temperature, top_k, [self.end_id], seed)
        return [self.vocab.tokens[i] for i in ids]

    def render(self, tokens, output=None, json_out=None):
        """Tokens -> (steps, notes (pitch, start, end)); written as monophonic MIDI to `output`
        and/or notes JSON to `json_out`. An END (the model ended a tune and began another)
        becomes a rest of END_BEATS beats."""
        if output is not None and not str(output).lower().endswith((".mid", ".midi")):
            raise RnnlabError(f"-o/--output must be a .mid file, got {output}")
        rest = END_BEATS * steps_per_beat(self.grid)
        if output is not None:
            write_melody_midi(tokens, output, self.grid, end_steps=rest)
        steps = tokens_to_steps(tokens, rest)
        if json_out is not None:
            atomic_write_json(json_out, [steps])
        return steps, tokens_to_notes(tokens, rest)[0]

    def draw_music(self, length, temperature=1.0, top_k=0, prime="", seed=None, output=None,
                   json_out=None):
        if prime:
            raise RnnlabError("--prime is for text models; a melody sample starts a new tune")
        tokens = self.sample_tokens(length, temperature, top_k, seed)
        steps, notes = self.render(tokens, output, json_out)
        return steps, notes, f"{len(tokens)} tokens ({len(notes)} notes, {len(steps)} steps)"

    def sample(self, length=64, temperature=1.0, top_k=0, prime="", seed=None, stream=None,
               output=None, json_out=None):
        """Generate `length` tokens from the start of a tune and render them (see render).
        Returns the steps."""
        return self.draw_music(length, temperature, top_k, prime, seed, output, json_out)[0]

    def input_ids(self, path):
        """Token ids (END, then the first piece) of a MIDI or notes JSON file ('test', else
        'valid', else 'train'), for the explain page; unknown tokens are skipped."""
        splits = load_melodies(path, self.grid)
        split = next(k for k in ("test", "valid", "train") if splits.get(k))
        return stream_ids([splits[split][0].tokens], self.vocab)[0][:-1]

    def report_lines(self, res):
        """`rnnlab evaluate`'s text output."""
        which = ("every piece of the file" if res["split"] == "all" else
                 f"{res['split']} split")
        lines = [f"nats per token {res['nats_per_token']:.4f} ({res['bits_per_token']:.3f} "
                 f"bits) over {res['tokens']:,} tokens of {res['pieces']} pieces ({which})",
                 f"unigram baseline {res['unigram_nats_per_token']:.4f} nats per token: the "
                 f"model is {res['unigram_nats_per_token'] - res['nats_per_token']:+.4f} "
                 f"better", f"voice: {res['voice']}"]
        if res["unknown_tokens"]:
            lines.append(f"{res['unknown_tokens']:,} tokens not in the model's vocabulary "
                         f"(a pitch or duration never seen in training) were skipped")
        if res["chords"]:
            lines.append(res["chords"])
        return lines

    def evaluate(self, path, encoding=None):
        """Nats per token over the melodies of a notes JSON ('test', else 'valid', else
        'train'; every piece of a JSON list: 'all') or of every piece of a MIDI file/folder
        ('all'), exactly (state carried through), beside the unigram
        baseline on the same tokens."""
        splits = load_melodies(path, self.grid, bare_key="all")
        split = next(k for k in ("test", "valid", "train", "all") if splits.get(k))
        ids, unknown = stream_ids([m.tokens for m in splits[split]], self.vocab)
        loss, n = run_stream_loss(self.model, ids, batch=1)
        base = unigram_nll(self.meta.get("token_counts", {}), ids, self.vocab)
        return {"nats_per_token": loss, "unigram_nats_per_token": base,
                "bits_per_token": loss / math.log(2), "tokens": n, "split": split,
                "pieces": len(splits[split]), "unknown_tokens": unknown,
                "voice": self.meta.get("voice", VOICE_RULE),
                "chords": chord_report(splits[split])}


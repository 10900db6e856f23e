"""Polyphonic music: note sequences (JSON) or MIDI -> multi-hot piano rolls, a model with one
sigmoid output per pitch (binary cross-entropy; or, with --head nade, a NADE over the pitches
of each step: the notes of a chord predicted jointly), sampling to MIDI, and NLL / frame
accuracy (tasks/music_scores.py reads either head's output).

    rnnlab train chorales.json --out run            # or song.mid, or a folder of MIDI files
    rnnlab sample run -o new.mid --length 64 --json-out notes.json
    rnnlab evaluate run test.json --json            # nll_per_step, frame_accuracy, baseline

Input at step t is the frame at t-1 (a silent frame before the first), the target is the frame
at t: the model predicts every frame, the first included. The pitch range [lo, hi] is that of
the training data and is saved with the model; notes outside it are dropped when evaluating
(and counted).

Training uses windows of up to seq_len steps cut from the sequences (shuffled each epoch, no
state carried); a batch is as long as its longest window, and the shorter ones are padded at
the end and masked out of the loss.
Padding at the end never changes a forward RNN's earlier outputs, so the mask is all it takes.
"""
import math
import os
import warnings

import numpy as np

from ..data.music import (GRIDS, check_sequences, from_piano_roll, load_midi, load_notes_json,
                          pitch_range, to_piano_roll, write_midi)
from ..errors import RnnlabError, RnnlabWarning
from ..validate import integer, positive_int
from ..fileio import atomic_write_json
from .base import TaskOption, TrainedModel, default_steps, hold_out, task_options
from .melody import PASSES as MELODY_PASSES
from .melody import MelodyTask
from .music_scores import (decode_frame, draw_frame, independent_nll,  # noqa: F401
                           inputs_of as _inputs_of, roll_scores, stack as _stack)

MODES = ("roll", "melody")
# The default stopping rule's cap: PASSES passes within [MIN_STEPS, MAX_STEPS]; early stopping
# on validation ends most runs sooner (issue 23: the earlier fixed 10 passes, at most 5,000
# steps, stopped the chorales with the validation loss still falling).
PASSES, MIN_STEPS, MAX_STEPS = 100, 500, 10_000
SAMPLE_SEED = 0                      # which validation sequences the bounded sample holds


def load_sequences(path, grid="16th", bare_key="train"):
    """{"train": [...], optional "valid"/"test"} from notes JSON, a MIDI file or a folder. A
    file without splits (MIDI, a JSON list) comes back under `bare_key`: "train" for training,
    "all" for a held-out file."""
    p = os.fspath(path)
    if p.lower().endswith(".json"):
        return load_notes_json(p, bare_key)
    return {bare_key: load_midi(p, grid)}


def _rolls(seqs, lo, hi):
    """Piano rolls of the non-empty sequences and the number of notes outside [lo, hi]."""
    out, dropped = [], 0
    for s in seqs:
        if len(s):
            r, n = to_piano_roll(s, lo, hi, return_dropped=True)
            out.append(r)
            dropped += n
    return out, dropped


def _shifted(roll, k):
    """roll (T, P) moved up k semitones (down for k < 0); columns moved past the edge are
    dropped (the task leaves room for its --transpose, so none are)."""
    if k == 0:
        return roll
    out = np.zeros_like(roll)
    if k > 0:
        out[:, k:] = roll[:, :-k]
    else:
        out[:, :k] = roll[:, -k:]
    return out


class MusicTask:
    kind = "music"
    carries_state = False
    OPTIONS = (
        TaskOption("grid", "one step is a note of this length: MIDI is quantised to it, "
                   "and sampled MIDI plays at it (notes JSON: say how long its steps are)",
                   default="16th", choices=tuple(GRIDS)),
        TaskOption("music_mode", "roll: polyphonic piano roll, one sigmoid per pitch; melody: "
                   "the top voice as (pitch, duration) tokens, a token language model",
                   default="roll", choices=MODES),
        TaskOption("transpose", "roll: train on each window shifted by a random number of "
                   "semitones in -K..K, a new shift each epoch (data augmentation; 0 = off; "
                   "default: 3, one of the roll mode's defaults)", type=int),
    )
    STOP_RULE = (f"music (piano roll): early stopping, at most {PASSES} passes over the "
                 f"training steps (in windows of --seq-len), at least {MIN_STEPS:,} and at most "
                 f"{MAX_STEPS:,} steps; music in melody mode: early stopping (validation every "
                 f"50 steps), at most {MELODY_PASSES} passes over the tokens")

    # The defaults of `rnnlab train notes.json` in each mode, measured on Bach's chorales
    # (docs/series-and-music.md); the task options among them go into task_options.
    # head nade: the chords' NLL 5.14 per step against the bernoulli head's 8.40 at 300 CPU-s
    # on the JSB standard split (issue 23).
    ROLL_DEFAULTS = dict(hidden=256, layers=1, output_dropout=0.3, lr=5e-3, batch=16,
                         seq_len=200, transpose=3, head="nade")
    MELODY_DEFAULTS = dict(hidden=128, layers=1, input_dropout=0.1, output_dropout=0.5,
                           lr=3e-3, batch=16, seq_len=64, eval_every=50)

    @classmethod
    def defaults(cls, task_options=None):
        """{option: value} this task sets where the user gives none (for its mode)."""
        mode = (task_options or {}).get("music_mode") or "roll"
        return dict(cls.MELODY_DEFAULTS if mode == "melody" else cls.ROLL_DEFAULTS)

    def __init__(self, path, grid="16th", music_mode="roll", seq_len=50, batch=50,
                 val_fraction=0.1, seed=0, dtype="float32", transpose=0):
        if music_mode != "roll":
            raise RnnlabError(f"--music-mode {music_mode!r}: MusicTask is the piano roll; "
                              f"MusicTask.from_config builds the melody task")
        if grid not in GRIDS:
            raise RnnlabError(f"--grid must be one of {', '.join(GRIDS)}, got {grid!r}")
        self.grid, self.seq_len, self.batch_size, self.seed = grid, int(seq_len), int(batch), seed
        self.dtype = np.dtype(dtype)
        splits = load_sequences(path, grid)
        train, valid = splits["train"], splits.get("valid")
        if valid is None:
            train, valid = hold_out(train, val_fraction)
        self.transpose = integer("--transpose", transpose, 0, 12, expected="0-12 semitones")
        lo, hi = pitch_range(train)     # room for every shift: nothing falls off the roll
        self.lo, self.hi = max(0, lo - transpose), min(127, hi + transpose)
        self.train_rolls, _ = _rolls(train, self.lo, self.hi)
        self.valid_rolls, _ = _rolls(valid, self.lo, self.hi)
        self.input_size = self.output_size = P = self.hi - self.lo + 1
        frames = np.concatenate(self.train_rolls)
        self.freq = ((frames.sum(0) + 0.5) / (len(frames) + 1.0)).astype(np.float64)
        # windows (sequence, start): every seq_len steps
        self.windows = [(i, s) for i, r in enumerate(self.train_rolls)
                        for s in range(0, len(r), self.seq_len)]
        self.batches_per_epoch = max(1, math.ceil(len(self.windows) / self.batch_size))
        mean_len = np.mean([min(self.seq_len, len(self.train_rolls[i]) - s)
                            for i, s in self.windows])
        self.tokens_per_batch = int(min(self.batch_size, len(self.windows)) * mean_len)
        self.eval_seq_len = max((len(r) for r in self.valid_rolls), default=0)
        self.eval_tokens = min(32, len(self.valid_rolls)) * self.eval_seq_len  # 32 a batch
        self._perm_epoch, self._perm, self._shifts = None, None, None
        self.n_pitches = P

    @classmethod
    def from_config(cls, tcfg, meta=None):
        opts = task_options(tcfg, cls)
        if opts["music_mode"] == "melody":
            if opts["transpose"]:
                raise RnnlabError("--transpose is for --music-mode roll; remove it")
            return MelodyTask.from_config(tcfg, opts["grid"] or "16th", meta)
        return cls(tcfg.data, opts["grid"] or "16th", opts["music_mode"] or "roll",
                   tcfg.seq_len, tcfg.batch, tcfg.val_fraction, tcfg.seed,
                   getattr(tcfg, "dtype", "float32"), opts["transpose"] or 0)

    def default_steps(self):
        frames = sum(len(r) for r in self.train_rolls)
        return default_steps(self.batches_per_epoch, MIN_STEPS, MAX_STEPS,
                             f"the {frames:,} training steps ({len(self.windows):,} windows)",
                             passes=PASSES)

    def describe(self):
        return (f"data: {len(self.train_rolls):,} training and {len(self.valid_rolls):,} "
                f"validation sequences, {sum(len(r) for r in self.train_rolls):,} training "
                f"steps, pitches {self.lo}-{self.hi} ({self.n_pitches} outputs)")

    def batch(self, k):
        epoch, i = divmod(int(k), self.batches_per_epoch)
        if self._perm_epoch != epoch:
            rng = np.random.default_rng([int(self.seed), epoch])
            self._perm, self._perm_epoch = rng.permutation(len(self.windows)), epoch
            K = self.transpose            # drawn only when on: runs without it are unchanged
            self._shifts = rng.integers(-K, K + 1, len(self.windows)) if K else None
        idx = self._perm[i * self.batch_size:(i + 1) * self.batch_size]
        pairs = []
        for j in idx:
            seq, s = self.windows[j]
            r = self.train_rolls[seq]
            y = r[s:s + self.seq_len]
            x = _inputs_of(y, r[s - 1] if s > 0 else None)
            if self._shifts is not None:
                x, y = _shifted(x, self._shifts[j]), _shifted(y, self._shifts[j])
            pairs.append((x, y))
        # as long as the batch's longest window: steps past every window would be all padding
        return _stack(pairs, np.float32)

    @property
    def validation_size(self):
        """Validation steps (frames); 0 without a validation part."""
        return int(sum(len(r) for r in self.valid_rolls))

    def validation_sample(self, limit):
        """A fixed sample of the validation sequences, at most `limit` steps in all (at least
        one sequence): drawn in a seeded order, the same at every call."""
        order = np.random.default_rng(SAMPLE_SEED).permutation(len(self.valid_rolls))
        picked, steps = [], 0
        for i in order:
            n = len(self.valid_rolls[i])
            if picked and steps + n > limit:
                continue
            picked.append(self.valid_rolls[i])
            steps += n
        return picked

    def validation_loss(self, model, limit=None):
        """Mean BCE per pitch and step over the validation sequences (the training loss's
        scale; nll_per_step = this * number of pitches), or over validation_sample(limit)."""
        if not self.valid_rolls:
            return None
        rolls = self.valid_rolls
        if limit is not None and limit < self.validation_size:
            rolls = self.validation_sample(limit)
        nll, _, _ = roll_scores(model, rolls)
        return nll / self.n_pitches

    def meta(self):
        return {"kind": "music", "mode": "roll", "lo": int(self.lo), "hi": int(self.hi),
                "grid": self.grid, "pitch_freq": self.freq.tolist(),
                "train_steps": int(sum(len(r) for r in self.train_rolls))}


class MusicModel(TrainedModel):
    """A trained piano-roll model: `generate`, `sample(..., output='x.mid')`, `evaluate`."""
    kind = "music"
    verbs = ("sample", "score")
    WRITES_MUSIC = True

    def __init__(self, model, data_meta, train_cfg=None, path=None):
        super().__init__(model, data_meta, train_cfg, path)
        self.lo, self.hi = int(data_meta["lo"]), int(data_meta["hi"])
        self.grid = data_meta.get("grid", "16th")

    def labels(self):
        """The MIDI pitch of each output unit."""
        return [str(self.lo + j) for j in range(self.cfg.output_size)]

    def generate(self, length=64, temperature=1.0, seed=None):
        """Steps (lists of pitches), one frame at a time from silence, each fed back in.
        Bernoulli head: T > 0, every pitch drawn independently from sigmoid(logit / T); T = 0
        (deterministic), the round(sum p) most probable pitches, the expected number of notes
        (see decode_frame). NADE head: a chord drawn pitch by pitch, each pitch given those
        already drawn, at temperature T (T = 0: the greedy chord)."""
        length = positive_int("--length", length)
        if temperature < 0:
            raise RnnlabError(f"--temperature must be >= 0, got {temperature}")
        rng = np.random.default_rng(seed)
        P = self.hi - self.lo + 1
        frame = np.zeros((1, 1, P), self.model.dtype)
        state, frames = None, []
        self.model.eval()
        for _ in range(int(length)):
            out, state = self.model.forward(frame, state)
            on = draw_frame(self.model, out[0, 0], temperature, rng)
            frame = on.astype(self.model.dtype)[None, None]
            frames.append(on)
        return from_piano_roll(np.array(frames, np.float32), self.lo)

    def sample(self, length=64, temperature=1.0, top_k=0, prime="", seed=None, stream=None,
               output=None, json_out=None):
        """Generate `length` steps; write them as MIDI to `output` and/or as JSON (a list with
        one sequence, the notes-JSON format) to `json_out`. Returns the steps."""
        if prime:
            raise RnnlabError("--prime is for text models; a music sample starts from silence")
        if output is not None and not str(output).lower().endswith((".mid", ".midi")):
            raise RnnlabError(f"-o/--output must be a .mid file, got {output}")
        steps = self.generate(length, temperature, seed)
        if not any(steps):
            held = ("the greedy chord (each pitch on when it is more likely than not, given "
                    "the pitches below it), and this model's is silence at every step"
                    if self.model.nade is not None else "the round(sum p) most likely "
                    "pitches, and this model expects less than half a note at every step")
            why = (f"at temperature 0 each step holds {held}; sample at a temperature above "
                   "0, e.g. --temperature 1" if temperature == 0 else
                   "the model gives every pitch a low probability from the start; train longer "
                   "(or check the training data has notes)")
            warnings.warn(f"all {len(steps)} sampled steps are silent (no notes): {why}",
                          RnnlabWarning, stacklevel=2)
        if output is not None:
            write_midi(steps, output, grid=self.grid)
        if json_out is not None:
            atomic_write_json(json_out, [steps])
        return steps

    def draw_music(self, length, temperature=1.0, top_k=0, prime="", seed=None, output=None,
                   json_out=None):
        steps = self.sample(length, temperature, top_k, prime, seed, output=output,
                            json_out=json_out)
        return steps, None, f"{len(steps)} steps ({sum(map(len, steps))} pitch-steps sounding)"

    def evaluate(self, path, encoding=None):
        """nll_per_step (nats per step, summed over the pitch range), frame_accuracy, and the
        independent-pitch baseline's nll_per_step, over a notes JSON ('test', else 'valid',
        else 'train' sequences) or over every sequence of a MIDI file/folder or a JSON list
        (split 'all')."""
        splits = load_sequences(path, self.grid, bare_key="all")
        split = next(k for k in ("test", "valid", "train", "all") if k in splits)
        seqs = check_sequences(splits[split], split)
        rolls, dropped = _rolls(seqs, self.lo, self.hi)
        if not rolls:
            raise RnnlabError(f"{path}: the {split} sequences have no time steps to evaluate")
        nll, acc, steps = roll_scores(self.model, rolls)
        base = independent_nll(self.meta["pitch_freq"], rolls)
        return {"nll_per_step": nll, "frame_accuracy": acc, "baseline_nll_per_step": base,
                "steps": steps, "split": split, "sequences": len(rolls),
                "notes_outside_range": dropped, "pitch_range": [self.lo, self.hi]}

    def model_input(self, data):
        """Steps (lists of MIDI pitches) as the model reads them: input t is step t-1's frame
        (silence first); each label names the pitches sounding at the input step."""
        roll = to_piano_roll(check_sequences([data], "input")[0], self.lo, self.hi)
        x = np.concatenate([np.zeros((1, roll.shape[1]), np.float32), roll[:-1]])
        return {"x": x, "labels": [" ".join(str(self.lo + j) for j in np.flatnonzero(r > 0.5))
                                   or "\u00b7" for r in x]}

    def score(self, data):
        """nll_per_step and frame_accuracy over one sequence of steps."""
        roll = to_piano_roll(check_sequences([data], "input")[0], self.lo, self.hi)
        nll, acc, steps = roll_scores(self.model, [roll])
        return {"nll_per_step": nll, "frame_accuracy": acc, "steps": steps}

    @staticmethod
    def report_lines(res):
        """evaluate()'s result as text lines for the CLI."""
        which = ("every sequence of the file" if res["split"] == "all" else
                 f"its {res['split']!r} split")
        lines = [f"nll {res['nll_per_step']:.4f} nats per step (independent-pitch baseline "
                 f"{res['baseline_nll_per_step']:.4f}), frame accuracy "
                 f"{res['frame_accuracy']:.4f}",
                 f"over {res['steps']:,} steps of {res['sequences']:,} sequences ({which})"]
        if res["notes_outside_range"]:
            lo, hi = res["pitch_range"]
            lines.append(f"{res['notes_outside_range']:,} notes outside the trained pitch range "
                         f"{lo}-{hi} were left out")
        return lines

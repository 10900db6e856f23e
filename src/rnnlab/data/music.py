"""Music: note-step sequences, piano rolls and MIDI in/out (mido); melody tokens: melody.py.

The common format is a *sequence of steps*: `seq[t]` is the list of MIDI pitches (0-127)
sounding at time step t, possibly empty (a rest). This is the format of the Boulanger-Lewandowski
polyphonic datasets (JSB Chorales, Nottingham, ...) as JSON: `{"train": [seq, ...], "valid":
[...], "test": [...]}`. A note held for several steps appears in each of them.

    splits = load_notes_json("jsb.json")
    lo, hi = pitch_range(splits["train"])
    roll = to_piano_roll(splits["train"][0], lo, hi)     # (T, P) multi-hot, P = hi - lo + 1
"""

from __future__ import annotations

import json
import os
import io
import warnings

import mido
import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.validate import is_number
from rnnlab.fileio import atomic_write_bytes

GRIDS = {"4th": 1, "8th": 2, "16th": 4, "32nd": 8}  # steps per quarter-note beat
_SPLITS = ("train", "valid", "test")
_DRUM_CHANNEL = 9  # General MIDI channel 10: percussion, not pitches


def _check_pitch(p, where: str) -> int:
    # JSON from other tools sometimes stores pitches as 60.0: accept integral floats.
    if not is_number(p) or p != int(p):
        raise RnnlabError(f"{where} is {p!r}, expected an integer MIDI pitch 0-127")
    if not 0 <= p <= 127:
        raise RnnlabError(f"{where} is {p}, expected a MIDI pitch 0-127")
    return int(p)


def check_sequences(seqs, where: str) -> list:
    """Validate a list of sequences; errors say exactly where, e.g. `train[3][17][2]`."""
    if not isinstance(seqs, list):
        raise RnnlabError(f"{where} is a {type(seqs).__name__}, expected a list of sequences")
    out = []
    for i, seq in enumerate(seqs):
        if not isinstance(seq, list):
            raise RnnlabError(
                f"{where}[{i}] is a {type(seq).__name__}, expected a list of time steps"
            )
        steps = []
        for t, step in enumerate(seq):
            if not isinstance(step, list):
                raise RnnlabError(
                    f"{where}[{i}][{t}] is a {type(step).__name__}, expected a list of pitches"
                )
            steps.append(sorted({_check_pitch(p, f"{where}[{i}][{t}][{k}]")
                                 for k, p in enumerate(step)}))
        out.append(steps)
    return out


def load_notes_json(path, bare_key: str = "train") -> dict:
    """Read note sequences from JSON: a list of sequences (-> {bare_key: ...}: "train" for
    training, "all" when evaluating) or an object with "train" and optionally "valid"/"test".
    Pitches in each step come back sorted and unique."""
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise RnnlabError(f"notes file {path} not found; check the path")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RnnlabError(f"{name} is not valid JSON ({e}); expected note sequences") from None
    if isinstance(data, list):
        seqs = check_sequences(data, f"{name}: {bare_key}")
        if not any(seqs):
            raise RnnlabError(f"{name}: {bare_key} has no time steps; nothing to learn")
        return {bare_key: seqs}
    if not isinstance(data, dict):
        raise RnnlabError(f"{name} holds a {type(data).__name__}, expected a list or an object")
    unknown = [k for k in data if k not in _SPLITS]
    if unknown or "train" not in data:
        raise RnnlabError(
            f"{name} has keys {sorted(data)}, expected 'train' and optionally 'valid', 'test'"
        )
    out = {k: check_sequences(data[k], f"{name}: {k}") for k in _SPLITS if k in data}
    if not any(out["train"]):
        raise RnnlabError(f"{name}: train has no time steps; nothing to learn")
    return out


def pitch_range(seqs) -> tuple:
    """(lo, hi), inclusive, over all pitches in `seqs` (use the training sequences)."""
    pitches = [p for seq in seqs for step in seq for p in step]
    if not pitches:
        raise RnnlabError("the sequences contain no notes; a piano roll needs at least one pitch")
    return min(pitches), max(pitches)


def to_piano_roll(seq, lo: int, hi: int, return_dropped: bool = False):
    """seq (T steps) -> roll `(T, P)` float32 multi-hot, P = hi - lo + 1, column j = pitch lo+j.

    Pitches outside [lo, hi] are dropped; with return_dropped=True returns (roll, n_dropped),
    otherwise a warning says how many were dropped."""
    if hi < lo:
        raise RnnlabError(f"pitch range {lo}..{hi} is empty; expected lo <= hi")
    roll = np.zeros((len(seq), hi - lo + 1), np.float32)
    dropped = 0
    for t, step in enumerate(seq):
        for p in step:
            if lo <= p <= hi:
                roll[t, p - lo] = 1.0
            else:
                dropped += 1
    if return_dropped:
        return roll, dropped
    if dropped:
        warnings.warn(f"{dropped} notes outside the pitch range {lo}..{hi} were dropped",
                      stacklevel=2)
    return roll


def from_piano_roll(roll, lo: int, threshold: float = 0.5) -> list:
    """roll `(T, P)` (multi-hot or probabilities) -> steps: pitches lo+j where roll >= threshold."""
    roll = np.asarray(roll)
    if roll.ndim != 2:
        raise RnnlabError(f"piano roll has shape {roll.shape}, expected (T, P)")
    return [(np.flatnonzero(row >= threshold) + lo).tolist() for row in roll]


def _steps_per_beat(grid: str) -> int:
    if grid not in GRIDS:
        raise RnnlabError(f"grid {grid!r} is not known; use one of {', '.join(GRIDS)}")
    return GRIDS[grid]


def _midi_files(path: str) -> list:
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if f.lower().endswith((".mid", ".midi")))
        if not files:
            raise RnnlabError(f"folder {path} has no .mid/.midi files; point to MIDI files")
        return files
    if not os.path.isfile(path):
        raise RnnlabError(f"MIDI file {path} not found; check the path")
    return [path]


def read_midi_notes(path: str, spb: int):
    """One MIDI file -> (notes, n_steps): notes (pitch, start, end) in grid steps (`spb` steps
    per beat), sorted by start then pitch, every note at least one step long; the percussion
    channel (10) is left out. A file with no pitched note is an error that says why."""
    try:
        mid = mido.MidiFile(path)
        messages = list(mido.merge_tracks(mid.tracks))
    except MemoryError:
        raise                   # not the file's fault: say so as it is
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError, ...
        raise RnnlabError(f"{path} is not a readable MIDI file ({type(e).__name__}: {e})") from e
    step = mid.ticks_per_beat / spb
    q = lambda tick: int(np.floor(tick / step + 0.5))  # noqa: E731  round half up to the grid
    tick, notes, open_notes, drums = 0, [], {}, 0
    for msg in messages:
        tick += msg.time
        if msg.type not in ("note_on", "note_off"):
            continue
        if msg.channel == _DRUM_CHANNEL:
            drums += msg.type == "note_on" and msg.velocity > 0
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes.setdefault(key, []).append(tick)
        elif open_notes.get(key):
            start = open_notes[key].pop(0)
            notes.append((msg.note, q(start), max(q(tick), q(start) + 1)))
    for (_, pitch), starts in open_notes.items():  # never released: hold to the end
        notes += [(pitch, q(s), max(q(tick), q(s) + 1)) for s in starts]
    if not notes and drums:
        raise RnnlabError(f"{path} has notes only on the percussion channel (10: {drums} drum "
                          f"hits), which carries drum sounds, not pitches; choose a MIDI file "
                          f"with pitched parts")
    if not notes:
        raise RnnlabError(f"{path} contains no notes; choose a MIDI file with music in it")
    return sorted(notes, key=lambda n: (n[1], n[0])), \
        max(max(end for _, _, end in notes), int(tick // step))


def _read_one_midi(path: str, spb: int) -> list:
    notes, n_steps = read_midi_notes(path, spb)
    steps = [set() for _ in range(n_steps)]
    for pitch, start, end in notes:
        for t in range(start, end):
            steps[t].add(pitch)
    return [sorted(s) for s in steps]


def midi_files(path_or_folder) -> list:
    """The MIDI files a path names: the file itself, or every *.mid/*.midi of a folder
    (sorted by name)."""
    return _midi_files(os.fspath(path_or_folder))


def steps_per_beat(grid: str) -> int:
    """Grid steps per quarter-note beat ('16th' -> 4)."""
    return _steps_per_beat(grid)


def load_midi(path_or_folder, grid: str = "16th") -> list:
    """MIDI file(s) -> list of step sequences, one per file (a folder: every *.mid/*.midi,
    sorted by name). Note on/off times are rounded to the grid (a '16th' grid = 4 steps per
    beat); every note lasts at least one step; the percussion channel (10) is ignored."""
    spb = _steps_per_beat(grid)
    return [_read_one_midi(f, spb) for f in _midi_files(os.fspath(path_or_folder))]


def _note_spans(steps) -> list:
    """(pitch, start, end) for each run of consecutive steps holding the same pitch."""
    spans, open_at = [], {}
    for t, step in enumerate(list(steps) + [[]]):
        now = set(step)
        for p in [p for p in open_at if p not in now]:
            spans.append((p, open_at.pop(p), t))
        for p in now:
            open_at.setdefault(p, t)
    return spans


def write_midi(steps, path, grid: str = "16th", tempo_bpm: float = 120, velocity: int = 80):
    """Write steps as a one-track MIDI file (atomically). A pitch held over consecutive steps
    becomes one note; the file lasts exactly len(steps) steps, trailing rests included."""
    steps = check_sequences([list(map(list, steps))], "steps")[0]
    write_notes_midi(_note_spans(steps), len(steps), path, grid, tempo_bpm, velocity)


def write_notes_midi(notes, n_steps: int, path, grid: str = "16th", tempo_bpm: float = 120,
                     velocity: int = 80):
    """Write notes (pitch, start, end), in grid steps, as a one-track MIDI file lasting
    n_steps steps (atomically). Two notes of one pitch that touch stay two notes."""
    spb = _steps_per_beat(grid)
    if not 1 <= int(velocity) <= 127:
        raise RnnlabError(f"velocity is {velocity}, expected 1-127")
    if not tempo_bpm > 0:
        raise RnnlabError(f"tempo is {tempo_bpm} bpm, expected a positive number")
    tpb = 480
    step = tpb // spb
    events = []  # (tick, 0 = off before 1 = on at the same tick, pitch)
    for pitch, start, end in notes:
        events += [(start * step, 1, pitch), (end * step, 0, pitch)]
    events.sort()
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm))])
    last = 0
    for tick, on, pitch in events:
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=int(velocity) if on else 0,
                                  time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, n_steps * step - last)))
    mid = mido.MidiFile(type=0, ticks_per_beat=tpb, tracks=[track])
    buf = io.BytesIO()
    mid.save(file=buf)
    atomic_write_bytes(path, buf.getvalue())     # temp file + fsync + rename

"""Melodies as tokens: one line of (pitch, duration) notes and rests on the grid.

A melody is a list of tokens `p{pitch}_d{steps}` (a note of MIDI pitch `pitch` lasting `steps`
grid steps) and `rest_d{steps}`; between two pieces stands END. A language model over these
tokens learns melodies the way a word model learns sentences.

    melodies = load_melodies("tunes/", grid="16th")     # {"train": [Melody, ...]}
    melodies["train"][0].tokens                          # ['p60_d4', 'p62_d4', 'rest_d2', ...]
    write_melody_midi(tokens, "tune.mid", grid="16th")  # one note per token

Where a piece has several notes at once (chords, several voices) the melody is its top voice,
by the skyline rule (VOICE_RULE): at each step the highest pitch sounding is the melody's. A new
token starts where that pitch changes, where it is struck again (MIDI: a note-on; notes JSON
has no note-ons, so a pitch repeated on consecutive steps there is one long note), and after
`max_dur` steps (longer notes and rests are split; a split note is struck again on playback).
Rests before the first note and after the last are dropped. Drum parts (MIDI channel 10) are
never part of a melody.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from rnnlab.data.music import (check_sequences, load_notes_json, midi_files, read_midi_notes,
                               steps_per_beat, write_notes_midi)
from rnnlab.errors import RnnlabError
from rnnlab.validate import positive_int

END = "end"                   # a piece ends here (and the next begins)
MAX_DUR = 16                  # steps: longer notes and rests are split into several tokens
VOICE_RULE = "top voice: the highest pitch sounding at each step (the skyline rule)"
_TOKEN_RE = re.compile(r"^(?:p(\d+)|rest)_d(\d+)$")


@dataclass
class Melody:
    """The tokens of one piece, how many grid steps it lasts, and at how many of them more
    than one pitch sounded (the top one was taken)."""
    tokens: list
    steps: int
    chord_steps: int
    name: str = ""


def _top_line(seq, onsets=None):
    """Per step: (top pitch or None, whether that pitch is struck at this step)."""
    line = []
    for t, step in enumerate(seq):
        top = max(step) if len(step) else None
        line.append((top, onsets is not None and top is not None and top in onsets[t]))
    return line


def melody_tokens(seq, max_dur: int = MAX_DUR, onsets=None) -> list:
    """Steps (lists of pitches) -> melody tokens of the top voice (VOICE_RULE). onsets[t]: the
    pitches struck at step t (MIDI), so a repeated note stays two notes; without it a pitch
    held over consecutive steps is one note. Runs longer than max_dur are split."""
    positive_int("max_dur", max_dur)
    line = _top_line(seq, onsets)
    tokens, t = [], 0
    while t < len(line):
        top, run = line[t][0], 1
        while (t + run < len(line) and line[t + run][0] == top and not line[t + run][1]
               and run < max_dur):
            run += 1
        tokens.append(f"rest_d{run}" if top is None else f"p{top}_d{run}")
        t += run
    return tokens


def _trim_rests(tokens):
    """Without the rests before the first note and after the last."""
    notes = [i for i, tok in enumerate(tokens) if not tok.startswith("rest")]
    return tokens[notes[0]:notes[-1] + 1] if notes else []


def melody_of_steps(seq, max_dur: int = MAX_DUR, onsets=None, name: str = "") -> Melody:
    """A Melody from one sequence of steps (see melody_tokens)."""
    chords = sum(len(step) > 1 for step in seq)
    return Melody(_trim_rests(melody_tokens(seq, max_dur, onsets)), len(seq), chords, name)


def melody_of_notes(notes, n_steps: int, max_dur: int = MAX_DUR, name: str = "") -> Melody:
    """A Melody from notes (pitch, start, end) in grid steps (read_midi_notes)."""
    steps = [set() for _ in range(n_steps)]
    onsets = [set() for _ in range(n_steps)]
    for pitch, start, end in notes:
        onsets[start].add(pitch)
        for t in range(start, end):
            steps[t].add(pitch)
    return melody_of_steps([sorted(s) for s in steps], max_dur, onsets, name)


def load_melodies(path, grid: str = "16th", max_dur: int = MAX_DUR,
                  bare_key: str = "train") -> dict:
    """{"train": [Melody], optional "valid"/"test"} from notes JSON (its splits) or MIDI (a
    file, or every *.mid/*.midi of a folder, one Melody each). A file without splits (MIDI,
    a JSON list) comes back under `bare_key`: "train" for training, "all" for a held-out
    file. Pieces without a note are left out; none at all is an error."""
    p = os.fspath(path)
    if p.lower().endswith(".json"):
        name = os.path.basename(p)
        splits = {k: [melody_of_steps(seq, max_dur, name=f"{name}: {k}[{i}]")
                      for i, seq in enumerate(v)]
                  for k, v in load_notes_json(p, bare_key).items()}
    else:
        spb = steps_per_beat(grid)
        splits = {bare_key: [melody_of_notes(*read_midi_notes(f, spb), max_dur,
                                             name=os.path.basename(f)) for f in midi_files(p)]}
    splits = {k: [m for m in v if m.tokens] for k, v in splits.items()}
    if not splits.get("train", splits.get(bare_key)):
        raise RnnlabError(f"{p} has no notes to make a melody of; choose music with notes")
    return splits


def chord_report(melodies) -> str | None:
    """One sentence saying which voice was taken where pieces had chords, or None."""
    with_chords = [m for m in melodies if m.chord_steps]
    if not with_chords:
        return None
    steps = sum(m.steps for m in melodies)
    chords = sum(m.chord_steps for m in melodies)
    first = with_chords[0]
    where = (f"{first.name} has" if len(with_chords) == 1 else
             f"{len(with_chords)} of {len(melodies)} pieces (first: {first.name}) have")
    return (f"{where} chords at {chords:,} of {steps:,} steps ({100 * chords / steps:.0f}%)"
            f"; melody mode took the {VOICE_RULE}; use --music-mode roll to model every voice")


def _parse(tok, i):
    m = _TOKEN_RE.match(tok) if isinstance(tok, str) else None
    if not m or int(m.group(2)) < 1 or (m.group(1) is not None and int(m.group(1)) > 127):
        raise RnnlabError(f"melody token {i} is {tok!r}, expected 'p<pitch 0-127>_d<steps>', "
                          f"'rest_d<steps>' or {END!r}")
    return (None if m.group(1) is None else int(m.group(1))), int(m.group(2))


def tokens_to_notes(tokens, end_steps: int = 0):
    """Tokens -> (notes (pitch, start, end) in grid steps, one per note token; n_steps). END
    becomes a rest of end_steps steps (0: nothing)."""
    notes, t = [], 0
    for i, tok in enumerate(tokens):
        if tok == END:
            t += end_steps
            continue
        pitch, dur = _parse(tok, i)
        if pitch is not None:
            notes.append((pitch, t, t + dur))
        t += dur
    return notes, t


def tokens_to_steps(tokens, end_steps: int = 0) -> list:
    """Inverse of melody_tokens: tokens -> steps (one pitch or none per step)."""
    notes, n_steps = tokens_to_notes(tokens, end_steps)
    steps = [[] for _ in range(n_steps)]
    for pitch, start, end in notes:
        for t in range(start, end):
            steps[t] = [pitch]
    return check_sequences([steps], "steps")[0]


def write_melody_midi(tokens, path, grid: str = "16th", tempo_bpm: float = 120,
                      end_steps: int = 0):
    """Write melody tokens as a monophonic one-track MIDI file (atomically): one note per
    note token, so a note struck twice stays two notes."""
    notes, n_steps = tokens_to_notes(tokens, end_steps)
    write_notes_midi(notes, n_steps, path, grid, tempo_bpm)

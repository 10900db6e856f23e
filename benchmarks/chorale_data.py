"""Bach's chorales from music21's corpus as rnnlab notes JSON (the Boulanger-Lewandowski format).

    python benchmarks/chorale_data.py [--out benchmarks/data/chorales.json] [--key tonic]
                                      [--midi benchmarks/data/chorales-midi]

music21 is an optional dependency of the benchmarks, never of rnnlab (`pip install music21`);
it ships the four-part chorales of the Riemenschneider edition (music21.corpus.chorales: 371
entries, some of them the same file listed twice; each file is taken once, and a chorale whose
steps are identical to one already taken is left out, so no piece is in two splits).

What the script does, chorale by chorale (documented in docs/series-and-music.md):
- key: the key the score encodes (its first music21 Key object; the key signature alone cannot
  tell major from minor), else music21's Krumhansl-Schmuckler estimate (`analyze('key')`);
- transposition to a common key, as the polyphonic literature does: `--key tonic` (default)
  moves every chorale so its tonic is C (major -> C major, minor -> C minor, the convention of
  Allan & Williams 2005 and Boulanger-Lewandowski et al. 2012); `--key relative` moves minor
  chorales to A minor instead (so every chorale uses C major's key signature); `--key none`
  keeps the written key. The shift is the smallest one, -6..+5 semitones, so voices stay in
  their register;
- quarter-note steps: step t holds every pitch that sounds at the start of beat t (offset t in
  quarter notes from the first note), so a passing eighth note between beats is not seen and a
  held note is in every step it covers, as in Boulanger-Lewandowski's JSB Chorales; the score
  is read as written (repeat signs are not expanded);
- with --midi, the same notes (transposed, exact durations, all parts in one track, 100 bpm)
  as MIDI files, for the melody mode;
- split by piece: the chorales, sorted by music21's name, are shuffled with --seed and cut
  60% / 20% / 20% into train / valid / test (JSB Chorales: 229 / 76 / 77 of 382, also 60/20/20;
  the pieces in each split differ from JSB's).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

KEY_MODES = ("tonic", "relative", "none")


def chorale_key(score):
    """(tonic pitch class 0-11, mode 'major'|'minor', how it was found)."""
    from music21 import key as m21key
    for k in score.recurse().getElementsByClass(m21key.Key):
        if k.mode in ("major", "minor"):
            return k.tonic.pitchClass, k.mode, "encoded"
    k = score.analyze("key")
    return k.tonic.pitchClass, k.mode, "estimated"


def shift_to(tonic, mode, key_mode):
    """Semitones (-6..+5) that move `tonic` to C (or, `relative`, a minor tonic to A)."""
    if key_mode == "none":
        return 0
    target = 9 if (key_mode == "relative" and mode == "minor") else 0
    d = (target - tonic) % 12
    return d - 12 if d > 5 else d


def chorale_notes(score, shift):
    """(MIDI pitch + shift, start, end) of every note of every part, in quarter notes from the
    first note (as written: repeats are not expanded)."""
    notes = []
    for n in score.flatten().notes:             # notes and chords of every part
        start, end = float(n.offset), float(n.offset + n.quarterLength)
        notes += [(p.midi + shift, start, end) for p in n.pitches]
    t0 = min((s for _, s, _ in notes), default=0.0)
    return [(p, s - t0, e - t0) for p, s, e in notes]


def quarter_steps(notes):
    """Step t = sorted pitches sounding at the start of quarter t."""
    if not notes:
        return []
    n_steps = int(np.ceil(max(e for _, _, e in notes) - 1e-9))
    steps = [set() for _ in range(n_steps)]
    for pitch, start, end in notes:
        t = int(np.ceil(start - 1e-9))
        while t < n_steps and t < end - 1e-9:
            steps[t].add(pitch)
            t += 1
    return [sorted(s) for s in steps]


def write_chorale_midi(notes, path, tpb=480):
    """The notes as a one-track MIDI file (all parts together, 100 bpm), with mido."""
    import mido
    events = sorted([(round(s * tpb), 1, p) for p, s, e in notes] +
                    [(round(e * tpb), 0, p) for p, s, e in notes])
    track, last = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100))]), 0
    for tick, on, pitch in events:
        track.append(mido.Message("note_on" if on else "note_off", note=pitch,
                                  velocity=80 if on else 0, time=tick - last))
        last = tick
    mido.MidiFile(type=0, ticks_per_beat=tpb, tracks=[track]).save(path)


def convert(key_mode="tonic", seed=0, limit=None, midi=None, log=print):
    """{"train", "valid", "test"} step sequences and a summary dict. With `midi` (a folder),
    also each transposed chorale as MIDI in midi/<split>/<name>.mid, for the melody mode."""
    from music21 import corpus
    listed = list(corpus.chorales.Iterator(returnType="filename"))
    names = sorted(set(listed))[:limit]        # the edition lists some chorales twice
    pieces, keys, t0 = [], {"encoded": 0, "estimated": 0}, time.time()
    seen = set()
    all_notes = {}
    for i, name in enumerate(names):
        score = corpus.parse(name)
        tonic, mode, how = chorale_key(score)
        keys[how] += 1
        notes = chorale_notes(score, shift_to(tonic, mode, key_mode))
        steps = quarter_steps(notes)
        key = json.dumps(steps)
        if steps and key not in seen:          # the same harmonisation in two places: once
            seen.add(key)
            pieces.append((name, mode, steps))
            all_notes[len(pieces) - 1] = notes
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{len(names)} chorales read ({time.time() - t0:.0f} s)")
    order = np.random.default_rng(seed).permutation(len(pieces))
    n_train, n_valid = int(round(0.6 * len(pieces))), int(round(0.2 * len(pieces)))
    cut = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid],
           "test": order[n_train + n_valid:]}
    splits = {k: [pieces[j][2] for j in sorted(idx)] for k, idx in cut.items()}
    for k, idx in cut.items() if midi else ():
        os.makedirs(os.path.join(midi, k), exist_ok=True)
        for j in idx:
            name = pieces[j][0].replace("/", "_")
            write_chorale_midi(all_notes[j], os.path.join(midi, k, f"{name}.mid"))
    summary = {"chorales": len(pieces), "listed": len(listed), "files": len(names),
               "key_mode": key_mode, "seed": seed, "keys": keys,
               "minor": sum(m == "minor" for _, m, _ in pieces),
               "split_sizes": {k: len(v) for k, v in splits.items()},
               "split_steps": {k: sum(map(len, v)) for k, v in splits.items()},
               "pitch_range": [min(p for s in splits["train"] for st in s for p in st),
                               max(p for s in splits["train"] for st in s for p in st)],
               "pieces": {k: [pieces[j][0] for j in sorted(idx)] for k, idx in cut.items()}}
    return splits, summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="benchmarks/data/chorales.json",
                    help="notes JSON to write (default: benchmarks/data/chorales.json)")
    ap.add_argument("--key", default="tonic", choices=KEY_MODES,
                    help="common key: tonic = C major / C minor, relative = C major / A minor, "
                    "none = as written (default: tonic)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the split by piece (default 0)")
    ap.add_argument("--limit", type=int, default=None, help="read only the first N chorales")
    ap.add_argument("--midi", default=None, metavar="DIR",
                    help="also write each transposed chorale as MIDI, DIR/<split>/<name>.mid "
                    "(for --music-mode melody; default: none)")
    a = ap.parse_args(argv)
    try:
        import music21  # noqa: F401
    except ImportError:
        sys.exit("music21 is not installed: pip install music21 (benchmarks only)")
    splits, summary = convert(a.key, a.seed, a.limit, a.midi)
    from rnnlab.fileio import atomic_write_json
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    atomic_write_json(a.out, splits)
    atomic_write_json(os.path.splitext(a.out)[0] + ".summary.json", summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "pieces"}))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

"""How much sampled music looks like real music, step by step (issue 23's four statistics).

    stats = sample_stats(samples, test, train)      # each: a list of sequences of steps

- notes_per_step: pitches sounding per step, averaged over all steps;
- note_length: mean length in steps of a note (a run of consecutive steps holding one pitch);
- pitch_class_distance: total variation distance (half the L1 distance, 0 = the same, 1 =
  disjoint) between the pitch-class histograms (12 bins, every sounding pitch-step counted) of
  the samples and of the reference `test` music;
- chord_in_train: the fraction of steps whose set of pitches (silence included) is the set of
  some step of the training music.
"""
import numpy as np


def note_lengths(seqs):
    lengths = []
    for seq in seqs:
        open_at = {}
        for t, step in enumerate(list(seq) + [[]]):
            now = set(step)
            for p in [p for p in open_at if p not in now]:
                lengths.append(t - open_at.pop(p))
            for p in now:
                open_at.setdefault(p, t)
    return lengths


def pitch_class_histogram(seqs):
    h = np.zeros(12)
    for seq in seqs:
        for step in seq:
            for p in step:
                h[int(p) % 12] += 1
    return h / max(h.sum(), 1)


def sample_stats(samples, test, train):
    """{statistic: value} of `samples` (see the module docstring), `test` the reference for
    the pitch-class distance, `train` the chords that count as known."""
    steps = [s for seq in samples for s in seq]
    known = {tuple(sorted(s)) for seq in train for s in seq}
    lengths = note_lengths(samples)
    return {"notes_per_step": float(np.mean([len(s) for s in steps])) if steps else 0.0,
            "note_length": float(np.mean(lengths)) if lengths else 0.0,
            "pitch_class_distance": float(0.5 * np.abs(pitch_class_histogram(samples)
                                                       - pitch_class_histogram(test)).sum()),
            "chord_in_train": float(np.mean([tuple(sorted(s)) in known for s in steps]))
            if steps else 0.0}

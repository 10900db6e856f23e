import json

import mido
import numpy as np
import pytest

from rnnlab.data.melody import melody_tokens, tokens_to_steps
from rnnlab.data.music import (
    from_piano_roll, load_midi, load_notes_json, pitch_range, to_piano_roll, write_midi,
)
from rnnlab.errors import RnnlabError

SEQ = [[60, 64, 67], [60, 64, 67], [], [62], [62, 65], [72], [], []]


def _json(tmp_path, obj, name="notes.json"):
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return p


def test_load_notes_json_forms(tmp_path):
    d = load_notes_json(_json(tmp_path, [SEQ, [[67, 60]]]))
    assert list(d) == ["train"] and d["train"][1] == [[60, 67]]  # sorted
    d = load_notes_json(_json(tmp_path, {"train": [SEQ], "valid": [[[61.0]]], "test": []}))
    assert d["valid"] == [[[61]]] and d["test"] == [] and d["train"][0] == SEQ


@pytest.mark.parametrize("obj, msg", [
    ({"train": [SEQ, SEQ, SEQ, [[1], [130]]]}, r"notes.json: train\[3\]\[1\]\[0\] is 130, expected a MIDI pitch 0-127"),
    ([[[60]], "abc"], r"train\[1\] is a str, expected a list of time steps"),
    ([[[60], 61]], r"train\[0\]\[1\] is a int, expected a list of pitches"),
    ([[["C4"]]], r"train\[0\]\[0\]\[0\] is 'C4', expected an integer"),
    ([[[60.5]]], r"integer MIDI pitch"),
    ({"training": []}, "expected 'train'"),
    (42, "expected a list or an object"),
    ("{not json", "not valid JSON"),
    ([[]], "nothing to learn"),
])
def test_load_notes_json_errors(tmp_path, obj, msg):
    with pytest.raises(RnnlabError, match=msg):
        load_notes_json(_json(tmp_path, obj))


def test_piano_roll_round_trip(tmp_path):
    d = load_notes_json(_json(tmp_path, {"train": [SEQ]}))
    lo, hi = pitch_range(d["train"])
    assert (lo, hi) == (60, 72)
    roll = to_piano_roll(d["train"][0], lo, hi)
    assert roll.shape == (8, 13) and roll.dtype == np.float32
    assert roll[0].nonzero()[0].tolist() == [0, 4, 7]
    assert from_piano_roll(roll, lo) == SEQ
    probs = roll * 0.8 + 0.1
    assert from_piano_roll(probs, lo, threshold=0.5) == SEQ


def test_piano_roll_drops_out_of_range():
    roll, dropped = to_piano_roll([[50, 60], [61, 90]], 60, 70, return_dropped=True)
    assert dropped == 2 and roll.sum() == 2
    with pytest.warns(UserWarning, match="2 notes outside"):
        to_piano_roll([[50, 60], [61, 90]], 60, 70)
    with pytest.raises(RnnlabError, match="no notes"):
        pitch_range([[[], []]])


def test_write_midi_notes_read_back_with_mido(tmp_path):
    p = tmp_path / "out.mid"
    write_midi(SEQ, p, grid="16th", tempo_bpm=100, velocity=90)
    mid = mido.MidiFile(p)
    step = mid.ticks_per_beat // 4
    tick, on, notes = 0, {}, []
    for msg in mido.merge_tracks(mid.tracks):
        tick += msg.time
        if msg.type == "set_tempo":
            assert msg.tempo == mido.bpm2tempo(100)
        if msg.type == "note_on" and msg.velocity > 0:
            assert msg.velocity == 90
            on[msg.note] = tick
        elif msg.type in ("note_on", "note_off"):
            notes.append((msg.note, on.pop(msg.note) // step, tick // step))
    # the chord held for 2 steps is ONE note per pitch; 62 held over steps 3-4 merges
    assert sorted(notes) == [(60, 0, 2), (62, 3, 5), (64, 0, 2), (65, 4, 5), (67, 0, 2), (72, 5, 6)]
    assert tick // step == len(SEQ)  # trailing rests kept
    assert not list(tmp_path.glob("*.tmp"))


def test_midi_round_trip_and_folder(tmp_path):
    write_midi(SEQ, tmp_path / "b.mid")
    write_midi([[40], [40], [41]], tmp_path / "a.midi", grid="8th")
    assert load_midi(tmp_path / "b.mid") == [SEQ]
    assert load_midi(tmp_path / "a.midi", grid="8th") == [[[40], [40], [41]]]
    seqs = load_midi(tmp_path, grid="16th")
    assert len(seqs) == 2 and seqs[1] == SEQ  # sorted by name: a.midi first
    assert seqs[0] == [[40]] * 4 + [[41]] * 2  # 8th notes are two 16th steps


def test_load_midi_quantises_off_grid_times(tmp_path):
    tr = mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=64, time=5),      # ~0 -> step 0
        mido.Message("note_on", note=64, velocity=64, time=0),
        mido.Message("note_off", note=60, velocity=0, time=230),    # tick 235 -> step 2
        mido.Message("note_on", note=64, velocity=0, time=130),     # tick 365 -> step 3
        mido.Message("note_on", note=36, velocity=64, time=0, channel=9),  # drums ignored
        mido.Message("note_off", note=36, velocity=0, time=120, channel=9),
    ])
    mido.MidiFile(ticks_per_beat=480, tracks=[tr]).save(tmp_path / "q.mid")
    # the file ends at tick 485 = 4 whole 16th steps of 120 ticks: step 3 is a rest
    assert load_midi(tmp_path / "q.mid") == [[[60, 64], [60, 64], [64], []]]


def test_midi_errors(tmp_path):
    (tmp_path / "bad.mid").write_bytes(b"this is not midi")
    with pytest.raises(RnnlabError, match="bad.mid is not a readable MIDI"):
        load_midi(tmp_path / "bad.mid")
    tr = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)])
    mido.MidiFile(tracks=[tr]).save(tmp_path / "empty.mid")
    with pytest.raises(RnnlabError, match="no notes"):
        load_midi(tmp_path / "empty.mid")
    with pytest.raises(RnnlabError, match="not found"):
        load_midi(tmp_path / "missing.mid")
    (tmp_path / "sub").mkdir()
    with pytest.raises(RnnlabError, match="no .mid"):
        load_midi(tmp_path / "sub")
    with pytest.raises(RnnlabError, match="grid"):
        load_midi(tmp_path / "bad.mid", grid="64th")
    with pytest.raises(RnnlabError, match="0-127"):
        write_midi([[200]], tmp_path / "x.mid")


def test_melody_tokens_round_trip():
    toks = melody_tokens(SEQ)
    assert toks == ["p67_d2", "rest_d1", "p62_d1", "p65_d1", "p72_d1", "rest_d2"]
    assert tokens_to_steps(toks) == [[67], [67], [], [62], [65], [72], [], []]
    long = [[60]] * 20
    assert melody_tokens(long) == ["p60_d16", "p60_d4"]
    assert tokens_to_steps(melody_tokens(long)) == long
    with pytest.raises(RnnlabError, match="token 1 is 'x60'"):
        tokens_to_steps(["p60_d1", "x60"])

"""Melody mode: the top voice as (pitch, duration) tokens, a token language model, monophonic
MIDI out. Data functions, then end to end on generated scales and arpeggios, then bad input."""
import json
import warnings

import mido
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.data.melody import (END, chord_report, load_melodies, melody_of_notes,
                                melody_of_steps, tokens_to_notes, tokens_to_steps,
                                write_melody_midi)
from rnnlab.data.music import read_midi_notes, write_midi, write_notes_midi
from rnnlab.data.synthetic import chorales, melodies
from rnnlab.errors import RnnlabError, RnnlabWarning

TINY = ["--music-mode", "melody", "--hidden", "64", "--layers", "1", "--batch", "16",
        "--seq-len", "32", "--lr", "0.01", "--eval-every", "100"]


def midi_notes(path):
    """(pitch, start tick, end tick) of every note in a MIDI file, read with mido."""
    f = mido.MidiFile(path)
    tick, on, notes = 0, {}, []
    for msg in mido.merge_tracks(f.tracks):
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            on[msg.note] = tick
        elif msg.type in ("note_off", "note_on"):
            notes.append((msg.note, on.pop(msg.note), tick))
    return sorted(notes, key=lambda n: n[1]), f.ticks_per_beat


# ---- data ----------------------------------------------------------------------------------
def test_top_voice_and_reattacks_from_notes():
    # a held C under a moving line, then E struck twice in a row, then a rest
    notes = [(48, 0, 8), (60, 0, 2), (62, 2, 4), (64, 4, 6), (64, 6, 8), (67, 10, 12)]
    m = melody_of_notes(notes, 12)
    assert m.tokens == ["p60_d2", "p62_d2", "p64_d2", "p64_d2", "rest_d2", "p67_d2"]
    assert m.chord_steps == 8 and m.steps == 12
    # the same music as steps loses the second E's note-on: one long E
    steps = [[] for _ in range(12)]
    for p, s, e in notes:
        for t in range(s, e):
            steps[t].append(p)
    assert melody_of_steps(steps).tokens == ["p60_d2", "p62_d2", "p64_d4", "rest_d2", "p67_d2"]


def test_rests_at_the_ends_are_dropped_and_long_runs_split():
    m = melody_of_steps([[], [], [60]] * 1 + [[60]] * 20 + [[]] * 3)
    assert m.tokens == ["p60_d16", "p60_d5"]
    assert melody_of_steps([[], []]).tokens == []


def test_tokens_to_notes_keeps_notes_apart():
    notes, n = tokens_to_notes(["p60_d2", "p60_d2", "rest_d1", END, "p62_d1"], end_steps=4)
    assert notes == [(60, 0, 2), (60, 2, 4), (62, 9, 10)] and n == 10
    assert tokens_to_steps(["p60_d2", "rest_d1", "p62_d1"]) == [[60], [60], [], [62]]
    for bad in (["p60_d0"], ["p128_d1"], ["x"], [60]):
        with pytest.raises(RnnlabError, match="melody token 0"):
            tokens_to_notes(bad)


def test_melody_midi_round_trip_with_mido(tmp_path):
    tokens = ["p60_d4", "p60_d4", "rest_d2", "p67_d2", "p65_d1", "p64_d3"]
    write_melody_midi(tokens, tmp_path / "m.mid", grid="16th")
    notes, tpb = midi_notes(tmp_path / "m.mid")
    step = tpb // 4
    assert notes == [(p, s * step, e * step) for p, s, e in tokens_to_notes(tokens)[0]]
    back = load_melodies(tmp_path / "m.mid", "16th")["train"][0]
    assert back.tokens == tokens and back.chord_steps == 0


def test_chords_report_names_the_voice_taken(tmp_path):
    write_midi([[60, 64, 67], [60, 64, 67], [62], [59, 62, 67]], tmp_path / "c.mid")
    m = load_melodies(tmp_path / "c.mid", "16th")["train"]
    assert m[0].tokens == ["p67_d2", "p62_d1", "p67_d1"]
    msg = chord_report(m)
    assert "c.mid has chords at 3 of 4 steps" in msg and "highest pitch" in msg


def test_drums_only_midi_is_refused_with_the_reason(tmp_path):
    track = mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=90, time=0),
                            mido.Message("note_off", channel=9, note=36, velocity=0, time=240)])
    mido.MidiFile(tracks=[track]).save(tmp_path / "drums.mid")
    with pytest.raises(RnnlabError, match="only on the percussion channel"):
        read_midi_notes(str(tmp_path / "drums.mid"), 4)


# ---- end to end ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("melody")
    data = {"train": melodies(150, seed=0), "valid": melodies(10, seed=1),
            "test": melodies(20, seed=2)}
    (d / "scales.json").write_text(json.dumps(data))
    return d / "scales.json"


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(corpus), "--out", str(out), *TINY, "--steps", "300"]) == 0
    return out


def test_learns_scales_and_arpeggios_far_below_the_unigram(run, corpus, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(corpus), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["split"] == "test" and res["pieces"] == 20 and res["unknown_tokens"] == 0
    # an untrained model scores ln V > the unigram; the structure allows far less than half
    assert res["nats_per_token"] < 0.5 * res["unigram_nats_per_token"], res
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["task"] == "text" and cfg["data"]["kind"] == "melody"
    assert main(["evaluate", str(run), str(corpus)]) == 0
    assert "unigram baseline" in capsys.readouterr().out


def test_sample_writes_monophonic_midi_read_back_with_mido(run, tmp_path, capsys):
    mid, js, png = tmp_path / "tune.mid", tmp_path / "tune.json", tmp_path / "roll.png"
    assert main(["sample", str(run), "-o", str(mid), "--json-out", str(js), "--plot", str(png),
                 "--length", "40", "--seed", "5"]) == 0
    assert "wrote 40 tokens" in capsys.readouterr().err
    notes, tpb = midi_notes(mid)
    assert notes and all(a[2] <= b[1] for a, b in zip(notes, notes[1:]))   # one at a time
    model = rnnlab.load(run)
    tokens = model.sample_tokens(40, seed=5)                                   # same seed
    step = tpb // 4
    assert notes == [(p, s * step, e * step) for p, s, e in model.render(tokens)[1]]
    steps = json.loads(js.read_text())[0]
    assert all(len(s) <= 1 for s in steps) and png.stat().st_size > 1000
    assert main(["sample", str(run), "--temperature", "0", "--length", "20"]) == 0
    assert any(json.loads(capsys.readouterr().out)[0])


def test_resume_is_exact_and_explain_reads_midi(corpus, run, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["train", str(corpus), *TINY, "--eval-every", "5"]
    assert main([*args, "--out", str(a), "--steps", "10"]) == 0
    assert main([*args, "--out", str(b), "--steps", "5"]) == 0
    assert main(["train", str(corpus), "--out", str(b), "--resume", "--steps", "10"]) == 0
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    write_midi(melodies(1, seed=9)[0], tmp_path / "in.mid")
    page = tmp_path / "e.html"
    assert main(["explain", str(run), "--input", str(tmp_path / "in.mid"), "--out",
                 str(page)]) == 0
    from rnnlab.viz.explain import read_explain_payload
    payload = read_explain_payload(page.read_text())
    assert payload["tokens"][0] == END and payload["tokens"][1].startswith("p")


def test_polyphonic_midi_folder_trains_on_the_top_voice(tmp_path, capsys):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i, seq in enumerate(chorales(4, 48, seed=3)):
        write_midi(seq, folder / f"c{i}.mid")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main(["train", str(folder), "--out", str(tmp_path / "r"), *TINY,
                     "--seq-len", "8", "--batch", "4", "--steps", "3"]) == 0
    said = " ".join(str(w.message) for w in seen if issubclass(w.category, RnnlabWarning))
    said += capsys.readouterr().err
    assert "chords at" in said and "took the top voice" in said


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    track = mido.MidiTrack([mido.Message("note_on", channel=9, note=38, velocity=90, time=0),
                            mido.Message("note_off", channel=9, note=38, velocity=0, time=120)])
    mido.MidiFile(tracks=[track]).save(tmp_path / "drums.mid")
    write_notes_midi([(60, 0, 4)], 4, tmp_path / "short.mid")
    cases = {"drums.mid": "percussion channel", "short.mid": "smaller --seq-len"}
    for name, needle in cases.items():
        out = tmp_path / f"run-{name}"
        capsys.readouterr()
        assert main(["train", str(tmp_path / name), "--out", str(out), *TINY,
                     "--steps", "2"]) == 2, name
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert not out.exists()

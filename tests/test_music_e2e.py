"""Music end to end on generated chorales with the bernoulli head: train (JSON and MIDI), sample
to MIDI, evaluate against the independent-pitch baseline, resume, and bad input."""
import json
import shutil

import mido
import numpy as np
import pytest
from conftest import chorale_json

import rnnlab
from rnnlab.app.cli import main
from rnnlab.data.music import load_midi, to_piano_roll, write_midi
from rnnlab.tasks.music import independent_nll, roll_scores
from rnnlab.training.run_folder import load_tensors, save_tensors

TINY = ["--cell", "gru", "--hidden", "16", "--layers", "1", "--batch", "8", "--seq-len", "16",
        "--eval-every", "60", "--lr", "0.02", "--transpose", "0", "--output-dropout", "0",
        "--head", "bernoulli"]          # the sigmoid head, read by hand below; NADE: test_music_nade


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    return chorale_json(tmp_path_factory.mktemp("music") / "chorales.json", 200, 4, 8)


@pytest.fixture(scope="module")
def run(notes, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(notes), "--out", str(out), *TINY, "--hidden", "64", "--batch", "16",
                 "--steps", "120"]) == 0
    return out


def test_learns_chorales_well_below_the_independent_baseline(run, notes, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(notes), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["split"] == "test" and res["steps"] == 8 * 32
    assert res["nll_per_step"] < 0.7 * res["baseline_nll_per_step"], res
    assert 0 < res["frame_accuracy"] <= 1


def test_metrics_by_hand(run, notes):
    """nll_per_step and frame accuracy against a direct computation on one sequence."""
    m = rnnlab.load(run)
    seq = json.loads(notes.read_text())["test"][0]
    roll = to_piano_roll(seq, m.lo, m.hi).astype(np.float64)
    x = np.vstack([np.zeros((1, roll.shape[1])), roll[:-1]])[:, None, :]
    out, _ = m.model.forward(x)
    p = 1 / (1 + np.exp(-out[:, 0].astype(np.float64)))
    nll = -(roll * np.log(p) + (1 - roll) * np.log(1 - p)).sum(1).mean()
    on, truth = p >= 0.5, roll > 0
    acc = (on & truth).sum() / ((on & truth).sum() + (on ^ truth).sum())
    got_nll, got_acc, steps = roll_scores(m.model, [roll.astype(np.float32)])
    assert steps == len(seq)
    assert np.isclose(got_nll, nll, rtol=1e-4) and np.isclose(got_acc, acc)
    freq = np.array(m.meta["pitch_freq"])
    base = -(roll * np.log(freq) + (1 - roll) * np.log(1 - freq)).sum(1).mean()
    assert np.isclose(independent_nll(freq, [roll]), base)


def test_sample_writes_playable_midi_and_json(run, tmp_path):
    mid, js = tmp_path / "new.mid", tmp_path / "notes.json"
    assert main(["sample", str(run), "-o", str(mid), "--json-out", str(js), "--length", "24",
                 "--seed", "3"]) == 0
    steps = json.loads(js.read_text())[0]
    assert len(steps) == 24 and any(steps)
    m = rnnlab.load(run)
    assert all(m.lo <= p <= m.hi for s in steps for p in s)
    # read it back with mido: every note_on matches a step of the JSON, at the right time
    f = mido.MidiFile(mid)
    tick, ons = 0, []
    for msg in mido.merge_tracks(f.tracks):
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            ons.append((tick // (f.ticks_per_beat // 4), msg.note))
    expect = [(t, p) for t, s in enumerate(steps) for p in s
              if t == 0 or p not in steps[t - 1]]
    assert sorted(ons) == sorted(expect)
    assert load_midi(mid)[0][:len(steps)] == steps
    assert rnnlab.load(run).sample(24, seed=3) == steps        # same seed, same music


def test_train_on_midi_folder_and_resume(notes, tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i, seq in enumerate(json.loads(notes.read_text())["train"][:6]):
        write_midi(seq, folder / f"song{i}.mid")
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["train", str(folder), *TINY, "--grid", "16th", "--eval-every", "5"]
    assert main([*args, "--out", str(a), "--steps", "10"]) == 0
    assert main([*args, "--out", str(b), "--steps", "5"]) == 0
    assert main(["train", str(folder), "--out", str(b), "--resume", "--steps", "10"]) == 0
    wa, wb = load_tensors(a / "model.safetensors"), load_tensors(b / "model.safetensors")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    cfg = json.loads((a / "config.json").read_text())
    assert cfg["model"]["task"] == "music" and cfg["data"]["grid"] == "16th"
    assert main(["sample", str(a), "-o", str(tmp_path / "x.mid"), "--length", "8"]) == 0


def test_a_held_out_file_without_splits_is_labelled_all(run, notes, tmp_path, capsys):
    held = json.loads(notes.read_text())["test"][:3]
    folder = tmp_path / "held"
    folder.mkdir()
    for i, seq in enumerate(held):
        write_midi(seq, folder / f"h{i}.mid")
    (tmp_path / "held.json").write_text(json.dumps(held))          # a bare list of sequences
    for path in (folder, tmp_path / "held.json"):
        capsys.readouterr()
        assert main(["evaluate", str(run), str(path), "--json"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["split"] == "all" and res["sequences"] == 3 and res["steps"] == 3 * 32
    assert main(["evaluate", str(run), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "over 96 steps of 3 sequences (every sequence of the file)" in out
    assert "train" not in out
    assert main(["evaluate", str(run), str(notes)]) == 0
    assert "of 8 sequences (its 'test' split)" in capsys.readouterr().out


def test_an_all_silent_sample_says_so(run, tmp_path, capsys):
    silent = tmp_path / "silent"
    shutil.copytree(run, silent)
    for name in ("best", "model"):               # a model that gives every pitch p < 0.5
        w = load_tensors(silent / f"{name}.safetensors")
        w["head.bias"][:] = -30
        save_tensors(silent / f"{name}.safetensors", w)
    capsys.readouterr()
    assert main(["sample", str(silent), "--temperature", "0", "--length", "16", "-o",
                 str(tmp_path / "s.mid")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "rnnlab: warning: all 16 sampled steps are silent (no notes): at temperature 0 each "
        "step holds the round(sum p) most likely pitches, and this model expects less than half "
        "a note at every step; sample at a temperature above 0, e.g. --temperature 1",
        f"wrote 16 steps (0 pitch-steps sounding) to {tmp_path / 's.mid'}"]
    assert main(["sample", str(run), "--length", "16", "-o", str(tmp_path / "t.mid"),
                 "--seed", "1"]) == 0
    assert "warning" not in capsys.readouterr().err            # the trained model plays notes


def _bad_files(d):
    (d / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    empty.save(d / "empty.mid")
    (d / "shape.json").write_text(json.dumps({"train": [[[60], 61]]}))
    (d / "range.json").write_text(json.dumps([[[60], [128]]]))
    (d / "keys.json").write_text(json.dumps({"training": [[[60]]]}))
    return {"corrupt.mid": "not a readable MIDI", "empty.mid": "no notes",
            "shape.json": "train[0][1]", "range.json": "0-127", "keys.json": "'train'"}


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    for name, needle in _bad_files(tmp_path).items():
        out = tmp_path / f"run-{name}"
        capsys.readouterr()
        assert main(["train", str(tmp_path / name), "--out", str(out), *TINY,
                     "--steps", "2"]) == 2, name
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert not out.exists()


def test_temperature_zero_takes_the_expected_number_of_notes(run, tmp_path, capsys):
    from rnnlab.tasks.music import decode_frame
    rng = np.random.default_rng(0)
    logit = lambda p: np.log(np.array(p) / (1 - np.array(p)))  # noqa: E731
    # four pitches at 0.4: none reaches 0.5, yet the model expects 1.6 ~ 2 notes
    assert decode_frame(logit([0.4, 0.41, 0.4, 0.42]), 0, rng).tolist() == \
        [False, True, False, True]
    assert not decode_frame(logit([0.1, 0.2, 0.1]), 0, rng).any()      # expects 0.4: a rest
    png = tmp_path / "roll.png"
    capsys.readouterr()
    assert main(["sample", str(run), "--temperature", "0", "--length", "16",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and "wrote 16 steps" in capsys.readouterr().err
    steps = rnnlab.load(run).sample(16, temperature=0)
    assert sum(map(len, steps)) >= 16            # chords, not silence
    assert steps == rnnlab.load(run).sample(16, temperature=0, seed=7)   # deterministic


def test_the_music_task_chooses_its_own_defaults(notes, tmp_path):
    """`rnnlab train notes.json` gets MusicTask.ROLL_DEFAULTS where nothing is given; what is
    given wins; a text run keeps the general defaults."""
    from rnnlab.app.commands.train import DEFAULTS
    from rnnlab.tasks.music import MusicTask
    from rnnlab.tasks.registry import with_task_defaults
    own = MusicTask.defaults({"music_mode": "roll"})
    assert main(["train", str(notes), "--out", str(tmp_path / "m"), "--hidden", "8",
                 "--steps", "1"]) == 0                 # every other option: the task's
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model"]["hidden"] == 8 and cfg["train"]["steps"] == 1
    for k, v in own.items():
        if k not in ("hidden", "epochs"):
            where = cfg["model"] if k in cfg["model"] else cfg["train"]
            where = where if k in where else cfg["train"]["task_options"]
            assert where[k] == v, k
    assert cfg["data"]["lo"] == 36 - 3                 # --transpose 3 widened the roll
    assert cfg["train"]["epochs"] is None            # --steps given: the task's epochs are not
    text = tmp_path / "t.txt"
    text.write_text("abcabcabd " * 300)
    assert main(["train", str(text), "--out", str(tmp_path / "t"), "--steps", "1"]) == 0
    cfg = json.loads((tmp_path / "t" / "config.json").read_text())
    assert cfg["model"]["hidden"] == DEFAULTS["hidden"]
    assert cfg["train"]["batch"] == DEFAULTS["batch"]
    assert with_task_defaults("music", {"lr": None})["lr"] == own["lr"]
    assert with_task_defaults("music", {"lr": 0.1})["lr"] == 0.1
    given = with_task_defaults("music", {"task_options": {"transpose": 0}})
    assert given["task_options"]["transpose"] == 0 and "transpose" not in given


def test_transpose_shifts_each_window_by_its_own_interval(notes):
    from rnnlab.errors import RnnlabError
    from rnnlab.tasks.music import MusicTask
    plain = MusicTask(notes, seq_len=16, batch=8)
    moved = MusicTask(notes, seq_len=16, batch=8, transpose=2)
    assert (moved.lo, moved.hi) == (plain.lo - 2, plain.hi + 2)
    for k in (0, 1, plain.batches_per_epoch):           # two epochs: new shifts
        x0, y0, m0 = plain.batch(k)
        x, y, m = moved.batch(k)
        assert np.array_equal(m, m0)
        shifts = moved._shifts[moved._perm[k % moved.batches_per_epoch * 8:][:8]]
        assert set(shifts) <= {-2, -1, 0, 1, 2} and len(set(shifts)) > 1
        for b, s in enumerate(shifts):
            for a0, a in ((x0, x), (y0, y)):
                pitches0 = [np.flatnonzero(r) + plain.lo + s for r in a0[:, b]]
                pitches = [np.flatnonzero(r) + moved.lo for r in a[:, b]]
                assert all(np.array_equal(p, q) for p, q in zip(pitches0, pitches))
        assert np.array_equal(moved.batch(k)[1], y)         # a pure function of k
    with pytest.raises(RnnlabError, match="0-12"):
        MusicTask(notes, transpose=13)

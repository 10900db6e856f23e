"""runs.py: atomic writes, safetensors round trips, refusal of bad files, the run folder."""
import json
import os
import pickle

import numpy as np
import pytest

import rnnlab
from rnnlab import fileio
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes, atomic_write_json
from rnnlab.nn.checks import check_state_dict
from rnnlab.training.run_folder import (FORMAT_VERSION, RunFolder, load_tensors, load_tensors_with_metadata,
                         save_tensors)


def sample_tensors():
    rng = np.random.default_rng(0)
    return {"embed.weight": rng.standard_normal((5, 3)).astype(np.float32),
            "rnn.bias_ih_l0": rng.standard_normal(12),
            "steps": np.arange(4, dtype=np.int64),
            "fortran": np.asfortranarray(rng.standard_normal((3, 2)))}


class Marker:
    """Unpickling this creates a file: proof that something was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"one")
    atomic_write_bytes(tmp_path / "a.bin", b"two")
    atomic_write_json(tmp_path / "b.json", {"x": np.float32(1.5), "y": np.arange(2)})
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "b.json"]
    assert (tmp_path / "a.bin").read_bytes() == b"two"
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": 1.5, "y": [0, 1]}


def test_atomic_write_failure_keeps_old_file_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_atomic_write_into_missing_folder(tmp_path):
    with pytest.raises(RnnlabError, match="cannot write .*does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "a.bin", b"x")


def test_tensors_round_trip_with_metadata(tmp_path):
    t = sample_tensors()
    save_tensors(tmp_path / "w.safetensors", t, {"task": "text"})
    got, meta = load_tensors_with_metadata(tmp_path / "w.safetensors")
    assert meta == {"task": "text"}
    assert set(got) == set(t)
    for k in t:
        assert got[k].dtype == t[k].dtype
        np.testing.assert_array_equal(got[k], t[k])
    got["steps"][0] = 7  # loaded arrays are writable copies
    assert load_tensors(tmp_path / "w.safetensors")["steps"][0] == 0


def test_save_tensors_rejects_bad_input(tmp_path):
    with pytest.raises(RnnlabError, match="cannot save tensor 'x'"):
        save_tensors(tmp_path / "w.safetensors", {"x": [1, 2]})
    with pytest.raises(RnnlabError, match="metadata"):
        save_tensors(tmp_path / "w.safetensors", {"x": np.zeros(1)}, {"a": 1})


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "truncated", "garbage",
                                  "bad_header"])
def test_load_tensors_refuses_invalid_files(tmp_path, kind):
    path = tmp_path / "w.safetensors"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        save_tensors(path, sample_tensors())
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 10])
    elif kind == "garbage":
        path.write_bytes(os.urandom(1000))
    elif kind == "bad_header":
        save_tensors(path, sample_tensors())
        data = bytearray(path.read_bytes())
        data[10:20] = b"@@@@@@@@@@"
        path.write_bytes(bytes(data))
    with pytest.raises(RnnlabError, match="w.safetensors is not a valid rnnlab weights file"):
        load_tensors(path)


def test_pickle_renamed_to_safetensors_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled.marker"
    payload = pickle.dumps({"weight": Marker(marker)})
    pickle.loads(payload)  # sanity: unpickling this payload does create the marker
    assert marker.exists()
    marker.unlink()

    path = tmp_path / "model.safetensors"
    path.write_bytes(payload)
    with pytest.raises(RnnlabError, match="not a valid rnnlab weights file.*re-train"):
        load_tensors(path)
    assert not marker.exists()


def test_run_folder_create_and_refusal(tmp_path):
    run = RunFolder(tmp_path / "run").create()
    assert run.path.is_dir() and not run.exists()
    run.create()  # an empty folder is fine
    (run.path / "x").write_text("x")
    with pytest.raises(RnnlabError, match="already exists; pass --resume to continue it or "
                                          "choose another --out"):
        run.create()
    run.create(exist_ok=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RnnlabError, match="existing file"):
        RunFolder(tmp_path / "file").create()


def test_config_round_trip_and_validation(tmp_path):
    run = RunFolder(tmp_path).create()
    run.write_config({"task": "text", "hidden": 64})
    assert run.exists()
    cfg = run.read_config()
    assert cfg == {"task": "text", "hidden": 64, "format": FORMAT_VERSION,
                   "rnnlab_version": rnnlab.__version__}

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**cfg, "format": 2}))
    with pytest.raises(RnnlabError, match="format 2, this rnnlab reads format 1"):
        run.read_config()
    path.write_text(json.dumps({"task": "text", "format": 1}))
    with pytest.raises(RnnlabError, match="lacks the 'rnnlab_version' key"):
        run.read_config()
    path.write_text("[1, 2]")
    with pytest.raises(RnnlabError, match="JSON object"):
        run.read_config()
    path.write_text("{not json")
    with pytest.raises(RnnlabError, match="not valid JSON"):
        run.read_config()
    path.unlink()
    with pytest.raises(RnnlabError, match="not an rnnlab run folder"):
        run.read_config()


def test_weights_round_trip(tmp_path):
    run = RunFolder(tmp_path).create()
    t = sample_tensors()
    run.save_weights("model", t)
    run.save_weights("best", {"a": np.ones(2)})
    assert (tmp_path / "model.safetensors").is_file()
    np.testing.assert_array_equal(run.load_weights("model")["embed.weight"], t["embed.weight"])
    assert list(run.load_weights("best")) == ["a"]
    with pytest.raises(RnnlabError, match="weights name"):
        run.save_weights("../evil", t)


def test_history(tmp_path):
    run = RunFolder(tmp_path).create()
    assert run.read_history() == []
    run.write_history([{"step": 1, "loss": np.float64(2.5)}])
    run.write_history(run.read_history() + [{"step": 2, "loss": 2.0}])
    assert run.read_history() == [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.0}]
    assert sorted(os.listdir(tmp_path)) == ["history.json"]
    (tmp_path / "history.json").write_text('{"step": 1}')
    with pytest.raises(RnnlabError, match="JSON list of objects"):
        run.read_history()


def test_state_round_trip_and_mismatch(tmp_path):
    run = RunFolder(tmp_path).create()
    with pytest.raises(RnnlabError, match="no saved training state"):
        run.load_state()
    arrays = {"exp_avg/w": np.arange(6.0).reshape(2, 3)}
    meta = {"optimizer": {"name": "adam", "step": 3}, "rng": [1, 2, 3]}
    run.save_state(arrays, meta)
    got_arrays, got_meta = run.load_state()
    assert got_meta == meta
    np.testing.assert_array_equal(got_arrays["exp_avg/w"], arrays["exp_avg/w"])

    # state.safetensors carries its own meta (one atomic write), so a stale state.json left by
    # a crash between the two writes does not matter: the newer, complete state is used
    old_json = (tmp_path / "state.json").read_bytes()
    run.save_state(arrays, {**meta, "step": 4})
    (tmp_path / "state.json").write_bytes(old_json)
    assert run.load_state()[1]["step"] == 4

    # a tensors file without its own meta (older rnnlab) must match state.json's id
    save_tensors(tmp_path / "state.safetensors", arrays, {"state_id": "other"})
    with pytest.raises(RnnlabError, match="do not belong together"):
        run.load_state()


def test_check_state_dict():
    expected = {"a": (2, 3), "b": np.zeros(4)}
    check_state_dict(expected, {"a": np.zeros((2, 3)), "b": np.zeros(4)}, "model.safetensors")
    with pytest.raises(RnnlabError, match=r"safetensors: missing 'b' \(expected shape \(4,\)"):
        check_state_dict(expected, {"a": np.zeros((2, 3))}, "model.safetensors")
    with pytest.raises(RnnlabError, match="unexpected 'c'"):
        check_state_dict(expected, {"a": np.zeros((2, 3)), "b": np.zeros(4), "c": np.zeros(1)},
                         "f")
    with pytest.raises(RnnlabError, match=r"'a' has shape \(3, 2\), expected \(2, 3\)"):
        check_state_dict(expected, {"a": np.zeros((3, 2)), "b": np.zeros(4)}, "f")


def test_a_memory_error_is_not_called_a_bad_file(tmp_path, monkeypatch):
    """Only what a damaged file raises becomes "not a valid weights file"; running out of
    memory while reading a good one says so, and a damaged file keeps its cause."""
    import safetensors.numpy
    path = tmp_path / "w.safetensors"
    save_tensors(path, {"a": np.zeros(3, np.float32)})

    def no_memory(data):
        raise MemoryError
    monkeypatch.setattr(safetensors.numpy, "load", no_memory)
    with pytest.raises(MemoryError):
        load_tensors(path)
    monkeypatch.undo()
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(RnnlabError, match="not a valid rnnlab weights file") as err:
        load_tensors(path)
    assert err.value.__cause__ is not None

"""Files follow the user's umask, like any other tool's: every file and folder the commands
write (run folders, MIDI, notes JSON, CSV, ONNX, torch state dicts, PNGs, HTML pages, summary
JSON) is 0666 / 0777 minus the umask, checked under 022 and 077. (mkstemp alone gives 0600:
the atomic write, rnnlab.fileio, sets the mode; every writer goes through it.)"""
import contextlib
import importlib.util
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from rnnlab.app.cli import main
from rnnlab.data.series import generate_series, write_csv
from rnnlab.data.synthetic import chorales
from rnnlab.fileio import atomic_write_bytes, atomic_write_json

TINY = ["--cell", "gru", "--hidden", "6", "--layers", "1", "--batch", "4", "--seq-len", "8",
        "--steps", "2", "--eval-every", "1", "--backend", "numpy"]


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root):
    """{relative path: permission bits} of everything under root."""
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
            for p in sorted(Path(root).rglob("*"))}


def make_everything(out):
    """Every kind of file the commands write, into the folder `out`."""
    rng = np.random.default_rng(0)
    out.mkdir()
    (out / "t.txt").write_text(" ".join(rng.choice("the cat sat on a mat".split(), 300)))
    (out / "notes.json").write_text(json.dumps({"train": chorales(12, 16, seed=0)}))
    write_csv(out / "s.csv", {"y": generate_series("seasonal", 120)})
    assert main(["train", str(out / "t.txt"), "--out", str(out / "text"), *TINY]) == 0
    assert main(["train", str(out / "notes.json"), "--out", str(out / "music"), *TINY]) == 0
    assert main(["train", str(out / "s.csv"), "--out", str(out / "series"), *TINY,
                 "--lookback", "8", "--horizon", "4"]) == 0
    assert main(["sample", str(out / "music"), "--length", "8", "-o", str(out / "new.mid"),
                 "--json-out", str(out / "new.json")]) == 0
    assert main(["forecast", str(out / "series"), "--plot", str(out / "forecast.png")]) == 0
    assert main(["explain", str(out / "text"), "--text", "the cat", "-o",
                 str(out / "explain.html")]) == 0
    assert main(["plot", str(out / "text"), "--text", "the cat", "-o", str(out / "plots")]) == 0
    for name, module in (("model.pt", "torch"), ("model.onnx", "onnx")):
        if importlib.util.find_spec(module) is not None:       # optional extras
            assert main(["export", str(out / "text"), "-o", str(out / name)]) == 0
    atomic_write_json(out / "summary.json", {"as": "the demo writes it"})


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755),
                                                        (0o077, 0o600, 0o700),
                                                        (0o002, 0o664, 0o775)])
def test_every_written_file_follows_the_umask(tmp_path, capsys, mask, file_mode, dir_mode):
    out = tmp_path / "out"
    with umask(mask):
        make_everything(out)
    found = modes(out)
    made = {p for p in found if not p.endswith((".txt", "notes.json", "s.csv"))}
    expected = {"text/config.json", "text/model.safetensors", "text/best.safetensors",
                "text/state.safetensors", "text/state.json", "text/history.json",
                "music/model.safetensors", "series/config.json", "new.mid", "new.json",
                "forecast.png", "explain.html", "plots/loss_curves.png", "plots/report.html",
                "plots/gates_layer0.png", "summary.json"}
    expected |= {name for name, module in (("model.pt", "torch"), ("model.onnx", "onnx"))
                 if importlib.util.find_spec(module) is not None}
    assert expected <= made
    wrong = {p: oct(m) for p, m in found.items()
             if m != (dir_mode if (out / p).is_dir() else file_mode)}
    assert wrong == {}
    assert not [p for p in found if p.endswith(".tmp")]


def test_the_atomic_write_keeps_no_mkstemp_mode(tmp_path):
    with umask(0o022):
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        (tmp_path / "b.bin").write_bytes(b"x")              # what any other tool gives
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == \
        stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o644


def test_a_write_never_changes_the_umask(tmp_path, monkeypatch):
    """The umask is read, never set, as a file is written: a thread writing at the same moment
    would otherwise get a wrong mode (os.umask is process-wide)."""
    import rnnlab.fileio as fileio

    def refuse(mask):
        raise AssertionError("os.umask was called during a write")
    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", refuse)
        fileio.atomic_write_json(tmp_path / "a.json", {"x": 1})
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640

"""Faults never print a traceback: a full disk (simulated in the write path, and a real small
tmpfs where the machine allows mounting one), a folder without write permission, and errors in
general each end as one line naming the file and the fix, with exit code 1 for the environment
and 2 for the user's input. The last good checkpoint stays loadable and no temporary file is
left behind."""
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.training.run_folder import RunFolder

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = ["--cell", "gru", "--hidden", "6", "--layers", "1", "--batch", "3", "--seq-len", "6",
        "--backend", "numpy", "--dtype", "float64", "--eval-every", "2"]


def snapshot(run):
    return {p.name: p.read_bytes() for p in sorted(Path(run).iterdir())}


def assert_intact(run, before, step):
    """The run folder is exactly as it was: no temporary file, the checkpoint of `step`, and
    it loads."""
    assert snapshot(run) == before, sorted(set(snapshot(run)) ^ set(before))
    assert RunFolder(run).load_state()[1]["step"] == step
    assert all(np.isfinite(v).all() for v in rnnlab.load(run).model.params.values())


def one_error_line(err):
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1].startswith("rnnlab: error: "), err
    assert not any(s.startswith("rnnlab: error") for s in lines[:-1])
    return lines[-1]


def run_cli(*argv, **kw):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           **kw.pop("env", {})}
    return subprocess.run([*kw.pop("prefix", []), sys.executable, "-m", "rnnlab", *argv],
                          env=env, capture_output=True, text=True, timeout=600, **kw)


# ------------------------------------------------------------------ a full disk

def test_disk_full_while_saving_keeps_the_last_checkpoint(text, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(["train", str(text), "--out", str(run), *TINY, "--steps", "4"]) == 0
    before = snapshot(run)

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", no_space)          # every write fails at its fsync
    capsys.readouterr()
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", "8"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"rnnlab: error: {run}{os.sep}") and ".safetensors: " in line
    assert line.endswith("No space left on device (the last complete checkpoint, step 4, is "
                         "kept); the disk is full: free some space or write to another disk")
    monkeypatch.undo()
    assert_intact(run, before, 4)
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", "8"]) == 0
    assert RunFolder(run).load_state()[1]["step"] == 8


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs, where the machine allows mounting one (root, and a kernel that lets this
    process mount); otherwise the test is skipped and the simulated disk-full test stands."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root; the simulated ENOSPC test covers this")
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def fill(disk):
    """Write a file until the disk is full; returns it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


def test_a_real_full_disk_keeps_the_last_checkpoint(text, small_disk, capsys):
    run = small_disk / "run"
    assert main(["train", str(text), "--out", str(run), *TINY, "--steps", "4"]) == 0
    before = snapshot(run)
    filler = fill(small_disk)
    capsys.readouterr()
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", "8"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"{run}{os.sep}" in line and "No space left on device" in line
    assert "step 4, is kept" in line and "free some space" in line
    assert_intact(run, before, 4)
    filler.unlink()
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", "8"]) == 0


# ------------------------------------------------------------------ no write permission

def without_write_permission():
    """How this test process can run rnnlab under the folder permissions: as a normal user
    directly; as root (which ignores them) through setpriv without CAP_DAC_OVERRIDE."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores folder permissions and setpriv (util-linux), needed to drop "
                    "CAP_DAC_OVERRIDE, is not installed")
    probe = subprocess.run([setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner",
                            "true"], capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {probe.stderr.strip()}")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def test_a_folder_without_write_permission(text, tmp_path):
    prefix = without_write_permission()
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        r = run_cli("train", str(text), "--out", str(parent / "run"), *TINY, "--steps", "2",
                    prefix=prefix)
        assert r.returncode == 1, r.stderr
        assert one_error_line(r.stderr) == (
            f"rnnlab: error: {parent / 'run'}: Permission denied; you lack permission: make the "
            f"folder writable or choose another path")
        assert not (parent / "run").exists()
        # a run folder that became read-only: the checkpoint fails, the last one is kept
        run = tmp_path / "run"
        assert main(["train", str(text), "--out", str(run), *TINY, "--steps", "2"]) == 0
        before = snapshot(run)
        run.chmod(0o555)
        r = run_cli("train", str(text), "--out", str(run), "--resume", "--steps", "4",
                    prefix=prefix)
        assert r.returncode == 1, r.stderr
        line = one_error_line(r.stderr)
        assert line.startswith(f"rnnlab: error: {run}{os.sep}") and "Permission denied" in line
        assert "step 2, is kept" in line
        run.chmod(0o755)
        assert_intact(run, before, 2)
    finally:
        parent.chmod(0o755)
        (tmp_path / "run").exists() and (tmp_path / "run").chmod(0o755)


# ------------------------------------------------------------------ the error boundary

def test_exit_codes_and_one_line_per_kind_of_error(tmp_path, capsys, monkeypatch):
    from rnnlab.app.commands import evaluate
    cases = [(RuntimeError("an invariant broke"), 1,
              "rnnlab: internal error: RuntimeError: an invariant broke; please report it "
              "(RNNLAB_DEBUG=1 shows the traceback)"),
             (MemoryError("Unable to allocate 298 GiB"), 1,
              "rnnlab: error: out of memory (Unable to allocate 298 GiB); use a smaller model, "
              "batch or input"),
             (FileNotFoundError(errno.ENOENT, "No such file or directory", "runs/x.json"), 1,
              "rnnlab: error: runs/x.json: No such file or directory; it does not exist: check "
              "the path"),
             (rnnlab.RnnlabError("bad input\nacross two lines"), 2,
              "rnnlab: error: bad input across two lines")]
    for exc, code, line in cases:
        def boom(args, exc=exc):
            raise exc
        monkeypatch.setattr(evaluate, "run", boom)
        assert main(["evaluate", "run", "file"]) == code
        assert capsys.readouterr().err == line + "\n"
    monkeypatch.setenv("RNNLAB_DEBUG", "1")             # the traceback, for bug reports
    with pytest.raises(RuntimeError, match="an invariant broke"):
        def boom(args):
            raise RuntimeError("an invariant broke")
        monkeypatch.setattr(evaluate, "run", boom)
        main(["evaluate", "run", "file"])


def test_rnnlab_debug_shows_the_traceback(tmp_path):
    plain = run_cli("evaluate", str(tmp_path / "nowhere"), "x.txt")
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1
    assert "is not an rnnlab run folder" in plain.stderr
    debug = run_cli("evaluate", str(tmp_path / "nowhere"), "x.txt", env={"RNNLAB_DEBUG": "1"})
    assert debug.returncode == 1                  # Python's own exit on an uncaught error
    assert "Traceback (most recent call last)" in debug.stderr
    assert "rnnlab.errors.RnnlabError" in debug.stderr


def test_a_binary_file_given_as_text(tmp_path, capsys):
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 64)
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"rnnlab: error: {path} looks binary, not text (a NUL byte at offset 0); pass a text "
        f"file (.txt), a CSV, notes JSON or MIDI")
    assert not (tmp_path / "run").exists()


def test_a_closed_pipe_ends_quietly():
    """`rnnlab sample run | head -c 10`: exit 0, nothing on stderr."""
    run = Path(__file__).resolve().parent / "data" / "pre_unk" / "char"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "RNNLAB_BACKEND": "numpy"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", "sample", str(run), "--length",
                             "1000000", "--seed", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    assert proc.wait(timeout=300) == 0
    assert proc.stderr.read() == b""

"""`rnnlab train --nproc N` (rnnlab/training/distributed.py): 2 gloo processes on loopback.

One spawned process group trains every task (text, series, music roll, melody, panel) with every cell
that has a torch twin, and a single-process run resumed on 2 processes; each is held to
rnnlab's own single-process run on the full batch, in the parameters after the steps (float64
with Adam to 1e-10; float32 with SGD to 1e-6: see docs/scale-out.md for float32 Adam). Then the
command line end to end with the faults: SIGKILL of one rank, SIGTERM to the launcher, no
process left behind, and resume in both directions. Spawning costs seconds (each process
imports torch), so the runs are shared and tiny."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from rnnlab.app.cli import main  # noqa: E402
from rnnlab.data.series import generate_series, write_csv  # noqa: E402
from rnnlab.data.synthetic import chorales, melodies  # noqa: E402
from rnnlab.training.launch import launch  # noqa: E402
from rnnlab.interop.torch import build_twin  # noqa: E402
from rnnlab.training.run_folder import RunFolder, load_tensors  # noqa: E402
from rnnlab.tasks.model import ModelConfig, SequenceModel  # noqa: E402
from rnnlab.training.api import train  # noqa: E402

NO_DROPOUT = dict(dropout=0.0, input_dropout=0.0, output_dropout=0.0)
# (task, file, options); each task twice, float64 with Adam and float32 with SGD, and between
# them every cell with a twin
TASKS = {
    "text": ("t.txt", dict(hidden=6, layers=2, batch=4, seq_len=8, embed=5)),
    "series": ("s.csv", dict(hidden=6, layers=1, batch=10, patience=0, task_options=dict(
        lookback=8, horizon=4, ensemble=1, strategy="recursive"))),
    "roll": ("c.json", dict(hidden=6, layers=1, batch=5, seq_len=12, **NO_DROPOUT,
                            head="bernoulli", task_options=dict(transpose=0))),   # nade: no twin
    "melody": ("m.json", dict(hidden=6, layers=1, batch=4, seq_len=12, **NO_DROPOUT,
                              task_options=dict(music_mode="melody"))),
    "panel": ("p.csv", dict(hidden=6, layers=1, batch=8, patience=0, task_options=dict(
        horizon=4, ensemble=1))),
}
CELLS = {("text", "float64"): ("lstm", {"proj_size": 4}), ("text", "float32"): ("rnn", {}),
         ("series", "float64"): ("gru", {}), ("series", "float32"): ("lstm", {"layer_norm": True}),
         ("roll", "float64"): ("minlstm", {}), ("roll", "float32"): ("mingru", {}),
         ("melody", "float64"): ("slstm", {"num_heads": 2}),
         ("melody", "float32"): ("mlstm", {"num_heads": 2}),
         ("panel", "float64"): ("lstm", {}), ("panel", "float32"): ("gru", {})}
PRECISION = {"float64": (dict(dtype="float64"), 1e-10),
             "float32": (dict(dtype="float32", optimizer="sgd", lr=0.1), 1e-6)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to it".split()
    (d / "t.txt").write_text(" ".join(rng.choice(words, 400)))
    y = generate_series("seasonal", 100, seed=3)
    write_csv(d / "s.csv", {"y": y}, time=[f"2020-01-{i % 28 + 1:02d}" for i in range(100)])
    (d / "c.json").write_text(json.dumps({"train": chorales(12, 24, seed=0),
                                          "valid": chorales(3, 24, seed=1)}))
    (d / "m.json").write_text(json.dumps({"train": melodies(12, seed=0),
                                          "valid": melodies(3, seed=1)}))
    rows = [f"s{k},{t},{v}" for k in range(4)
            for t, v in enumerate(generate_series("seasonal", 60, seed=k))]
    (d / "p.csv").write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    return d


def options(task, precision, steps=2):
    file, opts = TASKS[task]
    cell, cell_options = CELLS[task, precision]
    return file, dict(opts, cell=cell, cell_options=cell_options, steps=steps, eval_every=1,
                      **PRECISION[precision][0])


def quiet(**kw):
    return train(progress=False, log=lambda m: None, **kw)


@pytest.fixture(scope="module")
def spawned(data, tmp_path_factory):
    """Single-process references here; then one process group of 2 for all the rest."""
    root = tmp_path_factory.mktemp("runs")
    jobs = []
    for task in TASKS:
        for precision in PRECISION:
            file, opts = options(task, precision)
            quiet(data=str(data / file), out=str(root / f"{task}-{precision}-single"), **opts)
            jobs.append(dict(data=str(data / file), out=str(root / f"{task}-{precision}-ddp"),
                             progress=False, **opts))
    # single -> distributed: 1 step alone, then resumed on 2 processes to step 2
    file, opts = options("text", "float64", steps=1)
    quiet(data=str(data / file), out=str(root / "resumed"), **opts)
    jobs.append(dict(data=str(data / file), out=str(root / "resumed"), resume=True, steps=2,
                     progress=False))
    results = launch(jobs, 2, build_twin)
    return root, results


def params(run):
    return load_tensors(Path(run) / "model.safetensors")


def assert_close(a, b, tol):
    assert sorted(a) == sorted(b)
    worst = max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)
    assert worst <= tol, worst


@pytest.mark.parametrize("precision", list(PRECISION))
@pytest.mark.parametrize("task", list(TASKS))
def test_two_processes_step_as_one_full_batch(spawned, task, precision):
    root, results = spawned
    single, ddp = root / f"{task}-{precision}-single", root / f"{task}-{precision}-ddp"
    assert_close(params(single), params(ddp), PRECISION[precision][1])
    # the steps moved the weights (a comparison of two unmoved models proves nothing)
    cfg = RunFolder(single).read_config()
    start = SequenceModel(ModelConfig.from_json(cfg["model"])).state_dict()
    assert max(float(np.max(np.abs(start[k] - v))) for k, v in params(ddp).items()) > 1e-4
    # an ordinary run folder: the same config and the same history of losses
    assert RunFolder(ddp).read_config()["model"] == cfg["model"]
    h1, h2 = (json.loads((r / "history.json").read_text()) for r in (single, ddp))
    assert [r["step"] for r in h1] == [r["step"] for r in h2] == [1, 2]
    for r1, r2 in zip(h1, h2):
        assert r1["train_loss"] == pytest.approx(r2["train_loss"], rel=1e-5)
    # the optimizer state (Adam's moments, step count) and the carried state are rnnlab's
    s1, s2 = (RunFolder(r).load_state() for r in (single, ddp))
    assert s1[1]["optimizer"]["step"] == s2[1]["optimizer"]["step"] == 2
    assert_close(s1[0], s2[0], 1e3 * PRECISION[precision][1])
    assert any(k.startswith("opt/") for k in s1[0]) == (precision == "float64")


def test_resume_in_both_directions_is_the_same_run(spawned, data):
    root, results = spawned
    ref = root / "text-float64-single"
    # single (1 step) -> 2 processes (step 2) == 2 steps single
    assert results[-1]["steps"] == 2 and results[-1]["steps_run"] == 1
    assert_close(params(ref), params(root / "resumed"), 1e-10)
    # 2 processes (2 steps) -> single (step 3) == 3 steps single
    file, opts = options("text", "float64", steps=3)
    quiet(data=str(data / file), out=str(root / "three"), **opts)
    back = root / "back"
    shutil.copytree(root / "text-float64-ddp", back)
    quiet(data=str(data / file), out=str(back), resume=True, steps=3)
    assert_close(params(root / "three"), params(back), 1e-10)
    assert main(["evaluate", str(back), str(data / file)]) == 0


@pytest.mark.parametrize("task", list(TASKS))
def test_each_task_run_is_read_by_the_other_commands(spawned, data, task, tmp_path):
    root, _ = spawned
    run = tmp_path / "run"
    shutil.copytree(root / f"{task}-float64-ddp", run)
    file = str(data / TASKS[task][0])
    assert main(["evaluate", str(run), file]) == 0
    assert main(["train", file, "--out", str(run), "--resume", "--steps", "3"]) == 0
    assert RunFolder(run).load_state()[1]["step"] == 3


def _children(pid):
    """Every descendant of pid, from /proc."""
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(p.name))
    return kids + [g for k in kids for g in _children(k)]


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_time(pid):
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def _cli(args):
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "rnnlab", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(run, step, proc, timeout=600):
    """Until the run's checkpoint is at `step` or beyond (a bound, not a time: a worker may
    compile the numba kernels first on a fresh machine)."""
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            if RunFolder(run).load_state()[1]["step"] >= step:
                return
        except Exception:
            pass
        time.sleep(0.2)
    pytest.fail(f"no checkpoint of step {step} in {timeout} s")


def _workers(proc):
    """The rank processes (spawned workers: their own process group), in start order."""
    end = time.time() + 120
    while time.time() < end:
        ranks = [p for p in _children(proc.pid) if os.getpgid(p) == p]
        if len(ranks) == 2:
            return sorted(ranks, key=_start_time), _children(proc.pid)
        time.sleep(0.2)
    pytest.fail("the 2 ranks did not start")


def test_faults_end_every_process_and_keep_the_checkpoint(data, tmp_path):
    run = tmp_path / "r"
    args = [str(data / "t.txt"), "--out", str(run), "--hidden", "6", "--layers", "1",
            "--batch", "4", "--seq-len", "8", "--eval-every", "2", "--nproc", "2"]
    # a rank dies: the job ends with exit 1 and one line naming it
    proc = _cli([*args, "--steps", "100000"])
    _wait_for_step(run, 2, proc)
    (rank0, rank1), everyone = _workers(proc)
    os.kill(rank1, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert err.strip().splitlines()[-1].startswith("rnnlab: rank 1 of 2 died (killed by SIGKILL)")
    time.sleep(0.5)
    assert not [p for p in everyone if _alive(p)]
    arrays, meta = RunFolder(run).load_state()               # loadable and resumable
    kept = meta["step"]
    # resumed on 2 processes; SIGTERM to the launcher saves a checkpoint and stops every rank
    proc = _cli([str(data / "t.txt"), "--out", str(run), "--resume", "--steps", "100000",
                 "--nproc", "2"])
    _wait_for_step(run, kept + 2, proc)
    _, everyone = _workers(proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM: saved a checkpoint" in err
    time.sleep(0.5)
    assert not [p for p in everyone if _alive(p)]
    step = RunFolder(run).load_state()[1]["step"]
    assert step >= kept + 2
    # and a single process carries it on, the other commands read it as any run
    assert main(["train", str(data / "t.txt"), "--out", str(run), "--resume",
                 "--steps", str(step + 1)]) == 0
    assert RunFolder(run).load_state()[1]["step"] == step + 1
    assert main(["sample", str(run), "--length", "20"]) == 0


@pytest.mark.parametrize("file, extra, says", [
    ("t.txt", ["--cell", "lstm-peephole"], "the peephole LSTM has no PyTorch layer"),
    ("t.txt", ["--cell", "lstm-coupled"], "the coupled LSTM has no PyTorch layer"),
    ("t.txt", ["--nproc", "0"], "--nproc must be a positive integer"),
    ("t.txt", ["--dist-backend", "nccl"], "--dist-backend nccl runs on GPUs"),
    ("t.txt", ["--batch", "1"], "--batch 1 is fewer sequences than the 2 processes"),
    ("c.json", [], "twin, which has no nade head; train it without --nproc, or with --head "
     "bernoulli"),                                  # the piano roll's default head
])
def test_refusals_are_one_line_and_write_nothing(data, tmp_path, capsys, file, extra, says):
    out = tmp_path / "r"
    args = ["train", str(data / file), "--out", str(out), "--nproc", "2", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not out.exists()


def test_without_torch_one_line_names_the_extra(data, tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        monkeypatch.setitem(sys.modules, name, None)
    out = tmp_path / "r"
    assert main(["train", str(data / "t.txt"), "--out", str(out), "--nproc", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install" in err[0] and "[torch]'" in err[0], err
    assert not out.exists()

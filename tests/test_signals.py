"""A run folder can always be used again: Ctrl-C (SIGINT) and SIGTERM save a checkpoint of the
current step and say so (a real `python -m rnnlab` process, sent real signals), `--resume` of a
folder without a checkpoint starts at step 0, a resume says where it starts, and the final line
counts this run's steps and the total."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.interrupt import SignalStop
from rnnlab.training.run_folder import RunFolder, load_tensors
from rnnlab.training.api import train

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = ["--cell", "gru", "--hidden", "6", "--layers", "2", "--batch", "3", "--seq-len", "6",
        "--backend", "numpy", "--dtype", "float64", "--dropout", "0.1"]


def start(text, run, *extra):
    """`python -m rnnlab train` in a child process; returns (process, its stderr lines so far)
    once it has taken its first step."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", "train", str(text), "--out",
                             str(run), *TINY, *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    proc.reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    proc.reader.start()
    deadline = time.monotonic() + 300
    while not any(s.startswith("step 1:") for s in lines) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "".join(lines)[-3000:]
    return proc, lines


@pytest.mark.parametrize("sig, code, eval_every", [(signal.SIGINT, 130, "100000"),
                                                   (signal.SIGTERM, 143, "3")])
def test_a_signal_saves_the_current_step_and_resume_is_exact(text, tmp_path, capsys, sig, code,
                                                             eval_every):
    run = tmp_path / "run"
    proc, lines = start(text, run, "--steps", "100000", "--eval-every", eval_every)
    proc.send_signal(sig)
    proc.wait(timeout=300)
    proc.reader.join(timeout=60)                  # everything it wrote to stderr
    out, err = proc.stdout.read(), "".join(lines)
    name = sig.name
    assert proc.returncode == code, err[-3000:]
    assert "Traceback" not in err and out == ""
    assert f"rnnlab: {name}: finishing this step, then saving a checkpoint" in err
    m = re.search(rf"interrupted by {name}: saved a checkpoint of step (\d+) of 100,000 in "
                  rf"{re.escape(str(run))} \(\d+ steps? this run\); continue with: rnnlab train "
                  rf"{re.escape(str(text))} --out {re.escape(str(run))} --resume", err)
    assert m, err[-2000:]
    step = int(m.group(1))
    assert step >= 1 and RunFolder(run).load_state()[1]["step"] == step
    assert all(np.isfinite(v).all() for v in rnnlab.load(run).model.params.values())
    # --resume continues from that step, says so, and ends where a straight run ends
    final = step + 5
    capsys.readouterr()
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", str(final)]) == 0
    cap = capsys.readouterr()
    assert f"resuming at step {step:,} of {final:,}" in cap.err
    assert cap.out.startswith(f"trained 5 steps this run, {final:,} of {final:,} in all (steps)")
    straight = tmp_path / "straight"
    assert main(["train", str(text), "--out", str(straight), *TINY, "--steps", str(final),
                 "--eval-every", eval_every]) == 0
    a, b = load_tensors(run / "model.safetensors"), load_tensors(straight / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    keys = ("step", "train_loss", "val_loss")
    ha, hb = (RunFolder(p).read_history() for p in (run, straight))
    assert [[r[k] for k in keys] for r in ha] == [[r[k] for k in keys] for r in hb]


def test_a_folder_without_a_checkpoint_resumes_from_step_0(text, tmp_path, capsys):
    run = tmp_path / "run"
    opts = dict(cell="gru", hidden=6, layers=2, batch=3, seq_len=6, backend="numpy",
                dtype="float64", eval_every=2, progress=False, log=lambda m: None)
    train(str(text), out=str(run), steps=4, **opts)
    for p in run.iterdir():                        # as a Ctrl-C before the first checkpoint
        if p.name != "config.json":                # used to leave it
            p.unlink()
    assert main(["train", str(text), "--out", str(run), *TINY, "--steps", "6"]) == 2
    assert "already exists; pass --resume" in capsys.readouterr().err
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", "6"]) == 0
    cap = capsys.readouterr()
    assert f"{run} has no checkpoint yet: starting at step 0 of 6 with its saved config" in cap.err
    assert cap.out.startswith("trained 6 steps this run, 6 of 6 in all (steps)")
    train(str(text), out=str(tmp_path / "straight"), steps=6, **opts)
    a = load_tensors(run / "model.safetensors")
    b = load_tensors(tmp_path / "straight" / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_every_run_starts_by_saying_what_it_trains(text, tmp_path, capsys):
    assert main(["train", str(text), "--out", str(tmp_path / "r"), *TINY, "--steps", "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"data: [\d,]+ chars \([\d,]+ train, [\d,]+ validation\); vocabulary",
                    err[0])
    assert re.match(r"model: [\d,]+ parameters \(.+\); estimated peak memory .+ available$",
                    err[1])
    assert err[2] == "stopping rule: 2 steps (--steps)"
    assert main(["train", str(text), "--out", str(tmp_path / "r"), "--resume", "--epochs",
                 "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith("model: ") and err[2].startswith("stopping rule: ")
    assert "--epochs 1 x " in err[2] and err[3].startswith("resuming at step 2 of ")


def test_the_default_stopping_rule_is_stated(text, tmp_path, capsys):
    # ~1,300 training chars in batches of 10 x 20: 10 passes are too few steps (60), so the
    # minimum holds
    assert main(["train", str(text), "--out", str(tmp_path / "r"), *TINY, "--eval-every",
                 "1000", "--batch", "10", "--seq-len", "20"]) == 0
    cap = capsys.readouterr()
    rule = next(s for s in cap.err.splitlines() if s.startswith("stopping rule: "))
    # the default rule since issue 23: early stopping on validation under the task's cap
    assert re.fullmatch(r"stopping rule: stop when the validation loss has not improved \(by "
                        r"more than 0\.1%\) for 10 validations in a row \(10,000 steps at "
                        r"--eval-every 1000\); at most 200 steps: 10 passes over the [\d,]+ "
                        r"training tokens \(\d+ steps a pass\), raised to the minimum of 200 "
                        r"steps \(the default for this task and data size; the best weights are "
                        r"kept; --patience, --steps, --epochs or --time-budget set another\)",
                        rule), rule
    assert cap.out.startswith("trained 200 steps this run, 200 of 200 in all")


def test_a_second_signal_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    with SignalStop(True) as signals:
        os.kill(os.getpid(), signal.SIGINT)
        while signals.received is None:           # delivered at the next bytecode
            time.sleep(0.001)
        assert signals.received == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert signal.getsignal(signal.SIGINT) is before


def test_an_interrupted_api_run_returns_its_result(text, tmp_path):
    """train() in a notebook: a Ctrl-C ends the call with a result that says so."""
    calls = []

    def log(msg):
        calls.append(msg)
        if msg.startswith("step 1:"):
            os.kill(os.getpid(), signal.SIGINT)

    res = train(str(text), out=str(tmp_path / "run"), cell="gru", hidden=6, layers=1, batch=3,
                seq_len=6, steps=1000, eval_every=1000, backend="numpy", progress=False, log=log)
    assert res.interrupted == "SIGINT" and res.stopped == "interrupted by SIGINT"
    assert res.steps == res.steps_run >= 1 and res.total == 1000
    assert json.loads((tmp_path / "run" / "state.json").read_text())["meta"]["step"] == res.steps

"""Reliability: SIGKILL at random moments, exact resume, divergence, hostile model files."""
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlab.training import run_folder as runs
from rnnlab.app.cli import main
from rnnlab.training.load import load
from rnnlab.training.run_folder import RunFolder, load_tensors, save_tensors
from rnnlab.training.api import train

QUIET = dict(progress=False, log=lambda m: None)
TINY = ["--cell", "gru", "--hidden", "6", "--layers", "2", "--batch", "3", "--seq-len", "6",
        "--eval-every", "2", "--backend", "numpy", "--dtype", "float64"]


def api_opts(**kw):
    opts = dict(cell="gru", hidden=6, layers=2, batch=3, seq_len=6, eval_every=2,
                backend="numpy", dtype="float64")
    opts.update(kw)
    return {**opts, **QUIET}


def saved_step(run):
    try:
        return json.loads((run / "state.json").read_text())["meta"]["step"]
    except (OSError, ValueError, KeyError):
        return -1


# ------------------------------------------------------------------ 1. SIGKILL, 20 times

def test_sigkill_at_random_moments_then_resume(tmp_path, text):
    run = tmp_path / "run"
    rng = random.Random(20240611)
    env = {**os.environ, "RNNLAB_BACKEND": "numpy", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rnnlab", "train", str(text), "--out", str(run)] + TINY
    last = -1
    for i in range(20):
        args = cmd + (["--steps", "1000000"] if i == 0 else ["--resume"])
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        # arm the kill once this process has written a checkpoint of its own, then let it run
        # a random while (seeded) so that the kill lands anywhere in the step/save cycle
        deadline = time.monotonic() + 120
        while saved_step(run) <= last and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        # after every kill: the folder loads and holds a complete checkpoint
        model = load(str(run))
        assert all(np.isfinite(v).all() for v in model.model.params.values())
        arrays, meta = RunFolder(run).load_state()
        assert meta["step"] >= last and meta["step"] > 0
        last = meta["step"]
    # --resume continues from the last complete checkpoint: finishing the run gives exactly
    # what an uninterrupted run gives (float64, bit for bit)
    final = last + 6 - last % 2
    assert main(["train", str(text), "--out", str(run), "--resume", "--steps", str(final)]
                + TINY[-4:]) == 0
    straight = tmp_path / "straight"
    train(str(text), out=str(straight), steps=final, **api_opts())
    a, b = load_tensors(run / "model.safetensors"), load_tensors(straight / "model.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    ha, hb = (RunFolder(p).read_history() for p in (run, straight))
    keys = ("step", "train_loss", "val_loss")
    assert [[r[k] for k in keys] for r in ha] == [[r[k] for k in keys] for r in hb]


def test_crash_between_the_two_state_files_still_resumes(tmp_path, text, monkeypatch):
    run = tmp_path / "run"
    train(str(text), out=str(run), steps=4, **api_opts())
    real = runs.atomic_write_json

    def crash_on_state_json(path, obj):
        if os.path.basename(path) == "state.json":
            raise KeyboardInterrupt("killed")          # state.safetensors is already written
        return real(path, obj)

    monkeypatch.setattr(runs, "atomic_write_json", crash_on_state_json)
    with pytest.raises(KeyboardInterrupt):
        train(str(text), out=str(run), resume=True, steps=8, **QUIET)
    monkeypatch.setattr(runs, "atomic_write_json", real)
    arrays, meta = RunFolder(run).load_state()       # the newer, complete checkpoint
    assert meta["step"] == 6
    train(str(text), out=str(run), resume=True, steps=8, **QUIET)
    train(str(text), out=str(tmp_path / "straight"), steps=8, **api_opts())
    a = load_tensors(run / "model.safetensors")
    b = load_tensors(tmp_path / "straight" / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ 2. exact resume

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_resume_is_exact(tmp_path, text, dtype, cell):
    opts = api_opts(dtype=dtype, cell=cell, dropout=0.2, eval_every=3, optimizer="adam",
                    lr_decay=0.9, lr_decay_every=2)
    train(str(text), out=str(tmp_path / "a"), steps=15, **opts)
    train(str(text), out=str(tmp_path / "b"), steps=9, **opts)
    train(str(text), out=str(tmp_path / "b"), resume=True, steps=15, **QUIET)
    for name in ("model", "best"):
        a = load_tensors(tmp_path / "a" / f"{name}.safetensors")
        b = load_tensors(tmp_path / "b" / f"{name}.safetensors")
        assert all(np.array_equal(a[k], b[k]) for k in a), name
    keys = ("step", "train_loss", "val_loss", "lr")
    ha, hb = (RunFolder(tmp_path / p).read_history() for p in "ab")
    assert [[r[k] for k in keys] for r in ha] == [[r[k] for k in keys] for r in hb]
    assert [r["step"] for r in ha] == [3, 6, 9, 12, 15]


@pytest.mark.parametrize("cell,options", [
    ("lstm", {"proj_size": 4, "layer_norm": True, "zoneout": (0.2, 0.1),
              "recurrent_dropout": 0.3}),
    ("gru", {"recurrent_dropout": 0.3})])
def test_resume_is_exact_with_the_cells_random_options(tmp_path, text, cell, options):
    """Zoneout and recurrent dropout draw from the model's generator, which --resume restores."""
    opts = api_opts(dtype="float64", cell=cell, eval_every=3, cell_options=options)
    train(str(text), out=str(tmp_path / "a"), steps=12, **opts)
    train(str(text), out=str(tmp_path / "b"), steps=6, **opts)
    train(str(text), out=str(tmp_path / "b"), resume=True, steps=12, **QUIET)
    a = load_tensors(tmp_path / "a" / "model.safetensors")
    b = load_tensors(tmp_path / "b" / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ 3. divergence

DIVERGE = ["--cell", "rnn-relu", "--hidden", "8", "--layers", "1", "--batch", "4", "--seq-len",
           "8", "--optimizer", "sgd", "--lr", "1e10", "--clip", "0", "--eval-every", "1",
           "--steps", "20", "--backend", "numpy"]


def test_divergence_stops_with_step_and_tensor_and_keeps_checkpoint(tmp_path, text, capsys):
    run = tmp_path / "run"
    with np.errstate(all="ignore"):
        assert main(["train", str(text), "--out", str(run)] + DIVERGE) == 2
    err = capsys.readouterr().err
    assert "diverged at step" in err and "lower --lr" in err and "--on-nan skip" in err
    step = int(err.split("diverged at step ")[1].split(":")[0])
    assert "rnn." in err or "head." in err or "loss" in err          # names the tensor
    _, meta = RunFolder(run).load_state()
    assert meta["step"] == step - 1                                    # last good checkpoint
    model = load(str(run))
    assert all(np.isfinite(v).all() for v in model.model.params.values())


def test_on_nan_skip_skips_bad_batches(tmp_path, text):
    logs = []
    with np.errstate(all="ignore"):
        res = train(str(text), out=str(tmp_path / "run"), cell="rnn", nonlinearity="relu",
                    hidden=8, layers=1, batch=4, seq_len=8, optimizer="sgd", lr=1e10, clip=0,
                    eval_every=5, steps=10, on_nan="skip", backend="numpy", progress=False,
                    log=logs.append)
    assert res.steps == 10
    assert any("skipped a batch" in m for m in logs)
    model = load(str(tmp_path / "run"))
    assert all(np.isfinite(v).all() for v in model.model.params.values())


# ------------------------------------------------------------------ 4. hostile files

class Marker:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def good_run(tmp_path, text):
    run = tmp_path / "run"
    train(str(text), out=str(run), steps=2, **api_opts(dtype="float32"))
    return run


def _evaluate(run, text):
    return main(["evaluate", str(run), str(text)])


def test_truncated_and_corrupted_weights(good_run, text, capsys):
    w = good_run / "best.safetensors"
    data = w.read_bytes()
    for bad in (data[:len(data) // 2], data[:5], b"", data[:8] + b"[" + data[9:],
                data[:8] + b"\xff" * 50 + data[58:], (10 ** 15).to_bytes(8, "little") + data[8:]):
        w.write_bytes(bad)
        assert _evaluate(good_run, text) == 2
        assert "not a valid rnnlab weights file" in capsys.readouterr().err


def test_config_from_another_version_or_cell(good_run, text, capsys):
    path = good_run / "config.json"
    cfg = json.loads(path.read_text())
    variants = [{**cfg, "format": 99},
                {**cfg, "model": {**cfg["model"], "cell": "transformer"}},
                {**cfg, "model": {**cfg["model"], "attention_heads": 4}},
                {k: v for k, v in cfg.items() if k != "format"},
                {**cfg, "model": "lstm"}, [1, 2]]
    for v in variants:
        path.write_text(json.dumps(v))
        assert _evaluate(good_run, text) == 2, v
        assert "rnnlab: error:" in capsys.readouterr().err
    path.write_text("{not json")
    assert _evaluate(good_run, text) == 2


def test_mismatched_shapes(good_run, text, capsys):
    w = load_tensors(good_run / "best.safetensors")
    w["head.weight"] = np.zeros((3, 3), np.float32)
    save_tensors(good_run / "best.safetensors", w)
    assert _evaluate(good_run, text) == 2
    assert "head.weight" in capsys.readouterr().err
    cfg = json.loads((good_run / "config.json").read_text())
    cfg["model"]["cell"] = "lstm"                      # weights from a GRU, config says LSTM
    (good_run / "config.json").write_text(json.dumps(cfg))
    assert _evaluate(good_run, text) == 2


def test_pickle_renamed_to_safetensors_never_runs(good_run, text, tmp_path):
    marker = tmp_path / "PWNED"
    (good_run / "best.safetensors").write_bytes(pickle.dumps({"w": Marker(marker)}))
    assert _evaluate(good_run, text) == 2
    assert main(["export", str(good_run), "-o", str(tmp_path / "m.onnx")]) == 2
    assert not marker.exists()


def test_pt_with_arbitrary_objects_on_import_never_runs(good_run, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    torch.save({"head.bias": torch.zeros(3), "x": Marker(marker)}, path)
    assert main(["import", str(path), "--config", str(good_run), "--out",
                 str(tmp_path / "new")]) == 2
    assert not marker.exists() and not (tmp_path / "new").exists()
    assert "not a plain PyTorch state dict" in capsys.readouterr().err
    path.write_bytes(pickle.dumps(Marker(marker)))      # a bare pickle named .pt
    assert main(["import", str(path), "--config", str(good_run), "--out",
                 str(tmp_path / "new")]) == 2
    assert not marker.exists()
    path.write_bytes(b"PK\x03\x04" + os.urandom(200))   # a broken zip
    assert main(["import", str(path), "--config", str(good_run), "--out",
                 str(tmp_path / "new")]) == 2


# ------------------------------------------------------------------ 6. long and large

@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_100k_step_sequence_forward_backward(cell):
    """T = 100,000, B = 1: finite outputs and gradients, memory a small multiple of T*B*H
    (docs/guarantees.md). Uses the numba kernels; the NumPy reference takes tens of seconds
    at this length, see benchmarks/long_sequences.py."""
    import tracemalloc

    from rnnlab.nn import registry
    layer_cls = registry.get(cell).layer
    if layer_cls.kernel is None or not layer_cls(2, 4).implementation("numba").__name__.startswith(
            "rnnlab.nn.kernels"):
        pytest.skip(f"no numba {cell} kernel: run benchmarks/long_sequences.py instead")
    T, H = 100_000, 4
    layer = layer_cls(2, H, seed=0)
    x = 3 * np.random.default_rng(0).standard_normal((T, 1, 2)).astype(np.float32)
    layer(x[:2], backend="numba")                       # compile outside the measurement
    layer.backward(np.ones((2, 1, H), np.float32))
    layer.zero_grad()
    tracemalloc.start()
    y, state = layer(x, backend="numba")
    dx, _ = layer.backward(np.ones_like(y))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for a in (y, dx, *(state if cell == "lstm" else (state,)), *layer.grads.values()):
        assert np.isfinite(a).all()
    assert peak < 20 * T * H * 4                        # < 20 float32 arrays of (T, B, H)


def test_char_fast_path_equals_general_path(tmp_path):
    from rnnlab.data.text import Vocab, read_ascii_char_ids, read_text
    path = tmp_path / "t.txt"
    path.write_bytes(b"The quick brown fox.\n" * 500 + b"~{|}")
    vocab, ids = read_ascii_char_ids(path, chunk=1000)
    general = Vocab.build(read_text(path))
    assert vocab == general and np.array_equal(ids, general.encode(read_text(path)))
    assert ids.dtype == general.dtype
    # a known vocab (resume) maps the same; a char outside it falls back to the general path
    assert np.array_equal(read_ascii_char_ids(path, vocab=general)[1], ids)
    assert read_ascii_char_ids(path, vocab=Vocab(list("Theqk"), "char")) is None
    path.write_bytes("naïve text".encode())
    assert read_ascii_char_ids(path) is None                    # not ASCII: general path
    assert read_ascii_char_ids(path, encoding="utf-16") is None

"""The music task with the NADE head (the piano roll's default): the model's loss gradient in float64 with a
mask, evaluate's exact NLL by hand, chords sampled pitch by pitch, the config key, and the
exports that refuse the head."""
import json

import numpy as np
import pytest
from conftest import chorale_json

import rnnlab
from rnnlab.app.cli import main
from rnnlab.data.music import to_piano_roll
from rnnlab.errors import RnnlabError
from rnnlab.tasks.memory import parameter_count
from rnnlab.tasks.model import ModelConfig, SequenceModel

TINY = ["--cell", "gru", "--hidden", "16", "--layers", "1", "--batch", "8", "--seq-len", "16",
        "--eval-every", "40", "--lr", "0.02", "--transpose", "0", "--output-dropout", "0",
        "--nade-hidden", "8"]            # no --head: nade is the piano roll's default


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    return chorale_json(tmp_path_factory.mktemp("music") / "chorales.json", 60, 4, 6)


@pytest.fixture(scope="module")
def run(notes, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(notes), "--out", str(out), *TINY, "--steps", "80"]) == 0
    return out


def test_model_loss_gradient_float64_with_a_mask():
    cfg = ModelConfig(task="music", cell="lstm", input_size=5, output_size=5, hidden=3,
                      head="nade", nade_hidden=4, dtype="float64", seed=1)
    m = SequenceModel(cfg)
    m.backend = "numpy"          # the wiring; test_nade.py checks the NADE on both backends
    assert parameter_count(cfg) == m.num_parameters()      # what a run prints at its start
    rng = np.random.default_rng(0)
    x = (rng.random((4, 2, 5)) < 0.4).astype(np.float64)
    y = (rng.random((4, 2, 5)) < 0.4).astype(np.float64)
    mask = np.ones((4, 2))
    mask[3, 1] = 0

    def loss():
        return m.loss(m.forward(x)[0], y, mask)[0]

    m.zero_grad()
    out, _ = m.forward(x)
    _, dout = m.loss(out, y, mask)
    m.backward(dout)
    grads = {k: g.copy() for k, g in m.grads.items()}
    for name in ("nade.weight", "nade.readout", "head.weight", "head.bias", "rnn.weight_hh_l0"):
        p = m.params[name]
        for idx in list(np.ndindex(p.shape))[:6]:
            old = p[idx]
            p[idx] = old + 1e-6
            up = loss()
            p[idx] = old - 1e-6
            down = loss()
            p[idx] = old
            assert abs((up - down) / 2e-6 - grads[name][idx]) < 1e-8, (name, idx)


def test_evaluate_reports_the_exact_nll_per_step(run, notes, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(notes), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    m = rnnlab.load(run)
    assert m.cfg.head == "nade"
    total, steps = 0.0, 0
    for seq in json.loads(notes.read_text())["test"]:
        roll = to_piano_roll(seq, m.lo, m.hi).astype(np.float32)
        x = np.vstack([np.zeros((1, roll.shape[1]), np.float32), roll[:-1]])[:, None, :]
        out, _ = m.model.forward(x)
        p = m.model.nade.conditionals(out[:, 0], roll).astype(np.float64)   # NumPy, by unit
        total -= (roll * np.log(p) + (1 - roll) * np.log1p(-p)).sum()
        steps += len(roll)
    assert res["steps"] == steps
    assert res["nll_per_step"] == pytest.approx(total / steps, rel=1e-4)
    assert res["nll_per_step"] < res["baseline_nll_per_step"], res
    assert 0 < res["frame_accuracy"] <= 1


def test_samples_chords_pitch_by_pitch(run):
    m = rnnlab.load(run)
    a, b = m.generate(24, 1.0, seed=3), m.generate(24, 1.0, seed=3)
    assert a == b and sum(len(s) > 1 for s in a) > 0        # chords, the same for one seed
    greedy = m.generate(8, 0.0)
    assert all(m.lo <= p <= m.hi for s in greedy for p in s)


def test_config_key_and_refusals(run, tmp_path, capsys):
    old = ModelConfig(task="music", input_size=3, output_size=3).to_json()
    del old["head"], old["nade_hidden"]                    # a config from before the head
    assert ModelConfig.from_json(old).head == "bernoulli"
    with pytest.raises(RnnlabError, match="head nade is for music"):
        ModelConfig(task="text", input_size=3, output_size=3, head="nade").validate()
    pytest.importorskip("onnx")
    from rnnlab.interop.onnx import export_onnx
    with pytest.raises(RnnlabError, match="no nade head"):
        export_onnx(run, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    capsys.readouterr()
    assert main(["export", str(run), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "no nade head" in err and "--head bernoulli" in err and err.count("\n") == 1, err
    pytest.importorskip("torch")
    from rnnlab.interop.torch import build_twin
    with pytest.raises(RnnlabError, match="torch twin has no nade head"):
        build_twin(run)


def test_the_gradient_norm_plot_reads_the_nade_loss(run, notes):
    """`plot --input`'s ||dL/dh|| at distance 0 is the gradient of the NADE's -log p(chord)
    of the last prediction (it used the sigmoid head's loss, and failed, before)."""
    from rnnlab.viz.gradients import grad_norms
    m = rnnlab.load(run)
    sm = m.model
    seq = json.loads(notes.read_text())["test"][0][:12]
    x = np.vstack([np.zeros((1, m.hi - m.lo + 1)),
                   to_piano_roll(seq, m.lo, m.hi)]).astype(np.float32)
    got = grad_norms(m, x)
    label = next(k for k in got if "h_t" in k)
    y, _ = sm.rnn(x[:, None], None, backend="numpy")          # the top layer's h_t
    h, target = y[-2, 0].astype(np.float64), x[-1][None].astype(np.float64)

    def loss(hh):
        out = sm.head.forward(hh[None].astype(sm.dtype))
        return float(sm.nade.nll(out, target.astype(sm.dtype), backend="numpy")[0])
    eps, fd = 1e-2, np.zeros_like(h)
    for i in range(len(h)):
        d = np.zeros_like(h)
        d[i] = eps
        fd[i] = (loss(h + d) - loss(h - d)) / (2 * eps)
    assert got[label][0] == pytest.approx(np.linalg.norm(fd), rel=1e-2)

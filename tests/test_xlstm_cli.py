"""The xLSTM cells through the command line: `rnnlab train --cell slstm|mlstm` with their own
options, the run saved and loaded (options kept), sampled, evaluated, resumed exactly,
explained and plotted; a wrong option is one line and exit code 2."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import rnnlab
from rnnlab.app.cli import main

TEXT = "the cat sat on the mat. the dog ran to the cat. " * 40

CASES = {"slstm": ["--num-heads", "2", "--forget-gate", "exp"],
         "mlstm": ["--num-heads", "2", "--mode", "recurrent"]}


def _train(tmp_path, cell, steps, extra=(), out="run"):
    data = tmp_path / "t.txt"
    data.write_text(TEXT)
    args = ["train", str(data), "--out", str(tmp_path / out), "--cell", cell, "--hidden", "8",
            "--layers", "2", "--embed", "5", "--steps", str(steps), "--eval-every", "2",
            "--batch", "4", "--seq-len", "12", "--seed", "3", *CASES[cell], *extra]
    assert main(args) == 0
    return data, tmp_path / out


@pytest.mark.parametrize("cell", list(CASES))
def test_train_load_sample_evaluate_explain(tmp_path, cell, capsys):
    data, run = _train(tmp_path, cell, 4)
    cfg = json.loads((run / "config.json").read_text())["model"]
    assert cfg["cell"] == cell
    own = {"forget_gate": "exp"} if cell == "slstm" else {"mode": "recurrent"}
    want = {"num_heads": 2, **own}
    assert cfg["cell_options"] == want
    model = rnnlab.load(str(run))
    assert type(model.model.rnn) is getattr(rnnlab, cell.upper())
    assert model.model.rnn.num_heads == 2
    text = model.sample(length=20, seed=0)
    assert len(text) >= 20 and model.sample(length=20, seed=0) == text
    assert main(["evaluate", str(run), str(data)]) == 0
    page = tmp_path / "explain.html"
    assert main(["explain", str(run), "--text", "the cat sat", "-o", str(page)]) == 0
    html = page.read_text()
    for gate in ("log_i", "log_f"):
        assert gate in html
    assert main(["plot", str(run), "--text", "the cat sat on", "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "grad_norms.png").exists()


@pytest.mark.parametrize("cell", list(CASES))
def test_resume_is_exact(tmp_path, cell):
    _, straight = _train(tmp_path, cell, 6, out="straight")
    _train(tmp_path, cell, 4, out="resumed")
    data = tmp_path / "t.txt"
    assert main(["train", str(data), "--out", str(tmp_path / "resumed"), "--resume",
                 "--steps", "6"]) == 0
    a = load_file(str(straight / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_an_option_of_another_cell_is_one_line(tmp_path, capsys):
    data = tmp_path / "t.txt"
    data.write_text(TEXT)
    small = ["--batch", "4", "--seq-len", "12", "--steps", "1"]
    code = main(["train", str(data), "--out", str(tmp_path / "r"), "--cell", "slstm",
                 "--mode", "parallel", *small])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "--mode is not an option of the slstm cell" in err
    assert not (tmp_path / "r").exists()
    code = main(["train", str(data), "--out", str(tmp_path / "r"), "--cell", "mlstm",
                 "--hidden", "6", "--num-heads", "4", *small])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "num_heads=4 does not divide hidden_size=6" in err
    assert not (tmp_path / "r").exists()

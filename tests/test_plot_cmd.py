"""`rnnlab plot` and the plot/report API: PNGs for a run and an input, report.html."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.app.cli import main
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.viz.report import plot_run, write_report

PNG = b"\x89PNG\r\n\x1a\n"
CORPUS = "the cat sat on the mat. a dog ran to the door.\n" * 60


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from rnnlab.training.api import train
    d = tmp_path_factory.mktemp("run")
    (d / "corpus.txt").write_text(CORPUS, "utf-8")
    train(str(d / "corpus.txt"), out=str(d / "run"), cell="lstm", hidden=6, layers=2, steps=4,
          eval_every=2, seq_len=16, batch=4, progress=False, log=lambda m: None)
    return str(d / "run")


def test_plot_command_writes_pngs_and_a_report(text_run, tmp_path, capsys):
    out = tmp_path / "plots"
    assert main(["plot", text_run, "--text", "the dog sat.", "-o", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["gates_layer0.png", "gates_layer1.png", "grad_norms.png",
                     "loss_curves.png", "report.html"]
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == PNG
    report = (out / "report.html").read_text("utf-8")
    assert report.count("data:image/png;base64,") == 4
    assert "http" not in report and "src='gates" not in report
    printed = capsys.readouterr().out.split()
    assert len(printed) == 5


def test_plot_without_input_draws_the_loss_curves(text_run, tmp_path):
    assert main(["plot", text_run, "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss_curves.png", "report.html"]


def test_plot_defaults_to_the_run_folder(text_run):
    assert main(["plot", text_run, "--text", "a cat"]) == 0
    assert (Path(text_run) / "plots" / "gates_layer0.png").is_file()


def test_plot_bad_input_exits_2(text_run, tmp_path, capsys):
    assert main(["plot", text_run, "--text", "", "-o", str(tmp_path)]) == 2
    assert "empty" in capsys.readouterr().err


def test_plot_reads_unseen_characters_as_unk_with_a_warning(text_run, tmp_path, capsys):
    assert main(["plot", text_run, "--text", "CAT cat", "-o", str(tmp_path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rnnlab: warning: the text has 3 characters not in the model's vocabulary "
                   "(3 distinct: 'A', 'C', 'T'): read as <unk>"]


def test_plot_missing_run_exits_2(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "none"), "--text", "ab"]) == 2
    assert "rnnlab: error:" in capsys.readouterr().err


def test_plot_run_on_an_in_memory_model(tmp_path):
    vocab = list(" abc")
    sm = SequenceModel(ModelConfig(task="text", cell="gru", input_size=4, output_size=4,
                                   hidden=4, layers=1))
    hist = [{"step": 1, "train_loss": 1.4, "val_loss": 1.39}, {"step": 2, "train_loss": 1.3,
                                                                "val_loss": None}]
    paths = plot_run((sm, vocab), "abc cab", tmp_path, history=hist, prefix="gru_")
    assert [Path(p).name for p in paths] == ["gru_loss_curves.png", "gru_gates_layer0.png",
                                             "gru_grad_norms.png"]
    rep = write_report(tmp_path, [{"title": "GRU", "text": "a <tiny> model", "images": paths}])
    html = Path(rep).read_text("utf-8")
    assert "a &lt;tiny&gt; model" in html and html.count("<img") == 3


def test_report_refuses_missing_images(tmp_path):
    from rnnlab.errors import RnnlabError
    with pytest.raises(RnnlabError, match="does not exist"):
        write_report(tmp_path, [("x", [tmp_path / "missing.png"])])


def test_import_rnnlab_does_not_import_matplotlib():
    code = ("import sys, rnnlab, rnnlab.viz, rnnlab.viz.inspect, rnnlab.viz.commands, rnnlab.app.cli; "
            "from rnnlab.viz import explain_payload; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_grad_norm_curve_is_finite_and_starts_at_the_loss(tmp_path):
    from rnnlab.viz.gradients import grad_norms
    sm = SequenceModel(ModelConfig(task="text", cell="lstm", input_size=4, output_size=4,
                                   hidden=4, layers=1))
    curves = grad_norms((sm, list(" abc")), "abcabcabca")
    assert set(curves) == {"\u2016\u2202L/\u2202h_t\u2016", "\u2016\u2202L/\u2202c_t\u2016"}
    for v in curves.values():
        assert len(v) == 10 and np.isfinite(v).all() and (v > 0).all()

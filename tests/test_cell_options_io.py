"""The cells' options where users meet them: the command line (rnnlab train --proj-size
--layer-norm --zoneout --recurrent-dropout), the run's config (ModelConfig.cell_options, loaded
back), bad values (one line, exit code 2, nothing written; RnnlabError from the layers with a
message that names the option, what it got and the fix) and the ONNX export (an option ONNX's
operator cannot express is an error that names the torch export)."""
import json

import numpy as np
import pytest

from rnnlab import GRU, LSTM, RNN, RnnlabError
from rnnlab.app.cli import main
from rnnlab.training.load import load
from rnnlab.training.run_folder import load_tensors

D, H, B, T = 3, 4, 2, 5
TINY = ["--hidden", "16", "--layers", "2", "--batch", "4", "--seq-len", "10", "--eval-every", "5"]
ALL = ["--proj-size", "6", "--layer-norm", "--zoneout", "0.1,0.05", "--recurrent-dropout", "0.25"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to the cat".split()
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text(" ".join(words[i] for i in rng.integers(len(words), size=600)) + ".\n")
    return path


def train_cli(corpus, out, *extra):
    return main(["train", str(corpus), "--out", str(out), *TINY, *extra])


# ------------------------------------------------------------------ the command line
def test_train_with_every_lstm_option_saves_and_loads_them(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--cell", "lstm", *ALL, "--steps", "10") == 0
    cfg = json.loads((run / "config.json").read_text())["model"]
    assert cfg["cell_options"] == {"proj_size": 6, "layer_norm": True, "zoneout": [0.1, 0.05],
                                   "recurrent_dropout": 0.25}
    layer = load(str(run)).model.rnn
    assert (layer.proj_size, layer.layer_norm, layer.zoneout, layer.recurrent_dropout) == \
        (6, True, (0.1, 0.05), 0.25)
    weights = load_tensors(run / "model.safetensors")
    assert weights["rnn.weight_hr_l1"].shape == (6, 16)
    assert weights["rnn.ln_c_bias_l0"].shape == (16,) and weights["head.weight"].shape[1] == 6
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "20", "--seed", "1", "--prime", "the "]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) == 24
    assert main(["train", str(corpus), "--out", str(run), "--resume", "--steps", "15"]) == 0
    assert json.loads((run / "history.json").read_text())[-1]["step"] == 15
    assert main(["explain", str(run), "--text", "the cat", "-o", str(tmp_path / "e.html")]) == 0


def test_the_same_seed_gives_the_same_run_with_random_options(corpus, tmp_path):
    """Zoneout and recurrent dropout draw their masks from the model's seeded generator."""
    for name in ("a", "b", "c"):
        seed = "1" if name == "c" else "0"
        assert train_cli(corpus, tmp_path / name, "--zoneout", "0.2", "--recurrent-dropout",
                         "0.3", "--steps", "5", "--seed", seed) == 0
    a, b, c = (load_tensors(tmp_path / n / "model.safetensors") for n in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert load(str(tmp_path / "a")).model.rnn.zoneout == (0.2, 0.2)


@pytest.mark.parametrize("args,words", [
    (["--zoneout", "1.0"], ["zoneout", "[0, 1)", "got 1.0", "--zoneout 0.1,0.05"]),
    (["--zoneout", "0.1,0.2,0.3"], ["zoneout", "pair", "(0.1, 0.2, 0.3)"]),
    (["--proj-size", "16"], ["proj_size", "[0, hidden_size=16)", "got 16", "--proj-size 8"]),
    (["--proj-size", "-2"], ["proj_size", "got -2"]),
    (["--recurrent-dropout", "1"], ["recurrent_dropout", "[0, 1)", "--recurrent-dropout 0.2"]),
    (["--cell", "gru", "--zoneout", "0.1"], ["--zoneout is not an option of the gru cell",
                                             "--recurrent-dropout"]),
    (["--cell", "lstm-peephole", "--layer-norm"], ["layer_norm works with the standard LSTM",
                                                   "--cell lstm"]),
])
def test_bad_options_are_one_line_and_write_nothing(corpus, tmp_path, capsys, args, words):
    run = tmp_path / "run"
    assert train_cli(corpus, run, *args, "--steps", "2") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert not run.exists()


def test_a_zoneout_that_is_not_a_number_is_argparses_error(corpus, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        train_cli(corpus, tmp_path / "run", "--zoneout", "a,b")
    assert info.value.code == 2 and "--zoneout" in capsys.readouterr().err


def test_help_shows_the_options_and_their_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("--proj-size P", "--layer-norm", "--zoneout Z|ZC,ZH", "--recurrent-dropout P",
                 "rnn, lstm, gru: one dropout mask", "Z for both, or ZC,ZH (default: 0, off)"):
        assert text in out, text


# ------------------------------------------------------------------ the layers' messages
def raises(fn, *substrings):
    with pytest.raises(ValueError) as info:
        fn()
    assert isinstance(info.value, RnnlabError)
    for s in substrings:
        assert s in str(info.value), f"{s!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("kw,words", [
    (dict(proj_size=H), ["proj_size", f"[0, hidden_size={H})", f"got {H}", "--proj-size 2"]),
    (dict(proj_size=-1), ["proj_size", "got -1"]),
    (dict(proj_size=2.0), ["proj_size", "got 2.0"]),
    (dict(proj_size=True), ["proj_size", "got True"]),
    (dict(zoneout=1.0), ["zoneout", "each in [0, 1)", "got 1.0"]),
    (dict(zoneout=-0.1), ["zoneout", "got -0.1"]),
    (dict(zoneout=(0.1, 0.2, 0.3)), ["zoneout", "a pair (z_c, z_h)", "got (0.1, 0.2, 0.3)"]),
    (dict(zoneout="0.1"), ["zoneout", "got '0.1'"]),
    (dict(zoneout=(0.1, 1.5)), ["zoneout", "got (0.1, 1.5)"]),
    (dict(layer_norm="yes"), ["layer_norm must be True or False", "got 'yes'"]),
    (dict(variant="coupled", zoneout=0.1), ["zoneout works with the standard LSTM only",
                                            "variant='coupled'"]),
    (dict(hidden_size=0, proj_size=2), ["hidden_size", "positive integer", "got 0"]),
])
def test_bad_lstm_options(kw, words):
    raises(lambda: LSTM(**{"input_size": D, "hidden_size": H, **kw}), *words)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("p", [1.0, -0.2, 1.5, "0.3", True])
def test_bad_recurrent_dropout(cls, p):
    raises(lambda: cls(D, H, recurrent_dropout=p), "recurrent_dropout must be in [0, 1)",
           f"got {p!r}", "--recurrent-dropout 0.2")


def test_projected_state_and_gradients_are_checked_with_their_width():
    lay = LSTM(D, H, num_layers=2, proj_size=2)
    x = np.zeros((T, B, D), np.float32)
    h_wrong, c = np.zeros((2, B, H), np.float32), np.zeros((2, B, H), np.float32)
    raises(lambda: lay(x, (h_wrong, c)), "h_0 has shape (2, 2, 4)",
           "(2, 2, 2) = (num_layers*num_directions, B, proj_size)")
    raises(lambda: lay(x, (np.zeros((2, B, 2), np.float32), np.zeros((2, B, 2), np.float32))),
           "c_0 has shape (2, 2, 2)", "(2, 2, 4) = (num_layers*num_directions, B, H)")
    y, _ = lay(x)
    raises(lambda: lay.backward(np.zeros((T, B, H), np.float32)), "dy has shape (5, 2, 4)",
           "(5, 2, 2)")
    raises(lambda: lay.backward(y * 0, (np.zeros((2, B, H), np.float32), c)),
           "dh_n has shape (2, 2, 4)", "proj_size")
    dx, (dh0, dc0) = lay.backward(np.ones_like(y))
    assert dx.shape == (T, B, D) and dh0.shape == (2, B, 2) and dc0.shape == (2, B, H)


# ------------------------------------------------------------------ ONNX
def test_onnx_refuses_what_its_lstm_cannot_express(tmp_path, capsys, corpus):
    pytest.importorskip("onnx")
    from rnnlab.interop.onnx import layer_to_onnx
    for kw, name in ((dict(proj_size=2), "proj_size=2"), (dict(layer_norm=True), "layer_norm"),
                     (dict(zoneout=(0.1, 0.0)), "zoneout=(0.1, 0.0)")):
        raises(lambda: layer_to_onnx(LSTM(D, H, **kw)), "ONNX's LSTM operator cannot express",
               name, "--format torch")
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--layer-norm", "--steps", "2") == 0
    capsys.readouterr()
    assert main(["export", str(run), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "layer_norm=True" in err and "--format torch" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_onnx_exports_recurrent_dropout_as_the_identity_it_is_in_evaluation(cls):
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.interop.onnx import layer_to_onnx
    layer = cls(D, H, num_layers=2, recurrent_dropout=0.5, seed=1).eval()
    x = np.random.default_rng(0).standard_normal((6, 2, D)).astype(np.float32)
    y, _ = layer(x)
    proto = layer_to_onnx(layer)
    got = ort.InferenceSession(proto.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, y, atol=1e-5, rtol=1e-5)
    assert np.abs(layer.train()(x)[0] - y).max() > 1e-3          # training does drop


# ------------------------------------------------------------------ the explain page and plots
def test_explain_page_and_gradient_norms_of_a_projected_normalised_lstm(tmp_path):
    from rnnlab.tasks.model import ModelConfig, SequenceModel
    from rnnlab.viz.explain import read_explain_payload
    from rnnlab.viz.gradients import grad_norms
    from rnnlab.viz.inspect import explain_payload, write_explain
    from rnnlab.viz.subject import Subject, read_input
    vocab, text = list(" .adehinorst"), "the rats ride on. a hen"
    cfg = ModelConfig(task="text", cell="lstm", input_size=12, output_size=12, hidden=5,
                      layers=2, dtype="float64", seed=3,
                      cell_options={"proj_size": 3, "layer_norm": True, "zoneout": 0.1})
    sm = SequenceModel(cfg)
    p = explain_payload((sm, vocab), text)
    names = {k.split(".")[2] for k in p["quantities"]}
    # the page shows H = 5 units per quantity: m stands for the 3-wide h
    assert names == {"i", "f", "g", "o", "j", "k", "c", "tanh_c", "c_norm", "m"}
    page = read_explain_payload(open(write_explain((sm, vocab), text, tmp_path / "e.html"),
                                     encoding="utf-8").read())
    assert "projection" in page["legend"]["m"] and "LN(c_t)" in page["legend"]["c_norm"]
    small = explain_payload((sm, vocab), text, max_values=3 * 2 * len(text) * 5)
    assert {k.split(".")[2] for k in small["quantities"]} == {"c", "tanh_c", "c_norm"}
    curves = grad_norms((sm, vocab), text)
    h_curve, c_curve = (next(v for k, v in curves.items() if s in k) for s in ("h_t", "c_t"))
    assert np.isnan(c_curve[0]) and np.isfinite(c_curve[1:]).all()   # h_t != o * tanh(c_t)
    # distance 3 of the h curve by finite differences on the 3-wide h the tail starts from
    ids, x, _ = read_input(Subject((sm, vocab)), text)
    tl, d = len(ids) - 2, 3
    s = tl + 1 - d
    sm.eval()
    _, (h, c) = sm.rnn(x[:s], None, backend="numpy")

    def loss_from(hh):
        y, _ = sm.rnn(x[s:tl + 1], (hh, c), backend="numpy")
        z = sm.head.forward(y)[-1, 0]
        return -(z[ids[tl + 1]] - z.max() - np.log(np.exp(z - z.max()).sum()))
    g = []
    for u in range(3):
        e = np.zeros_like(h)
        e[-1, 0, u] = 1e-6
        g.append((loss_from(h + e) - loss_from(h - e)) / 2e-6)
    assert h_curve[d] == pytest.approx(np.linalg.norm(g), rel=1e-5)

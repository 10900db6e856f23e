"""`rnnlab explain` on real models: the page holds exactly what the model computed (gates from
the reference cells' caches, softmax predictions), connectivity agrees with finite differences,
bad input exits 2, and the page works in Chromium."""
import math
from pathlib import Path

import numpy as np
import pytest

from rnnlab.app.cli import main
from rnnlab.errors import RnnlabError
from rnnlab.training.load import load
from rnnlab.nn.cells import lstm as lstm_cell
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.viz.explain import read_explain_payload, render_explain_html
from rnnlab.viz.gradients import connectivity, grad_norms
from rnnlab.viz.inspect import explain_payload, write_explain
from rnnlab.viz.subject import Subject, read_input

CORPUS = ('She said "the cat sat on the mat" and left. He said "a dog ran to the door".\n'
          'The bird sang in the old tree, and the cat sat still.\n') * 40
TEXT = 'He said "the dog sat" and ran.'
LSTM_NAMES = ("i", "f", "g", "o", "j", "k", "c", "tanh_c", "h")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from rnnlab.training.api import train
    d = tmp_path_factory.mktemp("run")
    (d / "corpus.txt").write_text(CORPUS, "utf-8")
    train(str(d / "corpus.txt"), out=str(d / "run"), cell="lstm", hidden=8, layers=2, steps=6,
          eval_every=3, seq_len=20, batch=4, progress=False, log=lambda m: None)
    return str(d / "run")


def tiny(cell="lstm", embed=0, layers=2, V=12, seed=3, **kw):
    cfg = ModelConfig(task="text", cell=cell, input_size=V, output_size=V, hidden=5,
                      layers=layers, embed=embed, dtype="float64", seed=seed, **kw)
    return SequenceModel(cfg)


VOCAB = list(" .adehinorst")          # 12 characters
SAMPLE = "the rats ride on. a hen"


# ---- the command -----------------------------------------------------------------------------
def test_cli_explain_writes_a_full_page(text_run, tmp_path, capsys):
    out = tmp_path / "explain.html"
    assert main(["explain", text_run, "--text", TEXT, "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    data = read_explain_payload(out.read_text("utf-8"))
    trained = load(text_run)
    V = trained.vocab.size
    assert data["tokens"] == list(TEXT) and data["cell"] == "lstm" and data["layers"] == 2
    assert set(data["quantities"]) == {f"{k}.0.{n}" for k in (0, 1) for n in LSTM_NAMES}
    assert all(len(row) == 5 for row in data["predictions"])
    assert data["ln_v"] == pytest.approx(math.log(V), rel=1e-3)
    assert [r["step"] for r in data["history"]] == [3, 6]
    assert set(data["connectivity"]) == {str(t) for t in range(len(TEXT) - 1)}
    assert "how much old memory to keep" in data["legend"]["f"]


def test_page_holds_the_cache_and_the_softmax(text_run):
    trained = load(text_run)
    payload = explain_payload(trained, TEXT)
    data = read_explain_payload(render_explain_html(payload, bits=16))
    sm = trained.model
    ids = trained.vocab.encode(TEXT).astype(np.int64)
    out, _ = sm.forward(ids[:, None], backend="numpy")
    caches, inp = [], sm.encode(ids[:, None])          # the reference cell, layer by layer
    for k in range(2):
        inp, _, cache = lstm_cell.forward(inp, None, sm.rnn.cell_params(k))
        caches.append(cache)
    for k in range(2):
        for name in LSTM_NAMES:
            want = caches[k][name][:, 0].astype(np.float64)
            got = np.array(data["quantities"][f"{k}.0.{name}"])
            assert np.abs(got - want).max() <= (want.max() - want.min()) / 65535 + 1e-7, name
    z = out[:, 0].astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for t, row in enumerate(data["predictions"]):
        best = np.argsort(-p[t])[:5]
        assert [d["token"] for d in row] == [trained.vocab.tokens[j] for j in best]
        assert [d["p"] for d in row] == pytest.approx(p[t, best], rel=2e-3)


def test_the_model_is_left_as_it_was(text_run):
    trained = load(text_run)
    sm = trained.model
    sm.train()
    for g in sm.grads.values():
        g[...] = 0.5
    before = {k: v.copy() for k, v in sm.params.items()}
    explain_payload(trained, TEXT)
    assert sm.training
    assert all(np.array_equal(sm.params[k], before[k]) for k in before)
    assert all(np.all(g == 0.5) for g in sm.grads.values())


@pytest.mark.parametrize("argv, words", [
    (["--text", ""], "empty"),
    (["--text", "T"], "at least 2"),
    ([], "pass the input"),
])
def test_bad_input_exits_2(text_run, tmp_path, capsys, argv, words):
    assert main(["explain", text_run, *argv, "-o", str(tmp_path / "e.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error:") and words in err
    assert not (tmp_path / "e.html").exists()


def test_unseen_character_is_read_as_unk_with_a_warning(text_run, tmp_path, capsys):
    assert main(["explain", text_run, "--text", "The cat \u00e9", "-o",
                 str(tmp_path / "e.html")]) == 0
    err = capsys.readouterr().err
    assert "rnnlab: warning: the text has 1 character not in the model's vocabulary" in err
    assert "read as <unk>" in err and (tmp_path / "e.html").is_file()


def test_missing_run_exits_2(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "nope"), "--text", "ab"]) == 2
    assert "not an rnnlab run folder" in capsys.readouterr().err


def test_input_file_for_a_text_model(text_run, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT, "utf-8")
    out = tmp_path / "e.html"
    assert main(["explain", text_run, "--input", str(tmp_path / "in.txt"), "-o", str(out)]) == 0
    assert read_explain_payload(out.read_text("utf-8"))["tokens"] == list(TEXT)


# ---- connectivity and gradient norms against finite differences ------------------------------
def _log_p(sm, x, ids, t):
    """log p(ids[t+1] | x_0..x_t) through the dense input path: model.rnn and model.head on x."""
    y, _ = sm.rnn(x[:t + 1], None, backend="numpy")
    z = sm.head.forward(y)[t, 0]
    z = z - z.max()
    return z[ids[t + 1]] - np.log(np.exp(z).sum())


@pytest.mark.parametrize("cell, embed", [("lstm", 0), ("gru", 0), ("rnn", 0), ("lstm", 3)])
def test_connectivity_matches_finite_differences(cell, embed):
    sm = tiny(cell, embed)
    window = 6                      # rows start a window back: exact inside the window
    conn = connectivity((sm, VOCAB), SAMPLE, window=window)
    ids, x, _ = read_input(Subject((sm, VOCAB)), SAMPLE)
    assert sorted(conn) == list(range(len(SAMPLE) - 1))
    for t in (0, 3, 11, len(SAMPLE) - 2):
        row = conn[t]
        assert len(row) == min(t + 1, window)
        for j, s in enumerate(range(t + 1 - len(row), t + 1)):
            g = np.empty(x.shape[2])
            for d in range(x.shape[2]):
                e = np.zeros_like(x)
                e[s, 0, d] = 1e-6
                g[d] = (_log_p(sm, x + e, ids, t) - _log_p(sm, x - e, ids, t)) / 2e-6
            assert row[j] == pytest.approx(np.linalg.norm(g), rel=1e-5, abs=1e-9)


def test_connectivity_samples_long_inputs():
    sm = tiny("gru", layers=1)
    conn = connectivity((sm, VOCAB), SAMPLE * 20, max_steps=30)
    T = len(SAMPLE) * 20
    assert len(conn) == 30 and min(conn) == 0 and max(conn) == T - 2
    assert all(len(r) == min(t + 1, 512) for t, r in conn.items())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_grad_norms_match_finite_differences(cell):
    """||dL/dh_s|| (top layer) = the gradient of the last prediction's loss wrt the state the
    tail x_{s+1}.. starts from, by finite differences of a forward run from a perturbed state."""
    sm = tiny(cell)
    curves = grad_norms((sm, VOCAB), SAMPLE)
    ids, x, _ = read_input(Subject((sm, VOCAB)), SAMPLE)
    T, tl = len(ids), len(ids) - 2
    h_curve = next(v for k, v in curves.items() if "h_t" in k)
    assert len(h_curve) == tl + 2
    def loss_from(s, state):
        y, _ = sm.rnn(x[s:tl + 1], state, backend="numpy")
        z = sm.head.forward(y)[-1, 0]
        z = z - z.max()
        return -(z[ids[tl + 1]] - np.log(np.exp(z).sum()))
    for d in (1, 2, 5, 8):
        s = tl + 1 - d                                 # the tail starts at s: state after s-1
        _, state = sm.rnn(x[:s], None, backend="numpy")     # the state after step s-1
        h, c0 = state if cell == "lstm" else (state, None)
        g = np.empty(5)
        for u in range(5):
            e = np.zeros_like(h)
            e[-1, 0, u] = 1e-6
            plus = (h + e, c0) if cell == "lstm" else h + e
            minus = (h - e, c0) if cell == "lstm" else h - e
            g[u] = (loss_from(s, plus) - loss_from(s, minus)) / 2e-6
        assert h_curve[d] == pytest.approx(np.linalg.norm(g), rel=1e-5, abs=1e-9)
    assert T == len(SAMPLE)


# ---- other cells and model forms ---------------------------------------------------------------
@pytest.mark.parametrize("cell, names", [("gru", {"h", "r", "z", "n", "hn"}), ("rnn", {"h"})])
def test_other_cells(cell, names, tmp_path):
    sm = tiny(cell)
    path = write_explain((sm, VOCAB), SAMPLE, tmp_path / "e.html", title="tiny")
    data = read_explain_payload(Path(path).read_text("utf-8"))
    assert {k.split(".")[2] for k in data["quantities"]} == names
    assert data["title"] == "tiny" and data["cell"] == cell and data["history"] == []


def test_big_models_keep_the_important_quantities():
    sm = tiny("lstm")
    p = explain_payload((sm, VOCAB), SAMPLE, max_values=3 * 2 * len(SAMPLE) * 5)
    assert {k.split(".")[2] for k in p["quantities"]} == {"h", "c", "f"}


def test_long_text_is_capped():
    sm = tiny("lstm", layers=1)
    p = explain_payload((sm, VOCAB), (SAMPLE + " ") * 100, max_conn_steps=20)
    assert len(p["tokens"]) == 2000 and len(p["connectivity"]) == 20


def test_wrong_things_raise():
    sm = tiny("lstm")
    with pytest.raises(RnnlabError, match="vocabulary"):
        explain_payload(sm, SAMPLE)
    with pytest.raises(RnnlabError, match="12"):
        explain_payload((sm, VOCAB[:5]), "a")
    with pytest.raises(RnnlabError, match="TrainedModel"):
        explain_payload("model", SAMPLE)


# ---- the real page in Chromium -------------------------------------------------------------------
try:
    from test_explain_page import browser  # noqa: F401  (the fixture: launch args, CI policy)
except ImportError:                          # pragma: no cover
    browser = None


@pytest.mark.skipif(browser is None, reason="tests/test_explain_page.py helpers not importable")
def test_real_page_in_chromium(browser, text_run, tmp_path):  # noqa: F811
    out = tmp_path / "explain.html"
    assert main(["explain", text_run, "--text", TEXT, "-o", str(out)]) == 0
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.wait_for_selector("#strip .tok")
    assert page.locator("#strip .tok").count() == len(TEXT)
    page.hover("#strip .tok[data-t='5']")
    assert page.locator("#tip").is_visible()
    assert page.locator("#tip .pred").count() == 5
    page.select_option("#sel-layer", "1")
    page.select_option("#sel-qty", "c")
    page.select_option("#conn-step", "10")
    assert page.locator("#conn-strip .tok").count() == 11 + 1
    assert errors == [] and requests == [out.as_uri()]
    page.close()


# ---- series and music runs (--input FILE) --------------------------------------------------------
def test_series_and_music_runs(tmp_path):
    import json
    from rnnlab.training.api import train
    i = np.arange(160)
    (tmp_path / "s.csv").write_text("y,x\n" + "\n".join(
        f"{np.sin(k / 5) + k / 100:.4f},{np.cos(k / 7):.4f}" for k in i), "utf-8")
    train(str(tmp_path / "s.csv"), out=str(tmp_path / "srun"), cell="gru", hidden=4, layers=1,
          steps=2, eval_every=2, progress=False, log=lambda m: None,
          task_options={"lookback": 8, "horizon": 3, "difference": False, "log": False,
                        "ensemble": 1})
    out = tmp_path / "s.html"
    assert main(["explain", str(tmp_path / "srun"), "--input", str(tmp_path / "s.csv"),
                 "-o", str(out)]) == 0
    data = read_explain_payload(out.read_text("utf-8"))
    assert data["task"] == "series" and len(data["tokens"]) == 160
    assert data["tokens"][3] == f"{np.sin(3 / 5) + 3 / 100:.4g}"
    assert data["series"]["actual"][3] == pytest.approx(np.sin(4 / 5) + 4 / 100, abs=1e-3)
    assert main(["explain", str(tmp_path / "srun"), "--text", "1 2"]) == 2

    seqs = [[[60, 64, 67], [62], [64, 67], [], [65]] * 4, [[60], [64], [67]] * 6]
    (tmp_path / "m.json").write_text(json.dumps({"train": seqs, "valid": seqs[:1]}), "utf-8")
    train(str(tmp_path / "m.json"), out=str(tmp_path / "mrun"), cell="lstm", hidden=4,
          layers=1, steps=2, eval_every=2, seq_len=8, batch=2, progress=False,
          log=lambda m: None, task_options={"transpose": 0})
    out = tmp_path / "m.html"
    assert main(["explain", str(tmp_path / "mrun"), "--input", str(tmp_path / "m.json"),
                 "-o", str(out)]) == 0
    data = read_explain_payload(out.read_text("utf-8"))
    assert data["tokens"][:3] == ["\u00b7", "60 64 67", "62"]     # input t = frame t-1
    assert data["roll"]["lo"] == 60 and data["roll"]["pitches"] == 8     # pitches 60-67
    assert data["roll"]["on"][:3] == [[], [0, 4, 7], [2]]       # the input's piano roll
    assert all(int(d["token"]) in range(60, 68) for row in data["predictions"] for d in row)

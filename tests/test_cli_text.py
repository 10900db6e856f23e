"""End to end on small generated text: train, sample, evaluate, resume, and bad input."""
import json
import math

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.training.run_folder import load_tensors

TINY = ["--hidden", "16", "--layers", "1", "--batch", "4", "--seq-len", "10", "--eval-every", "5"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to the cat".split()
    text = " ".join(words[i] for i in rng.integers(len(words), size=600)) + ".\n"
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text(text)
    return path


def train_cli(corpus, out, *extra):
    return main(["train", str(corpus), "--out", str(out), *TINY, *extra])


def test_train_sample_evaluate(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--steps", "10") == 0
    for name in ("config.json", "model.safetensors", "best.safetensors", "history.json",
                 "state.json", "state.safetensors"):
        assert (run / name).is_file(), name
    history = json.loads((run / "history.json").read_text())
    assert [r["step"] for r in history] == [5, 10]
    assert set(history[0]) >= {"step", "train_loss", "val_loss", "tokens_per_s", "elapsed_s"}
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "40", "--seed", "1", "--prime", "the "]) == 0
    text = capsys.readouterr().out
    assert text.startswith("the ") and len(text.rstrip("\n")) == 44
    assert main(["evaluate", str(run), str(corpus), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["tokens"] == len(corpus.read_text()) - 1
    assert math.isclose(res["bits_per_token"], res["loss"] / math.log(2))


def test_starting_loss_is_near_ln_v(corpus, tmp_path):
    from rnnlab.training.api import train
    res = train(corpus, tmp_path / "run", hidden=16, layers=1, batch=4, seq_len=10, steps=1,
                eval_every=1, progress=False, log=lambda m: None)
    V = rnnlab.load(tmp_path / "run").vocab.size
    loss, ln_v = res.history[0]["train_loss"], math.log(V)    # the record, not a log line
    assert abs(loss - ln_v) < 0.1 * ln_v


def test_evaluate_is_exact_against_a_by_hand_loop(corpus, tmp_path):
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--steps", "5", "--dtype", "float64") == 0
    model = rnnlab.load(run)
    ids = model.vocab.encode(corpus.read_text()).astype(np.int64)
    total, state = 0.0, None
    for t in range(len(ids) - 1):          # one token at a time, state carried
        logits, state = model.model.forward(ids[t:t + 1, None], state)
        z = logits[0, 0]
        total += np.log(np.exp(z - z.max()).sum()) + z.max() - z[ids[t + 1]]
    assert math.isclose(model.evaluate(corpus)["loss"], total / (len(ids) - 1), rel_tol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_resume_equals_an_uninterrupted_run(corpus, tmp_path, dtype):
    straight, split = tmp_path / "straight", tmp_path / "split"
    opts = ["--dtype", dtype, "--dropout", "0.2", "--layers", "2"]
    assert main(["train", str(corpus), "--out", str(straight), *TINY, *opts, "--steps", "20"]) == 0
    assert main(["train", str(corpus), "--out", str(split), *TINY, *opts, "--steps", "10"]) == 0
    assert main(["train", str(corpus), "--out", str(split), "--resume", "--steps", "20"]) == 0
    a, b = load_tensors(straight / "model.safetensors"), load_tensors(split / "model.safetensors")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    ha = json.loads((straight / "history.json").read_text())
    hb = json.loads((split / "history.json").read_text())
    strip = lambda h: [(r["step"], r["train_loss"], r["val_loss"]) for r in h]
    assert strip(ha) == strip(hb)


def test_same_seed_same_run(corpus, tmp_path):
    for name in ("a", "b"):
        assert train_cli(corpus, tmp_path / name, "--steps", "5", "--seed", "7") == 0
    a, b = (load_tensors(tmp_path / n / "model.safetensors") for n in ("a", "b"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_existing_run_is_never_overwritten(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--steps", "5") == 0
    before = (run / "model.safetensors").read_bytes()
    assert train_cli(corpus, run, "--steps", "5", "--seed", "3") == 2
    assert "already exists" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == before


def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case,needle", [
    ("missing", "not found"),
    ("empty", "empty"),
    ("one_char", "distinct"),
    ("latin1", "byte"),
    ("short", "batch"),
])
def test_bad_text_files(tmp_path, capsys, case, needle):
    files = {"missing": tmp_path / "nope.txt",
             "empty": _bad(tmp_path, "e.txt", b""),
             "one_char": _bad(tmp_path, "o.txt", b"aaaaaaaaaaaaaaaaaaaaaaa"),
             "latin1": _bad(tmp_path, "l.txt", "caf\u00e9 ".encode("latin-1") * 100),
             "short": _bad(tmp_path, "s.txt", b"abcdefgh")}
    out = tmp_path / "run"
    assert main(["train", str(files[case]), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error:") and needle in err.lower() and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_latin1_trains_with_encoding_option(tmp_path):
    path = _bad(tmp_path, "l.txt", "caf\u00e9 au lait ".encode("latin-1") * 60)
    assert main(["train", str(path), "--out", str(tmp_path / "run"), *TINY, "--steps", "2",
                 "--encoding", "latin-1"]) == 0


@pytest.mark.parametrize("args,needle", [
    (["--hidden", "0"], "hidden"),
    (["--lr", "-1"], "lr"),
    (["--layers", "0"], "layers"),
    (["--val-fraction", "0.9"], "val"),
])
def test_bad_training_options(corpus, tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    assert main(["train", str(corpus), "--out", str(out), *TINY, *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_bad_sampling_options(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--steps", "2") == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--temperature", "-1"]) == 2
    assert "temperature" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "nothing")]) == 2
    assert "run folder" in capsys.readouterr().err


def test_temperature_zero_is_argmax_and_deterministic(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli(corpus, run, "--steps", "5") == 0
    model = rnnlab.load(run)
    a = model.sample(30, temperature=0, prime="the ", seed=1)
    b = model.sample(30, temperature=0, prime="the ", seed=2)
    assert a == b

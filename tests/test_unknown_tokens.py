"""Unseen tokens are not fatal: <unk> is trained, evaluate counts and scores unknown tokens,
--prime reads them as <unk> with a warning, and runs saved before <unk> still load, sample and
evaluate (tests/data/pre_unk: two tiny runs written by rnnlab before this change)."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main

OLD = Path(__file__).resolve().parent / "data" / "pre_unk"
TINY = ["--hidden", "12", "--layers", "1", "--batch", "4", "--seq-len", "8", "--eval-every",
        "5", "--steps", "10", "--backend", "numpy"]
WORDS = "the cat sat on a mat and the dog ran to the cat".split()


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    d = tmp_path_factory.mktemp("texts")
    rng = np.random.default_rng(0)
    body = " ".join(rng.choice(WORDS, 1500))
    # five words seen once, at the start (the end is validation): with --min-count 2 (the
    # word default) they map to <unk> and train it
    (d / "train.txt").write_text("zebra yak gnu okapi emu. " + body + ".\n")
    (d / "held.txt").write_text("the whatsoever cat sat on a quokka, café \U0001F600 ran.\n")
    return d


def evaluate_json(run, path, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_word_model_scores_real_held_out_text(texts, tmp_path, capsys):
    run = tmp_path / "words"
    assert main(["train", str(texts / "train.txt"), "--out", str(run), "--tokens", "word",
                 *TINY]) == 0
    err = capsys.readouterr().err
    assert "+ <unk>, which stands for 5 training tokens (--min-count 2)" in err
    cfg = json.loads((run / "config.json").read_text())
    vocab = cfg["data"]["vocab"]
    assert vocab["unk"] == "<unk>" and "<unk>" in vocab["tokens"] and "zebra" not in vocab["tokens"]
    assert cfg["data"]["unk_in_training"] == 5
    res = evaluate_json(run, texts / "held.txt", capsys)
    # 'whatsoever', 'quokka', ',', 'café', the emoji and '\n' (seen once in training) are not
    # in the vocabulary
    assert res["unknown_tokens"] == 6 and res["unknown_scored"] is True
    assert res["unknown_examples"] == ["whatsoever", "quokka", ",", "café", "\U0001F600"]
    assert math.isfinite(res["loss"]) and res["tokens"] == len(
        rnnlab.load(run).vocab.encode(texts.joinpath("held.txt").read_text())) - 1
    assert main(["evaluate", str(run), str(texts / "held.txt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("loss ") and "nats/token" in out[0]
    assert out[1].startswith("unknown tokens: 6 (") and "read as <unk> and scored as <unk>" in out[1]


def test_char_model_evaluates_and_primes_with_new_characters(texts, tmp_path, capsys):
    run = tmp_path / "chars"
    assert main(["train", str(texts / "train.txt"), "--out", str(run), *TINY]) == 0
    res = evaluate_json(run, texts / "held.txt", capsys)
    assert res["unknown_tokens"] == 7 and res["unknown_scored"]    # w v q , f é 😀
    assert set(res["unknown_examples"]) <= {"w", "v", "q", ",", "f", "é", "\U0001F600"}
    assert res["unk_in_training"] == 0          # --min-count 1: no character maps to it
    capsys.readouterr()
    assert main(["evaluate", str(run), str(texts / "held.txt")]) == 0
    assert "<unk> never occurred in training" in capsys.readouterr().out
    assert main(["sample", str(run), "--prime", "the mat \u00e9 \U0001F600", "--length", "60",
                 "--seed", "3"]) == 0
    cap = capsys.readouterr()
    assert cap.err.strip().splitlines() == [
        "rnnlab: warning: --prime has 2 characters not in the model's vocabulary (2 distinct: "
        "'é', '\U0001F600'): read as <unk>"]
    assert cap.out.startswith("the mat \u00e9 \U0001F600")
    sampled = cap.out[len("the mat \u00e9 \U0001F600"):-1]          # the command adds "\n"
    assert len(sampled) == 60 and "<unk>" not in sampled        # <unk> is never sampled


def test_min_count_trains_unk_for_characters_and_max_vocab_caps_words(texts, tmp_path, capsys):
    run = tmp_path / "chars2"
    assert main(["train", str(texts / "train.txt"), "--out", str(run), *TINY,
                 "--min-count", "2"]) == 0
    tokens = json.loads((run / "config.json").read_text())["data"]["vocab"]["tokens"]
    assert "\n" not in tokens and "<unk>" in tokens and "z" not in tokens    # each seen once
    run = tmp_path / "capped"
    assert main(["train", str(texts / "train.txt"), "--out", str(run), *TINY, "--tokens", "word",
                 "--max-vocab", "6"]) == 0
    assert len(json.loads((run / "config.json").read_text())["data"]["vocab"]["tokens"]) == 6
    capsys.readouterr()
    assert main(["train", str(texts / "train.txt"), "--out", str(tmp_path / "bad"), *TINY,
                 "--max-vocab", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-vocab must be 0 (no limit) or at least 3" in err
    assert not (tmp_path / "bad").exists()


def test_unk_runs_are_reproducible(texts, tmp_path):
    for name in ("a", "b"):
        assert main(["train", str(texts / "train.txt"), "--out", str(tmp_path / name),
                     "--tokens", "word", *TINY, "--seed", "4"]) == 0
    a, b = (rnnlab.training.run_folder.load_tensors(tmp_path / n / "model.safetensors") for n in "ab")
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("level", ["char", "word"])
def test_runs_saved_before_unk_load_sample_and_evaluate(level, tmp_path, capsys):
    run = tmp_path / level
    shutil.copytree(OLD / level, run)
    cfg = json.loads((run / "config.json").read_text())
    assert "unk" not in cfg["data"]["vocab"] and "<unk>" not in cfg["data"]["vocab"]["tokens"]
    model = rnnlab.load(run)
    assert not model.vocab.has_unk and model.vocab.size == model.cfg.output_size
    held = tmp_path / "held.txt"
    held.write_text("the cat sat on the whatsoever mat, okay.\n")
    res = evaluate_json(run, held, capsys)
    assert res["unknown_scored"] is False and math.isfinite(res["loss"])
    # chars: w, v, ',', k, y; words: 'whatsoever', ',', 'okay'
    assert res["unknown_tokens"] == (5 if level == "char" else 3)
    known = (OLD / "train.txt").read_text()
    assert evaluate_json(run, OLD / "train.txt", capsys)["tokens"] == len(
        model.vocab.encode(known)) - 1          # the training text: nothing unknown, as before
    assert main(["evaluate", str(run), str(held)]) == 0
    assert "skipped, not scored: this model was saved before rnnlab had <unk>" in \
        capsys.readouterr().out
    prime = "the cat " if level == "word" else "the cat w"
    assert main(["sample", str(run), "--prime", prime + " okay", "--length", "20",
                 "--seed", "1"]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith(prime + " okay")
    assert "skipped (this model was saved before rnnlab had <unk>)" in cap.err
    assert cap.err.count("\n") == 1

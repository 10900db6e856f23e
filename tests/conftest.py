"""Shared fixtures. `demo_run`: `rnnlab demo` run once per session (about 40 s of wall time on
a loaded 2-core machine) under umask 027, for every test that looks at what it wrote."""
import contextlib
import io
import os

import numpy as np
import pytest


def word_text(path, n, seed=0):
    """A small text of n words from a 12-word vocabulary (for the run-folder, signal, fault
    and memory tests): enough to train a tiny model for a few steps."""
    rng = np.random.default_rng(seed)
    words = "the cat sat on a mat and then the dog ran to it".split()
    path.write_text(" ".join(rng.choice(words, n)))
    return path


def chorale_json(path, train, valid, test=0, steps=32):
    """A notes JSON of generated chorales (``synthetic.chorales``) with its own train, valid
    and (when test > 0) test splits, seeds 0, 1, 2: the music tests' data."""
    import json

    from rnnlab.data.synthetic import chorales
    data = {"train": chorales(train, steps, seed=0), "valid": chorales(valid, steps, seed=1)}
    if test:
        data["test"] = chorales(test, steps, seed=2)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def text(tmp_path):
    """t.txt of 400 words (a test module may define its own `text`)."""
    return word_text(tmp_path / "t.txt", 400)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """(out folder, printed text) of `rnnlab demo --out OUT` in English."""
    from rnnlab.app.cli import main
    out = tmp_path_factory.mktemp("demo") / "demo"
    printed, old = io.StringIO(), os.umask(0o027)
    try:
        with contextlib.redirect_stdout(printed):
            assert main(["demo", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    return out, printed.getvalue()


# rnnlab serve's tests (test_serve.py, test_serve_live.py): a little code, strings and brackets
SERVE_CORPUS = ('x = f("abc", [1, 2]) + g("de")\nif (a and b): print("hello", (c, d))\n') * 30


@pytest.fixture(scope="session")
def serve_run(tmp_path_factory):
    """(run folder, corpus file): a tiny character LSTM (2 x 16) trained for a few steps on
    SERVE_CORPUS."""
    from rnnlab.training.api import train
    d = tmp_path_factory.mktemp("serve")
    (d / "corpus.txt").write_text(SERVE_CORPUS, "utf-8")
    train(str(d / "corpus.txt"), out=str(d / "run"), cell="lstm", hidden=16, layers=2, steps=8,
          eval_every=4, seq_len=20, batch=4, progress=False, log=lambda m: None)
    return str(d / "run"), str(d / "corpus.txt")

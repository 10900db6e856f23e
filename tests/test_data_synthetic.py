import math

import numpy as np
import pytest

from rnnlab.data.synthetic import (
    BOOK_NAMES, BOOK_WORDS, DINNERS, adding_problem, book_corpus, chorales, copy_baseline,
    copy_memory, dinner_days, judge_sentences, one_hot, temporal_order,
)
from rnnlab.errors import RnnlabError


def test_dinner_rotation():
    d = dinner_days(7)
    assert [DINNERS[i] for i in d] == ["pizza", "sushi", "waffles"] * 2 + ["pizza"]
    assert dinner_days(3, start=2).tolist() == [2, 0, 1]
    oh = one_hot(d, 3)
    assert oh.shape == (7, 3) and oh.dtype == np.float32
    assert oh.argmax(1).tolist() == d.tolist() and oh.sum() == 7
    with pytest.raises(RnnlabError, match="0..2"):
        one_hot([0, 3], 3)


def test_book_corpus_is_grammatical():
    toks = book_corpus(200, seed=1)
    assert len(toks) == 800 and set(toks) <= set(BOOK_WORDS)
    for i in range(0, 800, 4):
        a, saw, b, dot = toks[i:i + 4]
        assert a in BOOK_NAMES and b in BOOK_NAMES and a != b and (saw, dot) == ("saw", ".")
    # all six (subject, object) pairs occur
    assert len({(toks[i], toks[i + 2]) for i in range(0, 800, 4)}) == 6
    j = judge_sentences(toks)
    assert j["total"] == j["grammatical"] == 200 and j["other"] == 0
    assert book_corpus(5, seed=1) == book_corpus(5, seed=1)


def test_judge_hand_written():
    text = ("Doug saw Jane . Doug saw Doug . Doug saw Jane saw Spot . saw Spot . . "
            "Jane saw Spot saw . Spot saw Doug . Doug . Jane saw . Jane saw Spot Doug saw Jane . "
            "Spot saw Jane Doug . Spot Doug . Jane saw")
    j = judge_sentences(text.split())
    assert j == dict(total=12, grammatical=2, self_reference=1, run_on=1, missing_period=2,
                     fragment=2, other=4, unfinished=1)
    assert judge_sentences([])["total"] == 0


def test_adding_problem():
    x, y = adding_problem(50, 64, rng=0)
    assert x.shape == (50, 64, 2) and y.shape == (64, 1)
    marks = x[:, :, 1]
    assert np.all(marks.sum(0) == 2) and set(np.unique(marks)) <= {0.0, 1.0}
    assert np.all(marks[:25].sum(0) == 1) and np.all(marks[25:].sum(0) == 1)
    assert np.allclose(y[:, 0], (x[:, :, 0] * marks).sum(0))
    assert x[:, :, 0].min() >= 0 and x[:, :, 0].max() <= 1
    x2, _ = adding_problem(50, 64, rng=np.random.default_rng(0))
    assert np.array_equal(x, x2)
    with pytest.raises(RnnlabError, match="T"):
        adding_problem(1, 4)


def test_copy_memory():
    T, L = 30, 10
    x, y = copy_memory(T, 16, rng=3)
    assert x.shape == y.shape == (T + 2 * L, 16) and x.dtype == np.int64
    assert np.all((x[:L] >= 1) & (x[:L] <= 8))
    assert np.all(x[L:L + T - 1] == 0) and np.all(x[L + T - 1] == 9) and np.all(x[L + T:] == 0)
    assert np.all(y[:T + L] == 0) and np.array_equal(y[-L:], x[:L])
    assert copy_baseline(10, 100, 8) == pytest.approx(10 * math.log(8) / 120)
    x, y = copy_memory(5, 2, rng=0, n_symbols=3, length=2)
    assert x.shape == (9, 2) and x.max() == 4


def test_temporal_order():
    T = 100
    x, y = temporal_order(T, 500, rng=1)
    assert x.shape == (T, 500) and y.shape == (500,)
    assert np.all(x[0] == 6) and np.all(x[-1] == 7)
    for b in range(500):
        rel = np.flatnonzero((x[:, b] == 4) | (x[:, b] == 5))
        assert len(rel) == 2
        t1, t2 = rel
        assert 10 <= t1 <= 20 and 50 <= t2 <= 60
        assert y[b] == 2 * (x[t1, b] - 4) + (x[t2, b] - 4)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    with pytest.raises(RnnlabError, match="T"):
        temporal_order(5, 1)


def test_chorales():
    seqs = chorales(20, 32, seed=0)
    assert len(seqs) == 20 and all(len(s) == 32 for s in seqs)
    major = {0, 2, 4, 5, 7, 9, 11}
    for s in seqs:
        for step in s:
            assert len(step) == 4 and step == sorted(step)
            assert {p % 12 for p in step} <= major
            assert 36 <= step[0] <= 60 and 60 <= step[3] <= 81
        # each chord is held at least 2 steps: no isolated step
        changes = [t for t in range(1, 32) if s[t] != s[t - 1]]
        assert all(b - a >= 2 for a, b in zip([0] + changes, changes))
    assert chorales(2, 8, seed=5) == chorales(2, 8, seed=5)

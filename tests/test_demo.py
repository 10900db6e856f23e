"""The demo's figures: both cells learn the dinner rotation exactly, and the book is judged
with counts, intervals and a test, claiming only what the numbers support."""
import json
import stat

import pytest

from rnnlab.app.cli import main
from rnnlab.app.demo import compare_grammar, two_proportion_p, wilson
from rnnlab.app.demo_text import say_book, say_dinner, say_long_memory, say_two_step
from rnnlab.data.synthetic import SENTENCE_KINDS
from rnnlab.viz.i18n import strings


def test_demo_end_to_end(demo_run):
    out, printed = demo_run
    for name in ("summary.json", "report.html", "lesson.html", "lesson.json", "book_lstm.html"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name     # umask 027
    summary = json.loads((out / "summary.json").read_text())
    for cell in ("rnn", "lstm"):
        assert summary["dinner"][cell]["next_day_accuracy"] == 1.0
        assert summary["dinner"][cell]["rollout_14_accuracy"] == 1.0
        rolled = summary["dinner"][cell]["rollout"]
        assert rolled["ids"] == rolled["truth"] == [1, 2, 0] * 4 + [1, 2]
    for cell in ("memoryless", "rnn", "lstm"):
        book = summary["book"][cell]
        assert book["sentences"] == 1000
        assert abs(sum(book[f"{k}_share"] for k in SENTENCE_KINDS) - 1.0) < 1e-9
        assert all(lo <= book["counts"][k] / 1000 <= hi for k, (lo, hi) in book["ci95"].items())
    # the model with no memory is what the story is about: memory makes the difference
    assert summary["book"]["comparison_memory"]["significant"]
    assert summary["book"]["memoryless"]["grammatical_share"] < 0.5
    assert {r["cell"] for r in summary["long_memory"]} == {"rnn", "lstm"}
    assert set(summary["grad_norms"]) == {"rnn", "lstm"}
    for name in ("report.html", "dinner_rnn_gates_layer0.png", "book_lstm_grad_norms.png",
                 "dinner_lstm.html", "long-memory/metric_vs_T.png"):
        assert (out / name).is_file(), name
    assert "<img" in (out / "report.html").read_text()
    assert "after pizza -> sushi" in printed and "grammatical" in printed
    assert "day before pizza -> yesterday sushi" in printed
    claims = [s for s in printed.splitlines() if "-> measured:" in s]
    assert len(claims) == 2
    comparison = summary["book"]["comparison"]
    for cell in ("lstm", "rnn"):
        k, n = comparison[cell]["grammatical"], comparison[cell]["sentences"]
        assert f"{cell.upper()} {k}/{n} grammatical (95% CI " in claims[0]
    assert ("not significant" in claims[0]) == (not comparison["significant"])
    assert "no-memory model" in claims[1]


def test_demo_says_everything_in_traditional_chinese(demo_run):
    """--lang zh-TW: every line the demo prints comes from the zh-TW catalogue, said from the
    same numbers (the narration is a function of the summary)."""
    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    tr, said = strings("zh-TW"), []
    for cell in ("rnn", "lstm"):
        say_dinner(cell, summary["dinner"][cell], tr, said.append)
    say_two_step(summary["dinner"]["rnn"], tr, said.append)
    for cell in ("memoryless", "rnn", "lstm"):
        say_book(cell, summary["book"][cell], tr, said.append)
    compare_grammar(summary["book"], said.append, tr)
    say_long_memory(summary["long_memory"], tr, said.append)
    text = "\n".join(said)
    for words in ("隔天預測準確率", "pizza 之後 -> sushi", "前天 pizza -> 昨天 sushi",
                  "合乎文法", "雙比例檢定", "測試 MSE"):
        assert words in text, words
    english = ("accuracy", "after pizza", "grammatical", "sentences", "percentage", "solved")
    assert not [w for w in english if w in text]


def test_demo_refuses_an_unknown_language(capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--lang", "fr", "--out", "/nonexistent/never"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'fr'" in err and len(err.strip().splitlines()) == 1


def test_wilson_interval_and_two_proportion_test():
    lo, hi = wilson(992, 1000)
    assert (round(lo, 4), round(hi, 4)) == (0.9843, 0.9959)     # textbook Wilson bounds
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1
    assert two_proportion_p(992, 1000, 990, 1000) == pytest.approx(0.634, abs=0.002)
    assert two_proportion_p(990, 1000, 900, 1000) < 1e-10
    assert two_proportion_p(5, 5, 7, 7) == 1.0


@pytest.mark.parametrize("lstm, rnn, words", [
    (992, 990, "the difference (+0.2 percentage points) is not significant (two-proportion "
               "test p = 0.64): these sentences do not show that either model writes more "
               "grammatical ones (one seed)"),
    (990, 900, "the LSTM writes more grammatical sentences here (9.0 percentage points, "
               "two-proportion test p = 1.1e-18; one seed)"),
])
def test_the_claim_follows_the_numbers(lstm, rnn, words):
    book = {c: {"counts": {"grammatical": k, "total": 1000}} for c, k in
            (("lstm", lstm), ("rnn", rnn))}
    said = []
    result = compare_grammar(book, said.append)
    assert words in said[0] and f"LSTM {lstm}/1000 grammatical (95% CI " in said[0]
    assert result["significant"] == (lstm - rnn > 50)


def test_demo_parts_are_reproducible():
    from rnnlab.app.demo import run_book, run_dinner
    assert run_dinner("lstm", 3)[1] == run_dinner("lstm", 3)[1]
    assert run_book("rnn", 3, 200)[2] == run_book("rnn", 3, 200)[2]
    assert run_book("memoryless", 3, 200)[2] == run_book("memoryless", 3, 200)[2]

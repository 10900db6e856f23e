"""The demo's figures: both cells learn the dinner rotation exactly, and the book is judged
with counts, intervals and a test, claiming only what the numbers support."""
import json
import os
import stat

import pytest

from rnnlab.app.cli import main
from rnnlab.app.demo import compare_grammar, two_proportion_p, wilson


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    old = os.umask(0o027)
    try:
        assert main(["demo", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((out / "summary.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "report.html").stat().st_mode) == 0o640
    summary = json.loads((out / "summary.json").read_text())
    for cell in ("rnn", "lstm"):
        assert summary["dinner"][cell]["next_day_accuracy"] == 1.0
        assert summary["dinner"][cell]["rollout_14_accuracy"] == 1.0
        book = summary["book"][cell]
        assert book["sentences"] == 1000
        shares = sum(book[f"{k}_share"] for k in ("grammatical", "self_reference", "run_on", "other"))
        assert abs(shares - 1.0) < 1e-9
    assert {r["cell"] for r in summary["long_memory"]} == {"rnn", "lstm"}
    for name in ("report.html", "dinner_rnn_gates_layer0.png", "book_lstm_grad_norms.png",
                 "dinner_lstm.html", "long-memory/metric_vs_T.png"):
        assert (out / name).is_file(), name
    assert "<img" in (out / "report.html").read_text()
    printed = capsys.readouterr().out
    assert "after pizza -> sushi" in printed and "grammatical" in printed
    claim = next(s for s in printed.splitlines() if "-> measured:" in s)
    comparison = summary["book"]["comparison"]
    for cell in ("lstm", "rnn"):
        k, n = comparison[cell]["grammatical"], comparison[cell]["sentences"]
        assert f"{cell.upper()} {k}/{n} grammatical (95% CI " in claim
    assert ("not significant" in claim) == (not comparison["significant"])


def test_wilson_interval_and_two_proportion_test():
    lo, hi = wilson(992, 1000)
    assert (round(lo, 4), round(hi, 4)) == (0.9843, 0.9959)     # textbook Wilson bounds
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1
    assert two_proportion_p(992, 1000, 990, 1000) == pytest.approx(0.634, abs=0.002)
    assert two_proportion_p(990, 1000, 900, 1000) < 1e-10
    assert two_proportion_p(5, 5, 7, 7) == 1.0


@pytest.mark.parametrize("lstm, rnn, words", [
    (992, 990, "the difference (+0.2 percentage points) is not significant (two-proportion "
               "test p = 0.64): these sentences do not show that either cell writes more "
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
    quiet = lambda m: None
    assert run_dinner("lstm", 3, quiet)[1] == run_dinner("lstm", 3, quiet)[1]
    assert run_book("rnn", 3, quiet)[2] == run_book("rnn", 3, quiet)[2]

"""The demo's figures: both cells learn the dinner rotation exactly, and the book is judged."""
import json

from rnnlab.cli import main


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for cell in ("rnn", "lstm"):
        assert summary["dinner"][cell]["next_day_accuracy"] == 1.0
        assert summary["dinner"][cell]["rollout_14_accuracy"] == 1.0
        book = summary["book"][cell]
        assert book["sentences"] == 1000
        shares = sum(book[f"{k}_share"] for k in ("grammatical", "self_reference", "run_on", "other"))
        assert abs(shares - 1.0) < 1e-9
    printed = capsys.readouterr().out
    assert "after pizza -> sushi" in printed and "grammatical" in printed


def test_demo_is_reproducible(tmp_path):
    from rnnlab.demo import run_demo
    a = run_demo(str(tmp_path / "a"), seed=3, say=lambda m: None)
    b = run_demo(str(tmp_path / "b"), seed=3, say=lambda m: None)
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b

"""The demo's figures: both cells learn the dinner rotation exactly, and the book is judged."""
import json

from rnnlab.app.cli import main


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
    assert {r["cell"] for r in summary["long_memory"]} == {"rnn", "lstm"}
    for name in ("report.html", "dinner_rnn_gates_layer0.png", "book_lstm_grad_norms.png",
                 "dinner_lstm.html", "long-memory/metric_vs_T.png"):
        assert (out / name).is_file(), name
    assert "<img" in (out / "report.html").read_text()
    printed = capsys.readouterr().out
    assert "after pizza -> sushi" in printed and "grammatical" in printed


def test_demo_parts_are_reproducible():
    from rnnlab.app.demo import run_book, run_dinner
    quiet = lambda m: None
    assert run_dinner("lstm", 3, quiet)[1] == run_dinner("lstm", 3, quiet)[1]
    assert run_book("rnn", 3, quiet)[2] == run_book("rnn", 3, quiet)[2]

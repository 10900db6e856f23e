"""What `rnnlab demo` prints, in the learner's language: each function takes the numbers one
part of the demo measured (demo_dinner.py, demo_book.py, the long-memory run) and says them
with the catalogue's words (rnnlab.viz.i18n: `tr`, a Strings). Nothing here computes."""
from ..data.synthetic import DINNERS, SENTENCE_KINDS

# The matrices each dinner model prints, in order, with the catalogue key of their line.
_MATRICES = {"rnn": ("W_ih", "W_hh", "W_out", "P"), "lstm": ("W_ig", "W_out", "P")}


def say_dinner(cell, result, tr, say):
    """The accuracies, each learned matrix with one line on how it encodes the rotation, and
    the rotation read back from the probabilities."""
    say(tr("demo.dinner_scores", model=tr(f"demo.model_{cell}"),
           next_day=f"{result['next_day_accuracy']:.2f}",
           rollout=f"{result['rollout_14_accuracy']:.2f}"))
    W = result["weights"]
    for name in _MATRICES[cell]:
        fields = {}
        if name == "W_hh":
            fields = {"hh": f"{_largest(W['W_hh']):.2f}", "ih": f"{_largest(W['W_ih']):.2f}"}
        say("    " + tr(f"demo.matrix_{name}", **fields))
        for row in W[name]:
            say("      " + " ".join(f"{v:+.2f}" for v in row))
    after = [tr("demo.after", yesterday=DINNERS[j], today=DINNERS[_argmax(row)])
             for j, row in enumerate(W["P"])]
    say("    " + tr("demo.so", rotation=tr("demo.list_sep").join(after)))


def say_two_step(result, tr, say):
    """When yesterday is unknown: the day before -> the guess for yesterday -> today."""
    for row in result["two_step"]:
        say("    " + tr("demo.two_step", before=DINNERS[row["before"]],
                        yesterday=DINNERS[row["yesterday"]],
                        p_yesterday=f"{max(row['p_yesterday']):.2f}",
                        today=DINNERS[row["today"]], p_today=f"{max(row['p_today']):.2f}"))


def say_book(cell, result, tr, say):
    """One line per model: how many sentences, and the share of each kind."""
    shares = tr("demo.list_sep").join(
        tr("demo.share", share=f"{result[f'{k}_share']:.1%}", kind=tr(f"demo.kind_{k}"))
        for k in SENTENCE_KINDS)
    say(tr("demo.book_model", model=tr(f"demo.model_{cell}"), n=result["sentences"],
           shares=shares))


def say_long_memory(records, tr, say):
    """One line per run of the adding problem: the test MSE beside the baseline, solved or
    not and when."""
    for r in records:
        metric = "-" if r["test_metric"] is None else f"{r['test_metric']:.4g}"
        fields = dict(model=tr(f"demo.model_{r['cell']}"), T=r["T"], mse=metric,
                      baseline=f"{r['baseline']:.4g}", steps=r.get("steps_to_solve"),
                      trained=r.get("steps"))
        say("  " + tr("demo.adding_solved" if r["solved"] else "demo.adding_unsolved",
                      **fields))


def _largest(M):
    return max(abs(v) for row in M for v in row)


def _argmax(row):
    return max(range(len(row)), key=lambda j: row[j])

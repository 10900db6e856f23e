"""`rnnlab demo`: the seed note's examples, run end to end.

1. Dinner. The roommate cooks pizza, sushi and waffles in a fixed rotation; dinners are one-hot
   vectors. A plain RNN and an LSTM learn to predict today's dinner from yesterday's. When you
   are away, each predicts from its own predictions: the prediction for yesterday is fed back
   in, day after day, for two weeks.
2. The children's book. Vocabulary {Doug, Jane, Spot, saw, .}, sentences like "Doug saw Jane.".
   An RNN and an LSTM learn it; 1,000 sampled sentences from each are judged for grammar
   ("Doug saw Doug." and "Doug saw Jane saw Spot" are the classic mistakes).
3. Long memory, short version: the adding problem at one T, RNN against LSTM.

Everything lands in the output folder: summary.json, plots and report.html.
"""
import json
import math
import os
import time

import numpy as np

from ..data.synthetic import BOOK_WORDS, DINNERS, book_corpus, dinner_days, judge_sentences
from ..data.text import Vocab
from ..fileio import atomic_write_json
from ..tasks.model import ModelConfig, SequenceModel
from ..tasks.stream import streaming_model
from ..tasks.text import TextTask, pick_token
from ..train import TrainConfig
from ..trainer import Trainer


def train_in_memory(ids, vocab, cell, hidden, steps, seed, batch=8, seq_len=12, lr=0.05):
    """Train a one-layer token model on an id sequence; returns the trained SequenceModel."""
    task = TextTask(np.asarray(ids), vocab, batch=batch, seq_len=seq_len, val_fraction=0.0)
    cfg = ModelConfig(task="text", cell=cell, input_size=vocab.size, output_size=vocab.size,
                      hidden=hidden, layers=1, seed=seed)
    tcfg = TrainConfig(steps=steps, lr=lr, batch=batch, seq_len=seq_len, eval_every=steps,
                       seed=seed)
    model = SequenceModel(cfg)
    Trainer(model, task, tcfg, run=None, log=lambda msg: None).fit(progress=False)
    return model.eval()


# ----- dinner ---------------------------------------------------------------------------------
def dinner_scores(model, n_test=30, horizon=14):
    """next-day accuracy with the true yesterday, and the 14-day rollout that feeds each
    prediction back in, from every starting dinner."""
    days = dinner_days(n_test + 1, start=1)
    logits, _ = model.forward(days[:-1, None].astype(np.int64))
    next_day = float(np.mean(logits[:, 0].argmax(-1) == days[1:]))
    correct = 0
    for start in range(3):
        truth = dinner_days(horizon + 1, start=start)
        state, today = None, start
        for day in range(1, horizon + 1):           # yesterday's prediction is today's input
            logits, state = model.forward(np.array([[today]], np.int64), state)
            today = int(logits[0, 0].argmax())
            correct += today == truth[day]
    return next_day, correct / (3 * horizon)


def explain_dinner_weights(model):
    """The learned matrices and one line each on how they encode the rotation."""
    p = model.params
    W_ih = p["rnn.weight_ih_l0"]
    H = model.cfg.hidden
    lines = []
    if model.cfg.cell == "rnn":
        lines.append(("W_ih (hidden x dinner)", W_ih,
                      "column j is the memory that seeing dinner j writes: one distinct pattern per dinner"))
        W_hh = p["rnn.weight_hh_l0"]
        lines.append(("W_hh (hidden x hidden)", W_hh,
                      f"carries the day before's memory into today (largest |entry| "
                      f"{np.abs(W_hh).max():.2f} vs W_ih's {np.abs(W_ih).max():.2f})"))
    else:
        g = W_ih[2 * H:3 * H]                       # the candidate g's block (gate order i, f, g, o)
        lines.append(("W_ig, candidate g (hidden x dinner)", g,
                      "column j is the new memory written when yesterday was dinner j"))
    lines.append(("W_out (dinner x hidden)", p["head.weight"],
                  "reads the memory: row k lights up for the pattern that dinner k-1 wrote"))
    # the whole chain, dinner -> memory -> tomorrow, as one 3x3 table of probabilities
    logits, _ = model.forward(np.arange(3, dtype=np.int64)[None, :])   # T=1, B=3 dinners
    z = logits[0] - logits[0].max(-1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    lines.append(("P(today | yesterday), rows = yesterday", probs,
                  "the rotation itself: each row puts its mass on the next dinner"))
    return lines


def run_dinner(cell, seed, say):
    vocab = Vocab(list(DINNERS), level="word")
    days = dinner_days(400, start=0)
    hidden = 3 if cell == "rnn" else 4
    model = train_in_memory(days, vocab, cell, hidden, steps=150, seed=seed)
    next_day, rollout = dinner_scores(model)
    say(f"  {cell.upper():4s} next-day accuracy {next_day:.2f}   14-day rollout (own predictions "
        f"fed back) {rollout:.2f}")
    weights = explain_dinner_weights(model)
    for name, M, why in weights:
        say(f"    {name}: {why}")
        for row in np.atleast_2d(M):
            say("      " + " ".join(f"{v:+.2f}" for v in row))
    probs = weights[-1][1]
    say("    so: " + ", ".join(f"after {DINNERS[j]} -> {DINNERS[int(probs[j].argmax())]}"
                              for j in range(3)))
    return model, {"next_day_accuracy": next_day, "rollout_14_accuracy": rollout,
                   "hidden": hidden, "weights": {n: np.round(M, 3).tolist() for n, M, _ in weights}}


# ----- the children's book ---------------------------------------------------------------------
def sample_sentences(model, vocab, n_sentences, seed, max_tokens=20000):
    """Sample tokens (temperature 1) until n_sentences full stops, starting after a '.'."""
    rng = np.random.default_rng(seed)
    dot = vocab.tokens.index(".")
    out, state, tok, stops = [], None, dot, 0
    stream = streaming_model(model)                # the fused B=1 path, when numba is here
    if stream is not None:
        stream.reset()
    while stops < n_sentences and len(out) < max_tokens:
        if stream is not None:
            logits = stream.step(tok)
        else:
            logits, state = model.forward(np.array([[tok]], np.int64), state)
            logits = logits[0, 0]
        tok = pick_token(logits, 1.0, 0, rng)
        out.append(vocab.tokens[tok])
        stops += tok == dot
    return out


def run_book(cell, seed, say, n_sentences=1000):
    vocab = Vocab(sorted(BOOK_WORDS), level="word")
    corpus = np.array([vocab.tokens.index(w) for w in book_corpus(600, seed=seed)])
    model = train_in_memory(corpus, vocab, cell, hidden=16, steps=300, seed=seed, lr=0.02)
    counts = judge_sentences(sample_sentences(model, vocab, n_sentences, seed))
    total = max(counts["total"], 1)
    shares = {k: counts[k] / total for k in ("grammatical", "self_reference", "run_on", "other")}
    say(f"  {cell.upper():4s} {counts['total']} sentences: {shares['grammatical']:.1%} grammatical, "
        f"{shares['self_reference']:.1%} 'Doug saw Doug.', {shares['run_on']:.1%} run-on, "
        f"{shares['other']:.1%} other")
    return model, vocab, {"sentences": counts["total"], "counts": counts,
                          **{f"{k}_share": v for k, v in shares.items()}}


def wilson(k, n, z=1.959964):
    """The Wilson score interval (95% by default) for k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


def two_proportion_p(k1, n1, k2, n2):
    """Two-sided p-value of the pooled two-proportion z test (1.0 when both are all or none)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return math.erfc(abs(k1 / n1 - k2 / n2) / se / math.sqrt(2))


def compare_grammar(book, say):
    """The grammatical counts of both cells, their 95% Wilson intervals, and what the
    difference supports: a claim only when the two-proportion test gives p < 0.05."""
    rows = {}
    for cell in ("lstm", "rnn"):
        k, n = book[cell]["counts"]["grammatical"], book[cell]["counts"]["total"]
        rows[cell] = {"grammatical": k, "sentences": n, "ci95": list(wilson(k, n))}
    (k1, n1), (k2, n2) = ((rows[c]["grammatical"], rows[c]["sentences"]) for c in ("lstm", "rnn"))
    p = two_proportion_p(k1, n1, k2, n2)
    shown = "; ".join(f"{c.upper()} {r['grammatical']}/{r['sentences']} grammatical (95% CI "
                      f"{r['ci95'][0]:.1%} to {r['ci95'][1]:.1%})" for c, r in rows.items())
    diff = k1 / max(n1, 1) - k2 / max(n2, 1)
    if p < 0.05:
        better = "LSTM" if diff > 0 else "RNN"
        verdict = (f"the {better} writes more grammatical sentences here ({abs(diff) * 100:.1f} "
                   f"percentage points, two-proportion test p = {p:.2g}; one seed)")
    else:
        verdict = (f"the difference ({diff * 100:+.1f} percentage points) is not significant "
                   f"(two-proportion test p = {p:.2f}): these sentences do not show that either "
                   f"cell writes more grammatical ones (one seed)")
    say(f"  -> measured: {shown}; {verdict}")
    return {**rows, "p_value": p, "significant": p < 0.05}


def run_demo(out="rnnlab-demo", seed=0, say=print):
    """Run the whole demo; returns the summary dict (also written to OUT/summary.json)."""
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    summary = {"seed": seed, "dinner": {}, "book": {}}
    say("Dinner: pizza -> sushi -> waffles -> pizza ... Predict today from yesterday.")
    models = {}
    for cell in ("rnn", "lstm"):
        models[f"dinner_{cell}"], summary["dinner"][cell] = run_dinner(cell, seed, say)
    say("\nThe children's book: Doug, Jane, Spot, saw, '.'  Sampling 1,000 sentences each.")
    for cell in ("rnn", "lstm"):
        m, vocab, summary["book"][cell] = run_book(cell, seed, say)
        models[f"book_{cell}"] = (m, vocab)
    summary["book"]["comparison"] = compare_grammar(summary["book"], say)
    summary.update(extras(models, out, seed, say))
    summary["elapsed_s"] = round(time.time() - t0, 2)
    atomic_write_json(os.path.join(out, "summary.json"), summary)
    say(f"\nWrote {out}/summary.json ({summary['elapsed_s']:.1f} s)")
    return summary


def extras(models, out, seed, say):
    """The short long-memory experiment, the plots and report.html for the demo's models."""
    from ..experiments import run_quick_demo
    result = {}
    say("\nLong memory, short version: the adding problem at T=50, one seed each.")
    quick = run_quick_demo(os.path.join(out, "long-memory"), progress=lambda msg: None)
    say(quick["table"])
    result["long_memory"] = [{k: r[k] for k in ("task", "T", "cell", "seed", "test_metric",
                                                "baseline", "solved", "steps_to_solve")}
                             for r in quick["records"]]
    try:
        import matplotlib  # noqa: F401  (plots are optional: pip install rnnlab[viz])
    except ImportError:
        say("(matplotlib is not installed: skipping the plots; pip install 'rnnlab[viz]')")
        return result
    from ..viz.inspect import write_explain
    from ..viz.report import plot_run, write_report
    sections = []
    dinner_text = dinner_days(9, start=0)                    # token ids: nine days of dinners
    for cell in ("rnn", "lstm"):
        vocab = list(DINNERS)
        paths = plot_run(models[f"dinner_{cell}"], dinner_text, out, prefix=f"dinner_{cell}_",
                         vocab=vocab)
        write_explain(models[f"dinner_{cell}"], dinner_text, os.path.join(out, f"dinner_{cell}.html"),
                      vocab=vocab, title=f"Dinner rotation, {cell.upper()}")
        sections.append({"title": f"Dinner, {cell.upper()}", "images": paths,
                         "text": f"Gates over nine days of dinners; dinner_{cell}.html shows every "
                                 f"gate interactively."})
    book_words = "Doug saw Jane . Jane saw Spot . Spot saw Doug . Jane saw Doug .".split()
    for cell in ("rnn", "lstm"):
        model, vocab = models[f"book_{cell}"]
        book_text = [vocab.tokens.index(w) for w in book_words]
        paths = plot_run(model, book_text, out, prefix=f"book_{cell}_", vocab=vocab.tokens)
        write_explain(model, book_text, os.path.join(out, f"book_{cell}.html"),
                      vocab=vocab.tokens, title=f"Children's book, {cell.upper()}")
        sections.append({"title": f"Children's book, {cell.upper()}", "images": paths})
    lm = os.path.join(out, "long-memory")
    sections.append({"title": "Long memory: adding problem, T=50",
                     "images": [os.path.join(lm, f) for f in sorted(os.listdir(lm))
                                if f.endswith(".png")]})
    result["report"] = write_report(out, sections, title="rnnlab demo: the seed note, run")
    say(f"Plots, explain pages and {result['report']} written.")
    return result


if __name__ == "__main__":
    print(json.dumps(run_demo(), indent=1)[:2000])

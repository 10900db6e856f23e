"""Look inside a real model: run it on one input and collect what the explain page shows.
Everything here uses rnnlab's own forward and backward (the NumPy reference backend, whose
caches keep every gate), never a second implementation of the equations.

    from rnnlab.viz.inspect import explain_payload, write_explain
    from rnnlab.viz.report import plot_run
    m = rnnlab.load("run")                            # a TrainedModel, or (SequenceModel, vocab)
    write_explain(m, "The cat sat on the mat.", "explain.html")
    plot_run(m, "The cat sat on the mat.", "plots/")  # loss curves, gate heatmaps, grad norms

What is collected, for an input of T steps (batch of one):

- gates: every cache entry of every layer and direction, (T, H) each, the reverse direction put
  back in natural time order (row t = step t) (subject.py);
- predictions: the softmax of the model's output after each step, top 5 (text);
- connectivity: |d log p(target_t) / d x_s| for s <= t (gradients.py, which also measures the
  gradient norms through time for the plots).

Everything runs on the Subject's own copy of the model: the model itself is never disturbed.
"""
from __future__ import annotations

import math
import os

import numpy as np

from rnnlab.nn import registry
from rnnlab.nn.functional import sigmoid, softmax
from rnnlab.viz.explain import write_explain_html
from rnnlab.viz.gradients import MAX_CONN_STEPS, connectivity_from
from rnnlab.viz.limits import CONN_WINDOW
from rnnlab.viz.subject import Subject, read_input, reference_forward

MAX_VALUES = 4_000_000        # activation values on one page (~1.33 bytes each: ~5 MB)


def explain_payload(model, text_or_tokens, history=None, title=None, *, vocab=None,
                    max_conn_steps=MAX_CONN_STEPS, max_values=MAX_VALUES) -> dict:
    """The explain page's payload (rnnlab.viz.explain DOC_SCHEMA) for a real model on an input.

    model: a TrainedModel (rnnlab.load), a SequenceModel with `vocab=`, or a pair (SequenceModel,
    vocab), vocab a Vocab or its token list. text_or_tokens: a str or token ids (text), an array
    (T, D) (series, music). history: history records (default: the run's history.json)."""
    subject = Subject.of(model, vocab)
    sm, cfg = subject.model, subject.cfg
    ids, x, labels = read_input(subject, text_or_tokens)
    T = x.shape[0]
    out, gates, states = reference_forward(sm, x)
    conn = None
    if sm.rnn.num_directions == 1 and cfg.task == "text" and max_conn_steps:
        conn = connectivity_from(sm, subject, ids, x, states, None, max_conn_steps, CONN_WINDOW)
    cell = cfg.cell
    variant = cfg.variant if cell == "lstm" else (cfg.nonlinearity if cell == "rnn" else
                                                  sm.rnn.cell_options().get("mode", ""))
    payload = {
        "title": title or f"{cell.upper()} {cfg.layers}\u00d7{cfg.hidden} on {cfg.task}"
                          + (f" ({os.path.basename(os.path.normpath(subject.path))})"
                             if subject.path else ""),
        "task": cfg.task, "cell": cell, "variant": variant, "tokens": labels,
        "join": getattr(subject.trained, "token_join",
                        subject.vocab.separator if cfg.task == "text" else " "),
        "layers": cfg.layers, "directions": sm.rnn.num_directions, "hidden": cfg.hidden,
        "quantities": {k: a.tolist()
                       for k, a in _choose(gates, cell, T, max_values, cfg.hidden).items()},
    }
    probs = _output_probs(subject, out)
    if probs is not None:
        payload["predictions"] = _top_predictions(probs, subject.labels())
    if cfg.task == "text":
        payload["ln_v"] = math.log(cfg.output_size)
    elif cfg.task == "series":
        payload["series"] = _series_lines(subject, x, out)
    elif cfg.task == "music":
        payload["roll"] = {"lo": int(getattr(subject.trained, "lo", 0)), "pitches": x.shape[2],
                           "on": [np.flatnonzero(r > 0.5).tolist() for r in x[:, 0]]}
    if conn is not None:
        payload["connectivity"] = {str(t): r.tolist() for t, r in conn.items()}
    if history is None:
        history = subject.history()
    if history:
        payload["history"] = [{"step": r.get("step"), "train_loss": r.get("train_loss"),
                               "val_loss": r.get("val_loss")} for r in history]
    return payload


def write_explain(model, text, path, history=None, title=None, *, vocab=None, bits=8,
                  lang=None, **kw) -> str:
    """Write the explain page of `model` on `text` to `path` (atomically), its labels in `lang`
    (rnnlab.viz.i18n; default English). Returns the path."""
    payload = explain_payload(model, text, history, title, vocab=vocab, **kw)
    if lang:
        payload["lang"] = lang
    return write_explain_html(payload, path, bits=bits)


def _choose(gates, cell, T, budget, H):
    """The quantities to put on the page: in the order of the cell's GATES (most telling
    first; the page derives tanh_c from c, so it comes last), while the values fit the budget.
    The page shows H units per quantity: a projected LSTM's h (P units) stays off it, its
    H-wide m = o * tanh(c) stands for it. A layer-normalised cell's tanh_c is tanh(LN(c)),
    which the page cannot derive from c, so it is kept next to c."""
    names = {n for (_, _, n), a in gates.items() if a.shape[-1] == H}
    order = [n for n in registry.get(cell).gates if n in names]
    if "c_norm" in names and "tanh_c" in order and "c" in order:
        order.remove("tanh_c")
        order.insert(order.index("c") + 1, "tanh_c")
    per_name = {n: sum(a.size for (_, _, m), a in gates.items() if m == n) for n in order}
    keep, total = [], 0
    for n in order:
        if keep and total + per_name[n] > budget:
            continue
        keep.append(n)
        total += per_name[n]
    return {f"{k}.{d}.{n}": a for (k, d, n), a in gates.items() if n in keep}


def _output_probs(subject, out):
    if subject.model.nade is not None:             # music, NADE head: along the greedy chord
        from rnnlab.tasks.music_scores import pitch_probabilities
        return pitch_probabilities(subject.model, out)
    return softmax(out) if subject.model.loss_kind == "ce" else (
        sigmoid(out) if subject.model.loss_kind == "bce" else None)


def _top_predictions(probs, vocab_labels):
    """The 5 most likely outputs after each step: [[{"token", "p"}] * 5] * T."""
    top = np.argsort(-probs, axis=1)[:, :5]
    return [[{"token": vocab_labels[j], "p": float(probs[t, j])} for j in row]
            for t, row in enumerate(top)]


def _series_lines(subject, x, out):
    """The forecast after each step and the value that came next, in the data's units."""
    actual = np.append(x[1:, 0, 0].astype(np.float64), out[-1, 0])  # last: no next value
    pred = out[:, 0]
    scaler = getattr(subject.trained, "scaler", None)
    if scaler is not None:   # back to the data's units (changes or log changes, if transformed)
        mean, std = np.atleast_1d(scaler.mean)[0], np.atleast_1d(scaler.std)[0]
        actual, pred = actual * std + mean, pred * std + mean
    return {"prediction": pred.tolist(), "actual": actual.tolist()}

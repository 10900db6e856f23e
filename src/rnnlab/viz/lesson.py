"""The lesson: one self-contained page that teaches the seed note with the demo's own trained
models and their real numbers (`rnnlab demo` writes it as lesson.html; `rnnlab.lesson(...)`
returns it for a notebook). The page follows the note: the dinner rotation as one-hot vectors
and the RNN unrolled over the days; its equations with the selected day's values; why long
sequences hurt (the measured gradient norms); the LSTM cell drawn in colah's style with every
gate's live value; the children's book with every kind of mistake counted; where to go next.

`lesson_payload(...)` gathers the numbers (LESSON SCHEMA below: plain JSON, no language);
`render_lesson_html(payload, lang)` fills the template lesson.html with them, the words of
`lang` (rnnlab.viz.i18n, section "lesson", and the cells' legends) and the page's script
(lesson.js, inlined). No network resource of any kind: the file opens from disk.

LESSON SCHEMA (lesson.json):

    version    1
    seed       int                      the demo's seed
    dinners    ["pizza", "sushi", "waffles"]
    days       [int] * T                the days the models read (dinner ids), T = 9
    rnn        {"hidden": H, "h": (T, H), "probs": (T, 3): P(next day) after each day,
                "W_x": (H, 3), "W_h": (H, H), "b": (H,) = b_ih + b_hh, "W_y": (3, H), "b_y": (3,),
                "Wx_x", "Wh_h", "a": (T, H): the terms of h_t = tanh(W_x x_t + W_h h_{t-1} + b),
                "logits": (T, 3), "next_day_accuracy", "rollout_14_accuracy",
                "table": (3, 3) P[yesterday, today] from a zero state, "two_step": [...],
                "rollout": {"start", "ids", "probs", "truth"}}   (app/demo_dinner.py)
    lstm       {"hidden": H, "gates": {name: (T, H)} for h c f i g o j k tanh_c, "c_prev",
                "h_prev": (T, H), "probs": (T, 3), "next_day_accuracy", "rollout_14_accuracy",
                "rollout": {...}}
    gradients  {"T": int, "cells": {"rnn"|"lstm": {"init": [..], "trained": [..]: ||dL/dh_t||
                by distance from the loss, "solved", "test_metric", "baseline", "steps"}}}
    book       {"models": {"memoryless"|"rnn"|"lstm": {"counts": {...}, "ci95": {kind: [lo, hi]},
                "examples": [{"words": [word], "kind"}]}}, "comparisons": [{"pair", "p_value",
                "significant"}], "bigram": {"words": [5 words], "probs": (5, 5)}: the
                memoryless model's P(next word | this word)}
    links      {"book_explain": str|null, "dinner_explain": str|null}: pages beside this one
"""
from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np

from rnnlab.data.synthetic import DINNERS, dinner_days
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes
from rnnlab.nn.cells import lstm as lstm_cell
from rnnlab.nn.functional import softmax
from rnnlab.viz.i18n import strings
from rnnlab.viz.page import HtmlPage
from rnnlab.viz.subject import Subject, read_input, reference_forward

VERSION = 1
_DATA, _SCRIPT = "__RNNLAB_LESSON__", "/*__RNNLAB_LESSON_JS__*/"
_KEYS = ("version", "seed", "dinners", "days", "rnn", "lstm", "gradients", "book", "links")


def lesson_payload(dinner_rnn, dinner_lstm, summary, *, links=None, days=9) -> dict:
    """The lesson's data (LESSON SCHEMA) from the two dinner models (TrainedModels, or pairs
    (SequenceModel, vocab)) and the demo's summary (app/demo.py: its "dinner", "book",
    "long_memory" and "grad_norms")."""
    ids = dinner_days(days, start=0)
    rnn, lstm, dinner = _rnn_view(dinner_rnn, ids), _lstm_view(dinner_lstm, ids), summary["dinner"]
    rnn.update(_measured(dinner["rnn"]), table=dinner["rnn"]["weights"]["P"],
               two_step=dinner["rnn"]["two_step"])
    lstm.update(_measured(dinner["lstm"]))
    book = summary["book"]
    return _plain({"version": VERSION, "seed": summary["seed"], "dinners": list(DINNERS),
            "days": ids.tolist(), "rnn": rnn, "lstm": lstm,
            "gradients": _gradients(summary["grad_norms"], summary["long_memory"]),
            "book": {"models": {m: {k: book[m][k] for k in ("counts", "ci95", "examples")}
                                for m in ("memoryless", "rnn", "lstm")},
                     "comparisons": [_comparison(book[k]) for k in ("comparison_memory",
                                                                    "comparison")],
                     "bigram": book["memoryless"]["next_word"]},
            "links": dict(links or {})})


def _measured(result):
    return {k: result[k] for k in ("next_day_accuracy", "rollout_14_accuracy", "rollout")}


def _forward(model, ids):
    """(SequenceModel copy, x (T, 1, 3), out (T, 3), gates) of one reference forward."""
    subject = Subject.of(model)
    _, x, _ = read_input(subject, np.asarray(ids))
    out, gates, _ = reference_forward(subject.model, x)
    return subject.model, x, out, gates


def _rnn_view(model, ids):
    """h_t for every day, and the equation's terms from the model's own parameters, checked
    against the reference forward (so the page shows the numbers the model computed)."""
    sm, x, out, gates = _forward(model, ids)
    if sm.cfg.cell != "rnn" or sm.cfg.layers != 1 or sm.cfg.nonlinearity != "tanh":
        raise RnnlabError("the lesson's RNN must be a one-layer tanh RNN (the demo's)")
    p = {k: np.asarray(v, np.float64) for k, v in sm.params.items()}
    h = gates[(0, 0, "h")]
    H = h.shape[1]
    b = p.get("rnn.bias_ih_l0", np.zeros(H)) + p.get("rnn.bias_hh_l0", np.zeros(H))
    x1 = x[:, 0].astype(np.float64)
    h_prev = np.vstack([np.zeros((1, H)), h[:-1]])
    Wx_x, Wh_h = x1 @ p["rnn.weight_ih_l0"].T, h_prev @ p["rnn.weight_hh_l0"].T
    a = Wx_x + Wh_h + b
    logits = h @ p["head.weight"].T + p.get("head.bias", 0.0)
    if not (np.allclose(np.tanh(a), h, atol=1e-4) and np.allclose(logits, out, atol=1e-3)):
        raise RnnlabError("the RNN's equations do not reproduce its forward pass")
    return {"hidden": H, "h": h, "probs": softmax(out), "W_x": p["rnn.weight_ih_l0"],
            "W_h": p["rnn.weight_hh_l0"], "b": b, "W_y": p["head.weight"],
            "b_y": p.get("head.bias", np.zeros(out.shape[1])), "Wx_x": Wx_x, "Wh_h": Wh_h,
            "a": a, "logits": logits}


def _lstm_view(model, ids):
    """Every gate of the LSTM for every day, with the state it started from."""
    sm, _, out, gates = _forward(model, ids)
    if sm.cfg.cell != "lstm" or sm.cfg.layers != 1:
        raise RnnlabError("the lesson's LSTM must be a one-layer LSTM (the demo's)")
    g = {n: gates[(0, 0, n)] for n in lstm_cell.GATES}     # the plain LSTM cell's names
    zero = np.zeros((1, g["h"].shape[1]))
    return {"hidden": g["h"].shape[1], "gates": g, "probs": softmax(out),
            "c_prev": np.vstack([zero, g["c"][:-1]]), "h_prev": np.vstack([zero, g["h"][:-1]])}


def _gradients(norms, records):
    cells = {}
    for cell, g in norms.items():
        rec = next((r for r in records if r["cell"] == cell), {})
        cells[cell] = {"init": g["init"], "trained": g["trained"], "solved": rec.get("solved"),
                       "test_metric": rec.get("test_metric"), "baseline": rec.get("baseline"),
                       "steps": rec.get("steps_to_solve") or rec.get("steps")}
    T = next(iter(norms.values()))["T"] if norms else None
    return {"T": T, "cells": cells}


def _comparison(c):
    return {"pair": c["pair"], "p_value": c["p_value"], "significant": c["significant"]}


# ---- the page ----------------------------------------------------------------------------------
def _plain(v, digits=6):
    """JSON-ready: arrays as lists, floats rounded to `digits` significant digits (plenty for
    a page that shows 2 decimals, and lesson.json and the page hold the same numbers)."""
    if isinstance(v, np.ndarray):
        return _plain(v.tolist(), digits)
    if isinstance(v, dict):
        return {str(k): _plain(x, digits) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x, digits) for x in v]
    if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, str):
        return bool(v) if isinstance(v, np.bool_) else v
    if isinstance(v, (int, np.integer)):
        return int(v)
    x = float(v)
    if not math.isfinite(x):
        raise RnnlabError(f"lesson: got the non-finite number {x}")
    return float(f"{x:.{digits}g}")


def check_payload(payload) -> dict:
    """The payload as the page reads it (rounded), or an RnnlabError saying what is wrong."""
    if not isinstance(payload, dict) or payload.get("version") != VERSION:
        raise RnnlabError("this is not a lesson written by rnnlab demo (version "
                          f"{VERSION}); run `rnnlab demo` again to write lesson.json")
    missing = [k for k in _KEYS if k not in payload]
    if missing:
        raise RnnlabError(f"the lesson lacks {', '.join(missing)}; run `rnnlab demo` again")
    return _plain(payload)


def render_lesson_html(payload: dict, lang: str = "en") -> str:
    """The lesson page (a complete HTML document) for `payload` in the language `lang`."""
    tr = strings(lang)
    page = {"lang": tr.lang, "strings": tr.section("lesson"), "legend": tr.legend("lstm"),
            "data": check_payload(payload)}
    data = json.dumps(page, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("</", "<\\/").replace("<!--", "<\\u0021--")   # see explain.py
    folder = resources.files("rnnlab.viz")
    template = folder.joinpath("lesson.html").read_text("utf-8")
    script = folder.joinpath("lesson.js").read_text("utf-8")
    if template.count(_DATA) != 1 or template.count(_SCRIPT) != 1 or "</script" in script:
        raise RnnlabError("lesson.html or lesson.js is damaged; reinstall rnnlab")
    return template.replace(_SCRIPT, script).replace(_DATA, data)


def lesson_page(payload: dict, lang: str = "en") -> HtmlPage:
    """The lesson as an HtmlPage: inline in Jupyter, `.save(path)` writes lesson.html."""
    return HtmlPage(render_lesson_html(payload, lang), title="rnnlab lesson", height=1100,
                    data=payload)


def write_lesson(payload: dict, path, lang: str = "en") -> str:
    """Write the lesson page to `path` (atomically). Returns the path."""
    atomic_write_bytes(path, render_lesson_html(payload, lang).encode("utf-8"))
    return str(path)


def read_lesson(path) -> dict:
    """The payload of a lesson.json written by `rnnlab demo`."""
    try:
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
    except json.JSONDecodeError as e:
        raise RnnlabError(f"{path} is not valid JSON ({e.msg}, line {e.lineno}); run "
                          "`rnnlab demo` again to rewrite it") from None
    check_payload(payload)
    return payload

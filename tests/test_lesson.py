"""The lesson (rnnlab.viz.lesson): its numbers are the demo's models' own, the page is one
self-contained file in either language, rnnlab.lesson() and model.explain() give pages for a
notebook, and in Chromium the LSTM diagram follows the slider and the play button."""
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.app.demo_dinner import dinner_model
from rnnlab.errors import RnnlabError
from rnnlab.viz.lesson import check_payload, lesson_payload, read_lesson
from rnnlab.viz.page import HtmlPage
from test_explain_page import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)
from test_i18n import SEED_TERMS

LSTM_NAMES = ("h", "c", "f", "i", "g", "o", "j", "k", "tanh_c")   # the seed note's names


@pytest.fixture(scope="module")
def lesson(demo_run):
    out, _ = demo_run
    return out, json.loads((out / "lesson.json").read_text("utf-8"))


def test_the_lstm_diagram_holds_the_models_own_gates(lesson):
    """The same seed trains the same dinner LSTM; its reference forward gives every number the
    diagram shows, and they obey the note's equations."""
    _, data = lesson
    g = {n: np.array(data["lstm"]["gates"][n]) for n in LSTM_NAMES}
    model = dinner_model("lstm", data["seed"])
    from rnnlab.viz.subject import Subject, read_input, reference_forward
    subject = Subject.of(model)
    _, x, _ = read_input(subject, np.array(data["days"]))
    _, gates, _ = reference_forward(subject.model, x)
    for n in LSTM_NAMES:
        np.testing.assert_allclose(g[n], gates[(0, 0, n)], rtol=1e-5, atol=1e-6)
    c_prev = np.array(data["lstm"]["c_prev"])
    np.testing.assert_allclose(g["k"], g["f"] * c_prev, atol=1e-5)            # k = f * c_{t-1}
    np.testing.assert_allclose(g["j"], g["i"] * g["g"], atol=1e-5)            # j = i * g
    np.testing.assert_allclose(g["c"], g["k"] + g["j"], atol=1e-5)            # c = k + j
    np.testing.assert_allclose(g["h"], g["o"] * np.tanh(g["c"]), atol=1e-5)   # h = o * tanh(c)
    np.testing.assert_allclose(c_prev[1:], g["c"][:-1])


def test_the_rnn_equations_reproduce_its_hidden_states(lesson):
    _, data = lesson
    r = {k: np.array(v) for k, v in data["rnn"].items() if k in
         ("h", "W_x", "W_h", "b", "Wx_x", "Wh_h", "a", "W_y", "b_y", "logits", "probs")}
    x = np.eye(3)[data["days"]]
    h_prev = np.vstack([np.zeros((1, 3)), r["h"][:-1]])
    np.testing.assert_allclose(r["Wx_x"], x @ r["W_x"].T, atol=1e-5)
    np.testing.assert_allclose(r["Wh_h"], h_prev @ r["W_h"].T, atol=1e-5)
    np.testing.assert_allclose(np.tanh(r["Wx_x"] + r["Wh_h"] + r["b"]), r["h"], atol=1e-5)
    np.testing.assert_allclose(r["logits"], r["h"] @ r["W_y"].T + r["b_y"], atol=1e-4)
    p = np.exp(r["logits"]) / np.exp(r["logits"]).sum(1, keepdims=True)
    np.testing.assert_allclose(p, r["probs"], atol=1e-5)
    assert [int(np.argmax(q)) for q in r["probs"]] == [(d + 1) % 3 for d in data["days"]]


def test_the_lesson_carries_the_demos_measurements(lesson):
    out, data = lesson
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    results = json.loads((out / "long-memory" / "results.json").read_text("utf-8"))
    for cell in ("rnn", "lstm"):
        np.testing.assert_allclose(data["gradients"]["cells"][cell]["trained"],
                                   results["grad_norms"][cell]["trained"], rtol=1e-5)
        assert data[cell]["rollout"]["ids"] == summary["dinner"][cell]["rollout"]["ids"]
    for m in ("memoryless", "rnn", "lstm"):
        assert data["book"]["models"][m]["counts"] == summary["book"][m]["counts"]
    assert data["book"]["comparisons"][1]["p_value"] == pytest.approx(
        summary["book"]["comparison"]["p_value"], rel=1e-5)
    probs = np.array(data["book"]["bigram"]["probs"])
    assert np.allclose(probs.sum(1), 1) and data["book"]["bigram"]["words"] == sorted(
        ["Doug", "Jane", "Spot", "saw", "."])


def test_the_page_is_self_contained(lesson):
    out, _ = lesson
    html = (out / "lesson.html").read_text("utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html, re.I)
    assert "<link" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html)          # url(#marker) only: nothing fetched
    assert len(re.findall(r"</script", html, re.I)) == 2
    assert html.count("__RNNLAB_LESSON") == 0


def test_rnnlab_lesson_rebuilds_the_page_from_a_demo_folder(lesson, tmp_path):
    out, _ = lesson
    page = rnnlab.lesson(str(out), lang="zh-TW")
    assert isinstance(page, HtmlPage)
    assert page.save(tmp_path / "l.html") == str(tmp_path / "l.html")
    text = (tmp_path / "l.html").read_text("utf-8")
    assert text == page.html and all(term in text for term in SEED_TERMS)
    assert rnnlab.lesson(str(out / "lesson.json")).html == (out / "lesson.html").read_text("utf-8")
    shown = page._repr_html_()
    assert shown.startswith("<iframe") and "srcdoc=" in shown and "<script" not in shown


def test_bad_lesson_files_are_one_clear_error(tmp_path):
    with pytest.raises(RnnlabError, match="does not exist; run `rnnlab demo"):
        rnnlab.lesson(str(tmp_path / "nowhere"))
    bad = tmp_path / "lesson.json"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(RnnlabError, match="is not valid JSON"):
        read_lesson(bad)
    bad.write_text(json.dumps({"version": 99}), "utf-8")
    with pytest.raises(RnnlabError, match="not a lesson written by rnnlab demo"):
        rnnlab.lesson(str(tmp_path))
    with pytest.raises(RnnlabError, match="lacks book"):
        check_payload({"version": 1, "seed": 0, "dinners": [], "days": [], "rnn": {},
                       "lstm": {}, "gradients": {}, "links": {}})


def test_lesson_payload_refuses_models_that_are_not_the_demos():
    rnn = dinner_model("rnn", 0)
    with pytest.raises(RnnlabError, match="one-layer LSTM"):
        lesson_payload(rnn, rnn, {"dinner": {}, "book": {}, "seed": 0})


# ---- the page in Chromium, in both languages ----------------------------------------------------
def _open(browser, path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(Path(path).as_uri())
    page.wait_for_selector("#lstm-diagram svg")
    return page, errors, requests


def _shown(page):
    """The values in the diagram's boxes: {"f.0": "0.77", ...}."""
    return dict(page.eval_on_selector_all(
        "#lstm-diagram text[data-v]", "els => els.map(e => [e.dataset.v, e.textContent])"))


def _expected(data, t):
    def f2(v):          # the page's f2: JavaScript's toFixed(2), halves away from zero
        return str(Decimal(0 if abs(v) < 0.005 else v).quantize(Decimal("0.01"), ROUND_HALF_UP))
    vec = {**{n: data["lstm"]["gates"][n][t] for n in LSTM_NAMES},
           "c_prev": data["lstm"]["c_prev"][t], "h_prev": data["lstm"]["h_prev"][t],
           "x": [float(k == data["days"][t]) for k in range(3)]}
    return {f"{n}.{u}": f2(v) for n, vs in vec.items() for u, v in enumerate(vs)}


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_lesson_page_in_chromium(browser, lesson, lang, tmp_path):  # noqa: F811
    out, data = lesson
    path = out / "lesson.html" if lang == "en" else rnnlab.lesson(str(out), lang=lang).save(
        tmp_path / "lesson.html")
    page, errors, requests = _open(browser, path)
    assert page.evaluate("document.documentElement.lang") == lang
    shown = _shown(page)
    assert shown == {k: v for k, v in _expected(data, 0).items() if k in shown}
    assert {k.split(".")[0] for k in shown} == set(LSTM_NAMES) | {"c_prev", "h_prev", "x"}

    page.focus("#lstm-step")                               # the slider, moved by the keyboard
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.input_value("#lstm-step") == "2"
    after = _shown(page)
    assert after != shown and after == {k: v for k, v in _expected(data, 2).items() if k in after}
    assert page.eval_on_selector("#lstm-eq", "e => e.textContent").count("[") >= 14

    page.click("#lstm-play")                               # play advances the step by itself
    page.wait_for_function("window.rnnlabLesson.step >= 4", timeout=10000)
    page.click("#lstm-play")                               # and pause stops it
    stopped = page.evaluate("window.rnnlabLesson.step")
    page.wait_for_timeout(1200)
    assert page.evaluate("window.rnnlabLesson.step") == stopped
    assert page.input_value("#lstm-step") == str(stopped)

    page.hover("#lstm-diagram [data-gate='f']")       # the note's sentence for the gate
    tip = page.inner_text("#tip")
    assert page.is_visible("#tip") and ("忘記閘" if lang == "zh-TW" else "Forget gate") in tip
    page.hover("#lstm-diagram [data-gate='add']")
    assert ("輸入閘" if lang == "zh-TW" else "Input gate") in page.inner_text("#tip")

    page.click("#unrolled .day-col[data-t='5']")           # a day of the unrolled RNN
    assert page.input_value("#rnn-day") == "5"
    assert f"{data['rnn']['h'][5][0]:.2f}" in page.inner_text("#rnn-eq")
    assert page.locator("#book-examples .sentence").count() == sum(
        len(m["examples"]) for m in data["book"]["models"].values())

    text = page.inner_text("body")
    if lang == "zh-TW":
        assert all(term in text for term in SEED_TERMS)
    assert errors == []
    assert requests == [Path(path).as_uri()], f"the page made network requests: {requests[1:]}"
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"lesson-{lang}.png"), full_page=True)
    page.close()

"""The explain page: what render embeds, and the page itself driven in a real Chromium."""
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.viz.explain import (CONN_WINDOW, MAX_TOKENS, payload_from_arrays, read_explain_payload,
                                render_explain_html, write_explain_html)

CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
H = 8


def synthetic(T=40, layers=2, seed=0, tokens=None):
    """Random but LSTM-shaped activations: gates in (0, 1), g in (-1, 1), c accumulating."""
    rng = np.random.default_rng(seed)
    if tokens is None:
        tokens = list('He said "hi" and so left "now" ok. ' * (T // 30 + 1))[:T]
        tokens[17] = "</script>"                   # a token that would end the script element
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    q = {}
    for layer in range(layers):
        i, f, o = (sig(rng.normal(size=(T, H))) for _ in range(3))
        g = np.tanh(rng.normal(size=(T, H)))
        c = np.cumsum(i * g, axis=0) * 0.5
        q.update({(layer, 0, "i"): i, (layer, 0, "f"): f, (layer, 0, "g"): g, (layer, 0, "o"): o,
                  (layer, 0, "c"): c, (layer, 0, "h"): o * np.tanh(c)})
    vocab = sorted(set(tokens))
    probs = rng.dirichlet(np.ones(len(vocab)), size=T)
    conn = {t: rng.random(t + 1) for t in (5, 20, T - 1)}
    hist = [{"step": s, "train_loss": 3 / (1 + s / 50), "val_loss": 3.1 / (1 + s / 60)}
            for s in range(0, 500, 25)]
    return payload_from_arrays(tokens, q, cell="lstm", title="synthetic LSTM", probs=probs,
                               vocab=vocab, connectivity=conn, history=hist,
                               vocab_size=len(vocab))


# ---- render ---------------------------------------------------------------------------------------
def test_render_roundtrip_and_rounding():
    p = synthetic()
    p["history"][1]["train_loss"] = 2.718281828
    html = render_explain_html(p)
    data = read_explain_payload(html)
    assert data["tokens"] == p["tokens"] and data["layers"] == 2 and data["hidden"] == H
    assert data["history"][1]["train_loss"] == 2.718            # 4 significant digits
    assert all(len(row) == 5 for row in data["predictions"])
    assert all(len(f"{d['p']:.10g}".lstrip("0.")) <= 3 for d in data["predictions"][0])
    for key, arr in p["quantities"].items():                     # 8-bit codes: error <= range/510
        a, b = np.array(arr), np.array(data["quantities"][key])
        assert np.abs(a - b).max() <= (a.max() - a.min()) / 510 + 1e-12
    fine = read_explain_payload(render_explain_html(p, bits=16))
    a, b = np.array(p["quantities"]["0.0.c"]), np.array(fine["quantities"]["0.0.c"])
    assert np.abs(a - b).max() <= (a.max() - a.min()) / 131070 + 1e-12
    assert data["ranges"]["f"] == [0, 1] and data["ranges"]["h"] == [-1, 1]
    assert data["ranges"]["c"][0] == -data["ranges"]["c"][1]
    assert set(data["legend"]) == {"h", "c", "tanh_c", "i", "f", "g", "o"}
    assert "how much old memory to keep" in data["legend"]["f"]


def test_script_end_in_a_token_cannot_break_the_page():
    p = synthetic()
    p["tokens"][0] = "<!--"
    p["title"] = "</SCRIPT><script>alert(1)</script>"
    html = render_explain_html(p)
    block = re.search(r'id="rnnlab-data">(.*?)</script>', html, re.S | re.I)[1]
    assert "</" not in block and "<!--" not in block
    data = json.loads(block)                                     # the whole block, intact
    assert data["tokens"][0] == "<!--" and "</script>" in data["tokens"]
    assert data["title"] == p["title"]
    # the template's own two script elements are the only ones that close
    assert len(re.findall(r"</script", html, re.I)) == 2


def test_caps_long_inputs():
    T = MAX_TOKENS + 100
    tokens = ["a"] * T
    p = payload_from_arrays(tokens, {"0.0.h": np.zeros((T, 3))}, cell="rnn",
                            connectivity={T - 1: np.ones(T), 1500: np.arange(1501.0)})
    data = read_explain_payload(render_explain_html(p))
    assert len(data["tokens"]) == MAX_TOKENS and data["tokens_total"] == T
    assert np.array(data["quantities"]["0.0.h"]).shape == (MAX_TOKENS, 3)
    assert list(data["connectivity"]) == ["1500"]               # the step past the cap is dropped
    row = data["connectivity"]["1500"]
    assert len(row) == CONN_WINDOW and row[-1] == pytest.approx(1500, abs=1)


def test_size_of_a_big_page():
    T, L = 2000, 3
    q = {(layer, 0, "h"): np.tanh(np.random.default_rng(layer).normal(size=(T, 128)))
         for layer in range(L)}
    html = render_explain_html(payload_from_arrays(["ab"] * T, q, cell="gru"))
    assert len(html.encode()) < 1.4 * T * 128 * L + 200_000   # ~1.33 bytes per value


@pytest.mark.parametrize("change, words", [
    (lambda p: p.update(task="video"), "task"),
    (lambda p: p.update(tokens=[]), "tokens"),
    (lambda p: p["quantities"].update({"0.0.h": [[0.0] * H] * 3}), "shape"),
    (lambda p: p["quantities"].update({"5.0.h": p["quantities"]["0.0.h"]}), "layer"),
    (lambda p: p["quantities"].update({"h": p["quantities"]["0.0.h"]}), "<layer>"),
    (lambda p: p["quantities"]["0.0.f"][3].__setitem__(2, float("nan")), "NaN"),
    (lambda p: p.update(predictions=p["predictions"][:3]), "predictions"),
    (lambda p: p["connectivity"].update({"3": [1.0] * 9}), "connectivity"),
    (lambda p: p.update(ranges={"f": [1, 0]}), "ranges"),
])
def test_bad_payload_raises(change, words):
    p = synthetic()
    change(p)
    with pytest.raises(RnnlabError, match=re.escape(words)):
        render_explain_html(p)


def test_write_is_atomic_and_readable(tmp_path):
    out = write_explain_html(synthetic(), tmp_path / "e.html")
    assert Path(out).read_text("utf-8").startswith("<!DOCTYPE html>")
    assert os.listdir(tmp_path) == ["e.html"]                  # no temporary file left behind
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    with pytest.raises(RnnlabError, match="does not exist"):
        write_explain_html(synthetic(), tmp_path / "nope" / "e.html")


# ---- the page in a real browser ------------------------------------------------------------------
def _unavailable(why):
    msg = f"explain page browser test: {why}"
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"no Chromium at {CHROMIUM} (apt install chromium, or set RNNLAB_CHROMIUM)")
    with sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
        except Exception as e:  # noqa: BLE001 - any launch failure means "no usable browser"
            _unavailable(f"Chromium at {CHROMIUM} does not start: {e}")
        yield b
        b.close()


def _open(browser, payload, tmp_path):
    """Open the written page from disk; return (page, url, console errors, requests made)."""
    path = Path(write_explain_html(payload, tmp_path / "explain.html"))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("#strip .tok")
    return page, path.as_uri(), errors, requests


def test_series_gru_bidirectional_page(browser, tmp_path):
    T, rng = 60, np.random.default_rng(1)
    y = np.sin(np.arange(T) / 4)
    q = {(0, d, n): rng.random((T, H)) for d in (0, 1) for n in ("r", "z")}
    q.update({(0, d, "h"): np.tanh(rng.normal(size=(T, H))) for d in (0, 1)})
    p = payload_from_arrays([f"{v:.2f}" for v in y], q, cell="gru", task="series",
                            series=(y + 0.1, y))
    page, url, errors, requests = _open(browser, p, tmp_path)
    assert page.locator("#series-sec svg polyline").count() == 2
    assert _axis_labels(page, "#series-plot") == ["time step (row of the input)", "target value"]
    page.select_option("#sel-dir", "1")
    assert page.locator("#heatmaps canvas").count() == 3      # h, r, z of the reverse pass
    page.hover("#strip .tok[data-t='7']")
    assert f"actual {y[7]:.3f}" in page.inner_text("#tip")
    assert errors == [] and requests == [url]
    page.close()


def test_music_page_draws_the_input_roll_above_the_gates(browser, tmp_path):
    T, rng = 30, np.random.default_rng(2)
    on = [sorted(rng.choice(12, size=int(rng.integers(0, 4)), replace=False).tolist())
          for _ in range(T)]
    q = {(0, 0, n): rng.random((T, H)) for n in ("f", "i", "o")}
    q[(0, 0, "h")] = np.tanh(rng.normal(size=(T, H)))
    p = payload_from_arrays([" ".join(str(60 + j) for j in js) or "-" for js in on], q,
                            cell="lstm", task="music")
    p["roll"] = {"lo": 60, "pitches": 12, "on": on}
    page, url, errors, requests = _open(browser, p, tmp_path)
    roll = page.locator("#roll canvas")
    assert roll.count() == 1 and roll.get_attribute("width") == str(T)
    dark = page.evaluate("""() => { const c = document.querySelector('#roll canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let k = 0; k < d.length; k += 4) n += d[k] < 100; return n; }""")
    assert dark == sum(map(len, on))                          # one dark cell per sounding pitch
    roll.scroll_into_view_if_needed()
    box = roll.bounding_box()
    page.mouse.click(box["x"] + (12.5 / T) * box["width"], box["y"] + box["height"] / 2)
    assert page.get_attribute("#strip .tok.sel", "data-t") == "12"
    assert errors == [] and requests == [url]
    with pytest.raises(RnnlabError, match="roll"):
        render_explain_html({**p, "roll": {"lo": 60, "pitches": 12, "on": [[12]] * T}})
    page.close()


def _axis_labels(page, chart):
    """The axis labels of a line chart, each checked to lie inside its SVG."""
    boxes = page.eval_on_selector_all(f"{chart} svg text.axis-label", """els => els.map(e => {
        const b = e.getBoundingClientRect(), s = e.ownerSVGElement.getBoundingClientRect();
        return [e.textContent, b.left >= s.left && b.right <= s.right && b.top >= s.top
                && b.bottom <= s.bottom];
    })""")
    assert all(inside for _, inside in boxes), boxes
    return [text for text, _ in boxes]


def test_page_in_chromium(browser, tmp_path):
    p = synthetic()
    page, url, errors, requests = _open(browser, p, tmp_path)
    assert _axis_labels(page, "#curves-plot") == ["training step", "loss (nats per token)"]
    _drive(page, p)
    assert errors == []
    assert requests == [url], f"the page made network requests: {requests[1:]}"
    page.close()


def _drive(page, p):
    colours = lambda: page.eval_on_selector_all(  # noqa: E731
        "#strip .tok", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert page.locator("#strip .tok").count() == len(p["tokens"])
    assert page.title().startswith("synthetic LSTM")

    before = colours()
    page.select_option("#sel-qty", "f")
    after_qty = colours()
    assert after_qty != before
    page.select_option("#sel-unit", "3")
    after_unit = colours()
    assert after_unit != after_qty
    page.select_option("#sel-layer", "1")
    assert colours() != after_unit

    page.hover("#strip .tok[data-t='4']")
    tip = page.locator("#tip")
    assert tip.is_visible()
    assert tip.locator(".pred").count() == 5
    best = p["predictions"][4][0]
    assert json.dumps(best["token"]) in tip.inner_text()
    assert "unit 3" in tip.inner_text()

    canvas = page.locator("#heatmaps canvas[data-name='i']")
    canvas.scroll_into_view_if_needed()                       # mouse clicks need it on screen
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + (30.5 / 40) * box["width"], box["y"] + (6.5 / H) * box["height"])
    assert page.input_value("#sel-unit") == "6"
    assert page.input_value("#sel-qty") == "i"
    assert page.get_attribute("#strip .tok.sel", "data-t") == "30"

    page.fill("#regex", '"[^"]*"')                             # tokens inside quotes
    text = "".join(p["tokens"])
    inside = {i for m in re.finditer(r'"[^"]*"', text) for i in range(m.start(), m.end())}
    starts = np.cumsum([0] + [len(t) for t in p["tokens"]])
    expected = [t for t in range(len(p["tokens"]))
                if any(s in inside for s in range(starts[t], starts[t + 1]))]
    feat = page.eval_on_selector_all("#strip .tok.feat", "els => els.map(e => +e.dataset.t)")
    assert feat == expected
    assert page.input_value("#sort") == "correlation"
    assert "r = " in page.inner_text("#unit-list li:first-child")
    page.fill("#regex", "([")
    assert "not a valid regex" in page.inner_text("#regex-msg")

    page.click("#unit-list li:nth-child(2)")
    chosen = page.get_attribute("#unit-list li.sel", "data-u")
    assert page.input_value("#sel-unit") == chosen

    page.select_option("#conn-step", "20")
    assert page.locator("#conn-strip .tok").count() == 21 + 1   # s = 0..20, then the target
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explain.png"), full_page=True)


def test_missing_browser_fails_under_ci_and_skips_otherwise(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _unavailable("no Chromium")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _unavailable("no Chromium")

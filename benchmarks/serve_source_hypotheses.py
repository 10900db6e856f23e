"""Does a hypothesis find what the README says? Train a character LSTM briefly on Python
source, index 1 MB of it, and for spans inside a string literal and inside brackets, form the
hypothesis (the units of h above a threshold across the span, as the explorer does) and search
the corpus. Each match is checked with Python's tokenizer: is its whole span inside a string
literal, or inside brackets? The share of matches that are is printed beside the share of all
windows of the same length that are (chance).

    PYTHONPATH=src python benchmarks/serve_source_hypotheses.py [--steps 2400] [--run DIR]

The corpus is Python's standard library (benchmarks/make_stdlib_text.py): the model trains on
its characters from 1 MB on, the index is its first 1 MB.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import rnnlab  # noqa: E402
from rnnlab.serve.corpus import CorpusIndex  # noqa: E402
from rnnlab.serve.explorer import Explorer  # noqa: E402

PROBES = [   # (what, text, the span inside it)
    ("string", 'raise ValueError("invalid literal for int() with base")\n', "literal for"),
    ("string", "msg = 'cannot open the file for reading'\n", "the file for"),
    ("brackets", "result = func(alpha, beta + gamma, delta)\n", "beta + gamma"),
    ("brackets", "values = [item.name for item in items if item]\n", "item.name for"),
]


def python_masks(text):
    """{"string": in a string literal (between its quotes), "brackets": inside (), [] or {}}
    for each character, from Python's own tokenizer (so brackets and quotes in comments and
    strings do not count). The corpus is concatenated files cut at 1 MB: tokenizing stops at
    the first error (the cut), the rest stays False."""
    import io
    import tokenize
    starts = np.concatenate([[0], np.cumsum([len(line) for line in
                                             text.splitlines(keepends=True)])])
    at = lambda rc: starts[rc[0] - 1] + rc[1]           # noqa: E731 - (row, col) -> offset
    string, brackets = np.zeros(len(text), bool), np.zeros(len(text), bool)
    opened = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            a, b = at(tok.start), at(tok.end)
            if tok.type == tokenize.STRING:
                q = len(tok.string) - len(tok.string.lstrip("rbfuRBFU"))   # the prefix
                width = 3 if tok.string[q:q + 3] in ('"""', "'''") else 1
                string[a + q + width:b - width] = True
            elif tok.type == tokenize.OP and tok.string in "([{":
                opened.append(b)
            elif tok.type == tokenize.OP and tok.string in ")]}" and opened:
                brackets[opened.pop():a] = True
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return {"string": string, "brackets": brackets}


def window_all(mask, L):
    c = np.concatenate([[0], np.cumsum(mask)])
    return (c[L:] - c[:-L]) == L


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "data",
                                                  "stdlib.txt"))
    p.add_argument("--run", default="runs/serve_source")
    p.add_argument("--steps", type=int, default=2400)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--screenshot", default=None, metavar="PNG",
                   help="also serve the run and save the explorer (Chromium) to PNG")
    a = p.parse_args(argv)
    text = open(a.data, encoding="utf-8").read()
    corpus, train_text = text[:1_000_000], text[1_000_000:3_000_000]
    if not os.path.exists(os.path.join(a.run, "config.json")):
        os.makedirs(a.run, exist_ok=True)
        path = os.path.join(a.run, "..", "serve_source_train.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(train_text)
        rnnlab.train(path, out=a.run, cell="lstm", hidden=a.hidden, layers=2,
                     steps=a.steps, seq_len=100, batch=32, seed=0)
    ex = Explorer(rnnlab.load(a.run))
    index = CorpusIndex(ex, corpus)
    masks = python_masks(corpus)
    print(f"model: {a.run}; corpus: {len(corpus):,} characters of Python source")
    for what, probe, span in PROBES:
        s = probe.index(span)
        e = s + len(span)
        for layer in range(ex.cfg.layers):
            for th in (0.1, 0.3, 0.5):
                units, _ = ex.hypothesis(probe, s, e, th, layer)
                if not units:
                    print(f"{what:8s} {span!r:18s} layer {layer} th {th}: no unit on across "
                          f"the span")
                    continue
                m = index.search(units, th, e - s, layer, 0, k=a.k)
                ok = [bool(masks[what][x["start"]:x["end"]].all()) for x in m]
                chance = window_all(masks[what], e - s).mean()
                print(f"{what:8s} {span!r:18s} layer {layer} th {th}: {len(units):3d} units; "
                      f"{sum(ok)}/{len(m)} matches inside {what} (chance {chance:.2f}); "
                      f"top: {m[0]['left'][-12:]!r} [{m[0]['span']!r}] "
                      f"{m[0]['right'][:12]!r}")
    if a.screenshot:
        screenshot(ex, index, a.screenshot)


def screenshot(ex, index, path, probe=PROBES[0][1], span=PROBES[0][2], layer=1, th=0.3):
    """The explorer on the probe with its span selected and the matches shown."""
    import threading
    import time

    import uvicorn
    from playwright.sync_api import sync_playwright

    from rnnlab.serve.app import create_app
    srv = uvicorn.Server(uvicorn.Config(create_app(ex, index), host="127.0.0.1", port=0,
                                        log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}/"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=os.environ.get("RNNLAB_CHROMIUM",
                                                              "/usr/bin/chromium"),
                               args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base)
        page.wait_for_selector("#strip .tok")
        page.select_option("#layer", str(layer))
        page.eval_on_selector("#threshold", f"e => {{ e.value = '{th}'; "
                              "e.dispatchEvent(new Event('input')); }")
        page.fill("#input", probe)
        page.wait_for_function("n => document.querySelectorAll('#strip .tok').length === n",
                               arg=len(probe))
        toks = page.query_selector_all("#strip .tok")
        s = probe.index(span)
        a, z = toks[s].bounding_box(), toks[s + len(span) - 1].bounding_box()
        page.mouse.move(a["x"] + 2, a["y"] + 4)
        page.mouse.down()
        page.mouse.move(z["x"] + 2, z["y"] + 4, steps=5)
        page.mouse.up()
        page.wait_for_selector("#matches li mark", timeout=30_000)
        page.screenshot(path=path, full_page=True)
        b.close()
    from PIL import Image                     # 128 colours: a third of the bytes, same look
    Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)
    srv.should_exit = True
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""rnnlab serve for real: `rnnlab serve` in its own process on an ephemeral loopback port,
200 concurrent requests from httpx, SIGTERM, and the explorer in Chromium (Playwright), as the
lesson's tests drive it. The in-process API tests are tests/test_serve.py."""
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from conftest import SERVE_CORPUS as CORPUS  # noqa: E402

CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read())[1])


@pytest.fixture(scope="module")
def server(serve_run):
    run, corpus = serve_run
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", "serve", run, "--corpus", corpus,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    url, deadline = None, time.monotonic() + 120
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        url = m[1] if m else None
    if url is None:
        proc.kill()
        pytest.fail(f"the server did not start: {proc.stderr.read()}")
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_200_concurrent_requests_then_sigterm(server, serve_run):
    from rnnlab.training.load import load
    from rnnlab.serve.explorer import Explorer
    proc, url = server
    texts = [f'x = f("abc", [{i % 2 + 1}, 2])' for i in range(200)]

    async def hammer():
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
            async def one(i):
                if i % 10 == 9:                 # bad requests mixed in: 4xx, server stays up
                    return await c.post("/states", content=b"{nope",
                                        headers={"content-type": "application/json"})
                return await c.post("/states", json={"input": texts[i], "names": ["h"],
                                                     "units": [i % 16]})
            return await asyncio.gather(*(one(i) for i in range(200)))

    before = rss_kb(proc.pid)
    answers = asyncio.run(hammer())
    by_text = {}
    for i, r in enumerate(answers):
        if i % 10 == 9:
            assert r.status_code == 422 and "JSON" in r.json()["error"]
            continue
        assert r.status_code == 200, r.text
        body = r.json()
        assert "".join(body["tokens"]) == texts[i] and body["units"] == [i % 16]
        by_text.setdefault((texts[i], i % 16), []).append(body["gates"]["h"])
    assert all(v == vs[0] for vs in by_text.values() for v in vs)   # same input, same answer
    explorer = Explorer(load(serve_run[0]))                           # and the right one
    for (text, unit), vs in by_text.items():
        want = explorer.states(text, 0, 0, ["h"], [unit])["gates"]["h"]
        assert abs(np.asarray(vs[0]) - want).max() < 1e-4
    assert rss_kb(proc.pid) - before < 200_000                         # KB: bounded memory
    # SIGTERM: uvicorn finishes and exits 0; nothing of it is left in its process group
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium, or set RNNLAB_CHROMIUM)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def test_explorer_in_chromium(serve_run, browser):
    """Type text: the heatmap changes. Select a span: matches from the corpus appear. No
    console error, no request to any other host."""
    from rnnlab.serve.server import build
    app, _, _ = build(*serve_run, log=lambda m: None)
    import threading

    import uvicorn
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    page = browser.new_page()
    errors, requests = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(base + "?lang=zh-TW")
        page.wait_for_selector("#strip .tok")
        page.select_option("#layer", "1")
        page.eval_on_selector("#threshold", "e => { e.value = '0'; e.dispatchEvent("
                              "new Event('input')); }")
        page.wait_for_timeout(300)
        heat = lambda: page.eval_on_selector("#heat", "c => c.toDataURL()")  # noqa: E731
        first = heat()
        page.fill("#input", CORPUS[:60])
        page.wait_for_function("n => document.querySelectorAll('#strip .tok').length === n", arg=60)
        assert heat() != first
        toks = page.query_selector_all("#strip .tok")
        a, b = toks[CORPUS.index('"abc"')].bounding_box(), toks[CORPUS.index('"abc"') + 4].bounding_box()
        page.mouse.move(a["x"] + 2, a["y"] + 4)
        page.mouse.down()
        page.mouse.move(b["x"] + 2, b["y"] + 4, steps=5)
        page.mouse.up()
        page.wait_for_selector("#matches li mark", timeout=20_000)
        assert len(page.query_selector_all("#strip .tok.in")) == 5
        assert page.inner_text("#hyp-title") == "假設"
        assert errors == []
        assert requests and all(u.startswith(base) for u in requests), requests
    finally:
        page.close()
        srv.should_exit = True
        t.join(10)

"""rnnlab serve, in process (FastAPI's TestClient): the API's answers against the model's own
forward, validation (every bad request a 4xx with one line of JSON), the token, the limits and
the command's one-line errors. The real server (uvicorn, a browser) is tests/test_serve_live.py."""
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")           # starlette's note about its httpx transport
    from fastapi.testclient import TestClient

from rnnlab.app.cli import main  # noqa: E402
from rnnlab.serve.app import create_app  # noqa: E402
from rnnlab.serve.explorer import Explorer  # noqa: E402
from rnnlab.serve.limits import Limits  # noqa: E402

from conftest import SERVE_CORPUS as CORPUS  # noqa: E402
TEXT = 'b = g("cab", [2, 1])'


@pytest.fixture(scope="module")
def built(serve_run):
    from rnnlab.serve.server import build
    return build(*serve_run, log=lambda m: None)


@pytest.fixture(scope="module")
def client(built):
    return TestClient(built[0])


def one_line_error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and body["error"]
    assert "Traceback" not in r.text
    return body["error"]


def test_states_are_the_layers_own_gates(client, built):
    from rnnlab.viz.subject import read_input, reference_forward
    _, explorer, _ = built
    r = client.post("/states", json={"input": TEXT, "layer": 1, "units": [0, 5, 15]})
    assert r.status_code == 200
    body = r.json()
    assert "".join(body["tokens"]) == TEXT and body["units"] == [0, 5, 15]
    # the reference forward (the NumPy cells) on the same input: the kernel's gates agree
    _, x, _ = read_input(explorer.subject, TEXT)
    _, gates, _ = reference_forward(explorer.model, x)
    for name in ("h", "c", "f", "i", "o", "g"):
        np.testing.assert_allclose(body["gates"][name], gates[(1, 0, name)][:, [0, 5, 15]],
                                   atol=2e-4)


def test_verbs_the_model_has_and_has_not(client):
    info = client.get("/info").json()
    assert info["verbs"] == ["sample", "score"] and info["corpus"]["tokens"] == len(CORPUS)
    s = client.post("/sample", json={"length": 25, "seed": 3, "prime": "x = "}).json()
    assert s["sample"].startswith("x = ") and len(s["sample"]) == 29
    assert s == client.post("/sample", json={"length": 25, "seed": 3, "prime": "x = "}).json()
    sc = client.post("/score", json={"input": TEXT}).json()
    assert sc["tokens"] == len(TEXT) - 1 and sc["loss"] > 0
    assert "no forecast" in one_line_error(client.post("/forecast", json={}), 404)


def test_hypothesis_then_search_finds_the_span_it_came_from(client, built):
    _, explorer, index = built
    start, end = CORPUS.index('"abc"'), CORPUS.index('"abc"') + 5
    h = client.post("/hypothesis", json={"input": CORPUS[:200], "start": start, "end": end,
                                         "threshold": 0.0, "layer": 1}).json()
    units = h["units"]
    s = explorer.states(CORPUS[:200], 1, 0, ["h"])["gates"]["h"]
    assert units == np.flatnonzero((s[start:end] > 0).all(axis=0)).tolist() and units
    m = client.post("/search", json={"units": units, "threshold": 0.0, "length": end - start,
                                     "layer": 1, "k": 5}).json()["matches"]
    assert len(m) == 5 and m[0]["score"] == 1.0
    assert all(a["score"] >= b["score"] for a, b in zip(m, m[1:]))
    starts = [x["start"] for x in m]
    assert all(abs(a - b) >= end - start for a in starts for b in starts if a != b)
    # a top match's context is the corpus around it
    top = m[0]
    assert CORPUS[top["start"]:top["end"]] == top["span"]
    assert CORPUS[:top["start"]].endswith(top["left"])
    # the index holds the model's own states: its first stream is the corpus's start, read
    # in one forward (h in [-1, 1] as 8-bit codes: within 1/255)
    n = index.stream
    h = explorer.states(CORPUS[:n], 1, 0, ["h"])["gates"]["h"]
    codes = index.codes[(1, 0)][:, :n].T
    np.testing.assert_allclose(index.lo + codes * (index.hi - index.lo) / 255, h, atol=0.005)


def test_bad_requests_are_one_line_4xx_and_the_server_stays_up(client):
    bad = [
        (client.post("/states", content=b'{"input": "ab', headers={
            "content-type": "application/json"}), 422, "not valid JSON"),
        (client.post("/states", content=b"x" * 1_100_000), 413, "--max-body"),
        (client.post("/sample", json={"length": -5}), 422, "length"),
        (client.post("/sample", json={"length": 10**6}), 413, "--max-sample"),
        (client.post("/states", json={"input": "abc", "units": [16]}), 400, "unit 16"),
        (client.post("/states", json={"input": "abc", "units": [-1]}), 400, "unit -1"),
        (client.post("/states", json={"input": "abc", "names": ["zz"]}), 400, "'zz'"),
        (client.post("/states", json={"input": "abc", "layer": 7}), 400, "layer 7"),
        (client.post("/states", json={"input": [1, 2]}), 400, "reads text"),
        (client.post("/states", json={"input": "a" * 20_001}), 413, "--max-text"),
        (client.post("/hypothesis", json={"input": "abc", "start": 2, "end": 9}), 400, "span"),
        (client.post("/search", json={"units": [99], "length": 3}), 400, "unit 99"),
        (client.post("/search", json={"units": [1], "length": 3, "k": 10**4}), 413, "k"),
        (client.get("/static/..%2f..%2fpyproject.toml"), 404, ""),
        (client.get("/static/%2e%2e%2fapp.py"), 404, ""),
        (client.get("/static/explorer.html"), 404, "no file"),
        (client.get("/?lang=xx"), 404, "xx"),
    ]
    for r, status, words in bad:
        assert words in one_line_error(r, status)
    assert client.get("/info").status_code == 200
    assert client.get("/static/explorer.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"].keys() >= {
        "/states", "/sample", "/score", "/forecast", "/hypothesis", "/search"}


def test_a_token_is_required_on_every_request(built):
    _, explorer, index = built
    c = TestClient(create_app(explorer, index, token="s3cret-token", limits=Limits()))
    for r in (c.get("/info"), c.get("/"), c.post("/states", json={"input": "ab"}),
              c.get("/info", headers={"Authorization": "Bearer wrong-token"})):
        assert "token" in one_line_error(r, 401)
    assert c.get("/info", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    page = c.get("/?token=s3cret-token")
    assert page.status_code == 200 and "static/explorer.js?token=s3cret-token" in page.text


def test_time_limit_answers_503(built):
    _, explorer, _ = built
    c = TestClient(create_app(explorer, None, limits=Limits(seconds=1e-4)))
    assert "--time-limit" in one_line_error(c.post("/states", json={"input": CORPUS}), 503)


def test_other_tasks_read_lists(tmp_path):
    from rnnlab.training.api import train
    from rnnlab.training.load import load
    rng = np.random.default_rng(0)
    (tmp_path / "s.csv").write_text("y\n" + "\n".join(f"{v:.3f}" for v in
                                                      np.sin(np.arange(80) / 4) + 2 +
                                                      0.1 * rng.standard_normal(80)))
    train(str(tmp_path / "s.csv"), out=str(tmp_path / "srun"), cell="lstm", hidden=4, layers=1,
          steps=3, progress=False, log=lambda m: None)
    c = TestClient(create_app(Explorer(load(str(tmp_path / "srun")))))
    info = c.get("/info").json()
    assert info["verbs"] == ["forecast"] and info["reads"] == "list"
    r = c.post("/states", json={"input": [1.0, 2.0, 1.5, 2.5, 2.0, 3.0]}).json()
    assert set(r["gates"]) >= {"h", "c", "f"}
    assert len(c.post("/forecast", json={"horizon": 3}).json()["forecast"]) == 3
    assert "no sample" in one_line_error(c.post("/sample", json={}), 404)
    assert "not a string" in one_line_error(c.post("/states", json={"input": "12"}), 400)


def test_a_music_model_reads_steps(tmp_path):
    import json

    from rnnlab.training.api import train
    from rnnlab.training.load import load
    seqs = [[[60, 64, 67], [62], [64, 67], [], [65]] * 4, [[60], [64], [67]] * 6]
    (tmp_path / "m.json").write_text(json.dumps({"train": seqs, "valid": seqs[:1]}), "utf-8")
    train(str(tmp_path / "m.json"), out=str(tmp_path / "mrun"), cell="lstm", hidden=4,
          layers=1, steps=2, eval_every=2, seq_len=8, batch=2, progress=False,
          log=lambda m: None, task_options={"transpose": 0})
    c = TestClient(create_app(Explorer(load(str(tmp_path / "mrun")))))
    assert c.get("/info").json()["roll"] == [60, 8]
    r = c.post("/states", json={"input": [[60, 64, 67], [62], []]}).json()
    assert r["tokens"] == ["\u00b7", "60 64 67", "62"]           # input t = frame t-1
    assert c.post("/score", json={"input": [[60], [64], [67]]}).json()["steps"] == 3
    steps = c.post("/sample", json={"length": 4, "seed": 0}).json()["sample"]
    assert len(steps) == 4 and all(60 <= p <= 67 for s in steps for p in s)
    assert "expected a list" in one_line_error(c.post("/states", json={"input": [60]}), 400)


def test_command_errors_are_one_line(serve_run, monkeypatch, capsys):
    run, corpus = serve_run
    assert main(["serve", run, "--host", "0.0.0.0"]) == 2
    assert "--token" in capsys.readouterr().err
    assert main(["serve", run, "--max-text", "0"]) == 2
    assert "--max-text must be positive" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "uvicorn", None)
    assert main(["serve", run]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install" in err and "[serve]'" in err and len(err.splitlines()) == 1

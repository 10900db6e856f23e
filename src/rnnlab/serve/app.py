"""The FastAPI application: the JSON API (documented at /docs and /openapi.json) and the
explorer page. `create_app(explorer, index=None, token=None, limits=Limits())`.

Every answer that is not a success is a 4xx (or 503/500) with one line, {"error": "..."}:
a bad request never shows a traceback and never takes the server down. The model work runs on
one worker thread (the layers keep what their last forward read), each request within
`limits.seconds`; the guard in front refuses a body over `limits.body_bytes` and, when a token
is set, a request without it (401).
"""
from __future__ import annotations

import asyncio
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Optional, Union
from urllib.parse import urlencode

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rnnlab._version import __version__
from rnnlab.errors import RnnlabError
from rnnlab.serve.limits import Limits
from rnnlab.viz.i18n import DEFAULT, languages, strings


Input = Union[str, list]


class StatesRequest(BaseModel):
    input: Input = Field(..., description="text (text models) or a list: music steps (lists "
                         "of MIDI pitches), series rows (values in the data's units)")
    layer: int = Field(0, ge=0)
    direction: int = Field(0, ge=0, le=1)
    names: Optional[list[str]] = Field(None, description="quantities (default: all)")
    units: Optional[list[int]] = Field(None, description="units (default: all)")


class SampleRequest(BaseModel):
    length: int = Field(200, ge=1, description="tokens (text) or steps (music)")
    temperature: float = Field(1.0, ge=0)
    top_k: int = Field(0, ge=0)
    prime: str = ""
    seed: Optional[int] = Field(None, ge=0)


class ScoreRequest(BaseModel):
    input: Input


class ForecastRequest(BaseModel):
    horizon: Optional[int] = Field(None, ge=1)


class HypothesisRequest(BaseModel):
    input: Input
    start: int = Field(..., ge=0)
    end: int = Field(..., ge=1)
    threshold: float = 0.3
    layer: int = Field(0, ge=0)
    direction: int = Field(0, ge=0, le=1)


class SearchRequest(BaseModel):
    units: list[int] = Field(..., min_length=1)
    threshold: float = 0.3
    length: int = Field(..., ge=1, le=1000)
    layer: int = Field(0, ge=0)
    direction: int = Field(0, ge=0, le=1)
    k: int = Field(10, ge=1)


def _error(status, message):
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


class Guard:
    """ASGI middleware in front of everything: the token (when set) and the body's size."""

    def __init__(self, app, token, body_bytes):
        self.app, self.token, self.body_bytes = app, token, body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.token is not None and not self._authorised(scope):
            return await _error(401, "this server needs its token: send 'Authorization: "
                                "Bearer TOKEN' (or ?token=TOKEN)")(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.body_bytes:
            return await self._too_big(scope, receive, send)
        body, more = b"", True
        while more:                              # read it all, counting (chunked bodies too)
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.body_bytes:
                return await self._too_big(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _too_big(self, scope, receive, send):
        await _error(413, f"the request body is over the server's limit of {self.body_bytes} "
                     f"bytes (--max-body)")(scope, receive, send)

    def _authorised(self, scope):
        headers = dict(scope["headers"])
        given = headers.get(b"authorization", b"").decode("latin-1")
        given = given[7:] if given.lower().startswith("bearer ") else ""
        if not given:
            from urllib.parse import parse_qs
            given = (parse_qs(scope.get("query_string", b"").decode("latin-1"))
                     .get("token", [""])[0])
        return secrets.compare_digest(given.encode("utf-8", "replace"),
                                      self.token.encode("utf-8"))


def create_app(explorer, index=None, token=None, limits=Limits()) -> FastAPI:
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnlab-model")

    @asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="rnnlab serve", version=__version__, lifespan=lifespan,
                  description="A trained rnnlab model: its states, samples, scores or "
                  "forecasts, and a search of its corpus (LSTMVis's hypothesis and matches).")

    async def work(fn, *args):
        """Run fn on the model's thread within the time limit; errors become one line."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            out = await asyncio.wait_for(loop.run_in_executor(worker, fn, *args),
                                         limits.seconds)
            # wait_for hands back a result that was done when the loop woke, even past the
            # limit (a busy machine can keep the loop from waking in time): the limit holds
            if loop.time() - start > limits.seconds:
                raise asyncio.TimeoutError
            return out
        except asyncio.TimeoutError:
            raise HTTPException(503, f"the request took over {limits.seconds:g} s "
                                "(--time-limit); send a shorter input or try again") from None
        except RnnlabError as e:
            raise HTTPException(400, str(e)) from None
        except Exception as e:  # noqa: BLE001 - a bug answers one line, the server stays up
            raise HTTPException(500, f"internal error: {type(e).__name__}: {e}") from None

    def check_input(data):
        if len(data) > limits.text_chars:
            raise HTTPException(413, f"the input has {len(data)} characters or items; the "
                                f"server's limit is {limits.text_chars} (--max-text)")
        return data

    def need(verb):
        if verb not in explorer.trained.verbs:
            raise HTTPException(404, f"this {explorer.cfg.task} model has no {verb}; it "
                                f"answers {', '.join(explorer.trained.verbs) or 'states only'}")

    @app.exception_handler(HTTPException)
    async def _http_error(request, e):
        return _error(e.status_code, e.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, e):
        first = e.errors()[0] if e.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(422, f"the request body is not valid JSON "
                          f"({first.get('ctx', {}).get('error', 'cannot parse it')})")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where + ': ' if where else ''}{first.get('msg', 'invalid request')}")

    @app.get("/info", summary="The model, what it answers, the corpus and the limits")
    async def info():
        return {**explorer.describe(), "corpus": index.describe() if index else None,
                "limits": limits.__dict__, "version": __version__}

    @app.post("/states", summary="Every gate of one layer and direction after each step")
    async def states(req: StatesRequest):
        r = await work(explorer.states, check_input(req.input), req.layer, req.direction,
                       req.names, req.units)
        # a JSONResponse of plain lists: json.dumps directly, not FastAPI's slower walk; the
        # values rounded in float64 (a float32's shortest repr has ~17 digits: 2.5x the bytes)
        return JSONResponse({"tokens": r["tokens"], "units": r["units"], "gates": {
            n: a.astype(np.float64).round(4).tolist() for n, a in r["gates"].items()}})

    @app.post("/sample", summary="Sample text (text models) or steps (music models)")
    async def sample(req: SampleRequest):
        need("sample")
        if req.length > limits.sample_length:
            raise HTTPException(413, f"length {req.length} is over the server's limit of "
                                f"{limits.sample_length} (--max-sample)")
        check_input(req.prime)
        out = await work(lambda: explorer.trained.sample(
            length=req.length, temperature=req.temperature, top_k=req.top_k, prime=req.prime,
            seed=req.seed))
        return {"sample": out}

    @app.post("/score", summary="How well the model predicts an input")
    async def score(req: ScoreRequest):
        need("score")
        return await work(explorer.trained.score, check_input(req.input))

    @app.post("/forecast", summary="Forecast past the end of the training data (series)")
    async def forecast(req: ForecastRequest):
        need("forecast")
        if req.horizon is not None and req.horizon > limits.sample_length:
            raise HTTPException(413, f"horizon {req.horizon} is over the server's limit of "
                                f"{limits.sample_length} (--max-sample)")
        return await work(explorer.trained.forecast, req.horizon)

    @app.post("/hypothesis", summary="The units on (h above the threshold) across a span")
    async def hypothesis(req: HypothesisRequest):
        units, T = await work(explorer.hypothesis, check_input(req.input), req.start, req.end,
                              req.threshold, req.layer, req.direction)
        return {"units": units, "steps": T}

    @app.post("/search", summary="The corpus spans where the hypothesis's units are on")
    async def search(req: SearchRequest):
        if index is None:
            raise HTTPException(404, "no corpus is indexed: start the server with --corpus FILE")
        if req.k > limits.matches:
            raise HTTPException(413, f"k {req.k} is over the limit of {limits.matches}")
        explorer.check_place(req.layer, req.direction)
        return {"matches": await work(index.search, req.units, req.threshold, req.length,
                                      req.layer, req.direction, req.k)}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request, lang: str = DEFAULT):
        if lang not in languages():
            raise HTTPException(404, f"no {lang!r} page; languages: {', '.join(languages())}")
        given = request.query_params.get("token")       # the Guard has checked it
        return HTMLResponse(_page(explorer, lang, given))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in STATIC:                 # a fixed list: nothing else is ever read
            raise HTTPException(404, f"no file {name!r}")
        return Response(_asset(name), media_type=STATIC[name])

    app.add_middleware(Guard, token=token, body_bytes=limits.body_bytes)
    return app


STATIC = {"explorer.js": "text/javascript; charset=utf-8"}


def _asset(name):
    return resources.files("rnnlab.serve").joinpath(name).read_text("utf-8")


def _page(explorer, lang, token=None):
    tr = strings(lang)
    words = {**tr.section("serve"), "legend": tr.legend(explorer.cfg.cell),
             "languages": {code: strings(code)("language.name") for code in languages()}}
    data = json.dumps({"lang": lang, "words": words}, ensure_ascii=False)
    return (_asset("explorer.html").replace("__RNNLAB_LANG__", lang)
            .replace("__RNNLAB_QUERY__", "?" + urlencode({"token": token}) if token else "")
            .replace("__RNNLAB_WORDS__", data.replace("</", "<\\/")))

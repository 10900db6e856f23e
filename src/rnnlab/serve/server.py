"""serve(RUN, ...): load the run, index the corpus, check the bind, run uvicorn until SIGINT
or SIGTERM (uvicorn's own handlers: it stops taking connections, finishes the open requests
and returns; the command then exits 0)."""
from __future__ import annotations

import ipaddress
import signal
import socket
import sys
import time

from rnnlab.errors import RnnlabError
from rnnlab.serve.app import create_app
from rnnlab.serve.corpus import CorpusIndex
from rnnlab.serve.explorer import Explorer
from rnnlab.serve.limits import Limits

LOCAL_NAMES = ("localhost",)


def is_local(host: str) -> bool:
    """Whether binding to `host` keeps the server on this machine (a loopback address)."""
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build(run, corpus=None, token=None, limits=Limits(), log=print, backend=None):
    """(app, explorer, index) for a run folder: what serve() runs, without a socket."""
    from rnnlab.data.text import read_text
    from rnnlab.training.load import load
    explorer = Explorer(load(run), backend=backend)
    index = None
    if corpus is not None:
        text, t0 = read_text(corpus), time.perf_counter()
        log(f"indexing {corpus} ({len(text):,} characters)...")
        index = CorpusIndex(explorer, text)
        log(f"indexed {index.N:,} tokens in {time.perf_counter() - t0:.1f} s "
            f"({index.describe()['bytes'] / 2**20:.0f} MB)")
    return create_app(explorer, index, token, limits), explorer, index


def check_bind(host, port, token):
    if not is_local(host) and not token:
        raise RnnlabError(f"--host {host} lets other machines reach the model: pass --token "
                          f"SECRET as well (every request must then carry it), or bind to "
                          f"127.0.0.1")
    if not 0 <= port <= 65535:
        raise RnnlabError(f"--port must be in 0..65535, got {port}")
    if token is not None and len(token) < 8:
        raise RnnlabError("--token must be at least 8 characters; e.g. "
                          "--token $(python -c 'import secrets; print(secrets.token_urlsafe())')")


def serve(run, corpus=None, host="127.0.0.1", port=8000, token=None, limits=Limits(),
          log=print):
    """Serve a run until SIGINT/SIGTERM. port 0 picks a free port (printed)."""
    import uvicorn
    check_bind(host, port, token)
    app, _, _ = build(run, corpus, token, limits, log)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        raise RnnlabError(f"cannot listen on {host}:{port} ({e.strerror}); choose another "
                          f"--port or --host") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    log(f"serving {run} at http://{shown}:{bound}/{'?token=' + token if token else ''} "
        f"(API docs: /docs); Ctrl-C stops it")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again for the
    # handler it found; this one notes it, so a stop that was asked for exits 0
    stops = []
    old = {sig: signal.signal(sig, lambda signum, frame: stops.append(signum))
           for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    log(f"stopped ({signal.Signals(stops[0]).name})" if stops else "stopped")

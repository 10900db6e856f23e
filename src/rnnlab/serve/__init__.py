"""`rnnlab serve`: a trained model behind a real web server (FastAPI on uvicorn, the optional
extra `rnnlab[serve]`), with a live explorer page in the same process.

    explorer.py   one loaded model: what it answers, its input, its gates, a hypothesis
    corpus.py     the --corpus, indexed once (h of every layer as 8-bit codes), and the search
                  for the spans where a hypothesis's units are on (LSTMVis's match view)
    app.py        the FastAPI app: the JSON API, the guard (token, body size), the page
    server.py     serve(RUN, ...): load, index, check the bind, run uvicorn
    explorer.html, explorer.js   the page: self-contained, its words from rnnlab.viz.i18n

This package sits on the floor of viz/ and interop/: it reads models through rnnlab.load and
looks inside them through rnnlab.viz.subject; nothing below imports it. fastapi and uvicorn are
imported only here (and only when a server is made), so `import rnnlab` stays light.
"""
from rnnlab.errors import RnnlabError, install_line


def require():
    """Raise a one-line RnnlabError when the serve extra is not installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise RnnlabError(f"rnnlab serve needs FastAPI and uvicorn ({e.name} is not "
                          f"installed): {install_line('serve')}") from None


def create_app(*args, **kwargs):
    require()
    from rnnlab.serve.app import create_app as make
    return make(*args, **kwargs)


def serve(*args, **kwargs):
    require()
    from rnnlab.serve.server import serve as run
    return run(*args, **kwargs)

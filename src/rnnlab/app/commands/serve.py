"""`rnnlab serve`: a trained model behind a web server (FastAPI + uvicorn, the extra
rnnlab[serve]): the JSON API and the live explorer page."""
from ...serve.limits import Limits

DEFAULTS = Limits()


def add_parser(sub):
    s = sub.add_parser("serve", help="serve a trained model: a JSON API and a live explorer "
                       "page (needs rnnlab[serve])")
    s.add_argument("run", help="the run folder of a trained model")
    s.add_argument("--corpus", default=None, metavar="FILE",
                   help="a text file to index at start-up and search with a hypothesis "
                   "(text models) (default: none)")
    s.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on; anything but loopback needs --token")
    s.add_argument("--port", type=int, default=8000, help="the port (0: any free port)")
    s.add_argument("--token", default=None,
                   help="a secret every request must carry (Authorization: Bearer TOKEN, or "
                   "?token=TOKEN in the page's address) (default: none)")
    s.add_argument("--max-text", type=int, default=DEFAULTS.text_chars, metavar="N",
                   help="the most characters (or list items) of one request's input")
    s.add_argument("--max-sample", type=int, default=DEFAULTS.sample_length, metavar="N",
                   help="the most tokens or steps of one sample or forecast")
    s.add_argument("--time-limit", type=float, default=DEFAULTS.seconds, metavar="SECONDS",
                   help="the most seconds one request may take (queue included); 503 after")
    s.add_argument("--max-body", type=int, default=DEFAULTS.body_bytes, metavar="BYTES",
                   help="the most bytes of one request body; 413 over it")
    s.set_defaults(func=run)


def run(a):
    from ...errors import RnnlabError
    from ...serve import serve
    for name in ("max_text", "max_sample", "time_limit", "max_body"):
        if getattr(a, name) <= 0:
            raise RnnlabError(f"--{name.replace('_', '-')} must be positive, got "
                              f"{getattr(a, name)}")
    serve(a.run, a.corpus, a.host, a.port, a.token,
          Limits(a.max_text, a.max_sample, a.time_limit, a.max_body))
    return 0

"""rnnlab serve's three speed targets (issue 27), each beside the same work on the NumPy
reference cells:

    1. the gates of 1,000 tokens of a 2 x 256 character LSTM       target < 100 ms
    2. indexing a 1 MB corpus (h of both layers, 8-bit codes)        target < 30 s
    3. a hypothesis search over that index                          target < 200 ms

    PYTHONPATH=src python benchmarks/bench_serve.py [--corpus FILE] [--mb 1.0] [--numpy-kb 100]

The model has random weights (speed does not depend on training). The corpus is the first
--mb MB of FILE (default: Python's standard library, benchmarks/make_stdlib_text.py). The
reference's indexing is timed on the first --numpy-kb kB and scaled to the full size (it is
linear in the length; say 0 to skip it, or --numpy-kb 1000 to time it all). Each timing is the
best of --repeat runs, as wall time and as CPU time (time.process_time, all threads), with
the machine's load printed beside them.
"""
import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from rnnlab.data.vocab import Vocab  # noqa: E402
from rnnlab.serve.corpus import CorpusIndex  # noqa: E402
from rnnlab.serve.explorer import Explorer  # noqa: E402
from rnnlab.tasks.model import ModelConfig, SequenceModel  # noqa: E402
from rnnlab.tasks.text import TextModel  # noqa: E402


def best(fn, repeat):
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def http_request(ex, snippet, repeat):
    """POST /states in process (FastAPI's TestClient: routing, validation, JSON both ways)."""
    import warnings
    from rnnlab.serve.app import create_app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    c = TestClient(create_app(ex))
    for names, what in ((["h"], "h only (what the explorer asks)"), (None, "every quantity")):
        body = {"input": snippet, "layer": 1, "names": names}
        w, cpu, r = best(lambda: c.post("/states", json=body), repeat)
        print(f"   numba  POST /states, 1,000 tokens, layer 1, {what}: {w * 1e3:7.1f} ms wall "
              f"{cpu * 1e3:7.1f} ms CPU ({len(r.content) / 1e6:.1f} MB of JSON)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "data",
                                                    "stdlib.txt"))
    p.add_argument("--mb", type=float, default=1.0)
    p.add_argument("--numpy-kb", type=float, default=100.0)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(argv)
    if not os.path.exists(a.corpus):
        sys.exit(f"{a.corpus} does not exist: run python benchmarks/make_stdlib_text.py")
    text = open(a.corpus, encoding="utf-8").read()[:int(a.mb * 1e6)]
    vocab = Vocab.build(text, "char")
    cfg = ModelConfig(task="text", cell="lstm", input_size=vocab.size, output_size=vocab.size,
                      hidden=a.hidden, layers=a.layers, seed=0)
    trained = TextModel(SequenceModel(cfg), {"vocab": vocab.to_json()})
    print(f"rnnlab serve benchmark: {a.layers} x {a.hidden} LSTM, V={vocab.size}; "
          f"{cpu_model()}, {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f} at start")
    sides = {"numba": Explorer(trained, backend="numba"),
             "numpy": Explorer(trained, backend="numpy")}
    snippet = text[:1000]

    print("\n1. gates of 1,000 tokens (both layers' forward with every gate; target < 100 ms)")
    res = {}
    for side, ex in sides.items():
        x = ex.read(snippet)[1]
        ex._gates(x)                                          # warm up (compile, buffers)
        res[side] = best(lambda: ex._gates(x), a.repeat)
        full = best(lambda: ex.states(snippet, 1, 0), a.repeat)
        print(f"   {side:5s}  forward with gates {res[side][0] * 1e3:7.1f} ms wall "
              f"{res[side][1] * 1e3:7.1f} ms CPU;  /states' work (read, forward, copy one "
              f"layer's {len(ex.names)} quantities) {full[0] * 1e3:7.1f} ms wall")
    print(f"   numpy / numba: {res['numpy'][0] / res['numba'][0]:.1f}x (wall)")
    http_request(sides["numba"], snippet, a.repeat)

    print(f"\n2. indexing {len(text) / 1e6:.2f} MB ({len(text):,} characters; target < 30 s)")
    ex = sides["numba"]
    CorpusIndex(ex, text[:20_000])                           # warm up at the batch shape
    w, c, index = best(lambda: CorpusIndex(ex, text), 1)
    print(f"   numba  {w:7.1f} s wall {c:7.1f} s CPU   ({index.describe()['bytes'] / 2**20:.0f} "
          f"MB of codes)")
    if a.numpy_kb > 0:
        part = text[:int(a.numpy_kb * 1e3)]
        wn, cn, _ = best(lambda: CorpusIndex(sides["numpy"], part), 1)
        scale = len(text) / len(part)
        note = "" if scale == 1 else f" (timed on {len(part):,} characters, x{scale:.1f})"
        print(f"   numpy  {wn * scale:7.1f} s wall {cn * scale:7.1f} s CPU{note}")
        print(f"   numpy / numba: {wn * scale / w:.1f}x (wall)")

    print("\n3. a hypothesis search over the index (target < 200 ms)")
    rng = np.random.default_rng(0)
    for n_units, L in ((5, 5), (20, 10), (64, 20)):
        units = rng.choice(a.hidden, n_units, replace=False)
        w, c, m = best(lambda: index.search(units, 0.0, L, layer=1, k=10), a.repeat)
        print(f"   {n_units:3d} units, span {L:2d}: {w * 1e3:6.1f} ms wall {c * 1e3:6.1f} ms CPU "
              f"(best score {m[0]['score'] if m else 0:.2f}; NumPy only, same on either backend)")
    print(f"\nload {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

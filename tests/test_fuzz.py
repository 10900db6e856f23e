"""Fuzzing with hypothesis: layers over random shapes/options, loaders over random bytes.

Layers: outputs and gradients are finite; the numba backend agrees with the numpy reference
wherever a kernel exists (rnnlab.backend falls back to numpy otherwise, then they are equal).
Loaders: any bytes give either a valid result or RnnlabError, never another exception.
"""
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.data import music, series, text
from rnnlab.nn import registry
from rnnlab.errors import RnnlabError
from rnnlab.training.run_folder import RunFolder, load_tensors, save_tensors

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------ layers

@st.composite
def layer_cases(draw):
    spec, kw = draw(st.sampled_from(list(registry.choices().values())))
    cell, kw = spec.name, dict(kw)
    T, B = draw(st.integers(1, 7)), draw(st.integers(1, 3))
    D, H = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    L = draw(st.integers(1, 2))
    bidir = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    lengths = draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B))
    with_state = draw(st.booleans())
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 16))
    return cell, kw, T, B, D, H, L, bidir, dtype, lengths, with_state, bias, seed


def _run(layer, x, state, lengths, dy, dstate, backend):
    layer.zero_grad()
    y, sn = layer(x, state, lengths, backend=backend)
    dx, ds0 = layer.backward(dy, dstate)
    return y, sn, dx, ds0, {k: v.copy() for k, v in layer.grads.items()}


def _flat(obj):
    if isinstance(obj, dict):
        return [obj[k] for k in sorted(obj)]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _flat(o)]
    return [obj]


@settings(max_examples=40, **SETTINGS)
@given(layer_cases())
def test_layers_finite_and_backends_agree(case):
    cell, kw, T, B, D, H, L, bidir, dtype, lengths, with_state, bias, seed = case
    layer = registry.get(cell).layer(D, H, num_layers=L, bidirectional=bidir, dtype=dtype, seed=seed, bias=bias, **kw)
    layer.eval()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    LD = L * (2 if bidir else 1)
    parts = layer.state_shapes()           # (L*dirs, B) + each part's shape; (H,) for most
    lows = getattr(layer.reference, "STATE_MIN", {})     # the sLSTM's n >= 0

    def random_state():
        s = tuple((lows[n] + 0.5 + np.abs(rng.standard_normal((LD, B) + shape)) if n in lows else
                   rng.standard_normal((LD, B) + shape)).astype(dtype)
                  for n, shape in parts.items())
        return s if len(s) > 1 else s[0]
    state = random_state() if with_state else None
    lens = None if lengths is None else np.array(lengths)
    dy = rng.standard_normal((T, B, LD // L * H)).astype(dtype)
    dstate = random_state()
    ref = _run(layer, x, state, lens, dy, dstate, "numpy")
    for a in _flat(ref):
        assert a.dtype == dtype and np.isfinite(a).all()
    fast = _run(layer, x, state, lens, dy, dstate, "numba")
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for a, b in zip(_flat(ref), _flat(fast)):
        np.testing.assert_allclose(b, a, **tol)


# ------------------------------------------------------------------ loaders

def _mangle(data, draw):
    """Random edits of valid bytes: truncate, flip, insert, delete."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "truncate":
            data = data[:pos]
        elif op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[pos:pos + draw(st.integers(1, 8))]
    return bytes(data)


def _seed_files():
    out = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        out["text"] = "Hello, world.\nThe cat sat — naïvely.\n".encode()
        out["csv"] = b"date,load,temp\n2020-01-01,1.5,3\n2020-01-02,2,4\n2020-01-03,2.5,5\n2020-01-04,3,6\n"
        out["json"] = json.dumps({"train": [[[60, 64], [62], []], [[67]]], "valid": [[[60]]]}).encode()
        music.write_midi([[60, 64], [60, 64], [], [67], [67, 71]], d / "a.mid")
        out["midi"] = (d / "a.mid").read_bytes()
        save_tensors(d / "w.safetensors", {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
                                           "b": np.zeros(2)}, {"k": "v"})
        out["safetensors"] = (d / "w.safetensors").read_bytes()
        run = RunFolder(d / "run").create()
        run.write_config({"model": {"cell": "lstm"}, "train": {}, "data": {}})
        out["config"] = (d / "run" / "config.json").read_bytes()
    return out


SEEDS = _seed_files()


def _write(tmp, name, data):
    path = Path(tmp) / name
    path.write_bytes(data)
    return path


def _config_loader(path):
    os.replace(path, Path(path).parent / "config.json")
    return RunFolder(Path(path).parent).read_config()


LOADERS = {
    "text": ("t.txt", lambda p: text.read_text(p)),
    "text-latin1": ("t.txt", lambda p: text.read_text(p, "latin-1")),
    "csv": ("s.csv", lambda p: series.load_csv(p)),
    "csv-target": ("s.csv", lambda p: series.load_csv(p, target="load", fill="ffill")),
    "json": ("n.json", music.load_notes_json),
    "midi": ("a.mid", music.load_midi),
    "safetensors": ("w.safetensors", load_tensors),
    "config": ("x.json", _config_loader),
}
SEED_OF = {"text": "text", "text-latin1": "text", "csv": "csv", "csv-target": "csv",
           "json": "json", "midi": "midi", "safetensors": "safetensors", "config": "config"}


@pytest.mark.parametrize("kind", sorted(LOADERS))
@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_loaders_valid_result_or_rnnlab_error(kind, data):
    name, loader = LOADERS[kind]
    seed = SEEDS[SEED_OF[kind]]
    if data.draw(st.booleans(), label="random bytes"):
        raw = data.draw(st.binary(max_size=300), label="bytes")
    else:
        raw = _mangle(seed, data.draw)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, name, raw)
        try:
            loader(path)
        except RnnlabError:
            pass
        except RecursionError:      # pathological nesting in JSON: refused by the parser
            pytest.fail(f"{kind} loader raised RecursionError on {raw[:80]!r}")


def test_unmangled_seeds_load():
    """The unmangled seed files are valid: the fuzzer starts from good inputs."""
    for kind, (name, loader) in LOADERS.items():
        with tempfile.TemporaryDirectory() as tmp:
            assert loader(_write(tmp, name, SEEDS[SEED_OF[kind]])) is not None

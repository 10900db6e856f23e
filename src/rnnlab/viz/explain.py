"""The "explain" page: one self-contained HTML file that shows what a recurrent network remembers.

`render_explain_html(payload)` validates a payload (schema below), trims it (at most
`MAX_TOKENS` steps, floats rounded to 4 significant digits, activation matrices packed into
8-bit codes) and embeds it as JSON in the template `explain.html`. The page needs no network:
open the written file straight from disk. `payload_from_arrays(...)` builds a payload from the
arrays a model produces (cache entries, softmax outputs, gradients).

DOC_SCHEMA, the payload (a dict of plain JSON values; NumPy arrays are accepted anywhere a list
of numbers is expected):

    title        str                     shown in the header and the window title
    task         "text" | "series" | "music"
    cell         a name of the cell registry ("rnn", "lstm", "gru", ...)
    variant      str                     e.g. "standard", "peephole", "coupled", "tanh", "relu"
    tokens       [str] * T               display label of each input step: a character or word
                                         (text), the value as a string (series), the pitch set
                                         (music). Joined with `join` they form the text the
                                         regex feature is matched against.
    join         str, optional           separator used to join tokens ("" for text, " " else)
    layers       int L >= 1
    directions   1 | 2                   2 = bidirectional; direction 1 is the reverse pass,
                                         already put back in natural time order (row t = step t)
    hidden       int H >= 1
    quantities   {"<layer>.<dir>.<name>": (T, H) floats}, at least one entry.
                 names: the cell's GATES (rnnlab.nn.cells.<cell>), e.g. LSTM h c f i o g j k
                 tanh_c, GRU h z r n hn. The page derives tanh_c from c when only c is given.
    ranges       optional {name: [lo, hi]}: the colour scale of a quantity. lo < 0 gives a
                 diverging blue-white-red scale symmetric around 0, lo >= 0 a white-green one.
                 Defaults: the range the cell's equations give the quantity (the registry's
                 `bounds`: sigmoid gates [0, 1], tanh outputs [-1, 1]) when its values keep
                 to it; a relu RNN's h gets [0, max]; anything else [-m, m], m = the 99.5th
                 percentile of |value| (larger values saturate).
    predictions  optional [[{"token": str, "p": float}] * <=5] * T: the top next-token predictions
                 after each step, most probable first (text and music).
    targets      optional [str] * T: what step t should predict (default tokens[t+1]).
    series       optional {"prediction": [T floats], "actual": [T floats]} (series models).
    roll         optional {"lo": int, "pitches": int P, "on": [[int] * k] * T} (music): the
                 piano roll of the input, drawn above the gates column for column; on[t] holds
                 the sounding pitches of input step t as offsets 0..P-1 from MIDI pitch lo.
    connectivity optional {"<t>": [n floats]}: |d log p(target_t) / d x_s| for the n steps
                 s = t-n+1 .. t (n <= t+1; n = t+1 covers the whole prefix). Rows for t >= T are
                 dropped and each row keeps its last `CONN_WINDOW` values.
    history      optional [{"step": int, "train_loss": float, "val_loss": float|null}]
    ln_v         optional float|null     ln(V): the loss of a uniform guess over V tokens
    legend       optional {name: str}    one line per quantity; default: the cell's legend in the
                                         page's language (rnnlab.viz.i18n: the catalogue's line,
                                         else the cell's English LEGEND, the seed note's words)
    lang         optional str            the page's language, a catalogue of rnnlab.viz.i18n
                                         ("en", the default, or "zh-TW"); the page's labels
                                         come from its "explain" section (embedded as strings)

Embedded form (what the page reads; `read_explain_payload` turns it back into lists): the same
dict, where each quantity and each connectivity row is replaced by
`{"shape": [...], "lo": float, "hi": float, "bits": 8|16, "b64": str}`: value =
lo + code * (hi - lo) / (2**bits - 1), codes little-endian. With 8 bits the error is at most
(hi - lo) / 510 (0.002 for a gate), plenty for a colour; pass bits=16 for 5 significant digits.
Size: about 1.33 bytes per value, so 2,000 steps x 3 layers x H=128 x {h, c, f} is ~3 MB.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
from importlib import resources

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes
from rnnlab.nn import registry
from rnnlab.viz.i18n import strings
from rnnlab.viz.limits import CONN_WINDOW, MAX_TOKENS

TASKS = ("text", "series", "music")
_PLACEHOLDER = "__RNNLAB_DATA__"
_KEY = re.compile(r"^(\d+)\.([01])\.([A-Za-z_][A-Za-z0-9_]*)$")

def _sig(x, digits: int = 4):
    """Round a float to `digits` significant digits (None stays None) to keep the JSON small."""
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise RnnlabError(f"payload: got {x!r} where a number was expected") from None
    if not math.isfinite(x):
        raise RnnlabError(f"payload: got the non-finite number {x}; expected finite floats")
    return float(f"{x:.{digits}g}")


def _array(x, what: str, ndim: int) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise RnnlabError(f"payload: {what} is not a rectangular array of numbers ({e})") from None
    if a.ndim != ndim:
        raise RnnlabError(f"payload: {what} has shape {a.shape}; expected {ndim} dimension(s)")
    if not np.isfinite(a).all():
        raise RnnlabError(f"payload: {what} contains NaN or infinity; expected finite values")
    return a


def _encode(a: np.ndarray, bits: int) -> dict:
    """Pack an array into integer codes over its own [min, max], base64 encoded."""
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    levels = 2 ** bits - 1
    scaled = (a - lo) / (hi - lo) * levels if hi > lo else np.zeros_like(a)
    codes = np.rint(scaled).astype("u1" if bits == 8 else "<u2")
    return {"shape": list(a.shape), "lo": lo, "hi": hi, "bits": bits,
            "b64": base64.b64encode(codes.tobytes()).decode("ascii")}


def _decode(enc: dict) -> np.ndarray:
    codes = np.frombuffer(base64.b64decode(enc["b64"]), "u1" if enc["bits"] == 8 else "<u2")
    lo, hi, levels = enc["lo"], enc["hi"], 2 ** enc["bits"] - 1
    return (lo + codes.astype(np.float64) * ((hi - lo) / levels)).reshape(enc["shape"])


def _default_range(name: str, values: list[np.ndarray], bounds: dict) -> list[float]:
    """The colour scale of a quantity: its range from the equations (`bounds`, from the cell
    registry) when its values keep to it, else a symmetric scale around 0."""
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    b = bounds.get(name)
    if b is not None and b[0] <= lo and hi <= b[1]:
        return [float(b[0]), float(b[1])]
    if name == "h" and lo >= 0:            # relu RNN: unbounded above, never negative
        return [0.0, _sig(max(hi, 1e-6), 3)]
    # Unbounded (c, k): a few outliers would wash every other value out to white, so the scale
    # ends at the 99.5th percentile of |value| and the rare larger values saturate.
    m = max(float(np.percentile(np.abs(np.concatenate([v.ravel() for v in values])), 99.5)), 1e-6)
    return [-_sig(m, 3), _sig(m, 3)]


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise RnnlabError("payload: " + message)


def _clean(payload: dict, bits: int) -> dict:
    """Validate `payload` and return the trimmed, rounded, packed form that the page reads."""
    out = _clean_header(payload, bits)
    t_full, T = out["tokens_total"], len(out["tokens"])
    arrays = _clean_quantities(payload["quantities"], out, t_full, T)
    names = sorted({k.split(".")[2] for k in arrays})
    out["quantities"] = {k: _encode(a, bits) for k, a in arrays.items()}
    out["ranges"] = _ranges(payload.get("ranges"), arrays, names, out["cell"])
    for key, clean in (("predictions", _clean_predictions), ("targets", _clean_targets),
                       ("series", _clean_series), ("roll", _clean_roll)):
        if payload.get(key) is not None:
            out[key] = clean(payload[key], t_full, T)
    if payload.get("connectivity") is not None:
        out["connectivity"] = _clean_connectivity(payload["connectivity"], T, bits)
    out["history"] = _clean_history(payload.get("history") or [])
    out["ln_v"] = _sig(payload.get("ln_v"))
    tr = strings(str(payload.get("lang") or "en"))
    out["lang"], out["strings"] = tr.lang, tr.section("explain")
    out["legend"] = _legend(out["cell"], payload.get("legend"), names, tr)
    out["order"] = list(registry.get(out["cell"]).gates)     # the menu's order (GATES)
    return out


def _clean_header(payload, bits: int) -> dict:
    _check(isinstance(payload, dict), f"expected a dict, got {type(payload).__name__}")
    _check(bits in (8, 16), f"bits={bits!r}; expected 8 or 16")
    for k in ("task", "cell", "tokens", "layers", "directions", "hidden", "quantities"):
        _check(k in payload, f"missing the key {k!r}; see rnnlab.viz.explain's docstring")
    task, cell = payload["task"], payload["cell"]
    _check(task in TASKS, f"task={task!r}; expected one of {TASKS}")
    _check(cell in registry.CELLS, f"cell={cell!r}; expected one of {tuple(registry.CELLS)}")
    tokens = payload["tokens"]
    _check(isinstance(tokens, (list, tuple)) and len(tokens) > 0
           and all(isinstance(t, str) for t in tokens), "tokens must be a non-empty list of str")
    L, D, H = payload["layers"], payload["directions"], payload["hidden"]
    _check(isinstance(L, int) and L >= 1, f"layers={L!r}; expected an int >= 1")
    _check(D in (1, 2), f"directions={D!r}; expected 1 or 2")
    _check(isinstance(H, int) and H >= 1, f"hidden={H!r}; expected an int >= 1")
    T = min(len(tokens), MAX_TOKENS)  # longer inputs keep their first MAX_TOKENS steps
    return {"title": str(payload.get("title") or f"{cell.upper()} on {task}"),
            "task": task, "cell": cell, "variant": str(payload.get("variant", "")),
            "tokens": list(tokens[:T]), "tokens_total": len(tokens),
            "join": str(payload.get("join", "" if task == "text" else " ")),
            "layers": L, "directions": D, "hidden": H}


def _clean_quantities(quantities, out, t_full, T) -> dict:
    _check(isinstance(quantities, dict) and quantities, "quantities must be a non-empty dict")
    L, D, H = out["layers"], out["directions"], out["hidden"]
    arrays: dict[str, np.ndarray] = {}
    for key, value in quantities.items():
        m = _KEY.match(str(key))
        _check(m is not None, f"quantity key {key!r}; expected '<layer>.<dir>.<name>', e.g. '0.0.f'")
        _check(int(m[1]) < L and int(m[2]) < D,
               f"quantity key {key!r} names a layer/direction outside layers={L}, directions={D}")
        a = _array(value, f"quantities[{key!r}]", 2)
        _check(a.shape == (t_full, H), f"quantities[{key!r}] has shape {a.shape}; "
               f"expected (T, H) = ({t_full}, {H})")
        arrays[str(key)] = a[:T]
    return arrays


def _ranges(given, arrays, names, cell) -> dict:
    bounds = registry.get(cell).bounds
    ranges = {n: _default_range(n, [a for k, a in arrays.items() if k.split(".")[2] == n], bounds)
              for n in names}
    for name, r in (given or {}).items():
        ok = isinstance(r, (list, tuple)) and len(r) == 2 and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in r) and r[0] < r[1]
        _check(ok, f"ranges[{name!r}]={r!r}; expected [lo, hi] with lo < hi")
        ranges[str(name)] = [float(r[0]), float(r[1])]
    return ranges


def _clean_predictions(preds, t_full, T) -> list:
    _check(isinstance(preds, (list, tuple)) and len(preds) == t_full,
           f"predictions must be a list of T={t_full} lists")
    rows = []
    for t, row in enumerate(preds[:T]):
        _check(isinstance(row, (list, tuple)) and all(
            isinstance(d, dict) and "token" in d and "p" in d for d in row),
            f"predictions[{t}] must be a list of {{'token': str, 'p': float}}")
        best = sorted(row, key=lambda d: -float(d["p"]))[:5]
        rows.append([{"token": str(d["token"]), "p": _sig(d["p"], 3)} for d in best])
    return rows


def _clean_targets(targets, t_full, T) -> list:
    _check(isinstance(targets, (list, tuple)) and len(targets) == t_full,
           f"targets must be a list of T={t_full} str")
    return [str(s) for s in targets[:T]]


def _clean_series(series, t_full, T) -> dict:
    _check(isinstance(series, dict) and {"prediction", "actual"} <= set(series),
           "series must be {'prediction': [T floats], 'actual': [T floats]}")
    out = {}
    for k in ("prediction", "actual"):
        a = _array(series[k], f"series[{k!r}]", 1)
        _check(len(a) == t_full, f"series[{k!r}] has {len(a)} values; expected T={t_full}")
        out[k] = [_sig(v) for v in a[:T]]
    return out


def _clean_roll(roll, t_full, T) -> dict:
    _check(isinstance(roll, dict) and {"lo", "pitches", "on"} <= set(roll),
           "roll must be {'lo': int, 'pitches': int, 'on': [[int]] * T}")
    lo, n = roll["lo"], roll["pitches"]
    _check(isinstance(lo, int) and isinstance(n, int) and n >= 1 and 0 <= lo and lo + n <= 128,
           f"roll lo={lo!r}, pitches={n!r}; expected MIDI pitches lo..lo+pitches-1 in 0..127")
    on = roll["on"]
    _check(isinstance(on, (list, tuple)) and len(on) == t_full,
           f"roll['on'] must be a list of T={t_full} lists of pitch offsets")
    for t, js in enumerate(on[:T]):
        _check(isinstance(js, (list, tuple)) and all(
            isinstance(j, int) and 0 <= j < n for j in js),
            f"roll['on'][{t}] must list pitch offsets 0..{n - 1}")
    return {"lo": lo, "pitches": n, "on": [sorted(set(js)) for js in on[:T]]}


def _clean_connectivity(conn, T, bits) -> dict:
    _check(isinstance(conn, dict), "connectivity must be a dict {'<t>': [floats]}")
    out = {}
    for key, row in conn.items():
        _check(str(key).isdigit(), f"connectivity key {key!r}; expected a step number")
        t = int(key)
        a = np.abs(_array(row, f"connectivity[{key!r}]", 1))
        _check(1 <= len(a) <= t + 1, f"connectivity[{key!r}] has {len(a)} values; "
               f"expected 1 to t+1 = {t + 1}")
        if t < T:
            out[str(t)] = _encode(a[-CONN_WINDOW:], bits)
    return out


def _clean_history(history) -> list:
    _check(isinstance(history, (list, tuple)), "history must be a list of dicts")
    out = []
    for n, rec in enumerate(history):
        _check(isinstance(rec, dict) and "step" in rec,
               f"history[{n}] must be a dict with 'step', 'train_loss', 'val_loss'")
        out.append({"step": int(_sig(rec["step"], 15)), "train_loss": _sig(rec.get("train_loss")),
                    "val_loss": _sig(rec.get("val_loss"))})
    return out


def _legend(cell, given, names, tr) -> dict:
    """One line per quantity on the page: the cell's legend in the page's language (`tr`, an
    i18n Strings: its catalogue's line, else the registry's English one, in the seed note's
    words for the LSTM), overridden by the payload's own lines."""
    legend = tr.legend(cell)
    legend.update({str(k): str(v) for k, v in (given or {}).items()})
    shown = set(names) | ({"tanh_c"} if "c" in names else set())
    return {k: v for k, v in legend.items() if k in shown}


def render_explain_html(payload: dict, *, bits: int = 8) -> str:
    """Return the explain page (a complete HTML document) for `payload` (see DOC_SCHEMA)."""
    data = json.dumps(_clean(payload, bits), ensure_ascii=False, separators=(",", ":"))
    # Inside <script> only "</" (which could close the element) and "<!--" (which changes how
    # the HTML parser reads script text) are dangerous; both escapes are still valid JSON.
    data = data.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    template = resources.files("rnnlab.viz").joinpath("explain.html").read_text("utf-8")
    if template.count(_PLACEHOLDER) != 1:
        raise RnnlabError("explain.html: the template lost its data placeholder; reinstall rnnlab")
    return template.replace(_PLACEHOLDER, data)


def read_explain_payload(html: str) -> dict:
    """Parse the data embedded in a page made by `render_explain_html`, arrays as nested lists."""
    m = re.search(r'<script type="application/json" id="rnnlab-data">(.*?)</script>', html, re.S)
    if m is None:
        raise RnnlabError("read_explain_payload: no rnnlab-data block; is this an explain page?")
    data = json.loads(m[1])
    data["quantities"] = {k: _decode(v).tolist() for k, v in data["quantities"].items()}
    if "connectivity" in data:
        data["connectivity"] = {k: _decode(v).tolist() for k, v in data["connectivity"].items()}
    return data


def write_explain_html(payload: dict, path, *, bits: int = 8) -> str:
    """Render the page and write it atomically (temp file in the same folder, fsync, rename)."""
    atomic_write_bytes(path, render_explain_html(payload, bits=bits).encode("utf-8"))
    return os.fspath(path)


def payload_from_arrays(tokens, quantities, *, cell: str, task: str = "text", title=None,
                        variant: str = "standard", probs=None, vocab=None, predictions=None,
                        targets=None, series=None, connectivity=None, history=None,
                        vocab_size=None, ranges=None, legend=None) -> dict:
    """Build a payload (DOC_SCHEMA) from arrays.

    quantities: {key: array}, key "<layer>.<dir>.<name>" or a tuple (layer, dir, name); array
    (T, H) or a cache entry (T, 1, H) of a batch of one. layers, directions and hidden are read
    off the keys and shapes. probs (T, V) with vocab (V labels) gives the top-5 predictions
    (or pass `predictions` ready made). series: (prediction, actual). connectivity: {t: 1-D
    array} or a (T, T) array whose row t holds |d log p(target_t)/d x_s| for s <= t.
    vocab_size gives ln_v = ln(V).
    """
    qs, H = {}, None
    for key, value in quantities.items():
        key = ".".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
        a = np.asarray(value, dtype=np.float64)
        if a.ndim == 3 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 2 or (H is not None and a.shape[1] != H):
            raise RnnlabError(f"payload_from_arrays: quantities[{key!r}] has shape {a.shape}; "
                              "expected (T, H) or (T, 1, H), the same H for all")
        H = a.shape[1]
        qs[key] = a
    if not qs or not all(_KEY.match(k) for k in qs):
        raise RnnlabError("payload_from_arrays: quantities need keys '<layer>.<dir>.<name>'")
    out = {"title": title or f"{cell.upper()} on {task}", "task": task, "cell": cell,
           "variant": variant, "tokens": [str(t) for t in tokens],
           "layers": 1 + max(int(k.split(".")[0]) for k in qs),
           "directions": 1 + max(int(k.split(".")[1]) for k in qs),
           "hidden": H, "quantities": {k: a.tolist() for k, a in qs.items()}}
    if probs is not None:
        p = np.asarray(probs, dtype=np.float64)
        if vocab is None or p.ndim != 2 or p.shape[1] != len(vocab):
            raise RnnlabError(f"payload_from_arrays: probs has shape {p.shape}; expected "
                              "(T, V) together with vocab, a list of V labels")
        top = np.argsort(-p, axis=1)[:, :5]
        predictions = [[{"token": str(vocab[j]), "p": float(p[t, j])} for j in row]
                       for t, row in enumerate(top)]
    if predictions is not None:
        out["predictions"] = predictions
    if targets is not None:
        out["targets"] = [str(s) for s in targets]
    if series is not None:
        pred, actual = series
        out["series"] = {"prediction": np.asarray(pred, float).ravel().tolist(),
                         "actual": np.asarray(actual, float).ravel().tolist()}
    if connectivity is not None:
        if isinstance(connectivity, dict):
            rows = {int(t): np.asarray(r, float) for t, r in connectivity.items()}
        else:
            m = np.asarray(connectivity, dtype=np.float64)
            rows = {t: m[t, :t + 1] for t in range(m.shape[0])}
        out["connectivity"] = {str(t): np.abs(r).tolist() for t, r in rows.items()}
    if history is not None:
        out["history"] = list(history)
    if vocab_size is not None:
        out["ln_v"] = math.log(vocab_size)
    if ranges is not None:
        out["ranges"] = dict(ranges)
    if legend is not None:
        out["legend"] = dict(legend)
    return out

"""Look inside a real model: run it on one input and collect what the explain page and the plots
show. Everything here uses rnnlab's own forward and backward (the NumPy reference backend, whose
caches keep every gate), never a second implementation of the equations.

    from rnnlab.viz.inspect import explain_payload, write_explain, plot_run
    m = rnnlab.load("run")                            # a TrainedModel, or (SequenceModel, vocab)
    write_explain(m, "The cat sat on the mat.", "explain.html")
    plot_run(m, "The cat sat on the mat.", "plots/")  # loss curves, gate heatmaps, grad norms

What is collected, for an input of T steps (batch of one):

- gates: every cache entry of every layer and direction, (T, H) each, the reverse direction put
  back in natural time order (row t = step t);
- predictions: the softmax of the model's output after each step, top 5 (text);
- connectivity: |d log p(target_t) / d x_s| for s <= t (L2 norm over the input features, as in
  Distill's "Memorization in RNNs"), one backward pass of rnnlab's layer per target step t,
  batched: many target steps run side by side as rows of one batch, each row ending at its own t
  (lengths), starting from the model's real state a window before (exact for the steps inside
  the window: the state there does not depend on the inputs after it);
- gradient norms through time: ||dL/dh_t|| (top layer) and, for the LSTM, ||dL/dc_t||, L the
  loss of the last prediction, against the distance from it. Row s of a batch runs the tail
  x_s.. from the real state after step s-1; the backward's dstate0 is dL/dstate_{s-1}. For the
  top layer that is the whole gradient (its h reaches the loss only through the recurrence).

The model's parameters, gradients, training mode and last-forward context are left as they were.
"""
from __future__ import annotations

import base64
import contextlib
import html
import math
import os
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.viz.explain import CONN_WINDOW, MAX_TOKENS, _atomic_write, write_explain_html

# Order in which quantities are dropped from the page (last first) when a big model would make
# it too large: the page derives tanh_c from c, so it goes first.
PRIORITY = {"lstm": ("h", "c", "f", "i", "o", "g", "j", "k", "tanh_c"),
            "gru": ("h", "z", "r", "n", "hn"), "rnn": ("h",)}
PLOT_GATES = {"lstm": ("i", "f", "g", "o", "c", "h"), "gru": ("r", "z", "n", "h"), "rnn": ("h",)}
MAX_VALUES = 4_000_000        # activation values on one page (~1.33 bytes each: ~5 MB)
MAX_CONN_STEPS = 200          # target steps t that get a connectivity row
_BATCH_VALUES = 3_000_000     # cache values per batched backward (memory of one chunk)


# ---- what was passed in ------------------------------------------------------------------------
class Subject:
    """A SequenceModel with what is needed to read an input: the vocabulary (text) and, for a
    loaded run, its folder (for history.json)."""

    def __init__(self, model, vocab=None):
        from rnnlab.models import SequenceModel
        path = None
        if isinstance(model, (tuple, list)) and len(model) == 2:
            model, vocab = model
        self.trained = model
        if hasattr(model, "model") and isinstance(getattr(model, "model"), SequenceModel):
            path, vocab = getattr(model, "path", None), vocab or getattr(model, "vocab", None)
            model = model.model
        if not isinstance(model, SequenceModel):
            raise RnnlabError(f"expected a TrainedModel (rnnlab.load), a SequenceModel or a pair "
                              f"(SequenceModel, vocab); got {type(model).__name__}")
        self.model, self.cfg, self.path = model, model.cfg, path
        self.vocab = _as_vocab(vocab) if vocab is not None else None
        if self.cfg.task == "text":
            if self.vocab is None:
                raise RnnlabError("a text model needs its vocabulary: pass (model, vocab tokens)")
            if self.vocab.size != self.cfg.input_size:
                raise RnnlabError(f"the vocabulary has {self.vocab.size} tokens but the model "
                                  f"reads {self.cfg.input_size}; they do not belong together")

    def history(self):
        if self.path is None:
            return None
        from rnnlab.runs import RunFolder
        return RunFolder(self.path).read_history()

    def labels(self):
        """Output labels: the vocabulary (text), MIDI pitches (music), else output indices."""
        if self.vocab is not None:
            return list(self.vocab.tokens)
        lo = getattr(self.trained, "lo", None)
        if self.cfg.task == "music" and lo is not None:
            return [str(int(lo) + j) for j in range(self.cfg.output_size)]
        return [str(j) for j in range(self.cfg.output_size)]


def _as_vocab(vocab):
    from rnnlab.data.text import Vocab
    if isinstance(vocab, Vocab):
        return vocab
    tokens = list(vocab)
    return Vocab(tokens, "char" if all(isinstance(t, str) and len(t) == 1 for t in tokens)
                 else "word")


def read_input(subject: Subject, inputs):
    """The model's input as (ids (T,) or None, x (T, 1, D), labels [str] * T). Text: a str (read
    with the vocabulary) or a sequence of token ids; other tasks: an array (T, D) of features.
    Inputs longer than MAX_TOKENS keep their first MAX_TOKENS steps (the page shows no more)."""
    sm, ids = subject.model, None
    if subject.cfg.task == "text":
        if isinstance(inputs, str):
            if not inputs:
                raise RnnlabError("the text is empty; pass at least 2 characters, e.g. "
                                  "--text 'The cat'")
            ids = subject.vocab.encode(inputs).astype(np.int64)
        else:
            ids = np.asarray(inputs)
            if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
                raise RnnlabError("text input must be a str or a 1-D sequence of token ids")
            ids = ids.astype(np.int64)
        if ids.size < 2:
            raise RnnlabError(f"the input has {ids.size} token(s); at least 2 are needed "
                              "(one to read, one to predict)")
        ids = ids[:MAX_TOKENS]
        x = sm.encode(ids[:, None])
        labels = [subject.vocab.tokens[i] for i in ids.tolist()]
    else:
        given = None
        if isinstance(inputs, dict):
            inputs, given = inputs["x"], inputs.get("labels")
        a = np.asarray(inputs, dtype=sm.dtype)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != subject.cfg.input_size or a.shape[0] < 2:
            raise RnnlabError(f"a {subject.cfg.task} model reads an array (T >= 2, "
                              f"{subject.cfg.input_size}); got shape {a.shape}")
        if not np.isfinite(a).all():
            raise RnnlabError("the input contains NaN or infinity")
        a = a[:MAX_TOKENS]
        x = a[:, None, :]
        labels = (list(given)[:MAX_TOKENS] if given is not None else
                  [f"{v:.4g}" for v in a[:, 0]] if subject.cfg.task == "series" else
                  [" ".join(str(j) for j in np.flatnonzero(r > 0.5)) or "\u00b7" for r in a])
    return ids, np.ascontiguousarray(x, dtype=sm.dtype), labels


@contextlib.contextmanager
def _undisturbed(sm):
    """Eval mode, and afterwards: gradients, mode and last-forward context restored."""
    grads = {k: v.copy() for k, v in sm.grads.items()}
    saved = (sm.training, sm.rnn._ctx, sm.head._x2d, sm.head._lead,
             getattr(sm.embed, "_ids", None))
    sm.eval()
    try:
        yield
    finally:
        for k, v in grads.items():
            sm.grads[k][...] = v
        sm.train(saved[0])
        sm.rnn._ctx, sm.head._x2d, sm.head._lead = saved[1:4]
        if sm.embed is not None:
            sm.embed._ids = saved[4]


# ---- forward: gates and outputs ------------------------------------------------------------------
def _forward(sm, x):
    """One forward on x (T, 1, D) with the reference backend. Returns (out (T, O), gates
    {(layer, dir, name): (T, H) float64}, states {"h": (LD, T, H), "c": ...} after each step)."""
    y, _ = sm.rnn(x, None, None, backend="numpy")
    out = sm.head.forward(y)[:, 0].astype(np.float64)
    dirs = sm.rnn.num_directions
    gates, states = {}, {"h": [], "c": []}
    for i, cache in enumerate(sm.rnn._ctx["caches"]):
        k, d = divmod(i, dirs)
        for name, v in cache.items():
            if isinstance(v, np.ndarray) and v.ndim == 3 and v.shape[0] == x.shape[0] \
                    and name != "x" and v.shape[2] == sm.rnn.hidden_size:
                a = np.array(v[:, 0], dtype=np.float64)
                gates[(k, d, name)] = a[::-1].copy() if d == 1 else a
        states["h"].append(np.array(cache["h"][:, 0]))
        if "c" in cache:
            states["c"].append(np.array(cache["c"][:, 0]))
    states = {n: np.stack(v) for n, v in states.items() if v}
    return out, gates, states


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _output_probs(subject, out):
    return _softmax(out) if subject.model.loss_kind == "ce" else (
        1 / (1 + np.exp(-out)) if subject.model.loss_kind == "bce" else None)


def _dloss(sm, logits, target):
    """Gradient of the loss of one prediction wrt the output row. Text: -log p(target)."""
    if sm.loss_kind == "ce":
        g = _softmax(logits.astype(np.float64))
        g[np.arange(len(target)), target] -= 1.0
        return g
    if sm.loss_kind == "mse":
        return 2 * (logits - np.reshape(target, (len(target), -1)))
    return 1 / (1 + np.exp(-logits)) - target


# ---- backward: batched rows ----------------------------------------------------------------------
def _rows_backward(sm, x, states, rows, targets):
    """Rows (start, end): each runs x[start:end] from the real state after step start-1, and the
    loss of the prediction after step end-1 (target targets[k]) is backpropagated through the
    layer. Returns (dx (Tm, K, D), dstate0 like the state: (LD, K, H) or a pair)."""
    K = len(rows)
    n = np.array([e - s for s, e in rows], np.int64)
    Tm, D = int(n.max()), x.shape[2]
    xb = np.zeros((Tm, K, D), x.dtype)
    for k, (s, e) in enumerate(rows):
        xb[:e - s, k] = x[s:e, 0]

    def init(name):
        st = np.zeros((states[name].shape[0], K, states[name].shape[2]), x.dtype)
        for k, (s, _) in enumerate(rows):
            if s > 0:
                st[:, k] = states[name][:, s - 1]
        return st
    state = (init("h"), init("c")) if "c" in states else init("h")
    y, _ = sm.rnn(xb, state, n, backend="numpy")
    last = y[n - 1, np.arange(K)]                              # (K, dirs*H)
    logits = sm.head.forward(last)
    dlast = sm.head.backward(_dloss(sm, logits, targets).astype(x.dtype))
    dy = np.zeros_like(y)
    dy[n - 1, np.arange(K)] = dlast
    return sm.rnn.backward(dy)


def _chunks(rows, sm, x):
    """Split rows (sorted by length) into batches whose caches stay under _BATCH_VALUES."""
    per_step = sm.rnn.hidden_size * sm.rnn.num_layers * 12 + x.shape[2]
    out, cur = [], []
    for r in rows:
        cur.append(r)
        tm = max(e for _, e in cur) - min(s for s, _ in cur)     # rows share one start
        if len(cur) > 1 and tm * len(cur) * per_step > _BATCH_VALUES:
            out.append(cur[:-1])
            cur = [r]
    return out + ([cur] if cur else [])


def _targets_of(subject, ids, x):
    """What the prediction after step t should be, for t = 0 .. T-2."""
    if ids is not None:
        return ids[1:]
    if subject.cfg.task == "music":          # input t+1 is the frame the step t predicts
        return x[1:, 0].astype(np.float64)
    return x[1:, 0, :1].astype(np.float64)   # series: the next (scaled) target value


def _no_bidirectional(sm, what):
    if sm.rnn.num_directions != 1:
        raise RnnlabError(f"{what} needs a one-directional model (a bidirectional layer sees "
                          "the future of every step)")


def connectivity(model, inputs, *, vocab=None, steps=None, max_steps=MAX_CONN_STEPS,
                 window=CONN_WINDOW):
    """{t: array}: |d log p(target_t) / d x_s| (L2 norm over the input features) for the steps
    s = max(0, t-window+1) .. t, for each chosen target step t (default: every t < T-1, or
    `max_steps` evenly spaced ones, the last included). With one-hot text input x_s is the
    one-hot vector; with an embedding it is the embedded vector."""
    subject = model if isinstance(model, Subject) else Subject(model, vocab)
    sm = subject.model
    _no_bidirectional(sm, "connectivity")
    ids, x, _ = read_input(subject, inputs)
    with _undisturbed(sm):
        _, _, states = _forward(sm, x)
        return _connectivity(sm, subject, ids, x, states, steps, max_steps, window)


def _conn_steps(T, max_steps):
    last = T - 2                                   # the last step that has a target
    if last + 1 <= max_steps:
        return list(range(last + 1))
    return sorted({int(round(v)) for v in np.linspace(0, last, max_steps)})


def _connectivity(sm, subject, ids, x, states, steps, max_steps, window):
    T = x.shape[0]
    steps = _conn_steps(T, max_steps) if steps is None else sorted({int(t) for t in steps})
    if any(not 0 <= t <= T - 2 for t in steps):
        raise RnnlabError(f"connectivity steps must lie in [0, {T - 2}] (steps with a target)")
    targets = _targets_of(subject, ids, x)
    result = {}
    for chunk in _chunks([(max(0, t + 1 - window), t + 1) for t in steps], sm, x):
        # one shared start, a window before the chunk's earliest target: exact in the window
        start = min(s for s, _ in chunk)
        rows = [(start, e) for _, e in chunk]
        dx, _ = _rows_backward(sm, x, states, rows, targets[[e - 1 for _, e in rows]])
        norms = np.linalg.norm(dx.astype(np.float64), axis=2)      # (Tm, K)
        for k, (s, e) in enumerate(rows):
            result[e - 1] = norms[:e - s, k][-window:]
    return result


def grad_norms(model, inputs, *, vocab=None, max_distance=None):
    """||dL/dh_t|| of the top layer (and ||dL/dc_t|| for the LSTM) against the distance
    d = t_L - t from the loss L = -log p(target) of the last prediction (step t_L = T-2).
    Returns {label: array}, index = distance (0 .. min(t_L+1, max_distance))."""
    subject = model if isinstance(model, Subject) else Subject(model, vocab)
    sm = subject.model
    _no_bidirectional(sm, "the gradient-norm plot")
    ids, x, _ = read_input(subject, inputs)
    with _undisturbed(sm):
        _, gates, states = _forward(sm, x)
        return _grad_norms(sm, subject, ids, x, gates, states, max_distance)


def _grad_norms(sm, subject, ids, x, gates, states, max_distance):
    T, L = x.shape[0], sm.rnn.num_layers
    tl = T - 2
    dmax = tl + 1 if max_distance is None else min(tl + 1, int(max_distance))
    target = _targets_of(subject, ids, x)[[tl]]
    # distance 0: the gradient arriving from the head at step t_L
    logits = sm.head.forward(gates[(L - 1, 0, "h")][tl][None].astype(x.dtype))
    dh_last = sm.head.backward(_dloss(sm, logits, target).astype(x.dtype))[0].astype(np.float64)
    h_norm = np.full(dmax + 1, np.nan)
    h_norm[0] = np.linalg.norm(dh_last)
    c_norm = None
    if "c" in states:
        o, tc = gates[(L - 1, 0, "o")][tl], gates[(L - 1, 0, "tanh_c")][tl]
        c_norm = np.full(dmax + 1, np.nan)
        c_norm[0] = np.linalg.norm(dh_last * o * (1 - tc ** 2))
    # distance d >= 1: row s = t_L + 1 - d runs x[s : t_L + 1]; dstate0 = dL/dstate_{s-1}
    rows = [(tl + 1 - d, tl + 1) for d in range(1, dmax + 1)]
    for chunk in _chunks(rows, sm, x):
        _, ds0 = _rows_backward(sm, x, states, chunk, np.repeat(target, len(chunk), axis=0))
        dh0, dc0 = ds0 if isinstance(ds0, tuple) else (ds0, None)
        for k, (s, e) in enumerate(chunk):
            d = e - s
            h_norm[d] = np.linalg.norm(dh0[L - 1, k].astype(np.float64))
            if c_norm is not None:
                c_norm[d] = np.linalg.norm(dc0[L - 1, k].astype(np.float64))
    out = {"\u2016\u2202L/\u2202h_t\u2016" + (f" (layer {L})" if L > 1 else ""): h_norm}
    if c_norm is not None:
        out["\u2016\u2202L/\u2202c_t\u2016" + (f" (layer {L})" if L > 1 else "")] = c_norm
    return out


# ---- the explain page ----------------------------------------------------------------------------
def _choose(gates, cell, T, budget):
    """The quantities to put on the page: by priority, while the values fit the budget."""
    names = {n for (_, _, n) in gates}
    order = [n for n in PRIORITY[cell] if n in names]     # documented cache names only
    per_name = {n: sum(a.size for (_, _, m), a in gates.items() if m == n) for n in order}
    keep, total = [], 0
    for n in order:
        if keep and total + per_name[n] > budget:
            continue
        keep.append(n)
        total += per_name[n]
    return {f"{k}.{d}.{n}": a for (k, d, n), a in gates.items() if n in keep}


def explain_payload(model, text_or_tokens, history=None, title=None, *, vocab=None,
                    max_conn_steps=MAX_CONN_STEPS, max_values=MAX_VALUES) -> dict:
    """The explain page's payload (rnnlab.viz.explain DOC_SCHEMA) for a real model on an input.

    model: a TrainedModel (rnnlab.load), a SequenceModel with `vocab=`, or a pair (SequenceModel,
    vocab), vocab a Vocab or its token list. text_or_tokens: a str or token ids (text), an array
    (T, D) (series, music). history: history records (default: the run's history.json)."""
    subject = model if isinstance(model, Subject) else Subject(model, vocab)
    sm, cfg = subject.model, subject.cfg
    ids, x, labels = read_input(subject, text_or_tokens)
    T = x.shape[0]
    with _undisturbed(sm):
        out, gates, states = _forward(sm, x)
        conn = None
        if sm.rnn.num_directions == 1 and cfg.task == "text" and max_conn_steps:
            conn = _connectivity(sm, subject, ids, x, states, None, max_conn_steps, CONN_WINDOW)
    cell = cfg.cell
    variant = cfg.variant if cell == "lstm" else (cfg.nonlinearity if cell == "rnn" else "")
    payload = {
        "title": title or f"{cell.upper()} {cfg.layers}\u00d7{cfg.hidden} on {cfg.task}"
                          + (f" ({os.path.basename(os.path.normpath(subject.path))})"
                             if subject.path else ""),
        "task": cfg.task, "cell": cell, "variant": variant, "tokens": labels,
        "join": "" if cfg.task == "text" else " ",
        "layers": cfg.layers, "directions": sm.rnn.num_directions, "hidden": cfg.hidden,
        "quantities": {k: a.tolist() for k, a in _choose(gates, cell, T, max_values).items()},
    }
    probs = _output_probs(subject, out)
    if probs is not None:
        vocab_labels = subject.labels()
        top = np.argsort(-probs, axis=1)[:, :5]
        payload["predictions"] = [[{"token": vocab_labels[j], "p": float(probs[t, j])}
                                   for j in row] for t, row in enumerate(top)]
    if cfg.task == "text":
        payload["ln_v"] = math.log(cfg.output_size)
    elif cfg.task == "series":
        actual = np.append(x[1:, 0, 0].astype(np.float64), out[-1, 0])  # last: no next value
        pred = out[:, 0]
        scaler = getattr(subject.trained, "scaler", None)
        if scaler is not None:            # back to the data's units (changes, if differenced)
            mean, std = np.atleast_1d(scaler.mean)[0], np.atleast_1d(scaler.std)[0]
            actual, pred = actual * std + mean, pred * std + mean
        payload["series"] = {"prediction": pred.tolist(), "actual": actual.tolist()}
    if conn is not None:
        payload["connectivity"] = {str(t): r.tolist() for t, r in conn.items()}
    if history is None:
        history = subject.history()
    if history:
        payload["history"] = [{"step": r.get("step"), "train_loss": r.get("train_loss"),
                               "val_loss": r.get("val_loss")} for r in history]
    return payload


def write_explain(model, text, path, history=None, title=None, *, vocab=None, bits=8,
                  **kw) -> str:
    """Write the explain page of `model` on `text` to `path` (atomically). Returns the path."""
    return write_explain_html(explain_payload(model, text, history, title, vocab=vocab, **kw),
                              path, bits=bits)


# ---- plots and the report ----------------------------------------------------------------------
def plot_run(model, text, out_dir, history=None, prefix="", *, vocab=None) -> list:
    """PNGs for a model on an input: loss curves (history, ln V), gate heatmaps (one figure per
    layer and direction) and gradient norm against distance from the loss. Without `text` only
    the loss curves. Returns the written paths."""
    from rnnlab.viz import plots
    subject = model if isinstance(model, Subject) else Subject(model, vocab)
    sm, cfg = subject.model, subject.cfg
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if history is None:
        history = subject.history()
    if history:
        paths.append(plots.plot_loss_curves(
            history, out_dir / f"{prefix}loss_curves.png",
            vocab_size=cfg.output_size if cfg.task == "text" else None))
    if text is None:
        return paths
    ids, x, labels = read_input(subject, text)
    with _undisturbed(sm):
        _, gates, states = _forward(sm, x)
        norms = (_grad_norms(sm, subject, ids, x, gates, states, None)
                 if sm.rnn.num_directions == 1 else None)
    dirs = sm.rnn.num_directions
    for k in range(cfg.layers):
        for d in range(dirs):
            chosen = {n: gates[(k, d, n)] for n in PLOT_GATES[cfg.cell] if (k, d, n) in gates}
            # panels that share a colour bar next to each other, so the bars do not overlap
            rank = {"unit": 0, "signed": 1, "wide": 2}
            chosen = dict(sorted(chosen.items(), key=lambda kv: rank[plots._kind(*kv)]))
            where = f"layer {k + 1}" + (" (reverse)" if d else "")
            name = f"{prefix}gates_layer{k + 1}" + ("_reverse" if d else "") + ".png"
            paths.append(plots.plot_gate_heatmaps(
                chosen, out_dir / name, tokens=labels,
                title=f"{cfg.cell.upper()} {where}: gates over the input"))
    if norms is not None:
        paths.append(plots.plot_grad_norms(
            norms, out_dir / f"{prefix}grad_norms.png",
            title=f"{cfg.cell.upper()}: gradient of the last prediction's loss, back through time"))
    return paths


def write_report(out_dir, sections, title="rnnlab report") -> str:
    """Write `out_dir/report.html`: a self-contained page (PNGs embedded as data URIs, no
    network). sections: [{"title": str, "text": str (optional), "images": [png paths]}] or
    [(title, [png paths])]. Returns the path."""
    out_dir = Path(out_dir)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(title)}</title><style>body{{font:15px/1.45 system-ui,"
             "sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}figure{margin:1em 0}"
             "figcaption{color:#666;font-size:13px}</style></head><body>"
             f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        if isinstance(sec, (tuple, list)):
            sec = {"title": sec[0], "images": sec[1]}
        if not isinstance(sec, dict):
            raise RnnlabError(f"write_report: section {sec!r}; expected {{'title', 'images'}}")
        parts.append(f"<h2>{html.escape(str(sec.get('title', '')))}</h2>")
        if sec.get("text"):
            parts.append(f"<p>{html.escape(str(sec['text']))}</p>")
        for img in sec.get("images", []):
            p = Path(img)
            if not p.is_file():
                raise RnnlabError(f"write_report: the image {str(p)!r} does not exist")
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(p.name)}' "
                         f"src='data:image/png;base64,{data}'><figcaption>{html.escape(p.name)}"
                         "</figcaption></figure>")
    parts.append("</body></html>")
    path = out_dir / "report.html"
    _atomic_write(str(path), "\n".join(parts).encode("utf-8"))
    return str(path)


def task_input(model, path):
    """Read an --input FILE for a series or music model into what `read_input` takes:
    {"x": (T, D) model inputs, "labels": [str] * T, "actual": (T,) or None}.

    series: a CSV with the run's columns; the rows are differenced (when the run was) and
    scaled like the training data, labels are the target's values. music: notes JSON (its
    "test", else "valid", else "train" first sequence) or MIDI; input t is the frame at t-1
    (silence first), labels are the MIDI pitches sounding at each input step."""
    trained = model.trained if isinstance(model, Subject) else model
    task = getattr(getattr(trained, "cfg", None), "task", None)
    if task == "series" and hasattr(trained, "_to_z"):
        from rnnlab.data.series import load_csv
        m = trained.meta
        data = load_csv(path, m["target"], m["features"] or None, m.get("fill"))
        if data.columns != list(m["columns"]):
            raise RnnlabError(f"{path} has the columns {data.columns}; the model was trained "
                              f"on {m['columns']}")
        z = trained._to_z(data.values)
        levels = data.values[len(data.values) - len(z):, 0]
        return {"x": z, "labels": [f"{v:.4g}" for v in levels]}
    if task == "music" and hasattr(trained, "lo"):
        from rnnlab.data.music import check_sequences, to_piano_roll
        from rnnlab.music_task import load_sequences
        splits = load_sequences(path, getattr(trained, "grid", "16th"))
        split = next(k for k in ("test", "valid", "train") if k in splits)
        seqs = [q for q in check_sequences(splits[split], split) if len(q)]
        if not seqs:
            raise RnnlabError(f"{path}: the {split} sequences have no time steps")
        roll = to_piano_roll(seqs[0], trained.lo, trained.hi)
        x = np.concatenate([np.zeros((1, roll.shape[1])), roll[:-1]])
        labels = [" ".join(str(trained.lo + j) for j in np.flatnonzero(r > 0.5)) or "\u00b7"
                  for r in x]
        return {"x": x, "labels": labels}
    raise RnnlabError(f"--input is for series (CSV) and music (notes JSON, MIDI) runs; this is "
                      f"a {task} run" + ("; pass --text" if task == "text" else ""))


# ---- the commands (rnnlab explain / rnnlab plot) -----------------------------------------------
def _load_input(run, text, input_file, encoding="utf-8"):
    from rnnlab.inference import load
    trained = load(run)
    if text is not None and input_file is not None:
        raise RnnlabError("pass either --text or --input, not both")
    if trained.cfg.task == "text":
        if input_file is not None:
            from rnnlab.data.text import read_text
            text = read_text(input_file, encoding)
        if text is not None and not text:
            raise RnnlabError("--text is empty; pass the text to explain, e.g. --text 'The cat'")
        return trained, text
    if text is not None:
        raise RnnlabError(f"{run} is a {trained.cfg.task} model: pass --input FILE "
                          f"({'a CSV' if trained.cfg.task == 'series' else 'notes JSON or MIDI'})")
    return trained, None if input_file is None else task_input(trained, input_file)


def explain_command(run, text=None, input_file=None, out="explain.html", title=None, bits=8,
                    max_conn_steps=MAX_CONN_STEPS) -> str:
    """`rnnlab explain`: load the run, explain the input, write the page. Returns the path."""
    trained, inputs = _load_input(run, text, input_file)
    if inputs is None:
        raise RnnlabError("pass the input to explain: --text '...' (text models) or --input FILE")
    if isinstance(inputs, str) and len(inputs) > MAX_TOKENS and trained.cfg.task == "text":
        import sys
        print(f"rnnlab: note: the page shows the first {MAX_TOKENS} tokens of the input",
              file=sys.stderr)
    return write_explain(trained, inputs, out, title=title, bits=bits,
                         max_conn_steps=max_conn_steps)


def plot_command(run, text=None, input_file=None, out_dir=None) -> list:
    """`rnnlab plot`: PNGs (and report.html) for a run, on an input when given."""
    trained, inputs = _load_input(run, text, input_file)
    out_dir = Path(out_dir) if out_dir else Path(run) / "plots"
    paths = plot_run(trained, inputs, out_dir)
    if not paths:
        raise RnnlabError(f"{run} has no history.json yet and no input was given: nothing to "
                          "plot; pass --text or --input")
    sections = [("Training", [p for p in paths if "loss_curves" in p]),
                ("Gates over the input", [p for p in paths if "gates_" in p]),
                ("Gradient through time", [p for p in paths if "grad_norms" in p])]
    paths.append(write_report(out_dir, [s for s in sections if s[1]],
                              title=f"rnnlab: {os.path.basename(os.path.normpath(run))}"))
    return paths

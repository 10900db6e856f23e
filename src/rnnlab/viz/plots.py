"""Static plots (PNG) of training and of what a recurrent network does inside.

matplotlib is imported inside the functions, never at module import, so `import rnnlab` works
without it (it is the optional extra `rnnlab[viz]`). The figures are built with
`matplotlib.figure.Figure` and the Agg canvas directly, not pyplot: no global figure state, no
GUI backend, nothing to close, safe in threads and in a headless CI.

Each `plot_*` function writes a PNG atomically and returns its path; the matching `*_figure`
function returns the Figure itself (for notebooks, and so tests can count its axes).
"""
from __future__ import annotations

import io
import math
import os

import numpy as np

from rnnlab.errors import RnnlabError, install_line
from rnnlab.fileio import atomic_write_bytes


def _figure(figsize):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RnnlabError(f"plots need matplotlib; install it with: {install_line('viz')}") \
            from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> str:
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise RnnlabError(f"plot path {path!r} must end in .png")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _series(x, what: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise RnnlabError(f"{what}: expected a 1-D array of numbers") from None
    if a.ndim != 1 or a.size == 0:
        raise RnnlabError(f"{what}: got shape {a.shape}; expected a non-empty 1-D array")
    return a


# ---- training ------------------------------------------------------------------------------------
def loss_curves_figure(history: list[dict], vocab_size: int | None = None):
    """Train and validation loss against the step; a dashed line at ln(V), a uniform guess."""
    if not history:
        raise RnnlabError("plot_loss_curves: history is empty; train for at least one step")
    fig = _figure((7, 4))
    ax = fig.add_subplot()
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        pts = [(r["step"], r[key]) for r in history if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 30 else None)
    if vocab_size:
        ax.axhline(math.log(vocab_size), ls="--", c="grey",
                   label=f"ln V = {math.log(vocab_size):.3f} (uniform guess)")
    ax.set(xlabel="step", ylabel="loss (nats per token)", title="Training curves")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_loss_curves(history: list[dict], path, vocab_size: int | None = None) -> str:
    return _save(loss_curves_figure(history, vocab_size), path)


# ---- gates ----------------------------------------------------------------------------------------
def _kind(name: str, a: np.ndarray, bounds: dict) -> str:
    """Which colour scale a quantity shares: 'unit' [0,1], 'signed' [-1,1] or 'wide'. bounds:
    the ranges the cell's equations give its gates (the registry's), e.g. {'h': (-1, 1)}."""
    lo, hi = float(a.min()), float(a.max())
    if tuple(bounds.get(name, ())) != (-1, 1) and lo >= 0 and hi <= 1:
        return "unit"
    if lo >= -1 and hi <= 1:
        return "signed"
    return "wide"


def gate_heatmaps_figure(gates: dict, tokens=None, title=None, bounds=None):
    """One heatmap per quantity (time on x, units on y). Panels of the same kind share limits:
    all [0, 1] gates use [0, 1], all [-1, 1] quantities use [-1, 1], the rest (c, relu h) share
    one symmetric limit, so colours mean the same thing across panels; panels of one kind sit
    next to each other. One colour bar per kind, so the figure has len(gates) + (number of
    kinds) axes. bounds: {name: (lo, hi)} from the cell registry (default: the LSTM's and the
    GRU's, which cover the names h c i f g o j k tanh_c r z n)."""
    if bounds is None:
        from rnnlab.nn import registry
        bounds = {**registry.get("gru").bounds, **registry.get("lstm").bounds}
    if not gates:
        raise RnnlabError("plot_gate_heatmaps: gates is empty; pass {'f': (T, H) array, ...}")
    arrays = {}
    for name, a in gates.items():
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 3 and a.shape[1] == 1:   # a cache entry (T, B=1, H)
            a = a[:, 0]
        if a.ndim != 2 or not np.isfinite(a).all():
            raise RnnlabError(f"plot_gate_heatmaps: gates[{name!r}] has shape {a.shape}; "
                              "expected a finite (T, H) array")
        arrays[str(name)] = a
    T = next(iter(arrays.values())).shape[0]
    if any(a.shape[0] != T for a in arrays.values()):
        raise RnnlabError("plot_gate_heatmaps: all gates must have the same number of steps T")
    if tokens is not None and len(tokens) != T:
        raise RnnlabError(f"plot_gate_heatmaps: {len(tokens)} tokens for T={T} steps")
    kinds = {n: _kind(n, a, bounds) for n, a in arrays.items()}
    rank = {"unit": 0, "signed": 1, "wide": 2}
    arrays = dict(sorted(arrays.items(), key=lambda kv: rank[kinds[kv[0]]]))
    wide = max((np.abs(a).max() for n, a in arrays.items() if kinds[n] == "wide"), default=1.0)
    scale = {"unit": ("viridis", 0.0, 1.0), "signed": ("RdBu_r", -1.0, 1.0),
             "wide": ("RdBu_r", -wide, wide)}
    fig = _figure((max(6.0, min(16.0, 0.18 * T + 2)), 1.2 + 1.6 * len(arrays)))
    axes = fig.subplots(len(arrays), 1, sharex=True, squeeze=False)[:, 0]
    images = {}
    for ax, (name, a) in zip(axes, arrays.items()):
        cmap, lo, hi = scale[kinds[name]]
        images.setdefault(kinds[name], []).append(
            (ax, ax.imshow(a.T, aspect="auto", cmap=cmap, vmin=lo, vmax=hi,
                           interpolation="nearest", origin="lower")))
        ax.set_ylabel(f"{name}\nunit")
    for kind, pairs in images.items():
        fig.colorbar(pairs[0][1], ax=[ax for ax, _ in pairs], shrink=0.9,
                     label={"unit": "gate [0, 1]", "signed": "[-1, 1]", "wide": "value"}[kind])
    if tokens is not None and T <= 80:
        axes[-1].set_xticks(range(T), [repr(t)[1:-1] for t in tokens], fontsize=7)
    axes[-1].set_xlabel("time step")
    if title:
        fig.suptitle(title)
    return fig


def plot_gate_heatmaps(gates: dict, path, tokens=None, title=None, bounds=None) -> str:
    return _save(gate_heatmaps_figure(gates, tokens, title, bounds), path)


# ---- gradients through time --------------------------------------------------------------------
def grad_norms_figure(curves: dict, title=None):
    """curves[label][k] = ||dL/dh_t|| at distance k = T-1-t steps from the loss, log y axis:
    a straight falling line is the vanishing gradient; a line that stops, an overflow (inf)."""
    if not curves:
        raise RnnlabError("plot_grad_norms: curves is empty; pass {'RNN init': norms, ...}")
    fig = _figure((7, 4))
    ax = fig.add_subplot()
    for label, c in curves.items():
        a = _series(c, f"plot_grad_norms: curves[{label!r}]")
        # log axis: no zeros; an overflowed norm (inf, or None read back from JSON) is a gap
        ax.plot(np.arange(a.size), np.where((a > 0) & np.isfinite(a), a, np.nan), label=str(label))
    ax.set_yscale("log")
    has_h = any("\u2202h_t" in str(label) for label in curves)   # the mLSTM's state has no h
    ax.set(xlabel="distance from the loss (steps)",
           ylabel="\u2016\u2202L/\u2202h_t\u2016" if has_h else "gradient norm",
           title=title or "How far back the gradient reaches")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def plot_grad_norms(curves: dict, path, title=None) -> str:
    return _save(grad_norms_figure(curves, title), path)


# ---- experiments --------------------------------------------------------------------------------
def metric_vs_T_figure(records: list[dict], metric: str = "test metric", title=None):
    """records: [{"cell": "lstm", "T": 50, "metric": 0.98, "baseline": 0.5 (optional)}]. One line
    per cell; the baseline (what a model that ignores the past scores) dashed grey."""
    if not records:
        raise RnnlabError("plot_metric_vs_T: records is empty")
    for r in records:
        if not isinstance(r, dict) or not {"cell", "T", "metric"} <= set(r):
            raise RnnlabError(f"plot_metric_vs_T: record {r!r}; expected "
                              "{'cell': str, 'T': int, 'metric': float, 'baseline': float}")
    fig = _figure((7, 4))
    ax = fig.add_subplot()
    for cell in dict.fromkeys(r["cell"] for r in records):
        pts = sorted((r["T"], r["metric"]) for r in records if r["cell"] == cell)
        ax.plot(*zip(*pts), marker="o", label=str(cell))
    base = sorted({r["T"]: r["baseline"] for r in records if r.get("baseline") is not None}.items())
    if base:
        ax.plot(*zip(*base), ls="--", c="grey", label="baseline")
    ax.set(xlabel="sequence length T", ylabel=metric, title=title or f"{metric} vs T")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_metric_vs_T(records: list[dict], path, metric: str = "test metric", title=None) -> str:
    return _save(metric_vs_T_figure(records, metric, title), path)


# ---- series -----------------------------------------------------------------------------------------
def history_window(n_history: int, horizon: int, season: int | None = None) -> int:
    """How much history a forecast plot shows: enough to see the pattern the forecast
    continues (three horizons, two seasons, 36 rows at least), not all of it."""
    return min(n_history, max(3 * horizon, 2 * (season or 0), 36))


def forecast_figure(history, forecast, lower=None, upper=None, actual=None, title=None,
                    dates=None, ylabel="value"):
    """The observed series, then the forecast after it with its [lower, upper] band (and the
    real continuation `actual`, when known). dates: ISO strings for the history shown and then
    the forecast steps (len(history) + len(forecast)); the x-axis is then calendar time,
    else the step. Pass only the window of history to show (history_window)."""
    hist = _series(history, "plot_forecast: history")
    fc = _series(forecast, "plot_forecast: forecast")
    if dates is not None:
        from datetime import datetime
        if len(dates) != hist.size + fc.size:
            raise RnnlabError(f"plot_forecast: {len(dates)} dates for {hist.size} history and "
                              f"{fc.size} forecast values")
        t = np.array([datetime.fromisoformat(d) for d in dates])
        xh, xf = t[:hist.size], t[hist.size:]
        cut = xh[-1] + (xf[0] - xh[-1]) / 2
    else:
        xh, xf = np.arange(hist.size), np.arange(hist.size, hist.size + fc.size)
        cut = hist.size - 0.5
    fig = _figure((8, 4))
    ax = fig.add_subplot()
    ax.plot(xh, hist, c="k", lw=1.2, label="history")
    if (lower is None) != (upper is None):
        raise RnnlabError("plot_forecast: pass both lower and upper, or neither")
    if lower is not None:
        lo, hi = _series(lower, "plot_forecast: lower"), _series(upper, "plot_forecast: upper")
        if lo.size != fc.size or hi.size != fc.size:
            raise RnnlabError(f"plot_forecast: lower/upper need {fc.size} values like forecast")
        ax.fill_between(xf, lo, hi, color="C1", alpha=0.25, label="interval")
    if actual is not None:
        ax.plot(xf, _series(actual, "plot_forecast: actual")[: fc.size], c="k", ls=":",
                label="actual")
    ax.plot(xf, fc, c="C1", lw=1.6, marker="." if fc.size <= 60 else None, label="forecast")
    ax.axvline(cut, c="grey", lw=0.8)
    if dates is not None:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set(xlabel="date" if dates is not None else "step", ylabel=ylabel,
           title=title or "Forecast")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


def plot_forecast(history, forecast, lower, upper, path, actual=None, title=None,
                  dates=None, ylabel="value") -> str:
    return _save(forecast_figure(history, forecast, lower, upper, actual, title, dates,
                                 ylabel), path)


def backtest_figure(res: dict):
    """A backtest (rnnlab.backtest's result): above, the test windows with each method's
    forecast over the actual values; below, MASE per horizon step, one line per method."""
    methods = res.get("methods") or {}
    if "rnnlab" not in methods:
        raise RnnlabError("plot_backtest: expected the result of rnnlab.backtest")
    actual = np.asarray(res["actual"], np.float64)                    # (K, H)
    K, H = actual.shape
    fig = _figure((9, 6.5))
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 2])
    if res.get("dates"):                                               # calendar time
        from datetime import datetime
        x = np.array([[datetime.fromisoformat(d) for d in row] for row in res["dates"]])
    else:                                                              # rows of the windows
        x = np.asarray(res["origins"])[:, None] + np.arange(H)
    for k in range(K):
        top.plot(x[k], actual[k], c="k", lw=1.4, label="actual" if k == 0 else None)
        top.axvline(x[k, 0], c="grey", lw=0.6)
    for i, (name, v) in enumerate(methods.items()):
        f = np.asarray(v["forecasts"], np.float64)
        style = dict(lw=1.8, c="C1") if name == "rnnlab" else dict(lw=1.0, ls="--", c=f"C{i + 2}")
        for k in range(K):
            top.plot(x[k], f[k], label=v["label"] if k == 0 else None, **style)
        bottom.plot(np.arange(1, H + 1), v["per_step"]["mase"], marker=".",
                    label=v["label"], **style)
    top.set(xlabel="date" if res.get("dates") else "row", ylabel=res["target"],
            title=f"Backtest: {K} folds of {H} steps, a model refit at each origin")
    top.grid(alpha=0.3)
    top.legend(fontsize=8, ncols=3)
    bottom.set(xlabel="horizon step", ylabel="MASE (mean over folds)")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8, ncols=3)
    return fig


def plot_backtest(res: dict, path) -> str:
    return _save(backtest_figure(res), path)


# ---- music ----------------------------------------------------------------------------------
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific name, 60 -> 'C4'."""
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _runs(steps):
    """(pitch, start, length) for each run of consecutive steps holding a pitch."""
    runs, open_at = [], {}
    for t, step in enumerate(list(steps) + [[]]):
        now = set(step)
        for p in [p for p in open_at if p not in now]:
            runs.append((p, open_at[p], t - open_at.pop(p)))
        for p in now:
            open_at.setdefault(p, t)
    return runs


def piano_roll_figure(steps, title=None, steps_per_beat=None, notes=None):
    """A piano roll: time across, MIDI pitch up, one bar per note. steps: lists of pitches
    (one per step); notes: (pitch, start, end) instead, so a note struck twice shows as two
    bars. steps_per_beat puts beats on the time axis."""
    if notes is None:
        if not isinstance(steps, (list, tuple)):
            raise RnnlabError("plot_piano_roll: steps must be a list of lists of MIDI pitches")
        bars, T = _runs(steps), len(steps)
    else:
        bars = [(p, s, e - s) for p, s, e in notes]
        T = max([e for _, _, e in notes] + [len(steps or [])])
    scale = 1.0 / steps_per_beat if steps_per_beat else 1.0
    fig = _figure((max(6.0, min(16.0, 0.12 * T * scale * 4 + 3)), 4.5))
    ax = fig.add_subplot()
    for p, start, length in bars:
        ax.broken_barh([(start * scale, length * scale)], (p - 0.4, 0.8), color="C0",
                       edgecolor="k", linewidth=0.3)
    pitches = [p for p, _, _ in bars]
    lo, hi = (min(pitches), max(pitches)) if pitches else (60, 72)
    ax.set_ylim(lo - 2, hi + 2)
    ax.set_xlim(0, max(T, 1) * scale)
    ticks = [p for p in range(lo - 2, hi + 3) if p % 12 == 0] or [lo]
    ax.set_yticks(ticks, [note_name(p) for p in ticks])
    ax.set_yticks(range(lo - 2, hi + 3), minor=True)
    ax.grid(axis="y", which="minor", alpha=0.15)
    ax.grid(axis="x", alpha=0.3)
    what = f"{len(bars)} notes over {T} steps" if bars else f"silent: no notes in {T} steps"
    ax.set(xlabel="beat" if steps_per_beat else "step", ylabel="pitch",
           title=f"{title or 'Piano roll'} ({what})")
    return fig


def plot_piano_roll(steps, path, title=None, steps_per_beat=None, notes=None) -> str:
    return _save(piano_roll_figure(steps, title, steps_per_beat, notes), path)

"""Rolling-origin evaluation: how well would the forecaster have done, had it been used?

    res = rnnlab.backtest("sales.csv", target="sales", horizon=12, folds=4)
    rnnlab backtest sales.csv --target sales --horizon 12 --folds 4 [--json] [--plot bt.png]

The last `folds * horizon` rows are cut into `folds` consecutive test windows of `horizon`
rows. At each window's start (the origin) a model is trained from scratch on the rows before
it, exactly as `rnnlab train` would (the defaults are chosen again from those rows), and
forecasts the window. The baselines forecast the same windows from the same rows: naive,
seasonal naive and, when statsforecast is installed (`rnnlab[forecast]`), AutoETS and
AutoARIMA, all with the season the model's run chose at that origin.

Scores, per horizon step (over the folds) and overall (over folds and steps):
RMSE, MAE, MASE (MAE over the in-sample MAE of the seasonal naive forecast on the rows
before the origin, as in the M4 competition; naive without a season, or when the season
repeats exactly) and sMAPE (percent).
"""
import math
import os
import tempfile
import time

import numpy as np

from ..data.baselines import LABELS, NAMES, baseline_forecast, missing_reason, parse_names
from ..data.dates import infer_frequency, iso, parse_times
from ..data.forecast_metrics import naive_scale
from ..data.series import load_csv
from ..errors import RnnlabError
from ..tasks.series_defaults import MIN_ROWS
from ..validate import positive_int
from .load import load
from .api import train

METRICS = ("mase", "rmse", "mae", "smape")


def origins(n, horizon, folds):
    """The folds' origins (the first row of each test window), oldest first, checked."""
    for name, v in (("horizon", horizon), ("folds", folds)):
        positive_int(f"--{name}", v)
    if horizon >= n:
        raise RnnlabError(f"--horizon {horizon} is as long as the series ({n} rows); a "
                          f"backtest needs rows to train on before each window: use a horizon "
                          f"well below {n}")
    need = max(4 * horizon, MIN_ROWS)
    first = n - folds * horizon
    if first < need:
        most = (n - need) // horizon
        shorter = max((h for h in range(1, horizon)
                       if n - folds * h >= max(4 * h, MIN_ROWS)), default=None)
        fix = (f"use at most {most} fold{'s' if most != 1 else ''} with this horizon"
               if most >= 1 else f"use --horizon {shorter} or shorter" if shorter else
               f"use a longer series: one fold of --horizon 1 needs {MIN_ROWS + 1} rows "
               f"({MIN_ROWS} to train on, the least a forecaster trains on)")
        raise RnnlabError(f"the series has {n} rows: too short for --folds {folds} of --horizon "
                          f"{horizon} (the first origin would leave {max(first, 0)} rows to train "
                          f"on, at least {need} are needed); {fix}")
    return [first + k * horizon for k in range(folds)]


def backtest(path, horizon=None, folds=3, target=None, features=None, fill=None,
             baselines=NAMES, seed=0, log=None, task_options=None, **options):
    """Rolling-origin backtest of the series model on a CSV file. horizon: None = the one the
    defaults choose for the whole series. task_options: the series task's options (lookback,
    log, difference, season, strategy, ensemble); options: train()'s (hidden, steps, ...).
    Returns a JSON-ready dict (see report_lines for its reading)."""
    log = log or (lambda msg: None)
    data = load_csv(path, target, features, fill)
    y, n = data.values[:, 0], len(data.values)
    names = parse_names(baselines)
    topts = {**(task_options or {}), "target": data.target, "features": features, "fill": fill}
    if horizon is None:
        from ..tasks.series_defaults import plan
        horizon = plan(y, {"season": topts.get("season")})["horizon"][0]
    cuts = origins(n, horizon, folds)
    skipped = {b: why for b in names if (why := missing_reason(b))}
    methods = ["rnnlab"] + [b for b in names if b not in skipped]
    fc = {m: np.empty((folds, horizon)) for m in methods}
    cpu = dict.fromkeys(methods, 0.0)
    actual, scales, seasons = np.empty((folds, horizon)), np.empty(folds), []
    with tempfile.TemporaryDirectory(prefix="rnnlab-backtest-") as tmp:
        for k, o in enumerate(cuts):
            t0 = time.process_time()
            model = _fit(path, os.path.join(tmp, f"fold-{k}"), o, horizon, topts, seed, options)
            fc["rnnlab"][k] = model.forecast(horizon)["forecast"]
            cpu["rnnlab"] += time.process_time() - t0
            m = int(model.season)
            seasons.append(m)
            for b in methods[1:]:
                t0 = time.process_time()
                fc[b][k] = baseline_forecast(b, y[:o], horizon, m)
                cpu[b] += time.process_time() - t0
            actual[k], scales[k] = y[o:o + horizon], _scale(y[:o], m)
            log(f"fold {k + 1}/{folds}: origin row {o}, season {m}: MAE " + ", ".join(
                f"{LABELS.get(b, b)} {np.mean(np.abs(actual[k] - fc[b][k])):.4g}"
                for b in methods))
    return _result(path, data, cuts, horizon, seasons, actual, scales, fc, cpu, skipped)


def _fit(path, out, origin, horizon, topts, seed, options):
    """Train on the rows before `origin` into `out` and load the model."""
    try:
        train(path, out=out, progress=False, log=lambda msg: None, seed=seed,
              task_options={**topts, "horizon": horizon, "until": origin}, **options)
    except RnnlabError as e:
        raise RnnlabError(f"fold at origin row {origin}: {e}") from None
    return load(out)


def _scale(history, season):
    """MASE's denominator: the seasonal naive in-sample MAE, or the naive one when the series
    repeats its season exactly (the seasonal one is then 0 and MASE undefined)."""
    scale = naive_scale(history, season)
    return scale if season == 1 or not math.isnan(scale) else naive_scale(history, 1)


def scores(actual, forecast, scales):
    """actual, forecast (K, H), scales (K,) -> ({metric: per-step list (H,)}, {metric: all})."""
    e = actual - forecast
    den = np.abs(actual) + np.abs(forecast)
    sm = np.where(den > 0, 200 * np.abs(e) / np.where(den > 0, den, 1), 0.0)
    scaled = np.abs(e) / scales[:, None]
    per_step = {"rmse": np.sqrt(np.mean(e ** 2, axis=0)), "mae": np.mean(np.abs(e), axis=0),
                "mase": np.mean(scaled, axis=0), "smape": np.mean(sm, axis=0)}
    overall = {"rmse": float(np.sqrt(np.mean(e ** 2))), "mae": float(np.mean(np.abs(e))),
               "mase": float(np.mean(scaled)), "smape": float(np.mean(sm))}
    return {k: [float(x) for x in v] for k, v in per_step.items()}, overall


def _result(path, data, cuts, horizon, seasons, actual, scales, fc, cpu, skipped):
    times = parse_times(data.time) if data.time else None
    freq = infer_frequency(times)
    res = {"file": os.fspath(path), "target": data.target, "rows": len(data.values),
           "horizon": horizon, "folds": len(cuts), "origins": cuts,
           "origin_dates": [iso(times[o], freq) for o in cuts] if freq else None,
           "dates": [[iso(times[o + h], freq) for h in range(horizon)] for o in cuts]
           if freq else None,
           "frequency": freq["name"] if freq else None, "seasons": seasons,
           "actual": actual.tolist(), "methods": {}, "skipped": skipped}
    if np.isnan(scales).any():
        res["mase_note"] = "MASE is NaN where the rows before an origin never move"
    for m, f in fc.items():
        per_step, overall = scores(actual, f, scales)
        res["methods"][m] = {"label": LABELS.get(m, m), "overall": overall,
                             "per_step": per_step, "forecasts": f.tolist(),
                             "cpu_s": round(cpu[m], 3)}
    ref = res["methods"].get("seasonal_naive", {}).get("overall", {}).get("mase")
    res["relative_to_seasonal_naive"] = {
        m: (v["overall"]["mase"] / ref if ref else None) for m, v in res["methods"].items()}
    return res


def report_lines(res):
    """A backtest result as a text table: overall scores per method, then MASE per step."""
    when = f" ({', '.join(res['origin_dates'])})" if res["origin_dates"] else ""
    seasons = sorted(set(res["seasons"]))
    lines = [f"backtest of {res['target']} in {res['file']}: {res['rows']} rows"
             f"{', ' + res['frequency'] if res['frequency'] else ''}, {res['folds']} folds of "
             f"{res['horizon']} steps, origins at rows {', '.join(map(str, res['origins']))}"
             f"{when}; season {'/'.join(map(str, seasons))}",
             f"{'method':16s}{'MASE':>9s}{'RMSE':>11s}{'MAE':>11s}{'sMAPE %':>9s}"
             f"{'vs snaive':>11s}{'cpu s':>8s}"]
    rel = res["relative_to_seasonal_naive"]
    for m, v in res["methods"].items():
        o = v["overall"]
        r = "-" if rel.get(m) is None else f"{rel[m]:.3f}"
        lines.append(f"{v['label']:16s}{o['mase']:9.3f}{o['rmse']:11.4g}{o['mae']:11.4g}"
                     f"{o['smape']:9.2f}{r:>11s}{v['cpu_s']:8.1f}")
    for b, why in res["skipped"].items():
        lines.append(f"{LABELS.get(b, b):16s} skipped: {why}")
    lines.append("MASE per horizon step:")
    short = {"seasonal_naive": "snaive", "ets": "AutoETS", "arima": "AutoARIMA"}
    lines.append("step " + "".join(f"{short.get(m, m):>11s}" for m in res["methods"]))
    for h in range(res["horizon"]):
        lines.append(f"{h + 1:4d} " + "".join(f"{v['per_step']['mase'][h]:11.3f}"
                                              for v in res["methods"].values()))
    r = rel.get("rnnlab")
    if r is not None and not math.isnan(r) and r >= 1:
        lines.append("WARNING: rnnlab does not beat seasonal naive in this backtest (MASE ratio "
                     f"{r:.3f}); try --ensemble 5, --strategy recursive, --lookback, or more "
                     "rows; or forecast with seasonal naive")
    return lines

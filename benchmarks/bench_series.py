"""Series benchmark: rnnlab's forecaster, with its default options, in a rolling-origin
backtest beside naive, seasonal naive, AutoETS and AutoARIMA (statsforecast), on real series
shipped with statsmodels (and statsforecast's AirPassengers) and on generated series of known
structure.

    pip install statsmodels statsforecast        # the data and the statistical baselines
    python benchmarks/bench_series.py [--series co2,nile] [--set ensemble=1] [--out res.json]
    python benchmarks/bench_series.py --write-csv data/     # just the CSVs, e.g. for the README

Each series is written to a CSV with its dates and run through `rnnlab.backtest` exactly as
`rnnlab backtest FILE --horizon H --folds K` would: a model is trained from scratch at every
origin with the defaults chosen from the rows before it. `--set name=value` changes one option
for every series (a task option such as strategy=recursive, or a training option such as
hidden=16): that is how the defaults were chosen (docs/series-and-music.md). The summary
prints each method's MASE (mean over folds and steps; the M4 definition, scaled by the
seasonal naive in-sample error), rnnlab's MASE relative to seasonal naive and to AutoETS,
the CPU seconds, the wall time and the load average (the machine is shared).
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

import rnnlab
from rnnlab.data.series import generate_series, write_csv

# name: (horizon, folds, what it is)
SERIES = {
    "airpassengers": (12, 3, "monthly airline passengers 1949-60 (statsforecast), "
                      "multiplicative season"),
    "co2": (12, 5, "Mauna Loa CO2, weekly 1958-2001 averaged to months (statsmodels)"),
    "nile": (10, 3, "Nile flow at Aswan, yearly 1871-1970 (statsmodels), a level shift"),
    "elnino": (12, 5, "El Nino sea surface temperature, monthly 1950-2010 (statsmodels)"),
    "realgdp": (8, 4, "US real GDP, quarterly 1959-2009 (statsmodels macrodata), a trend"),
    "unemp": (8, 4, "US unemployment rate, quarterly 1959-2009 (statsmodels macrodata)"),
    "cpi": (8, 4, "US consumer prices, quarterly 1959-2009 (statsmodels macrodata)"),
    "sunspots": (11, 4, "yearly sunspot numbers 1700-2008 (statsmodels), an 11-year cycle"),
    "gen_seasonal": (12, 4, "generated: trend + additive season 12 + noise, 300 rows"),
    "gen_multiplicative": (12, 3, "generated: growth x season 12 x noise, 240 rows"),
    "gen_ar": (6, 4, "generated: AR(2), 300 rows"),
}
# run only when named (--series co2_weekly): long, and AutoETS fits no season above 24
EXTRA = {
    "co2_weekly": (52, 3, "Mauna Loa CO2, weekly 1958-2001 (statsmodels), gaps interpolated"),
}


def _monthly(start_year, n, step=1):
    return [f"{start_year + (i * step) // 12:04d}-{(i * step) % 12 + 1:02d}-01" for i in range(n)]


def load_series(name):
    """(dates: ISO strings, values (N,)) of a benchmark series."""
    if name.startswith("gen_"):
        kind, n = {"gen_seasonal": ("seasonal", 300), "gen_multiplicative": ("multiplicative", 240),
                   "gen_ar": ("ar", 300)}[name]
        return _monthly(2000, n), generate_series(kind, n, seed=0)
    if name == "airpassengers":
        from statsforecast.utils import AirPassengers
        return _monthly(1949, len(AirPassengers)), np.asarray(AirPassengers, float)
    import statsmodels.api as sm
    if name in ("co2", "co2_weekly"):
        s = sm.datasets.co2.load_pandas().data["co2"]
        s = s.resample("MS").mean().interpolate() if name == "co2" else s.interpolate()
        return [t.date().isoformat() for t in s.index], s.to_numpy(float)
    if name == "nile":
        d = sm.datasets.nile.load_pandas().data
        return [f"{int(y):04d}-01-01" for y in d["year"]], d["volume"].to_numpy(float)
    if name == "elnino":
        v = sm.datasets.elnino.load_pandas().data.iloc[:, 1:].to_numpy(float).reshape(-1)
        return _monthly(1950, len(v)), v
    if name in ("realgdp", "unemp", "cpi"):
        d = sm.datasets.macrodata.load_pandas().data
        return _monthly(1959, len(d), step=3), d[name].to_numpy(float)
    if name == "sunspots":
        d = sm.datasets.sunspots.load_pandas().data
        return [f"{int(y):04d}-01-01" for y in d["YEAR"]], d["SUNACTIVITY"].to_numpy(float)
    raise SystemExit(f"unknown series {name}")


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def run_series(name, folder, overrides, seed, baselines):
    horizon, folds, _ = {**SERIES, **EXTRA}[name]
    dates, y = load_series(name)
    path = os.path.join(folder, f"{name}.csv")
    write_csv(path, {name: y}, time=dates)
    task = {k: v for k, v in overrides.items() if k in
            ("lookback", "log", "difference", "season", "seasonal_difference", "strategy",
             "ensemble")}
    train_opts = {k: v for k, v in overrides.items() if k not in task}
    wall, cpu = time.time(), time.process_time()
    res = rnnlab.backtest(path, horizon=horizon, folds=folds, seed=seed, task_options=task,
                          baselines=baselines, **train_opts)
    row = {m: v["overall"]["mase"] for m, v in res["methods"].items()}
    row.update(rows=len(y), horizon=horizon, folds=folds, season=res["seasons"][-1],
               vs_snaive=res["relative_to_seasonal_naive"]["rnnlab"],
               vs_ets=row["rnnlab"] / row["ets"] if "ets" in row else None,
               rnnlab_cpu_s=res["methods"]["rnnlab"]["cpu_s"],
               total_cpu_s=round(time.process_time() - cpu, 1),
               wall_s=round(time.time() - wall, 1), load=round(os.getloadavg()[0], 1))
    return row


def summary(rows):
    names = list(rows)
    mean = {m: float(np.mean([rows[s][m] for s in names])) for m in
            ("rnnlab", "naive", "seasonal_naive", "ets", "arima")
            if all(m in rows[s] for s in names)}
    out = {"mean_mase": mean,
           "beats_seasonal_naive": sum(rows[s]["vs_snaive"] < 1 for s in names),
           "series": len(names)}
    if "ets" in mean:
        out["mean_vs_ets"] = mean["rnnlab"] / mean["ets"]
        out["beats_ets"] = sum(rows[s]["rnnlab"] < rows[s]["ets"] for s in names)
        out["geomean_ratio_vs_ets"] = float(np.exp(np.mean([np.log(rows[s]["vs_ets"])
                                                             for s in names])))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default=",".join(SERIES), help="comma-separated names")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="change one option for every series (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baselines", default="naive,seasonal_naive,ets,arima",
                   help="the baselines to run (a variant of the defaults needs only the naive "
                   "ones: the statistical models do not change)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--write-csv", default=None, metavar="DIR",
                   help="only write the series as DIR/<name>.csv (date + value) and stop")
    a = p.parse_args()
    if a.write_csv:
        os.makedirs(a.write_csv, exist_ok=True)
        for name in a.series.split(","):
            dates, y = load_series(name)
            write_csv(os.path.join(a.write_csv, f"{name}.csv"), {name: y}, time=dates)
            print(os.path.join(a.write_csv, f"{name}.csv"))
        return
    overrides = dict((k, _value(v)) for k, v in (s.split("=", 1) for s in a.set))
    rows = {}
    print(f"{'series':20s}{'rows':>6s}{'H':>4s}{'K':>3s}{'m':>4s}{'rnnlab':>8s}{'naive':>8s}"
          f"{'snaive':>8s}{'ets':>8s}{'arima':>8s}{'/snaive':>9s}{'/ets':>7s}{'cpu s':>8s}"
          f"{'wall s':>8s}{'load':>6s}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for name in a.series.split(","):
            r = rows[name] = run_series(name, folder, overrides, a.seed, a.baselines)
            cells = "".join(f"{r.get(m, float('nan')):8.3f}" for m in
                            ("rnnlab", "naive", "seasonal_naive", "ets", "arima"))
            print(f"{name:20s}{r['rows']:6d}{r['horizon']:4d}{r['folds']:3d}{r['season']:4d}"
                  f"{cells}{r['vs_snaive']:9.3f}{(r['vs_ets'] or float('nan')):7.3f}"
                  f"{r['total_cpu_s']:8.1f}{r['wall_s']:8.1f}{r['load']:6.1f}", flush=True)
    s = summary(rows)
    print(json.dumps(s, indent=1))
    meta = {"date": time.strftime("%Y-%m-%d"), "overrides": overrides, "seed": a.seed,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "python": sys.version.split()[0], "rnnlab": rnnlab.__version__}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"meta": meta, "rows": rows, "summary": s}, f, indent=1)


if __name__ == "__main__":
    main()

"""M4 Hourly with one global rnnlab model, scored as M4 scored it, beside seasonal naive
computed in the same run and the published anchors.

    python benchmarks/bench_m4.py benchmarks/data/Hourly-train.csv benchmarks/data/Hourly-test.csv
        [--series 50] [--seed 0] [--json out.json] [--per-series 12]

The data (Mcompetitions/M4-methods, Dataset/Train/Hourly-train.csv and
Dataset/Test/Hourly-test.csv) is not shipped: give the paths. Every option of the model is
its default (the horizon, 48, is M4's). Scores: sMAPE and MASE (m = 24, scaled by each
series' whole training history) averaged over the series; OWA against the whole set's Naive2
(sMAPE 18.383, MASE 2.395) as M4 published it; the 95% interval's coverage and MSIS.
Times: wall and CPU (process_time) of fit + predict; peak memory: the process's max RSS.

`--per-series N` also runs today's alternative, as a user would: N series spread evenly over
the file (the first, the last and N - 2 between), each written to its own single-series CSV
and trained on its own (`rnnlab train series.csv --horizon 48`, every other option at its
default), then forecast 48 steps. Both are scored on those N series, and the per-series CPU
time for N is scaled to every series of the run (x series / N) beside the global model's.
"""
import argparse
import json
import os
import resource
import tempfile
import time

import numpy as np

H, M = 48, 24
NAIVE2 = {"smape": 18.383, "mase": 2.395}
PUBLISHED = [("best M4 entry", 0.410), ("ES-RNN (Smyl)", 0.440), ("seasonal naive", 0.627),
             ("M4 organisers' MLP", 0.921), ("M4 organisers' RNN", 1.036)]


def read_wide(path, n=None):
    import pandas as pd
    df = pd.read_csv(path, index_col=0)
    if n:
        df = df.iloc[:n]
    return {str(i): row.dropna().to_numpy(np.float64) for i, row in df.iterrows()}


def long_frame(series):
    import pandas as pd
    ids, ds, y = [], [], []
    for i, v in series.items():
        ids += [i] * len(v)
        ds += list(range(1, len(v) + 1))
        y += list(v)
    return pd.DataFrame({"unique_id": ids, "ds": ds, "y": y})


def smape(a, f):
    return float(np.mean(200 * np.abs(a - f) / (np.abs(a) + np.abs(f))))


def scores(train, test, fc, lower=None, upper=None, level=0.95):
    s, m, cov, ms = [], [], [], []
    for i, a in test.items():
        hist, f = train[i], fc[i]
        scale = np.mean(np.abs(hist[M:] - hist[:-M]))
        s.append(smape(a, f))
        m.append(float(np.mean(np.abs(a - f))) / scale)
        if lower is not None:
            lo, hi = lower[i], upper[i]
            alpha = 1 - level
            cov.append(float(np.mean((a >= lo) & (a <= hi))))
            ms.append(float(np.mean((hi - lo) + 2 / alpha * ((lo - a) * (a < lo)
                                                             + (a - hi) * (a > hi)))) / scale)
    out = {"smape": float(np.mean(s)), "mase": float(np.mean(m))}
    out["owa"] = 0.5 * (out["smape"] / NAIVE2["smape"] + out["mase"] / NAIVE2["mase"])
    if cov:
        out.update(coverage=float(np.mean(cov)), msis=float(np.mean(ms)))
    return out


def spread(ids, n):
    """n ids spread evenly over `ids` (the first and the last included)."""
    n = min(n, len(ids))
    return [ids[k] for k in np.unique(np.linspace(0, len(ids) - 1, n).round().astype(int))]


def per_series(train, ids, seed):
    """Train one single-series model per id from its own CSV, with the defaults; returns
    ({id: forecast}, total CPU s, total wall s, {id: CPU s})."""
    import rnnlab
    from rnnlab.data.series import write_csv
    fcs, cpus, wall = {}, {}, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="m4-per-series-") as tmp:
        for i in ids:
            path = os.path.join(tmp, f"{i}.csv")
            write_csv(path, {"y": train[i]})
            c0 = time.process_time()
            run = os.path.join(tmp, f"run-{i}")
            rnnlab.train(path, out=run, task_options={"horizon": H}, seed=seed, progress=False,
                         log=lambda msg: None, handle_signals=False)
            fcs[i] = np.asarray(rnnlab.load(run).forecast(H)["forecast"])
            cpus[i] = time.process_time() - c0
            print(f"  per-series {i}: {cpus[i]:.1f} s CPU", flush=True)
    return fcs, sum(cpus.values()), time.perf_counter() - wall, cpus


def compare_per_series(train, test, fc_global, snaive, n, seed, global_cpu):
    """The global model against one model per series on the same n series, and their time."""
    ids = spread(list(train), n)
    fcs, cpu, wall, cpus = per_series(train, ids, seed)
    sub = lambda d: {i: d[i] for i in ids}  # noqa: E731
    rows = {"rnnlab global model (with fallback)": scores(train, sub(test), fc_global),
            "rnnlab one model per series": scores(train, sub(test), fcs),
            "seasonal naive": scores(train, sub(test), snaive)}
    scaled = cpu / len(ids) * len(train)
    print(f"\nSame {len(ids)} series ({', '.join(ids)}), each scored as above:")
    for name, r in rows.items():
        print(f"{name:38s} {r['smape']:7.3f} {r['mase']:7.3f} {r['owa']:6.3f}")
    print(f"per-series models: {cpu:.0f} s CPU for {len(ids)} series ({wall:.0f} s wall), "
          f"x {len(train)}/{len(ids)} = {scaled:.0f} s CPU for {len(train)} series; the global "
          f"model {global_cpu:.0f} s CPU for {len(train)}: ratio {global_cpu / scaled:.4f} "
          f"(target <= 0.05)")
    return {"ids": ids, "rows": rows, "cpu_s": cpu, "wall_s": wall, "cpu_s_each": cpus,
            "cpu_s_scaled": scaled, "time_ratio": global_cpu / scaled,
            "forecasts": {i: f.tolist() for i, f in fcs.items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--series", type=int, default=None, help="the first N series (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the results here too")
    ap.add_argument("--steps", type=int, default=None,
                    help="an experiment: train this many steps (default: the model's default)")
    ap.add_argument("--ensemble", type=int, default=None,
                    help="an experiment: train N models, median (default: the model's default)")
    ap.add_argument("--hidden", type=int, default=None,
                    help="an experiment: hidden units (default: the model's default)")
    ap.add_argument("--val-sample", type=int, default=None,
                    help="an experiment: validate on at most this many model steps while "
                         "training, 0 = every series (default: the training default)")
    ap.add_argument("--per-series", type=int, default=0, metavar="N",
                    help="also train one model per series on N series spread over the file "
                         "and compare (default: 0, not run)")
    a = ap.parse_args()
    import rnnlab
    train, test = read_wide(a.train, a.series), read_wide(a.test, a.series)
    df = long_frame(train)
    t0, c0 = time.perf_counter(), time.process_time()
    lines = []
    knobs = {k: v for k, v in (("steps", a.steps), ("hidden", a.hidden),
                               ("ensemble", a.ensemble), ("val_sample", a.val_sample))
             if v is not None}
    fc = rnnlab.Forecaster(horizon=H, seed=a.seed, log=lines.append, **knobs).fit(df)
    res = fc.model.forecast(H)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    raw = fc.model.forecast(H, fallback=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pick = lambda r, k: {i: np.asarray(v[k]) for i, v in r["forecasts"].items()}  # noqa: E731
    snaive = {i: v[-M:][np.arange(H) % M] for i, v in train.items()}
    rows = {"rnnlab (with fallback)": scores(train, test, pick(res, "forecast"),
                                                      pick(res, "lower"), pick(res, "upper")),
            "rnnlab raw network (--no-fallback)": scores(train, test, pick(raw, "forecast"),
                                                         pick(raw, "lower"), pick(raw, "upper")),
            "seasonal naive (this run)": scores(train, test, snaive)}
    load = os.getloadavg()
    out = {"series": len(train), "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak,
           "load": load, "counts": res["counts"], "rows": rows, "steps": fc.result.steps,
           "chosen": [x for x in lines if x.startswith("  --")], "knobs": knobs,
           "val_losses": [x for x in lines if x.startswith("step ")]}
    print(f"M4 Hourly, {len(train)} series, horizon {H}: fit + predict {wall:.0f} s wall, "
          f"{cpu:.0f} s CPU, peak RSS {peak:.0f} MiB; {fc.result.steps} steps "
          f"({fc.result.stopped}); load {load[0]:.2f}" + (f"; NOT the defaults: {knobs}"
                                                           if knobs else ""))
    print("forecast used per series: " + ", ".join(f"{n} {c}" for c, n in
                                                   res["counts"].items()))
    print(f"{'':38s} {'sMAPE':>7s} {'MASE':>7s} {'OWA':>6s} {'cover95':>8s} {'MSIS':>7s}")
    for name, r in rows.items():
        extra = f" {r['coverage']:8.3f} {r['msis']:7.2f}" if "coverage" in r else ""
        print(f"{name:38s} {r['smape']:7.3f} {r['mase']:7.3f} {r['owa']:6.3f}{extra}")
    base = rows["seasonal naive (this run)"]["owa"]
    print(f"OWA ratio rnnlab / seasonal naive (this run): "
          f"{rows['rnnlab (with fallback)']['owa'] / base:.3f}")
    for name, owa in PUBLISHED:
        print(f"{name + ' (published, 414 series)':38s} {'':7s} {'':7s} {owa:6.3f}")
    if a.per_series:
        out["per_series"] = compare_per_series(train, test, pick(res, "forecast"), snaive,
                                               a.per_series, a.seed, cpu)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

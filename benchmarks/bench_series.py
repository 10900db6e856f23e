"""Series benchmark: rnnlab's forecaster against naive, seasonal naive and (when statsmodels is
installed) ETS and ARIMA, on generated series, scored by MASE on a holdout that continues the
training data.

    python benchmarks/bench_series.py [--steps 1500] [--out results.json]

Series (rnnlab.data.series.generate_series): 'seasonal' = trend + period-12 seasonality +
noise (n=300, holdout 36) and 'ar' = AR(2) (n=300, holdout 24). The model is trained through
the public API exactly as `rnnlab train` would, then `.evaluate(holdout)`. statsmodels is
optional (pip install statsmodels); it is not an rnnlab dependency.
"""
import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np

import rnnlab
from rnnlab.data.series import generate_series, mase, write_csv

CASES = {
    "seasonal": dict(n=300, holdout=36, season=12,
                     options=dict(lookback=24, horizon=12, difference=True)),
    "ar": dict(n=300, holdout=24, season=None,
               options=dict(lookback=12, horizon=6, difference=False)),
}


def statsmodels_scores(train, actual, season):
    try:
        import warnings

        from statsmodels.tsa.arima.model import ARIMA
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
    except ImportError:
        return {}
    out, H = {}, len(actual)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if season:
            ets = ExponentialSmoothing(train, trend="add", seasonal="add",
                                       seasonal_periods=season).fit()
            out["ets"] = ets.forecast(H)
            out["arima"] = ARIMA(train, order=(2, 1, 0), seasonal_order=(1, 0, 0, season),
                                 trend="t").fit().forecast(H)
        else:
            out["ets"] = ExponentialSmoothing(train).fit().forecast(H)
            out["arima"] = ARIMA(train, order=(2, 0, 0)).fit().forecast(H)
    return {k: mase(actual, np.asarray(v), train) for k, v in out.items()}


def run_case(name, case, steps, seed, folder):
    y = generate_series(name, case["n"], seed=seed)
    train, actual = y[:-case["holdout"]], y[-case["holdout"]:]
    write_csv(os.path.join(folder, f"{name}.csv"), {"y": train})
    write_csv(os.path.join(folder, f"{name}-holdout.csv"), {"y": actual})
    run = os.path.join(folder, f"run-{name}-{seed}")
    t = time.time()
    rnnlab.train(os.path.join(folder, f"{name}.csv"), out=run, cell="lstm", hidden=32, layers=1,
                 batch=32, lr=5e-3, steps=steps, eval_every=100, val_fraction=0.2, seed=seed,
                 task_options=case["options"], progress=False, log=lambda m: None)
    seconds = time.time() - t
    res = rnnlab.load(run).evaluate(os.path.join(folder, f"{name}-holdout.csv"),
                                    season=case["season"])
    row = {"rnnlab": res["mase"], "naive": res["naive"]["mase"],
           "train_s": round(seconds, 1)}
    if res["seasonal_naive"]:
        row["seasonal_naive"] = res["seasonal_naive"]["mase"]
    row.update(statsmodels_scores(train, actual, case["season"]))
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, case in CASES.items():
            rows = [run_case(name, case, a.steps, s, folder) for s in range(a.seeds)]
            keys = rows[0].keys()
            results[name] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
            print(name, " ".join(f"{k} {v:.3f}" for k, v in results[name].items()), flush=True)
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    results["steps"], results["seeds"] = a.steps, a.seeds
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

"""The peer a user would pick instead of rnnlab on a panel: neuralforecast's LSTM with its
defaults, on the same M4 Hourly split as bench_m4.py, scored the same way (its functions).

    python3 -m venv nfvenv && nfvenv/bin/pip install 'torch==2.13.0' neuralforecast
    OMP_NUM_THREADS=1 nfvenv/bin/python benchmarks/peer_neuralforecast.py \\
        benchmarks/data/Hourly-train.csv benchmarks/data/Hourly-test.csv [--series 50]

It runs in its own environment (torch, PyTorch Lightning), so it imports no rnnlab. The model
is `LSTM(h=48)` with every other argument at its default (input_size -1: 3 x h = 144 rows,
max_steps 1000, MAE loss, robust scaling, random_seed 1), trained on every series in the long
format with integer steps (freq=1), on one CPU thread. Only the trainer's display options are
set (no progress bar, no logger, no model summary). It prints sMAPE, MASE, OWA, the CPU
seconds (process_time) and the wall time of fit + predict, and the load average.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_m4 import H, long_frame, read_wide, scores  # noqa: E402  (same split, same scores)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--series", type=int, default=None, help="the first N series (default: all)")
    ap.add_argument("--json", default=None, help="write the results here too")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="a smoke test only: train this many steps (default: the model's, 1000)")
    a = ap.parse_args()
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM
    import neuralforecast
    torch.set_num_threads(1)
    train, test = read_wide(a.train, a.series), read_wide(a.test, a.series)
    df = long_frame(train)
    t0, c0 = time.perf_counter(), time.process_time()
    knobs = {} if a.max_steps is None else {"max_steps": a.max_steps}
    model = LSTM(h=H, enable_progress_bar=False, logger=False, enable_model_summary=False,
                 **knobs)
    nf = NeuralForecast(models=[model], freq=1)
    nf.fit(df)
    pred = nf.predict()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pred = pred.reset_index() if "unique_id" not in pred.columns else pred
    fc = {str(i): g.sort_values("ds")["LSTM"].to_numpy(np.float64)
          for i, g in pred.groupby("unique_id")}
    row = scores(train, test, fc)
    load = os.getloadavg()
    print(f"neuralforecast {neuralforecast.__version__} LSTM (defaults, h={H}), M4 Hourly, "
          f"{len(train)} series: fit + predict {wall:.0f} s wall, {cpu:.0f} s CPU, peak RSS "
          f"{peak:.0f} MiB; torch {torch.__version__}, {torch.get_num_threads()} thread; "
          f"load {load[0]:.2f}" + (f"; NOT the defaults: {knobs}" if knobs else ""))
    print(f"{'':38s} {'sMAPE':>7s} {'MASE':>7s} {'OWA':>6s}")
    print(f"{'neuralforecast LSTM (defaults)':38s} {row['smape']:7.3f} {row['mase']:7.3f} "
          f"{row['owa']:6.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"series": len(train), "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak,
                       "load": load, "row": row, "version": neuralforecast.__version__}, f,
                      indent=1)


if __name__ == "__main__":
    main()

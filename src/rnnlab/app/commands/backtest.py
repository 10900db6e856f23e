"""`rnnlab backtest`: rolling-origin evaluation of the series model beside the baselines."""
import argparse
import json
import sys

from ...errors import install_line


def add_parser(sub):
    b = sub.add_parser("backtest", help="rolling-origin evaluation of a series model beside "
                       "naive, seasonal naive, AutoETS and AutoARIMA",
                       description="The last FOLDS x HORIZON rows become FOLDS test windows. "
                       "At each window's start a model is trained from scratch on the rows "
                       "before it (defaults chosen from those rows, as rnnlab train does) and "
                       "forecasts the window; the baselines forecast the same windows. Scores "
                       "per horizon step and overall: MASE, RMSE, MAE, sMAPE. AutoETS and "
                       f"AutoARIMA need statsforecast: {install_line('forecast')}.")
    b.add_argument("file", help="a CSV time series (as for rnnlab train)")
    b.add_argument("--target", default=None,
                   help="the column to forecast (default: the first numeric column)")
    b.add_argument("--features", default=None,
                   help="input columns besides the target, 'a,b' (default: every other numeric "
                   "column)")
    b.add_argument("--fill", default=None, choices=["ffill", "interpolate"],
                   help="fill missing cells (default: a missing cell is an error)")
    b.add_argument("--horizon", type=int, default=None,
                   help="rows per test window (default: one season, else 12, as train chooses)")
    b.add_argument("--folds", type=int, default=3, help="test windows (origins)")
    b.add_argument("--baselines", default="naive,seasonal_naive,ets,arima",
                   help="baselines to run beside the model (ets, arima need statsforecast)")
    b.add_argument("--json", action="store_true", help="print the result as one JSON object")
    b.add_argument("--plot", default=None, metavar="PNG",
                   help="draw the folds' forecasts and the MASE per horizon step to this PNG (default: no plot)")
    b.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same run")
    g = b.add_argument_group("the model at each origin (default: chosen from the data)")
    from ...nn import registry
    g.add_argument("--cell", default="lstm", choices=list(registry.choices()),
                   help="the recurrent cell")
    for name, typ in (("hidden", int), ("layers", int), ("steps", int), ("lr", float),
                      ("lookback", int), ("season", int), ("ensemble", int)):
        g.add_argument(f"--{name}", type=typ, default=None,
                       help=f"as for rnnlab train --{name} (default: chosen from the data)")
    g.add_argument("--strategy", default=None, choices=["direct", "recursive"],
                   help="as for rnnlab train --strategy (default: direct)")
    for name in ("difference", "log", "seasonal-difference"):
        g.add_argument(f"--{name}", default=None, action=argparse.BooleanOptionalAction,
                       help=f"as for rnnlab train --{name} / --no-{name} (default: chosen "
                       "from the data)")
    b.set_defaults(func=run)


def run(a):
    from ...training.backtest import backtest, report_lines
    task = {k: getattr(a, k) for k in ("lookback", "season", "ensemble", "strategy",
                                       "difference", "log", "seasonal_difference")
            if getattr(a, k) is not None}
    model = {k: getattr(a, k) for k in ("hidden", "layers", "steps", "lr")
             if getattr(a, k) is not None}
    from ...nn import registry
    model.update(registry.from_choice(a.cell))
    res = backtest(a.file, horizon=a.horizon, folds=a.folds, target=a.target,
                   features=a.features, fill=a.fill, baselines=a.baselines, seed=a.seed,
                   log=lambda msg: print(msg, file=sys.stderr), task_options=task, **model)
    if a.plot:
        from ...viz.plots import plot_backtest
        plot_backtest(res, a.plot)
    if a.json:
        print(json.dumps(res))
    else:
        print("\n".join(report_lines(res)))
    return 0

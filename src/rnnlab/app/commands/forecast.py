"""`rnnlab forecast`: continue a series past the end of its data."""
import json
import sys

from ...errors import RnnlabError


def add_parser(sub):
    f = sub.add_parser("forecast", help="continue a series past the end of its data")
    f.add_argument("run", help="the run folder of a trained series model")
    f.add_argument("--horizon", type=int, default=None,
                   help="steps to forecast (default: the run's training horizon)")
    f.add_argument("--json", action="store_true",
                   help="print the forecast as one JSON object (with ISO \"dates\" when the "
                   "training CSV had a regular date column)")
    f.add_argument("--plot", default=None, metavar="PNG",
                   help="draw the recent history, the forecast and its interval to this PNG "
                   "(dates on the x-axis when known; default: no plot)")
    f.add_argument("--history", type=int, default=None, metavar="ROWS",
                   help="--plot: rows of history before the forecast (default: three horizons, "
                   "two seasons, 36 at least)")
    f.set_defaults(func=run)


def run(a):
    from ...training.load import load
    model = load(a.run)
    if a.history is not None and a.history < 1:
        raise RnnlabError(f"--history must be a positive number of rows, got {a.history}")
    res = model.forecast(a.horizon)
    if res["dates"] is None and model.meta.get("dates_note"):
        print(f"rnnlab: {model.meta['dates_note']}", file=sys.stderr)
    if a.plot:
        from ...viz.plots import history_window, plot_forecast
        H = len(res["forecast"])
        k = min(a.history, len(model.history)) if a.history else \
            history_window(len(model.history), H, model.season)
        dates = model.dates(H, history=k)
        how = f"{res['members']} models, median" if res["members"] > 1 else "1 model"
        plot_forecast(model.history[-k:], res["forecast"], res["lower"], res["upper"], a.plot,
                      title=f"{model.target}: {H}-step forecast ({res['strategy']}, {how}), "
                      f"{res['level']:.0%} interval", dates=dates, ylabel=model.target)
    if a.json:
        print(json.dumps(res))
    else:
        freq = f", {res['frequency']}" if res["frequency"] else ""
        print(f"{res['target']}: {len(res['forecast'])} steps{freq}, {res['level']:.0%} interval")
        dates = res["dates"] or [str(h) for h in range(1, len(res["forecast"]) + 1)]
        for d, f, lo, hi in zip(dates, res["forecast"], res["lower"], res["upper"]):
            print(f"{d:>10s}  {f:.4f}  [{lo:.4f}, {hi:.4f}]")
    return 0

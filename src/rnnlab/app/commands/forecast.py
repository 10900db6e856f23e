"""`rnnlab forecast`: continue a series past the end of its data."""
import json

from ...errors import RnnlabError


def add_parser(sub):
    f = sub.add_parser("forecast", help="continue a series past the end of its data")
    f.add_argument("run", help="the run folder of a trained series model")
    f.add_argument("--horizon", type=int, default=None,
                   help="steps to forecast (default: the run's training horizon)")
    f.add_argument("--json", action="store_true", help="print the forecast as one JSON object")
    f.add_argument("--plot", default=None, metavar="PNG",
                   help="draw history, forecast and interval to this PNG (default: no plot)")
    f.set_defaults(func=run)


def run(a):
    from ...inference import load
    model = load(a.run)
    if model.cfg.task != "series":
        raise RnnlabError(f"forecast works on series models; {a.run} is a {model.cfg.task} model")
    res = model.forecast(a.horizon)
    if a.plot:
        from ...viz.plots import plot_forecast
        plot_forecast(model.history, res["forecast"], res["lower"], res["upper"], a.plot,
                      title=f"{model.target}: forecast")
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['target']}: {len(res['forecast'])} steps, {res['level']:.0%} interval")
        for h, (f, lo, hi) in enumerate(zip(res["forecast"], res["lower"], res["upper"]), 1):
            print(f"{h:4d}  {f:.4f}  [{lo:.4f}, {hi:.4f}]")
    return 0

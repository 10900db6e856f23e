"""`rnnlab evaluate`: the exact loss (and the task's scores) of a trained model on a file."""
import json

from ...errors import RnnlabError


def add_parser(sub):
    e = sub.add_parser("evaluate", help="exact loss of a trained model on a file",
                       description="Text: the mean next-token loss over the file; tokens the "
                       "model's vocabulary lacks are read as <unk>, scored, and counted in the "
                       "output (a run saved before rnnlab had <unk> skips them). Series: "
                       "RMSE/MAE/MASE beside the naive forecasts. Music: NLL per step and frame "
                       "accuracy beside the independent-pitch baseline, over the file's 'test' "
                       "split, else 'valid', else 'train', else every sequence.")
    e.add_argument("run", help="the run folder of a trained model")
    e.add_argument("file", help="held-out data of the model's kind (text, CSV, notes JSON, MIDI)")
    e.add_argument("--json", action="store_true", help="print the result as one JSON object")
    e.add_argument("--season", type=int, default=None,
                   help="series: season length for seasonal naive (default: detected)")
    e.set_defaults(func=run)


def run(a):
    from ...training.load import load
    model = load(a.run)
    given = {k: v for k, v in {"season": a.season}.items() if v is not None}
    for name in set(given) - set(model.EVALUATE_OPTIONS):
        raise RnnlabError(f"--{name} is not an option for a {model.cfg.task} model; "
                          f"drop it (it is for: {_takers(name)})")
    res = model.evaluate(a.file, **given)
    if a.json:
        print(json.dumps(res))
    elif hasattr(model, "report_lines"):
        print("\n".join(model.report_lines(res)))
    else:
        print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in res.items()))
    return 0


def _takers(name):
    """The tasks whose trained models take evaluate's option `name`, from the task registry."""
    from ...tasks import registry
    return ", ".join(e.name for e in registry.TASKS.values()
                     if name in e.model.EVALUATE_OPTIONS) or "none"

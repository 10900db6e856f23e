"""Loading a trained model from its run folder.

    model = rnnlab.load("run")                   # config.json + best (or last) weights
    print(model.sample(200, temperature=0.8, prime="The "))

`load` rebuilds the SequenceModel from config.json and wraps it in the trained-model class
that the task registry names for the run (by its task, or by its data kind: a melody), so
that nothing here knows about any one task. Loading reads JSON and safetensors only: a model
file never runs code.
"""
from ..errors import RnnlabError
from .run_folder import RunFolder
from ..tasks import registry
from ..tasks.model import ModelConfig, SequenceModel


def load(path, which="best"):
    """Load a run folder: rebuild the model from config.json and its weights.
    which: 'best' (the best on validation; the last when there is no best) or 'model'.
    An ensemble run (config.json "members": its member run folders) loads every member."""
    run = RunFolder(path)
    cfg = run.read_config()
    for key in ("model", "data"):
        if key not in cfg:
            raise RnnlabError(f"{path}/config.json lacks {key!r}; it is not a complete rnnlab run")
    model = _load_model(run, cfg, which)
    members = []
    for sub in cfg.get("members") or []:
        member = RunFolder(run.path / sub)
        if not member.exists():
            raise RnnlabError(f"{path} is an ensemble run but its member {sub} has no "
                              f"config.json (training was interrupted?); resume it with "
                              f"rnnlab train DATA --out {path} --resume")
        members.append(_load_model(member, member.read_config(), which))
    extra = {"members": members} if members else {}
    cls = registry.trained_model_class(model.cfg.task, cfg["data"])
    return cls(model, cfg["data"], cfg.get("train"), str(path), **extra)


def _load_model(run, cfg, which):
    model = SequenceModel(ModelConfig.from_json(cfg["model"]))
    if which == "best" and not run.has_weights("best"):
        which = "model"
    if not run.has_weights(which) and not run.has_state():
        data = (cfg.get("train") or {}).get("data") or "DATA"
        raise RnnlabError(f"{run.path} has no checkpoint yet: its training stopped before the "
                          f"first one (written every --eval-every steps); continue it with: "
                          f"rnnlab train {data} --out {run.path} --resume")
    model.load_state_dict(run.load_weights(which), source=str(run.weights_file(which)))
    return model

"""What the trainer asks of a task beyond the Task protocol, each optional:

    Task.choose_defaults(tcfg, given) -> {name: (value, why)}   options chosen from the data
    task.ensemble                     -> N: train N models (seeds seed .. seed+N-1)
    task.review(models)               -> warning lines about the trained models

The series task uses all three (tasks/series.py); text and music none. Kept out of train.py so
that the trainer itself stays about one run of one model.
"""
from dataclasses import asdict, replace

from ..tasks import registry


def task_defaults(tcfg, options, field_names):
    """Let the task choose, from its data, the options not given. The chosen values are
    written into `options` (TrainConfig / ModelConfig fields, by `field_names`) and into
    tcfg.task_options (the task's own), and returned as {name: {"value", "why"}} for
    config.json["chosen"] and log_chosen."""
    choose = getattr(registry.get(tcfg.task).task, "choose_defaults", None)
    if choose is None:
        return {}
    plan = choose(tcfg, {k: v for k, v in options.items() if k != "task_options"})
    task_opts = dict(tcfg.task_options or {})
    chosen = {}
    for name, (value, why) in plan.items():
        if why == "given" or value is None:
            continue
        chosen[name] = {"value": value, "why": why}
        if name in field_names:
            options[name] = value
        else:
            task_opts[name] = value
    options["task_options"] = tcfg.task_options = task_opts
    return chosen


def log_chosen(task, chosen, log):
    """Print the chosen defaults, one line each (once the configs are known to be valid)."""
    if chosen:
        log(f"{task} defaults chosen from the data (give an option to override it):")
        for name, c in chosen.items():
            flag, value = name.replace("_", "-"), c["value"]
            option = (f"--{flag}" if value else f"--no-{flag}") if isinstance(value, bool) \
                else f"--{flag} {value}"
            log(f"  {option}: {c['why']}")


# the validation loss at the end of a run this far above its best (relative) says it overfit
OVERFIT_RISE = 0.1


def overfit_warning(history):
    """One warning line when the validation loss ended well above its best (the run overfit:
    the best weights, kept in best.safetensors, are what load, sample and evaluate use), or
    None. history: the trainer's records."""
    vals = [(r["step"], r["val_loss"]) for r in history if r.get("val_loss") is not None]
    if len(vals) < 2:
        return None
    best_step, best = min(vals, key=lambda sv: sv[1])
    last_step, last = vals[-1]
    if last - best <= OVERFIT_RISE * abs(best):
        return None
    return (f"WARNING: the run overfit: the validation loss rose from {best:.4g} at step "
            f"{best_step:,} (its best) to {last:.4g} at step {last_step:,}; the best weights "
            f"(step {best_step:,}) are kept and used; train fewer steps (--steps "
            f"{best_step}), add --dropout, or give more data")


def member_configs(tcfg, mcfg, k):
    """Ensemble member k: the run's configs with seed + k (initial weights and batch order)."""
    return replace(tcfg, seed=tcfg.seed + k), replace(mcfg, seed=mcfg.seed + k)


def train_member(trainer, run, resume, progress, handle_signals=False, started=None):
    """Train one ensemble member in its own run folder `run` (None: not saved); a resumed run
    continues a member that has a checkpoint and starts one that has none. With
    handle_signals, Ctrl-C or SIGTERM stops the member as it stops the main run (a checkpoint
    of its step, then stop). started: the run's start (a shared --time-budget). Returns (the
    model with its best weights, the TrainResult)."""
    if run is not None and resume and run.has_state():
        trainer.run = run
        trainer.restore()
    elif run is not None:
        run.create(exist_ok=resume)
        run.write_config({"model": trainer.model.cfg.to_json(), "train": asdict(trainer.cfg),
                          "data": trainer.task.meta()})
        trainer.run = run
    result = trainer.fit(progress, handle_signals=handle_signals, started=started)
    return best_model(trainer), result


def best_model(trainer):
    """The trained model with its best weights on validation (the last without a run folder)."""
    if trainer.run is not None and trainer.run.has_weights("best"):
        trainer.model.load_state_dict(trainer.run.load_weights("best"))
    return trainer.model

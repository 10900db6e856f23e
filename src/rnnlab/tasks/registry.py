"""The task registry: each task with its trained-model class and the files it reads.

`rnnlab train FILE` picks the task from the file type (or --task), the trainer builds it with
`get(name).task.from_config(...)`, and `rnnlab.load(RUN)` wraps the model in
`get(name).model`. Adding a task is a module here (its Task and TrainedModel) and one entry.
"""
import os
from dataclasses import dataclass

from ..errors import RnnlabError
from .melody import MelodyModel
from .music import MusicModel, MusicTask
from .panel import PanelModel, PanelTask
from .panel.data import has_id_column
from .series import SeriesTask
from .series_model import SeriesModel
from .text import TextModel, TextTask


@dataclass(frozen=True)
class TaskEntry:
    name: str
    task: type                # builds batches from a file (the Task protocol, base.py)
    model: type               # the TrainedModel subclass rnnlab.load returns
    suffixes: tuple           # file types that select this task
    folder_suffixes: tuple = ()   # a folder holding files of these types selects it too
    summary: str = ""
    claims: object = None     # claims(path) -> True: a file of these types that is this task's
                              # (checked before the plain suffix match of the other tasks)


TASKS = {e.name: e for e in (
    TaskEntry("text", TextTask, TextModel, (".txt",), summary="a language model over "
              "characters or words"),
    TaskEntry("series", SeriesTask, SeriesModel, (".csv",), summary="a forecaster of one CSV "
              "column"),
    TaskEntry("panel", PanelTask, PanelModel, (".csv",), summary="one global forecaster of "
              "many series in the long format (unique_id, ds, y)", claims=has_id_column),
    TaskEntry("music", MusicTask, MusicModel, (".json", ".mid", ".midi"), (".mid", ".midi"),
              summary="a polyphonic piano-roll model of notes JSON or MIDI"),
)}
DEFAULT = "text"               # any other file is read as text
# The trained-model class of each data kind (config.json["data"]["kind"]) that is not a
# task's own: a melody run is a text model (ModelConfig.task 'text') that reads and writes music.
MODELS = {"melody": MelodyModel, "panel": PanelModel}


def get(name):
    if name not in TASKS:
        raise RnnlabError(f"--task must be {', '.join(TASKS)}, got {name!r}")
    return TASKS[name]


def task_for_file(path, task=None):
    """The task name for a data file: --task if given, else from the file type."""
    if task:
        return get(task).name
    p = os.fspath(path).lower()
    for e in TASKS.values():
        if e.claims is not None and p.endswith(e.suffixes) and e.claims(path):
            return e.name
    for e in TASKS.values():
        if e.claims is not None:
            continue
        if p.endswith(e.suffixes) or (e.folder_suffixes and os.path.isdir(path) and any(
                f.lower().endswith(e.folder_suffixes) for f in os.listdir(path))):
            return e.name
    return DEFAULT


def trained_model_class(model_task, data_meta):
    """The TrainedModel subclass for a run: by its data kind where that has its own class
    (MODELS), else by the model's task."""
    kind = data_meta.get("kind") if isinstance(data_meta, dict) else None
    return MODELS.get(kind) or get(model_task).model


def task_defaults(name, task_options=None):
    """{option: value} the task chooses where the user gives none (Task.defaults), or {}."""
    task = get(name).task
    return task.defaults(task_options) if hasattr(task, "defaults") else {}


def with_task_defaults(name, options):
    """`options` (training keywords) with the task's defaults filled in where an option is
    missing or None (the task's own options among them into options["task_options"]); the
    task's --epochs only when no --steps or --time-budget is given."""
    own = task_defaults(name, options.get("task_options"))
    if options.get("steps") or options.get("time_budget") or options.get("epochs"):
        own.pop("epochs", None)
    task_opts = dict(options.get("task_options") or {})
    for o in get(name).task.OPTIONS:
        if o.name in own:
            value = own.pop(o.name)
            if task_opts.get(o.name) is None:
                task_opts[o.name] = value
    out = {**options, **{k: v for k, v in own.items() if options.get(k) is None}}
    if task_opts:
        out["task_options"] = task_opts
    return out

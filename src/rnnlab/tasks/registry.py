"""The task registry: each task with its trained-model class and the files it reads.

`rnnlab train FILE` picks the task from the file type (or --task), the trainer builds it with
`get(name).task.from_config(...)`, and `rnnlab.load(RUN)` wraps the model in
`get(name).model`. Adding a task is a module here (its Task and TrainedModel) and one entry.
"""
import os
from dataclasses import dataclass

from ..errors import RnnlabError
from .music import MusicModel, MusicTask
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


TASKS = {e.name: e for e in (
    TaskEntry("text", TextTask, TextModel, (".txt",), summary="a language model over "
              "characters or words"),
    TaskEntry("series", SeriesTask, SeriesModel, (".csv",), summary="a forecaster of one CSV "
              "column"),
    TaskEntry("music", MusicTask, MusicModel, (".json", ".mid", ".midi"), (".mid", ".midi"),
              summary="a polyphonic piano-roll model of notes JSON or MIDI"),
)}
DEFAULT = "text"               # any other file is read as text


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
        if p.endswith(e.suffixes) or (e.folder_suffixes and os.path.isdir(path) and any(
                f.lower().endswith(e.folder_suffixes) for f in os.listdir(path))):
            return e.name
    return DEFAULT

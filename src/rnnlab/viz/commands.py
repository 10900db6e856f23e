"""`rnnlab explain` and `rnnlab plot`: load a run, read its input (--text, or --input FILE for
series and music runs, read like the training data) and hand it to inspect.py / report.py."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError, RnnlabWarning
from rnnlab.viz.gradients import MAX_CONN_STEPS
from rnnlab.viz.limits import MAX_TOKENS
from rnnlab.viz.inspect import write_explain
from rnnlab.viz.report import plot_run, write_report
from rnnlab.viz.subject import Subject


def explain_command(run, text=None, input_file=None, out="explain.html", title=None, bits=8,
                    max_conn_steps=MAX_CONN_STEPS, lang=None) -> str:
    """`rnnlab explain`: load the run, explain the input, write the page. Returns the path."""
    trained, inputs = _load_input(run, text, input_file)
    if inputs is None:
        raise RnnlabError("pass the input to explain: --text '...' (text models) or --input FILE")
    if isinstance(inputs, str) and len(inputs) > MAX_TOKENS:
        # a warning, not a print: the library tells, the command line decides how to show it
        warnings.warn(f"the page shows the first {MAX_TOKENS} tokens of the input",
                      RnnlabWarning, stacklevel=2)
    return write_explain(trained, inputs, out, title=title, bits=bits,
                         max_conn_steps=max_conn_steps, lang=lang)


def plot_command(run, text=None, input_file=None, out_dir=None) -> list:
    """`rnnlab plot`: PNGs (and report.html) for a run, on an input when given."""
    trained, inputs = _load_input(run, text, input_file)
    out_dir = Path(out_dir) if out_dir else Path(run) / "plots"
    paths = plot_run(trained, inputs, out_dir)
    if not paths:
        raise RnnlabError(f"{run} has no history.json yet and no input was given: nothing to "
                          "plot; pass --text or --input")
    sections = [("Training", [p for p in paths if "loss_curves" in p]),
                ("Gates over the input", [p for p in paths if "gates_" in p]),
                ("Gradient through time", [p for p in paths if "grad_norms" in p])]
    paths.append(write_report(out_dir, [s for s in sections if s[1]],
                              title=f"rnnlab: {os.path.basename(os.path.normpath(run))}"))
    return paths


def _load_input(run, text, input_file, encoding="utf-8"):
    from rnnlab.training.load import load
    trained = load(run)
    if text is not None and input_file is not None:
        raise RnnlabError("pass either --text or --input, not both")
    if trained.cfg.task == "text":
        if input_file is not None and hasattr(trained, "input_ids"):   # melody: MIDI / JSON
            return trained, trained.input_ids(input_file)
        if input_file is not None:
            from rnnlab.data.text import read_text
            text = read_text(input_file, encoding)
        if text is not None and not text:
            raise RnnlabError("--text is empty; pass the text to explain, e.g. --text 'The cat'")
        return trained, text
    if text is not None:
        raise RnnlabError(f"{run} is a {trained.cfg.task} model: pass --input FILE "
                          f"({'a CSV' if trained.cfg.task == 'series' else 'notes JSON or MIDI'})")
    return trained, None if input_file is None else task_input(trained, input_file)


def task_input(model, path):
    """Read an --input FILE for a series or music model into what `read_input` takes:
    {"x": (T, D) model inputs, "labels": [str] * T, "actual": (T,) or None}.

    series: a CSV with the run's columns; the rows are differenced (when the run was) and
    scaled like the training data, labels are the target's values. music: notes JSON (its
    "test", else "valid", else "train" first sequence) or MIDI; input t is the frame at t-1
    (silence first), labels are the MIDI pitches sounding at each input step."""
    trained = model.trained if isinstance(model, Subject) else model
    task = getattr(getattr(trained, "cfg", None), "task", None)
    if task == "series" and hasattr(trained, "scale_rows"):
        return _series_input(trained, path)
    if task == "music" and hasattr(trained, "lo"):
        return _music_input(trained, path)
    raise RnnlabError(f"--input is for series (CSV) and music (notes JSON, MIDI) runs; this is "
                      f"a {task} run" + ("; pass --text" if task == "text" else ""))


def _series_input(trained, path):
    from rnnlab.data.series import load_csv
    m = trained.meta
    data = load_csv(path, m["target"], m["features"] or None, m.get("fill"))
    if data.columns != list(m["columns"]):
        raise RnnlabError(f"{path} has the columns {data.columns}; the model was trained "
                          f"on {m['columns']}")
    z = trained.scale_rows(data.values)
    levels = data.values[len(data.values) - len(z):, 0]
    return {"x": z, "labels": [f"{v:.4g}" for v in levels]}


def _music_input(trained, path):
    from rnnlab.data.music import check_sequences, to_piano_roll
    from rnnlab.tasks.music import load_sequences
    splits = load_sequences(path, getattr(trained, "grid", "16th"))
    split = next(k for k in ("test", "valid", "train") if k in splits)
    seqs = [q for q in check_sequences(splits[split], split) if len(q)]
    if not seqs:
        raise RnnlabError(f"{path}: the {split} sequences have no time steps")
    roll = to_piano_roll(seqs[0], trained.lo, trained.hi)
    x = np.concatenate([np.zeros((1, roll.shape[1])), roll[:-1]])
    labels = [" ".join(str(trained.lo + j) for j in np.flatnonzero(r > 0.5)) or "\u00b7"
              for r in x]
    return {"x": x, "labels": labels}

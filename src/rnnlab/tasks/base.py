"""What every task shares: the Task protocol the trainer talks to, the TrainedModel base that
`rnnlab.load` returns, and the task-specific options.

A task turns a user's file into batches and a validation score, and carries what a saved
model needs to read new data (the vocabulary, the scaler, the pitch range). The trainer
talks to every task through the same small interface:

    task.kind                      'text' | 'series' | 'music'
    task.input_size, task.output_size
    task.carries_state             True when batch k+1 continues batch k (truncated BPTT)
    task.batches_per_epoch
    task.tokens_per_batch          for the tokens-per-second figure (in the task's
                                   `rate_unit` when it has one: a series counts windows/s)
    task.batch(k)                  -> (inputs, targets, mask or None) for training step k;
                                      a pure function of k, so a resumed run sees the same data
    task.validation_size           the validation part's size in model steps (tokens, frames,
                                      window steps); 0 when there is none
    task.validation_loss(model, limit=None)
                                   -> mean loss (eval mode) over the validation part, or over a
                                      fixed sample of at most `limit` model steps of it (the
                                      same sample at every call); None without a part
    task.meta()                    -> JSON-ready dict saved in config.json["data"]
    task.default_steps()           -> (steps, sentence): the default stopping rule's cap when no
                                      --steps, --epochs or --time-budget is given (STOP_RULE
                                      says how; the rule itself is rnnlab.training.stopping's)
    task.describe()                -> one line about the data, printed when training starts
    Task.from_config(tcfg, meta)   -> the task of a TrainConfig (meta: when reloading a run)
    Task.OPTIONS                   the task's own command-line options (TaskOption)

A trained model (`TrainedModel` subclass, one per task) wraps a SequenceModel with what its
task needs to read and write data, and offers the task's verbs (sample, forecast, evaluate).
The task registry (tasks/registry.py) pairs each task with its trained model and file types.
"""
from dataclasses import dataclass


from .. import validate
from ..errors import RnnlabError


@dataclass(frozen=True)
class TaskOption:
    """One task-specific command-line option; its value reaches the task through
    TrainConfig.task_options[name]."""
    name: str                  # 'lookback' -> --lookback
    help: str                  # one line; the default is appended by the command line
    type: type = str
    default: object = None     # the task's own default (None: decided from the data)
    choices: tuple = None
    flag: bool = False         # a switch (store_true)


# The default stopping rule's cap: this many passes over the training data (unless a task
# says otherwise), kept within bounds that each task sets for its kind of data (STOP_RULE,
# shown in `rnnlab train --help`). Early stopping on validation usually ends a run sooner.
DEFAULT_EPOCHS = 10


def default_steps(batches_per_epoch, min_steps, max_steps, what, cap=None,
                  passes=DEFAULT_EPOCHS):
    """(steps, sentence) of the default stopping rule's cap: `passes` over the training
    data (`what`, e.g. 'the 903,468 training tokens'), raised to `min_steps` or lowered to
    `max_steps` (`cap` says what that maximum stands for, e.g. '20 million tokens')."""
    steps = max(1, int(round(passes * batches_per_epoch)))
    why = f"{passes:g} passes over {what} ({_steps(batches_per_epoch)} a pass)"
    if steps < min_steps:
        steps, why = min_steps, why + f", raised to the minimum of {min_steps:,} steps"
    elif steps > max_steps:
        steps, why = max_steps, why + f", capped at {cap or f'{max_steps:,} steps'}"
    return steps, why


def _steps(n):
    return f"{n:,} step" + ("" if n == 1 else "s")


def task_options(tcfg, task_cls):
    """tcfg.task_options checked against the task's OPTIONS: an option of another task is an
    error naming the options this task takes. Returns {name: value} with the defaults filled."""
    allowed = {o.name: o for o in task_cls.OPTIONS}
    opts = dict(tcfg.task_options or {})
    bad = sorted(k for k in opts if k not in allowed)
    if bad:
        names = ", ".join("--" + a.replace("_", "-") for a in allowed) or "no options of its own"
        raise RnnlabError(f"--{bad[0].replace('_', '-')} is not an option of the "
                          f"{task_cls.kind} task; remove it (the {task_cls.kind} task takes "
                          f"{names})")
    return {name: opts.get(name, o.default) for name, o in allowed.items()}


def hold_out(seqs, val_fraction):
    """(train, valid) when the data has no 'valid' split (music rolls, melodies): the last
    val_fraction of the sequences, or, with too few of them, the last val_fraction of each
    sequence's steps (where that is at least 2)."""
    n_val = int(len(seqs) * val_fraction)
    if n_val >= 1 and len(seqs) - n_val >= 1:
        return seqs[:-n_val], seqs[-n_val:]
    train, valid = [], []
    for s in seqs:
        k = int(len(s) * val_fraction)
        train.append(s[:len(s) - k] if k >= 2 else s)
        if k >= 2:
            valid.append(s[len(s) - k:])
    return train, valid


def positive_int(name, v):
    """A positive integer option value, or an error naming the option."""
    return validate.positive_int(f"--{name.replace('_', '-')}", v)


# The explain page lives upstairs (rnnlab.viz, floor 5), which nothing here may import; the
# viz package hands its builder down on import (rnnlab.viz.__init__ calls set_explainer, and
# `import rnnlab` imports rnnlab.viz), so every model still offers `model.explain(text)`.
_explainer = None


def set_explainer(fn):
    """Install the function behind TrainedModel.explain: fn(model, inputs, **options) -> a
    page object (rnnlab.viz.page.HtmlPage)."""
    global _explainer
    _explainer = fn


class TrainedModel:
    """A SequenceModel plus what its task needs to read and write data. Subclasses add the
    task's verbs; `rnnlab.load` picks the subclass from the task registry. `members`: the
    other models of an ensemble run (config.json "members"); `self.members` lists them all,
    `model` first."""
    kind = None
    vocab = None
    # What the commands may ask of a trained model beyond its verbs, so that app/ never asks
    # which task it is: evaluate's options besides the file (series: season), and whether
    # `rnnlab sample` writes music (MIDI, notes JSON, a piano roll) through draw_music().
    EVALUATE_OPTIONS = ()
    WRITES_MUSIC = False
    # what the model answers besides its states, for a caller that asks rather than branching
    # on the task (rnnlab serve): a subset of ("sample", "score", "forecast")
    verbs = ()

    def explain(self, inputs, *, lang=None, title=None, **options):
        """This model's explain page on `inputs` (text: a str or token ids; series and music:
        an array (T, D)): an HtmlPage that Jupyter shows inline and `.save(path)` writes as one
        self-contained file, the same file as `rnnlab explain`. lang: the page's language
        (default English; rnnlab.viz.i18n.languages() lists them)."""
        if _explainer is None:
            raise RnnlabError("the explain page needs rnnlab.viz: import rnnlab (or rnnlab.viz) "
                              "first")
        return _explainer(self, inputs, lang=lang, title=title, **options)

    def __init__(self, model, data_meta, train_cfg=None, path=None, members=()):
        self.model, self.meta, self.train_cfg, self.path = model, data_meta, train_cfg or {}, path
        self.members = [model, *members]
        self.cfg = model.cfg
        for m in self.members:
            m.eval()

    def labels(self):
        """A label for each output unit (tokens, pitches, or indices)."""
        return [str(j) for j in range(self.cfg.output_size)]

    # the verbs of the other tasks: a clear error instead of an AttributeError
    def sample(self, *args, **kwargs):
        raise RnnlabError(f"sample works on text and music models; this run is a "
                          f"{self.cfg.task} model")

    def draw_music(self, length, temperature=1.0, top_k=0, prime="", seed=None, output=None,
                   json_out=None):
        """-> (steps, notes or None, what): a music sample, written to MIDI `output` and/or
        notes JSON `json_out`; `what` says in a few words what was drawn."""
        raise RnnlabError(f"this run is a {self.cfg.task} model; it does not write music")

    def forecast(self, *args, **kwargs):
        raise RnnlabError(f"forecast works on series models; this run is a {self.cfg.task} model")

    def evaluate(self, path, **kwargs):
        raise NotImplementedError

    def score(self, data):
        """How well the model predicts `data` (the task's plain form: a str for text, a list of
        steps for music); a dict of numbers, as evaluate() gives for a file."""
        raise RnnlabError(f"score works on text and music models; this run is a "
                          f"{self.cfg.task} model")

    def model_input(self, data):
        """Plain JSON data (music: a list of steps, each a list of MIDI pitches; series: a list
        of rows or values in the data's units) as {"x": (T, D) model inputs, "labels": [str]},
        what the inspection tools read (rnnlab.viz.subject.read_input). Text models read a str
        there directly."""
        raise RnnlabError(f"a {self.cfg.task} model reads text, not a list")

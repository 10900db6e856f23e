"""THE table of general defaults: every option of a run that has one, in one place.

`ModelConfig` (tasks/model.py) and `TrainConfig` (training/api.py) take their field defaults
from here, and `rnnlab train`'s help prints them from here, so `rnnlab train x.txt` and
`rnnlab.train("x.txt")` build the same model. The order in which a value wins is coded once,
in `training.api._new_configs`: the option given, then the task's own default (Task.defaults,
measured per task), then a default the task chooses from its data (Task.choose_defaults),
then this table.

A leaf module (floor 0): plain data, no imports, so any floor may read it.
"""

# Model (ModelConfig): the char-rnn family's 2 x 128 LSTM.
MODEL = dict(
    cell="lstm",
    hidden=128,
    layers=2,
    dropout=0.0,               # between stacked layers
    input_dropout=0.0,         # on x before the first layer
    output_dropout=0.0,        # on the top layer's h before the head
    variant="standard",        # LSTM: standard | peephole | coupled
    nonlinearity="tanh",       # RNN: tanh | relu
    embed=0,                   # text: 0 = one-hot input
    forget_bias=None,          # None: torch's uniform init (LSTM); the xLSTM cells' spread
    dtype="float32",
    head="bernoulli",          # music: bernoulli (a sigmoid per pitch) | nade (chords jointly)
    nade_hidden=150,           # head nade: the NADE's hidden units
)

# Training (TrainConfig).
TRAIN = dict(
    tokens="char",             # text: char | word
    encoding="utf-8",
    seq_len=50,                # T of a truncated-BPTT window
    batch=50,                  # B
    val_fraction=0.1,          # the end of the data held out for validation
    optimizer="adam",
    lr=2e-3,
    lr_decay=1.0,              # multiply the lr by this every lr_decay_every steps
    lr_decay_every=1000,
    clip=5.0,                  # global gradient-norm clip; 0 = off
    weight_decay=0.0,
    steps=None,                # None: the task's stopping rule
    epochs=None,
    time_budget=None,          # seconds of wall clock
    eval_every=100,
    patience=None,             # validations without improvement before stopping; 0 = off;
                               # None: STOPPING["patience"] under the default rule, else off
    val_sample=20_000,         # validate on a fixed sample of at most this many model steps
                               # while training (the full part once at the end); 0 = all
    on_nan="stop",             # stop | skip
    seed=0,
    backend=None,              # None: numba when installed
)

# The default stopping rule (training/stopping.py): early stopping after `patience`
# validations without an improvement of more than max(min_delta_abs, min_delta_rel * |best|).
# 10: the series task's measured value (docs/series-and-music.md), the same for every task
# since issue 23 (1,000 steps at --eval-every 100).
STOPPING = dict(
    patience=10,
    min_delta_rel=1e-3,
    min_delta_abs=1e-8,
)

ALL = {**MODEL, **TRAIN}

"""The numba kernels' first compile, ahead of time (``warm_up``, ``rnnlab warmup``); the line
that says it is happening when the cache is cold is ``nn.kernel_cache.compile_note``.

numba compiles a kernel the first time it is called with a new signature (an array's dtype,
dimensions, layout) and keeps the machine code on disk (``cache=True``, in NUMBA_CACHE_DIR or
beside the sources): a second process loads it in milliseconds. Nothing is compiled eagerly:
a float32 model never compiles the float64 kernels, and the threaded variants (the batch
split, the unit split, the threaded GEMMs; ``nn.kernels.policy``) compile only when a size
first takes them. What a first run still pays is its own cell's one-thread kernels, about
4-8 s of one core plus 5 s shared (docs/performance.md; `rnnlab train` and `rnnlab demo`
compile the threaded variants in the background, ``nn.kernels.background``); ``warm_up``
pays it all ahead of time for every cell, both dtypes and every threaded variant, by training
a tiny model of each for two steps and sampling from it, and again with each of the
options that have compiled paths of their own (``OPTION_SETS``: the LSTM's layer norm, zoneout
and recurrent dropout in every combination, the GRU's and RNN's recurrent dropout).

A run that loads the machine code computes the same bits as one that compiled it
(tests/test_coldstart.py). A cold `rnnlab train` or `rnnlab demo` also compiles part of what
it needs in a second process, on the other core (``ahead``).
"""
import itertools
import time

import numpy as np

from ..nn.kernel_cache import mark_ready, run_key

DTYPES = ("float32", "float64")
SPLITS = ("batch", "units")

# The options that run compiled paths of their own (a class per combination, so each compiles
# on its first use): every combination of the LSTM's layer norm, zoneout and recurrent dropout
# (kernels/lstm_options.py), and the GRU's and RNN's recurrent dropout (kernels/rdrop_gates.py).
_LSTM_OPTIONS = (("layer_norm", True), ("zoneout", 0.1), ("recurrent_dropout", 0.25))
OPTION_SETS = {
    "lstm": [dict(c) for n in (1, 2, 3) for c in itertools.combinations(_LSTM_OPTIONS, n)],
    "gru": [{"recurrent_dropout": 0.25}],
    "rnn": [{"recurrent_dropout": 0.25}],
}


def tiny_run(cell, dtype, batch, hidden, seed=0, cell_options=None, chars="abcd", steps=2,
             sample=True):
    """Train a one-layer token model of `cell` (vocabulary `chars`) for `steps` steps and
    sample 3 tokens from it: every kernel a text run of that cell and dtype calls, at this
    size's policy."""
    from ..data.text import Vocab
    from ..tasks.model import ModelConfig, SequenceModel
    from ..tasks.text import TextModel, TextTask
    from .api import TrainConfig
    from .trainer import Trainer
    vocab = Vocab(list(chars), level="char")
    ids = np.random.default_rng(seed).integers(0, vocab.size, 8 * batch + 1)
    task = TextTask(ids, vocab, batch=batch, seq_len=4, val_fraction=0.0)
    cfg = ModelConfig(task="text", cell=cell, input_size=vocab.size, output_size=vocab.size,
                      hidden=hidden, layers=1, seed=seed, dtype=dtype,
                      cell_options=dict(cell_options or {}))
    tcfg = TrainConfig(steps=steps, batch=batch, seq_len=4, eval_every=steps, seed=seed)
    model = SequenceModel(cfg)
    Trainer(model, task, tcfg, run=None, log=lambda msg: None).fit(progress=False)
    if sample:
        tm = TextModel(model.eval(), {"kind": "text", "vocab": vocab.to_json()})
        list(tm.sample_ids(3, seed=seed))


def warm_up(cells=None, dtypes=DTYPES, splits=SPLITS, say=print, options=True):
    """Compile (or load from the cache) every kernel that `cells` (registry names; None: all)
    run in `dtypes`, single-thread and in the threaded variants `splits` (a subset of SPLITS),
    and with options, each of the cell's OPTION_SETS (one thread, and the batch split when
    asked: they never take the unit split). Returns [{cell, options, dtype, cpu_s, wall_s}]
    in the order run; says one line per row."""
    from ..nn import registry
    rows = []
    for cell in cells or list(registry.CELLS):
        registry.get(cell)
        for opts in [{}] + (OPTION_SETS.get(cell, []) if options else []):
            name = cell + "".join(f" +{k}" for k in opts)
            for dtype in dtypes:
                c0, w0 = time.process_time(), time.perf_counter()
                _warm_one(cell, dtype, splits if not opts else
                          tuple(s for s in splits if s == "batch"), opts)
                mark_ready([run_key(cell, opts, dtype)])     # no compile note for these runs
                row = dict(cell=cell, options=opts, dtype=dtype,
                           cpu_s=round(time.process_time() - c0, 2),
                           wall_s=round(time.perf_counter() - w0, 2))
                say(f"{name:8s} {dtype}: {row['wall_s']:6.1f} s ({row['cpu_s']:.1f} s of CPU)")
                rows.append(row)
    return rows


def _warm_one(cell, dtype, splits, opts):
    """One cell, dtype and option set: a tiny run on one thread, then one per split forced."""
    from ..nn.kernels import policy
    tiny_run(cell, dtype, batch=2, hidden=8, cell_options=opts)
    for split in splits:
        with policy.forced(split):
            tiny_run(cell, dtype, batch=16, hidden=2 * policy.UNITS_ALIGN, cell_options=opts)

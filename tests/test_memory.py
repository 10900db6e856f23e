"""Memory is worked out before anything big is allocated: the parameter count from the config
alone is exact, the estimate bounds what training really allocates, and a model that cannot
fit is refused with one line that gives both numbers."""
import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from conftest import chorale_json, word_text

from rnnlab.app.cli import main
from rnnlab.errors import RnnlabError
from rnnlab.nn import registry
from rnnlab.tasks.memory import (available_memory, check_fits, estimate_training_memory,
                                 fmt_bytes, parameter_count, parameter_shapes)
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.training.api import train


@pytest.fixture
def text(tmp_path):
    return word_text(tmp_path / "t.txt", 3000)


@pytest.mark.parametrize("choice", sorted(registry.choices()))
@pytest.mark.parametrize("task, embed", [("text", 0), ("text", 5), ("series", 0), ("music", 0)])
def test_parameter_count_from_the_config_is_exact(choice, task, embed):
    cfg = ModelConfig(task=task, input_size=7, output_size=7 if task != "series" else 1,
                      hidden=6, layers=3, embed=embed, **registry.from_choice(choice))
    model = SequenceModel(cfg)
    assert parameter_shapes(cfg) == {k: v.shape for k, v in model.params.items()}
    assert parameter_count(cfg) == sum(v.size for v in model.params.values())


def _traced_peak(data, out, opts):
    """The peak of Python-traced allocations (NumPy's included) of `train(data, **opts)`
    into `out`, above what was allocated before it."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        train(str(data), out=str(out), progress=False, log=lambda m: None, **opts)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cell, hidden", [("lstm", 96), ("gru", 96), ("rnn", 160)])
def test_the_estimate_bounds_what_training_allocates(text, tmp_path, cell, hidden):
    """Two training steps with a checkpoint after each (the reference cells, whose caches are
    the larger): the traced peak stays under the estimate, and the estimate is not wildly
    above it."""
    from rnnlab.training.api import _new_configs
    opts = dict(cell=cell, hidden=hidden, layers=2, batch=16, seq_len=40, steps=2,
                eval_every=1, backend="numpy")
    tcfg, mcfg, task, _ = _new_configs(str(text), dict(opts))
    est = estimate_training_memory(mcfg, tcfg.batch, tcfg.seq_len, tcfg.optimizer,
                                   task.eval_tokens, "numpy", task.eval_seq_len)
    del task
    # first a tiny run: what a process imports and caches once is no training allocation
    train(str(text), out=str(tmp_path / "warm"), progress=False, log=lambda m: None,
          **dict(opts, hidden=4, layers=1, seq_len=4, batch=2))
    peak = _traced_peak(text, tmp_path / "run", opts)
    assert peak <= est.total <= 4 * peak, (fmt_bytes(peak), est.summary())


def test_the_estimate_bounds_the_numpy_nade_head(tmp_path):
    """The NADE head's NumPy reference keeps every pitch's hidden units for its backward,
    (T, B, P, Hn): counted, it is most of this run's peak (the numba kernel keeps none)."""
    from rnnlab.training.api import _new_configs
    data = chorale_json(tmp_path / "c.json", 40, 4)
    opts = dict(hidden=32, batch=16, seq_len=32, steps=2, eval_every=1, backend="numpy",
                head="nade", nade_hidden=100)
    tcfg, mcfg, task, _ = _new_configs(str(data), dict(opts))
    est = estimate_training_memory(mcfg, tcfg.batch, tcfg.seq_len, tcfg.optimizer,
                                   task.eval_tokens, "numpy", task.eval_seq_len)
    train(str(data), out=str(tmp_path / "warm"), progress=False, log=lambda m: None,
          **dict(opts, hidden=4, nade_hidden=4, seq_len=4, batch=2))
    peak = _traced_peak(data, tmp_path / "run", opts)
    assert peak <= est.total <= 4 * peak, (fmt_bytes(peak), est.summary())

# two sizes: (H, T, B) and the mLSTM's heads (parallel, recurrent); the mLSTM (NumPy only,
# the slowest) trains half the rows, and its heads keep the recurrent form's per-step memory
# (heads x (H/heads)^2) near 70 MB
SIZES = [((128, 100, 32), (1, 4)), ((256, 60, 32), (4, 8))]


def _cases():
    """Every cell of the registry, in every mode it has, at both sizes."""
    cases = []
    for (H, T, B), (par_heads, rec_heads) in SIZES:
        for spec in registry.CELLS.values():
            modes = [o.choices for o in spec.options if o.name == "mode"]
            for mode in (modes[0] if modes else [None]):
                opts = {"mode": mode} if mode else {}
                rows = B
                if spec.name == "mlstm":
                    opts["num_heads"] = par_heads if mode == "parallel" else rec_heads
                    rows = B // 2
                cases.append(dict(cell=spec.name, hidden=H, layers=1, seq_len=T, batch=rows,
                                  val_fraction=0.02, **({"cell_options": opts} if opts else {})))
    return cases


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux's /proc/self/clear_refs to reset the peak RSS")
def test_the_estimate_is_within_30_percent_of_the_measured_peak_rss(tmp_path):
    """Every cell and mode at two sizes: the peak resident memory a training run adds (two
    steps, a validation and a checkpoint after each; measured in a subprocess over a
    baseline, tests/memory_probe.py says how) against the estimate, +-30%."""
    word_text(tmp_path / "t.txt", 6000)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                           os.environ.get("PYTHONPATH", "")]))
    probe = Path(__file__).with_name("memory_probe.py")
    out = subprocess.run([sys.executable, str(probe), str(tmp_path / "t.txt"),
                          str(tmp_path / "runs"), json.dumps(_cases())],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == len(_cases()) >= 2 * len(registry.CELLS)
    bad = [(r["case"], fmt_bytes(r["measured"]), fmt_bytes(r["estimate"])) for r in rows
           if not 0.7 <= r["estimate"] / r["measured"] <= 1.3]
    assert not bad, bad


def test_the_mlstm_names_its_quadratic_term_and_the_mode_that_avoids_it():
    """The parallel mLSTM's T x T matrices (T within one chunk: the whole-sequence form) are
    named in the estimate and in the refusal, which offers --mode recurrent; a longer T runs
    in chunks, named with their L x L blocks and carried state and no O(T^2); the recurrent
    form's per-step memory C likewise."""
    cfg = ModelConfig(task="text", input_size=50, output_size=50, hidden=128,
                      cell="mlstm", cell_options={"mode": "parallel"})
    est = estimate_training_memory(cfg, batch=50, seq_len=64, eval_tokens=3200,
                                   eval_seq_len=64)
    assert "64 x 64 matrices per head and sequence (O(T^2))" in est.summary()
    with pytest.raises(RnnlabError, match=r"O\(T\^2\)\).*--seq-len, or --mode recurrent"):
        check_fits(est, available=1 << 20)
    long = estimate_training_memory(cfg, batch=50, seq_len=50, eval_tokens=16_000,
                                    eval_seq_len=1000)
    assert "63 x 63 blocks and the 1 x 128 x 128 state carried into each of 16 chunks of 63 " \
           "steps per sequence" in long.summary() and "O(T^2)" not in long.summary()
    rec = estimate_training_memory(
        ModelConfig(task="text", input_size=50, output_size=50, hidden=256, cell="mlstm",
                    cell_options={"mode": "recurrent"}), batch=32, seq_len=200)
    # C: 200 steps x 32 rows x 256 x 256, kept and copied for backward, float32
    assert rec.activations >= 2 * 200 * 32 * 256 * 256 * 4
    assert "matrix memory C, 1 x 256 x 256 per step" in rec.summary()
    with pytest.raises(RnnlabError, match="or more --num-heads"):
        check_fits(rec, available=1 << 20)


def test_a_model_too_big_is_refused_before_it_is_built(text, tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the model was allocated")
    monkeypatch.setattr(sys.modules["rnnlab.training.api"], "SequenceModel", never)
    assert main(["train", str(text), "--out", str(tmp_path / "run"), "--hidden", "100000"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert re.fullmatch(r"rnnlab: error: this model needs about [\d.]+ TiB of memory to train "
                        r"\(120,0\d\d,\d{3},\d{3} parameters: [\d.]+ TiB with their gradients and "
                        r"optimizer buffers, [\d.]+ GiB of activations\), but this machine has "
                        r"[\d.]+ [KMGT]iB available; use a smaller --hidden, --layers, --batch or "
                        r"--seq-len\n", err), err
    assert not (tmp_path / "run").exists()


def test_check_fits_names_both_numbers():
    cfg = ModelConfig(task="text", input_size=50, output_size=50, hidden=64, layers=2)
    est = estimate_training_memory(cfg, batch=8, seq_len=16)
    assert check_fits(est, available=est.total) == est.total
    with pytest.raises(RnnlabError, match=rf"needs about {re.escape(fmt_bytes(est.total))} .* "
                       r"has 1\.0 MiB available"):
        check_fits(est, available=1 << 20)
    assert est.params == parameter_count(cfg)
    assert est.summary(1 << 30).startswith(f"model: {est.params:,} parameters (")
    assert est.summary(1 << 30).endswith("; 1.0 GiB available")


def test_available_memory_is_known_here():
    avail = available_memory()
    assert avail is None or 0 < avail < 1 << 50
    assert [fmt_bytes(n) for n in (512, 1536, 300 << 20, 5 << 40)] == \
        ["512 B", "1.5 KiB", "300 MiB", "5.0 TiB"]

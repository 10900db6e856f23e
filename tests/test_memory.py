"""Memory is worked out before anything big is allocated: the parameter count from the config
alone is exact, the estimate bounds what training really allocates, and a model that cannot
fit is refused with one line that gives both numbers."""
import re
import sys
import tracemalloc

import pytest
from conftest import word_text

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
                                   task.eval_tokens)
    del task
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        train(str(text), out=str(tmp_path / "run"), progress=False, log=lambda m: None, **opts)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= est.total <= 4 * peak, (fmt_bytes(peak), est.summary())


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

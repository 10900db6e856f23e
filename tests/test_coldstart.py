"""The cold start: a run on a machine whose kernel cache is empty compiles the kernels, says so
once, and computes the same bits as the run that loads them; `rnnlab warmup`'s options.

One cell (the RNN, the cheapest to compile), one dtype, a tiny model: the compile dominates
(about 20 s of one core), so this module compiles once, into its own empty cache folder."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.app.cli import main
from rnnlab.training.run_folder import load_tensors

SRC = str(Path(__file__).resolve().parents[1] / "src")
NOTE = "compiling kernels for this machine (once, about"
TINY = ["--cell", "rnn", "--hidden", "8", "--layers", "1", "--batch", "4", "--seq-len", "8",
        "--steps", "3", "--eval-every", "3", "--backend", "numba"]


def rnnlab(cache, *args):
    """`python -m rnnlab ARGS` in a child process whose numba cache is `cache`."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "NUMBA_CACHE_DIR": str(cache)}
    env.pop("RNNLAB_BACKEND", None)
    return subprocess.run([sys.executable, "-m", "rnnlab", *args], env=env, text=True,
                          capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def cold_and_warm(tmp_path_factory):
    """The same run twice: first with an empty kernel cache, then with what it left there."""
    root = tmp_path_factory.mktemp("coldstart")
    text = root / "t.txt"
    rng = np.random.default_rng(0)
    text.write_text(" ".join(rng.choice("the cat sat on a mat and ran".split(), 200)))
    cache = root / "numba-cache"
    runs = {}
    for name in ("cold", "warm"):
        proc = rnnlab(cache, "train", str(text), "--out", str(root / name), *TINY)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = proc
    return root, cache, runs


def test_a_cold_run_says_it_compiles_once_and_computes_the_warm_runs_bits(cold_and_warm):
    root, cache, runs = cold_and_warm
    assert runs["cold"].stderr.count(NOTE) == 1
    assert NOTE not in runs["warm"].stderr                   # the cache is warm: nothing said
    assert any(f.endswith(".nbc") for _, _, fs in os.walk(cache) for f in fs)
    cold = load_tensors(root / "cold" / "model.safetensors")
    warm = load_tensors(root / "warm" / "model.safetensors")
    assert cold.keys() == warm.keys() and len(cold) > 0
    for k in cold:
        assert cold[k].dtype == warm[k].dtype and cold[k].tobytes() == warm[k].tobytes(), k


def test_warmup_compiles_a_cell_and_reports_its_time(cold_and_warm):
    root, cache, _ = cold_and_warm                          # warm: this loads, in seconds
    proc = rnnlab(cache, "warmup", "--cells", "rnn", "--dtype", "float32", "--splits", "none",
                  "--no-options")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("rnn      float32:") and "s of CPU" in lines[0]
    assert lines[-1].startswith("kernels ready:")


@pytest.mark.parametrize("args, says", [
    (["--cells", "lstmm"], "invalid choice: 'lstmm'"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--splits", "none", "batch"], "--splits: 'none' cannot go with a split"),
])
def test_warmup_refuses_bad_options_in_one_line(args, says, capsys):
    try:
        code = main(["warmup", *args])
    except SystemExit as e:                     # argparse's own usage errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_warmup_help_lists_every_cell(capsys):
    with pytest.raises(SystemExit) as e:
        main(["warmup", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cell in ("rnn", "lstm", "gru", "mingru", "minlstm", "slstm", "mlstm"):
        assert cell in out


def test_warmup_runs_every_option_set_on_one_thread_and_the_batch_split(monkeypatch):
    """What warm_up asks for (the compiles themselves: the cold-run test above and each
    kernel's own tests): the plain cell in every split, then each option set (all seven
    combinations of the LSTM's three) on one thread and the batch split only."""
    from rnnlab.training import warmup
    calls = []
    monkeypatch.setattr(warmup, "_warm_one", lambda *a: calls.append(a))
    rows = warmup.warm_up(["lstm", "gru", "mingru"], ("float32",), ("batch", "units"),
                          say=lambda line: None)
    assert len(rows) == len(calls) == 1 + 7 + 2 + 1
    assert calls[0] == ("lstm", "float32", ("batch", "units"), {})
    lstm_sets = [c[3] for c in calls if c[0] == "lstm" and c[3]]
    assert len(lstm_sets) == 7 and {"layer_norm": True, "zoneout": 0.1,
                                    "recurrent_dropout": 0.25} in lstm_sets
    assert all(c[2] == ("batch",) for c in calls if c[3])
    assert [c[3] for c in calls if c[0] == "mingru"] == [{}]
    rows = warmup.warm_up(["gru"], ("float32",), (), say=lambda line: None, options=False)
    assert [r["options"] for r in rows] == [{}]



def test_cached_machine_code_is_dropped_when_the_kernel_sources_change(tmp_path, monkeypatch):
    """Under NUMBA_CACHE_DIR too: a cached caller holds the machine code of the callees it
    inlined from other files, so a changed source must drop the whole kernel cache."""
    import numba

    from rnnlab.nn import kernels
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    folder = Path(kernels.cache_folder())
    assert tmp_path in folder.parents
    folder.mkdir(parents=True, exist_ok=True)       # numba may make it as it locates it
    (folder / "loops._fwd_rows-1.py311.nbi").write_text("old")
    kernels.drop_stale_cache()                       # no fingerprint yet: dropped
    assert not (folder / "loops._fwd_rows-1.py311.nbi").exists()
    (folder / "loops._fwd_rows-1.py311.nbi").write_text("new")
    kernels.drop_stale_cache()                       # the same sources: kept
    assert (folder / "loops._fwd_rows-1.py311.nbi").exists()
    stamp = next(folder.glob("*.stamp"))
    stamp.write_text(stamp.read_text() + ";panels.py:1:1")     # a source changed
    kernels.drop_stale_cache()
    assert not (folder / "loops._fwd_rows-1.py311.nbi").exists()

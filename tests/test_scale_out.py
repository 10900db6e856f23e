"""examples/scale_out_ddp.py: 2 gloo processes on loopback, a few steps, import back; the
imported model's loss in rnnlab equals what torch reported (same data, same loss)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from rnnlab.training.load import load  # noqa: E402
from rnnlab.training.api import TrainConfig, build_task, train  # noqa: E402
from rnnlab.training.run_folder import RunFolder  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scale_out_ddp.py"


# the LSTM as torch has it; with every option (the twin of interop/torch_lstm.py computes what
# nn.LSTM lacks; zoneout and recurrent dropout draw torch's own masks in training, so the first
# training loss is not rnnlab's there, but evaluation agrees exactly); and cells torch lacks
# (rnnlab's own torch modules: interop/torch_min.py, interop/torch_xlstm.py)
CASES = {"lstm": ("lstm", {}),
         "lstm-options": ("lstm", {"proj_size": 5, "layer_norm": True, "zoneout": (0.1, 0.05),
                                   "recurrent_dropout": 0.25}),
         "minlstm": ("minlstm", {}),
         "slstm": ("slstm", {"num_heads": 2}), "mlstm": ("mlstm", {"num_heads": 2})}


@pytest.mark.parametrize("case", list(CASES))
def test_ddp_example_two_processes(tmp_path, case):
    cell, options = CASES[case]
    data = tmp_path / "t.txt"
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to it".split()
    data.write_text(" ".join(rng.choice(words, 1500)))
    run = tmp_path / "run"
    train(str(data), out=str(run), cell=cell, hidden=8, layers=2, embed=6, steps=4,
          eval_every=2, batch=4, seq_len=12, progress=False, log=lambda m: None,
          **({"cell_options": options} if options else {}))
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(EXAMPLE), str(run), "--out", str(out),
                          "--steps", "3", "--nproc", "2"], capture_output=True, text=True,
                         env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((out / "ddp_report.json").read_text())
    assert report["world_size"] == 2 and len(report["train_losses"]) == 3

    # the two processes ended with the same weights, different from the start
    work = Path(str(out) + ".ddp-work")
    r0, r1, start = (torch.load(work / f, weights_only=True)
                     for f in ("rank0.pt", "rank1.pt", "start.pt"))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert not all(torch.equal(r0[k], start[k]) for k in r0)

    # same data, same loss: torch's first-step loss (mean over both shards) = rnnlab's loss on
    # batch 0 with the exported weights
    cfg = RunFolder(run).read_config()
    task = build_task(TrainConfig(**cfg["train"]), cfg["data"])
    before = load(str(run)).model
    inputs, targets, _ = task.batch(0)
    loss0, _ = before.loss(before.forward(inputs)[0], targets)
    if not {"zoneout", "recurrent_dropout"} & set(options):
        assert abs(report["train_losses"][0] - loss0) < 1e-5
    else:
        assert abs(report["train_losses"][0] - loss0) < 0.5      # the same model, other masks

    # the imported run evaluates to what torch reported
    after = load(str(out)).evaluate(report["eval_file"])
    assert abs(after["loss"] - report["eval_loss"]) < 1e-5
    from rnnlab.app.cli import main
    assert main(["evaluate", str(out), str(data)]) == 0
    assert main(["explain", str(out), "--text", "the cat sat", "-o",
                 str(tmp_path / "explain.html")]) == 0

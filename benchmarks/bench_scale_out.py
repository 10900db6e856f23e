"""`rnnlab train --nproc N` beside single-process rnnlab: a character LM, the same run three ways,
each in its own process, alternating, a few rounds:

    single   rnnlab train corpus --out ...                 (rnnlab's NumPy loop)
    ddp-1    the same run on 1 process of torch DDP          (the twin + DDP, no parallelism)
    ddp-2    rnnlab train corpus --out ... --nproc 2        (2 gloo processes on loopback)

For each: training tokens/s in steady state (history.json's last record, which spans the steps
between the last two evaluations: no start-up, no validation), wall and CPU seconds of the whole
command (CPU: the command and its children, getrusage), and the parameters after the run against
single's (float64: the runs are the same run, so this is the correctness check).

    python benchmarks/bench_scale_out.py [--steps 60] [--rounds 2] [--hidden 128] [--batch 32]

On a machine with 2 cores shared with other work, 2 processes cannot run faster than 1: the
ratios show the cost of the distributed step (torch's twin, the all-reduce, the per-step stop
decision), not a speed-up.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parents[1] / "src")


def cpu_name():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(kind, corpus, out, a):
    args = [str(corpus), "--out", str(out), "--steps", str(a.steps), "--eval-every",
            str(a.steps // 2), "--hidden", str(a.hidden), "--layers", "1", "--batch",
            str(a.batch), "--seq-len", "50", "--embed", "32", "--dtype", "float64"]
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    if kind == "ddp-1":
        code = ("from rnnlab.training.launch import launch; "
                "from rnnlab.interop.torch import build_twin; "
                f"launch([dict(data={str(corpus)!r}, out={str(out)!r}, progress=False, "
                f"steps={a.steps}, eval_every={a.steps // 2}, hidden={a.hidden}, layers=1, "
                f"batch={a.batch}, seq_len=50, embed=32, dtype='float64')], 1, build_twin)")
        cmd = [sys.executable, "-c", "if __name__ == '__main__':\n    " + code]
    else:
        cmd = [sys.executable, "-m", "rnnlab", "train", *args]
        if kind == "ddp-2":
            cmd += ["--nproc", "2"]
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    hist = json.loads((out / "history.json").read_text())
    return {"tok_s": hist[-1]["tokens_per_s"], "wall": wall, "cpu": cpu}


def params(out):
    from safetensors.numpy import load_file
    return load_file(str(out / "model.safetensors"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to it while birds sang".split()
    corpus = tmp / "corpus.txt"
    corpus.write_text(" ".join(rng.choice(words, 60000)))
    kinds = ["single", "ddp-1", "ddp-2"]
    rows = {k: [] for k in kinds}
    diffs = {}
    for r in range(a.rounds):
        for k in kinds:
            out = tmp / f"{k}-{r}"
            rows[k].append(run(k, corpus, out, a))
            if k != "single":
                ref, got = params(tmp / f"single-{r}"), params(out)
                diffs[k] = max(diffs.get(k, 0.0), max(float(np.max(np.abs(ref[n] - got[n])))
                                                      for n in ref))
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu_name()}, "
          f"{os.cpu_count()} cores; load {os.getloadavg()}")
    print(f"# char LM: LSTM H={a.hidden}, embed 32, B={a.batch}, T=50, float64, Adam, "
          f"{a.steps} steps, {a.rounds} rounds (medians)")
    print("| run | train tok/s | wall s | CPU s | CPU s / step | tok/s vs single | "
          "max abs param diff vs single |")
    print("|---|---|---|---|---|---|---|")
    base = np.median([x["tok_s"] for x in rows["single"]])
    for k in kinds:
        tok = np.median([x["tok_s"] for x in rows[k]])
        wall = np.median([x["wall"] for x in rows[k]])
        cpu = np.median([x["cpu"] for x in rows[k]])
        diff = "-" if k == "single" else f"{diffs[k]:.1e}"
        print(f"| {k} | {tok:,.0f} | {wall:.1f} | {cpu:.1f} | {cpu / a.steps:.3f} | "
              f"{tok / base:.2f} | {diff} |")
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

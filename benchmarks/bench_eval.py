"""`rnnlab evaluate` of a 2x128 char model over 1 MB of text: the whole command, timed.

    python benchmarks/bench_eval.py [--corpus benchmarks/data/corpus.txt] [--rounds 3]

Trains a 2-layer, 128-unit char LSTM for 20 steps (the weights do not change the time), then
runs ``rnnlab evaluate RUN CORPUS --json`` in a fresh process, ``--rounds`` times, and prints
the wall time of each run (process start, loading the model, reading and encoding the text,
the exact single-stream loss), the CPU time, and the load average. For comparison the torch
twin's evaluation (``torch_charlm.stream_loss``: one stream, chunks of 1000, state carried)
over the same text, in its own process.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _timed(cmd, env=None):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        sys.exit(f"bench_eval: {' '.join(cmd[:4])} failed:\n{p.stderr[-2000:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, p.stdout


TORCH_EVAL = """
import sys, json, time, torch
sys.path.insert(0, {here!r})
import torch_charlm as tc
torch.set_num_threads({threads})
ids, _, V = tc.load_ids({corpus!r}, val_fraction=0.0)
model = tc.CharLSTM(V)
t0 = time.perf_counter()
loss, n = tc.stream_loss(model, ids)
print(json.dumps({{"loss": loss, "tokens": n, "seconds": time.perf_counter() - t0}}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.path.join(HERE, "data", "corpus.txt"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if not os.path.exists(a.corpus):
        sys.exit(f"bench_eval: {a.corpus} not found; run python benchmarks/make_corpus.py first")
    env = dict(os.environ, NUMBA_NUM_THREADS=str(a.threads))
    rnnlab = [sys.executable, "-m", "rnnlab"]
    with tempfile.TemporaryDirectory(prefix="rnnlab-eval-") as d:
        run = os.path.join(d, "run")
        subprocess.run(rnnlab + ["train", a.corpus, "--out", run, "--hidden", "128", "--layers",
                                 "2", "--steps", "20", "--eval-every", "1000"],
                       check=True, capture_output=True, env=env)
        size = os.path.getsize(a.corpus)
        print(f"rnnlab evaluate, 2x128 LSTM, {size / 1e6:.2f} MB ({os.path.basename(a.corpus)}), "
              f"{a.threads} thread(s)")
        for r in range(a.rounds):
            load = os.getloadavg()[0]
            wall, cpu, out = _timed(rnnlab + ["evaluate", run, a.corpus, "--json"], env)
            res = json.loads(out)
            print(f"  round {r + 1}: {wall:.2f} s wall ({wall * 1e6 / size:.2f} s per MB), "
                  f"{cpu:.2f} s CPU, {res['tokens']} tokens, loss {res['loss']:.4f}; "
                  f"load {load:.2f}")
    load = os.getloadavg()[0]
    wall, cpu, out = _timed([sys.executable, "-c", TORCH_EVAL.format(
        here=HERE, corpus=a.corpus, threads=a.threads)])
    res = json.loads(out)
    print(f"torch twin stream_loss over the same text: {res['seconds']:.2f} s in the loop, "
          f"{wall:.2f} s for the process, {cpu:.2f} s CPU; load {load:.2f}")


if __name__ == "__main__":
    main()

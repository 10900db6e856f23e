"""Quality bar: rnnlab vs its PyTorch twin on char-level language modelling, same wall clock.

    python benchmarks/make_corpus.py                       # -> benchmarks/data/corpus.txt
    python benchmarks/make_stdlib_text.py                  # -> benchmarks/data/stdlib.txt
    python benchmarks/bench_charlm.py --budget 60 [--embed 32] [--corpus PATH] [--torch-first]

Both sides train the same model (one-hot input, or an embedding of --embed E, -> 2-layer LSTM,
128 units -> Linear head,
softmax CE) on the same data pipeline (B=50 contiguous streams, T=50, state carried and reset at
epoch start), Adam 2e-3, global clip 5, for the SAME number of wall-clock seconds of training,
each in its own subprocess, one after the other (never at the same time: 2 shared cores).
The final val loss is computed identically on both sides, after the budget: the last 10% of the
text streamed as one sequence with the state carried, mean nats per predicted character
(rnnlab: rnnlab.training.load.load(run, "model").evaluate(valfile); torch: torch_charlm.stream_loss).
rnnlab trains through its own public trainer (rnnlab.training.api.train with time_budget); eval_every
is set beyond reach so no validation pass runs inside the budget on either side, unless
--validate: then rnnlab validates as `rnnlab train` does by default (a bounded sample every
eval_every steps, the full part at the end, all inside the budget), as a user's run would.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, "data", "corpus.txt")


def rnnlab_side(corpus, budget, backend, seed, workdir, embed=0, validate=False):
    """Runs in the child process: train with rnnlab's trainer, evaluate the saved run."""
    import numpy as np
    import rnnlab
    from rnnlab.training.load import load
    from rnnlab.training.api import train

    if backend:
        rnnlab.set_backend(backend)
    used = rnnlab.get_backend()
    with open(corpus, "rb") as f:
        text = f.read().decode("utf-8")
    n_val = int(len(text) * 0.1)                    # char level: tokens are characters
    valfile = os.path.join(workdir, "val.txt")
    with open(valfile, "wb") as f:
        f.write(text[len(text) - n_val:].encode("utf-8"))
    run = os.path.join(workdir, "run")
    lines = []
    t0 = time.time()
    res = train(corpus, out=run, cell="lstm", hidden=128, layers=2, seq_len=50, batch=50, embed=embed,
                optimizer="adam", lr=2e-3, clip=5.0, val_fraction=0.1, time_budget=budget,
                seed=seed, backend=backend, progress=False,
                **({} if validate else {"eval_every": 10 ** 9}),
                log=lambda m: (lines.append(m), print(m, file=sys.stderr, flush=True)))
    fit_s = time.time() - t0
    rec = res.history[-1]
    train_s = res.steps * 2500 / rec["tokens_per_s"]
    t1 = time.time()
    ev = load(run, "model").evaluate(valfile)
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    return {"side": "rnnlab", "backend": used,
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "numpy": np.__version__,
            "numba": numba_version, "steps": res.steps, "train_seconds": train_s,
            "tokens_per_s": rec["tokens_per_s"], "train_loss_mean": rec["train_loss"],
            "trainer_val_loss_16_streams": rec["val_loss"], "fit_seconds": fit_s,
            "val_loss": ev["loss"], "val_bits_per_char": ev["bits_per_token"],
            "val_tokens": ev["tokens"], "eval_seconds": time.time() - t1, "embed": embed,
            "validate": validate,
            "load": os.getloadavg()[0]}


def child(cmd, threads):
    """Run one side; its stderr streams through, its RESULT line is parsed."""
    env = dict(os.environ, **{k: str(threads) for k in (
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")})
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:3])} ... failed with code {p.returncode}")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    ap = argparse.ArgumentParser(description="rnnlab vs PyTorch, char-LM, same wall clock")
    ap.add_argument("--budget", type=float, default=120.0, help="training seconds per side")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--backend", default=None, choices=("numba", "numpy"),
                    help="rnnlab backend (default: rnnlab.get_backend())")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2,
                    help="BLAS/OpenMP threads of the rnnlab child (OPENBLAS_NUM_THREADS etc.) "
                         "and torch.set_num_threads of the twin")
    ap.add_argument("--embed", type=int, default=0, help="embedding size, 0 = one-hot input")
    ap.add_argument("--torch-first", action="store_true", help="run the torch twin first")
    ap.add_argument("--validate", action="store_true",
                    help="rnnlab validates as `rnnlab train` does by default, inside the budget "
                         "(default: no validation inside the budget)")
    ap.add_argument("--only", choices=("rnnlab", "torch"), default=None)
    ap.add_argument("--side", choices=("rnnlab",), default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if not os.path.exists(a.corpus):
        sys.exit(f"bench: {a.corpus} not found; run python benchmarks/make_corpus.py first")

    if a.side == "rnnlab":                       # inside the child process
        with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as d:
            print("RESULT " + json.dumps(rnnlab_side(a.corpus, a.budget, a.backend, a.seed, d,
                                                     a.embed, a.validate)))
        return

    results, load0 = {}, os.getloadavg()[0]
    sides = [s for s in (("torch", "rnnlab") if a.torch_first else ("rnnlab", "torch"))
             if a.only in (None, s)]
    for side in sides:
        if side == "rnnlab":
            cmd = [sys.executable, os.path.abspath(__file__), "--side", "rnnlab", "--corpus",
                   a.corpus, "--budget", str(a.budget), "--seed", str(a.seed), "--embed",
                   str(a.embed)] + (["--validate"] if a.validate else [])
            if a.backend:
                cmd += ["--backend", a.backend]
            results["rnnlab"] = child(cmd, a.threads)
        else:
            results["torch"] = child([sys.executable, os.path.join(HERE, "torch_charlm.py"),
                                      a.corpus, "--budget", str(a.budget), "--seed", str(a.seed),
                                      "--json", "--threads", str(a.threads), "--embed",
                                      str(a.embed)], a.threads)
            results["torch"]["load"] = os.getloadavg()[0]
    report(results, a.budget, a.threads, a.embed, a.corpus, load0)


def report(results, budget, threads, embed, corpus, load0):
    kind = "one-hot" if not embed else f"embedding {embed}"
    print(f"\nchar-LM on {os.path.basename(corpus)}, {kind}, 2-layer LSTM 128, B=50 T=50, Adam 2e-3, clip 5; {budget:g} s of training each, "
          f"{threads} thread(s) each; load average {load0:.2f} at start, "
          + ", ".join(f"{k} {r.get('load', float('nan')):.2f}" for k, r in results.items())
          + " at the end of each side")
    print(f"{'side':<28}{'steps':>7}{'tokens/s':>10}{'mean train':>12}{'val loss':>10}"
          f"{'val bpc':>9}{'eval s':>8}")
    for name, r in results.items():
        label = (f"rnnlab ({r['backend']} backend)" if name == "rnnlab"
                 else f"torch {r['torch']}")
        print(f"{label:<28}{r['steps']:>7}{r['tokens_per_s']:>10.0f}{r['train_loss_mean']:>12.4f}"
              f"{r['val_loss']:>10.4f}{r['val_bits_per_char']:>9.3f}{r['eval_seconds']:>8.1f}")
    if len(results) == 2:
        rn, to = results["rnnlab"], results["torch"]
        print(f"throughput rnnlab/torch: {rn['tokens_per_s'] / to['tokens_per_s']:.2f}x;  "
              f"val loss rnnlab - torch: {rn['val_loss'] - to['val_loss']:+.4f} nats "
              f"({'rnnlab' if rn['val_loss'] < to['val_loss'] else 'torch'} better)")
    print("JSON " + json.dumps(results))


if __name__ == "__main__":
    main()

"""Character LM, every cell at a matched parameter count, the same CPU-time budget each.

    python benchmarks/make_corpus.py                      # -> benchmarks/data/corpus.txt
    python benchmarks/cells_charlm.py [--corpus PATH | --stdlib] [--budget 45] [--seeds 3]
                                      [--cells lstm,gru,...] [--params-of lstm:128] [--json FILE]

The model is rnnlab's text model (one-hot input, ONE recurrent layer, Linear head, softmax CE),
trained by rnnlab's Trainer (Trainer.train_step: B = 50 contiguous streams, T = 50 steps of
truncated BPTT, the state carried, Adam 2e-3, clip 5, the defaults of `rnnlab train`). Each
cell's hidden size is chosen so that the whole model (layer + head) has about as many
parameters as --params-of (default a 1 x 128 LSTM on the same vocabulary); the counts are
printed. Every (cell, seed) runs in its own child process and trains until its process has
used --budget seconds of CPU time (time.process_time, every thread counted; the machine is
shared, so a wall-clock budget would give a cell more or less work depending on who else was
running), counted from after one untimed warm-up step (numba compilation, allocation). Then the
validation loss: mean nats per character over the last 10% of the text, streamed with the
state carried (the TextTask's validation_loss, 16 streams), the same for every cell.

--stdlib: the real text is the Python standard library's top-level modules
(<prefix>/lib/python3.X/*.py, sorted by name) concatenated, the first --stdlib-chars
characters (default 2,000,000).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, "data", "corpus.txt")
# label -> (--cell name, cell options): every registered cell family, at its faster mode on a CPU
CELLS = {
    "rnn": ("rnn", {}), "lstm": ("lstm", {}), "gru": ("gru", {}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "mingru": ("mingru", {"mode": "recurrent"}), "minlstm": ("minlstm", {"mode": "recurrent"}),
    "slstm": ("slstm", {}), "mlstm": ("mlstm", {}),
}
TRAIN = dict(batch=50, seq_len=50, lr=2e-3, clip=5.0, optimizer="adam", val_fraction=0.1)


def stdlib_text(path, chars):
    """The standard library's top-level *.py files, sorted, concatenated, cut to `chars`."""
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    parts, n = [], 0
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            parts.append(fh.read())
        n += len(parts[-1])
        if n >= chars:
            break
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(parts)[:chars])
    return path, len(parts)


def text_task(corpus):
    from rnnlab.tasks.text import TextTask
    return TextTask.from_file(corpus, batch=TRAIN["batch"], seq_len=TRAIN["seq_len"],
                              val_fraction=TRAIN["val_fraction"])


def build(task, label, hidden, seed):
    """rnnlab's SequenceModel of one configuration for the text task."""
    from rnnlab.nn.registry import from_choice
    from rnnlab.tasks.model import ModelConfig, SequenceModel
    cell, opts = CELLS[label]
    return SequenceModel(ModelConfig(task="text", input_size=task.input_size,
                                     output_size=task.output_size, hidden=hidden, layers=1,
                                     seed=seed, cell_options=dict(opts), **from_choice(cell)))


def count(model):
    return int(sum(v.size for v in model.params.values()))


def matched_hidden(task, label, target):
    """(H, parameters): the hidden size whose model's count is nearest `target` (the count
    grows with H, so bisection)."""
    lo, hi = 2, 4096
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(build(task, label, mid, 0)) <= target else (lo, mid)
    n_lo, n_hi = count(build(task, label, lo, 0)), count(build(task, label, hi, 0))
    return (lo, n_lo) if abs(n_lo - target) <= abs(n_hi - target) else (hi, n_hi)


def child(a):
    """One (cell, seed): train for --budget CPU seconds, then score the validation text."""
    import numpy as np  # noqa: F401  (numba and numpy loaded before the clock starts)

    from rnnlab.training.api import TrainConfig, Trainer
    task = text_task(a.corpus)
    model = build(task, a.cell, a.hidden, a.seed)
    tcfg = TrainConfig(task="text", steps=10 ** 9, eval_every=10 ** 9, seed=a.seed,
                       **{k: v for k, v in TRAIN.items() if k != "val_fraction"}).validate()
    trainer = Trainer(model, task, tcfg, run=None, log=lambda m: None)
    trainer.train_step()                                     # warm-up: compile, allocate
    c0, w0, losses = time.process_time(), time.perf_counter(), []
    while time.process_time() - c0 < a.budget:
        losses.append(trainer.train_step())
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    e0 = time.process_time()
    val = task.validation_loss(model)
    print(json.dumps(dict(cell=a.cell, seed=a.seed, hidden=a.hidden, params=count(model),
                          steps=trainer.step, train_cpu_s=round(cpu, 2),
                          train_wall_s=round(wall, 2), val_nats=float(val),
                          train_last100=float(np.mean(losses[-100:])) if losses else None,
                          eval_cpu_s=round(time.process_time() - e0, 2),
                          load=os.getloadavg()[0])), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="a text file (default "
                    "benchmarks/data/corpus.txt, from make_corpus.py)")
    ap.add_argument("--stdlib", action="store_true", help="use the Python standard library's "
                    "source instead of --corpus (default: off)")
    ap.add_argument("--stdlib-chars", type=int, default=2_000_000,
                    help="characters of it (default 2000000)")
    ap.add_argument("--budget", type=float, default=45.0, help="CPU seconds of training per run "
                    "(default 45)")
    ap.add_argument("--seeds", default="0,1,2", help="seeds (default 0,1,2)")
    ap.add_argument("--cells", default=",".join(CELLS), help=f"labels (default all: "
                    f"{', '.join(CELLS)})")
    ap.add_argument("--params-of", default="lstm:128", help="the model whose parameter count "
                    "every cell matches, label:hidden (default lstm:128)")
    ap.add_argument("--jobs", type=int, default=1, help="children run at once (default 1)")
    ap.add_argument("--json", default=None, help="append the records here; a (cell, seed) "
                    "already recorded there for this text is not run again (default: none)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cell", help=argparse.SUPPRESS)
    ap.add_argument("--hidden", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    if a.stdlib:
        a.corpus, nfiles = stdlib_text(os.path.join(HERE, "data", "stdlib.txt"), a.stdlib_chars)
        print(f"# text: {a.stdlib_chars:,} characters of {nfiles} stdlib modules -> {a.corpus}")
    elif not os.path.exists(a.corpus):
        sys.exit(f"{a.corpus} not found; run python benchmarks/make_corpus.py first")
    ref, ref_h = a.params_of.split(":")
    task = text_task(a.corpus)
    target = count(build(task, ref, int(ref_h), 0))
    sizes = {c: matched_hidden(task, c, target) for c in a.cells.split(",")}
    print(f"# {a.corpus}: parameters matched to {ref} H={ref_h} ({target:,}); "
          + "; ".join(f"{c} H={h} ({n:,})" for c, (h, n) in sizes.items()), flush=True)
    print(f"# budget {a.budget:g} CPU-s of training per run; {time.strftime('%Y-%m-%d %H:%M')}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    jobs = [(c, s) for s in a.seeds.split(",") for c in sizes]
    records = []
    if a.json and os.path.exists(a.json):          # runs recorded there before are kept
        with open(a.json) as f:
            done = [json.loads(line) for line in f if line.strip()]
        records = [r for r in done if r["corpus"] == os.path.basename(a.corpus)]
        jobs = [(c, s) for c, s in jobs if not any(r["cell"] == c and r["seed"] == int(s)
                                                   for r in records)]
    procs = []
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    while jobs or procs:
        while jobs and len(procs) < a.jobs:
            c, s = jobs.pop(0)
            cmd = [sys.executable, __file__, "--child", "--corpus", a.corpus, "--cell", c,
                   "--hidden", str(sizes[c][0]), "--seed", s, "--budget", str(a.budget)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env))
        p = procs.pop(0)
        out, _ = p.communicate()
        for line in out.splitlines():
            rec = json.loads(line)
            rec["corpus"] = os.path.basename(a.corpus)
            records.append(rec)
            print(json.dumps(rec), flush=True)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps(rec) + "\n")
    print("| cell | H | parameters | val nats/char, mean (seeds) | steps in budget (mean) |")
    print("|---|---|---|---|---|")
    for c, (h, n) in sizes.items():
        rs = [r for r in records if r["cell"] == c]
        if rs:
            vals = ", ".join(f"{r['val_nats']:.3f}" for r in rs)
            print(f"| {c} | {h} | {n:,} | {statistics.mean(r['val_nats'] for r in rs):.3f} "
                  f"({vals}) | {statistics.mean(r['steps'] for r in rs):.0f} |")


if __name__ == "__main__":
    sys.exit(main())

"""The whole char-LM training step, rnnlab against its torch twin.

    rnnlab bench --no-grid [--step-rounds N] [--steps N] [--embed 0,32] [--threads N]
    python benchmarks/bench_step.py ...        (the same)

The step users run: a 2x128 LSTM, B=50, T=50, V=65, one-hot input (or an embedding), Linear
head, softmax cross-entropy, global clip 5, Adam 2e-3, the state carried between batches.
rnnlab runs ``train.Trainer.train_step`` (the trainer's own step: forward, loss, backward,
clip, NaN check, Adam); torch runs the twin of ``benchmarks/torch_charlm.py`` on the same
token stream (a deterministic random text: a step's cost does not depend on the letters).

Each side runs in its own fresh process, the two alternating, for ``rounds`` rounds; in each
process ``warmup`` steps, then ``steps`` timed steps. Reported per side: the median step's
wall time, tokens per second, the CPU time per step (both threads counted), and the peak RSS
of the process; per round the paired ratio torch / rnnlab of the median step times, and the
median of those ratios. The load average is printed with every number: on a shared machine
it is what the wall times mean.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

H, LAYERS, B, T, V = 128, 2, 50, 50, 65
LR, CLIP = 2e-3, 5.0


def best_time(f, repeats):
    f()                                        # warm-up (caches, workspace, threads)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def warm_layer(layer):
    """One tiny forward and backward of an rnnlab layer: its machine code loaded (or
    compiled) before anything is timed."""
    import numpy as np
    x0 = np.random.default_rng(0).standard_normal((2, 1, layer.input_size)).astype(np.float32)
    y, _ = layer(x0)
    layer.backward(np.ones(y.shape, np.float32))
    return layer


def layer_fns(layer, T, B):
    """(inference, training) closures over one float32 batch (T, B, D) for an rnnlab layer:
    a forward in eval mode; a forward and a backward in training mode."""
    import numpy as np
    x = np.random.default_rng(0).standard_normal((T, B, layer.input_size)).astype(np.float32)
    dy = None

    def inf():
        layer.eval()               # inference: what evaluation and serving run
        layer(x)

    def train():
        nonlocal dy
        layer.train()
        y, _ = layer(x)
        dy = np.ones(y.shape, np.float32) if dy is None else dy
        layer.backward(dy)
    return inf, train


def _text_ids(n=300_000, seed=0):
    import numpy as np
    return np.random.default_rng(seed).integers(0, V, n)


def _rnnlab_step(embed):
    import numpy as np
    from ..data.text import Vocab
    from ..tasks.model import ModelConfig, SequenceModel
    from ..tasks.text import TextTask
    from ..training.api import TrainConfig, Trainer
    vocab = Vocab([chr(33 + i) for i in range(V)])
    task = TextTask(_text_ids().astype(np.int64), vocab, batch=B, seq_len=T)
    tcfg = TrainConfig(data="", seq_len=T, batch=B, lr=LR, clip=CLIP)
    model = SequenceModel(ModelConfig(task="text", input_size=V, output_size=V, hidden=H,
                                      layers=LAYERS, embed=embed))
    return Trainer(model, task, tcfg, log=lambda m: None).train_step


def _torch_step(embed, threads):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ids = torch.from_numpy(_text_ids())
    L = (len(ids) - 1) // B
    xs, ys = ids[:B * L].view(B, L), ids[1:B * L + 1].view(B, L)
    per_epoch = L // T

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, embed) if embed else None
            self.rnn = nn.LSTM(embed or V, H, num_layers=LAYERS)
            self.head = nn.Linear(H, V)

        def forward(self, x, state):
            x = self.embed(x) if self.embed is not None else F.one_hot(x, V).to(torch.float32)
            y, state = self.rnn(x, state)
            return self.head(y), state

    model = Twin()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    carry = {"k": 0, "state": None}

    def step():
        k = carry["k"] % per_epoch
        carry["k"] += 1
        if k == 0:
            carry["state"] = None
        x = xs[:, k * T:(k + 1) * T].T.contiguous()
        y = ys[:, k * T:(k + 1) * T].T.contiguous()
        logits, state = model(x, carry["state"])
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        carry["state"] = tuple(s.detach() for s in state)
    return step


def rss_mb():
    """This process's resident set now, MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    """This process's peak resident set, MB: VmHWM, the high-water mark of its own memory
    map. Not ru_maxrss, which Linux carries across fork and exec: a worker started by a parent
    that had imported torch would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(side, embed, warmup, steps, threads):
    step = _torch_step(embed, threads) if side == "torch" else _rnnlab_step(embed)
    rss0 = rss_mb()
    for _ in range(warmup):
        step()
    walls = []
    c0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        walls.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / steps
    walls.sort()
    print(json.dumps({"wall": walls[len(walls) // 2], "best": walls[0], "cpu": cpu,
                      "peak_mb": peak_rss_mb(), "growth_mb": peak_rss_mb() - rss0,
                      "load": os.getloadavg()[0]}))


def run_worker(side, embed, warmup, steps, threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "rnnlab.app.bench_step", "--worker", side, str(embed),
           str(warmup), str(steps), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker {cmd[3:]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def run(embeds=(0, 32), rounds=3, steps=40, warmup=5, threads=2, out=print):
    """Time the step for each embedding size (0: one-hot); prints a table, returns rows."""
    out(f"# char-LM training step: {LAYERS}x{H} LSTM, B={B}, T={T}, V={V}, Adam, clip {CLIP}; "
        f"{threads} thread(s) each side, {rounds} alternating rounds x {steps} steps "
        f"(after {warmup} warm-up); load average at start {os.getloadavg()[0]:.2f}")
    out("| input | side | median step ms | tokens/s | CPU ms/step | peak RSS MB (growth) "
        "| load |")
    out("|---|---|---|---|---|---|---|")
    rows = []
    for embed in embeds:
        res = {"torch": [], "rnnlab": []}
        for r in range(rounds):
            for side in (("torch", "rnnlab") if r % 2 == 0 else ("rnnlab", "torch")):
                res[side].append(run_worker(side, embed, warmup, steps, threads))
        name = f"embed {embed}" if embed else "one-hot"
        for side, rs in res.items():
            wall = _median([x["wall"] for x in rs])
            out(f"| {name} | {side} | {wall * 1e3:.2f} | {B * T / wall:,.0f} | "
                f"{_median([x['cpu'] for x in rs]) * 1e3:.1f} | "
                f"{max(x['peak_mb'] for x in rs):.0f} ({max(x['growth_mb'] for x in rs):.0f}) "
                f"| {min(x['load'] for x in rs):.2f}-{max(x['load'] for x in rs):.2f} |")
        ratios = [t["wall"] / n["wall"] for t, n in zip(res["torch"], res["rnnlab"])]
        cpu_ratios = [t["cpu"] / n["cpu"] for t, n in zip(res["torch"], res["rnnlab"])]
        out(f"| {name} | **torch / rnnlab** | **{_median(ratios):.2f}x** (rounds: "
            f"{', '.join(f'{x:.2f}' for x in ratios)}) | | CPU {_median(cpu_ratios):.2f}x | | |")
        rows.append((embed, res, ratios))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_step", description=__doc__.split("\n")[0])
    ap.add_argument("--embed", default="0,32", help="embedding sizes, 0 = one-hot")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per process")
    ap.add_argument("--threads", type=int, default=2, help="threads per side")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        side, embed, warmup, steps, threads = a.worker
        _worker(side, int(embed), int(warmup), int(steps), int(threads))
        return 0
    run([int(e) for e in a.embed.split(",") if e], a.rounds, a.steps, threads=a.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The layers torch has no twin for, timed against rnnlab's own plain LSTM of the same size:
the LSTM's options (layer norm, zoneout, recurrent dropout, all three), the GRU with recurrent
dropout, and the cells torch lacks (minGRU, minLSTM, sLSTM, mLSTM). Part of `rnnlab bench`.

Each layer runs float32, T steps (the grid's), D = H; inference is a forward in eval mode (as
evaluation and serving run it: no masks drawn), training a forward and a backward in training
mode (zoneout and recurrent dropout draw their masks, as in a real training step). Every measurement runs in its own fresh process, alternating with the
plain LSTM's; ratios are the layer's time / the plain LSTM's (< 1.3: the issue's target for the
options), the best time over the rounds of each side.
"""
import json
import os
import subprocess
import sys

from .bench_step import best_time, layer_fns, warm_layer

# name -> (registry cell, layer keyword arguments)
LAYERS = {
    "lstm": ("lstm", {}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "lstm zoneout 0.1": ("lstm", {"zoneout": 0.1}),
    "lstm recurrent_dropout 0.25": ("lstm", {"recurrent_dropout": 0.25}),
    "lstm all three": ("lstm", {"layer_norm": True, "zoneout": 0.1, "recurrent_dropout": 0.25}),
    "gru recurrent_dropout 0.25": ("gru", {"recurrent_dropout": 0.25}),
    "mingru": ("mingru", {}),
    "minlstm": ("minlstm", {}),
    "slstm 4 heads": ("slstm", {"num_heads": 4}),
    "mlstm 1 head": ("mlstm", {}),
    "mlstm 4 heads": ("mlstm", {"num_heads": 4}),
}
SIZES = [(128, 32), (512, 32)]


def _fns(name, T, H, B):
    from ..nn import registry
    cell, kw = LAYERS[name]
    layer = warm_layer(registry.get(cell).layer(H, H, seed=0, **kw))
    runs_on = "kernel" if ".kernels." in layer.implementation().__name__ else "NumPy"
    return (*layer_fns(layer, T, B), runs_on)


def _worker(name, T, H, B, repeats):
    inf, train, runs_on = _fns(name, T, H, B)
    print(json.dumps({"inf": best_time(inf, repeats), "train": best_time(train, repeats),
                      "runs_on": runs_on, "load": os.getloadavg()[0]}))


def _run_worker(name, T, H, B, repeats, threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "rnnlab.app.bench_options", name, str(T), str(H), str(B), str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker {cmd[3:]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(names=None, sizes=SIZES, T=100, rounds=2, repeats=4, threads=2, out=print):
    """Time every layer of `names` (LAYERS' keys; None: all) against the plain LSTM at each
    (H, B) of `sizes`, and print one table row each."""
    out(f"## Options and cells torch lacks, against rnnlab's plain LSTM: T={T}, D=H, float32, "
        f"inference in eval mode, training in training mode, best of {repeats} per process "
        f"x {rounds} rounds")
    out("| layer | runs on | H | B | inference ms | LSTM ms | ratio | train ms | LSTM ms | "
        "ratio | load |")
    out("|" + "---|" * 11)
    for name in names or [n for n in LAYERS if n != "lstm"]:
        _run_worker(name, 4, 32, 1, 1, threads)        # compile outside the measurement
        for H, B in sizes:
            res = {"lstm": [], name: []}
            for r in range(rounds):
                for side in (("lstm", name) if r % 2 == 0 else (name, "lstm")):
                    res[side].append(_run_worker(side, T, H, B, repeats, threads))
            best = {k: {m: min(x[m] for x in v) for m in ("inf", "train")} for k, v in res.items()}
            load = [x["load"] for v in res.values() for x in v]
            cols = " | ".join(f"{best[name][m] * 1e3:.3f} | {best['lstm'][m] * 1e3:.3f} | "
                              f"**{best[name][m] / best['lstm'][m]:.2f}**"
                              for m in ("inf", "train"))
            out(f"| {name} | {res[name][0]['runs_on']} | {H} | {B} | {cols} | "
                f"{min(load):.1f}-{max(load):.1f} |")


if __name__ == "__main__":
    _worker(sys.argv[1], *(int(v) for v in sys.argv[2:6]))

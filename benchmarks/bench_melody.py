"""Melody mode measured: nats per token beside the unigram baseline, on the soprano lines of
Bach's chorales (real polyphonic MIDI, top voice by the skyline rule) and on generated scales
and arpeggios (known structure).

    python benchmarks/chorale_data.py --midi benchmarks/data/chorales-midi
    python benchmarks/bench_melody.py [--budget 300] [--grid 8th] [--out results.json]

Each corpus trains one LSTM with the melody mode's defaults (`rnnlab train FOLDER --music-mode
melody`), stopping at the first evaluation after --budget seconds of process CPU time
(time.process_time()); the best validation weights are scored on the test pieces exactly
(MelodyModel.evaluate). Chorales: train = chorales-midi/train (its last 10% of pieces is the
validation), test = chorales-midi/test, transposed as chorale_data.py says. Scales: generated
by rnnlab.data.synthetic.melodies (200 train, 20 valid, 40 test pieces, seeds 0/1/2).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from rnnlab.data.melody import load_melodies, tokens_to_notes
from rnnlab.data.synthetic import melodies
from rnnlab.tasks.melody import MelodyModel
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.tasks.registry import with_task_defaults
from rnnlab.training.api import TrainConfig, Trainer, build_task, split_options

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_chorales import cpu_name  # noqa: E402  (a sibling script)


def note_beats(notes, spb):
    return float(np.mean([(e - s) / spb for _, s, e in notes])) if notes else 0.0


def run_corpus(name, train, test, grid, budget, overrides, seed=0, log=print):
    opts = with_task_defaults("music", {"task_options": {"music_mode": "melody", "grid": grid},
                                        **overrides})
    model_opts, train_opts = split_options(opts)
    for k in ("steps", "epochs"):
        train_opts.pop(k, None)
    tcfg = TrainConfig(data=train, task="music", seed=seed, steps=10 ** 9, **train_opts)
    task = build_task(tcfg.validate())
    mcfg = ModelConfig(task="text", input_size=task.input_size, output_size=task.output_size,
                       seed=seed, **model_opts).validate()
    model = SequenceModel(mcfg)
    trainer, best = Trainer(model, task, tcfg, log=lambda m: None), {}
    cpu0, wall0, load0 = time.process_time(), time.time(), os.getloadavg()

    def stop(tr):
        if tr.history[-1]["val_loss"] == tr.best:
            best["weights"], best["step"] = tr.model.state_dict(), tr.step
        return time.process_time() - cpu0 >= budget

    res = trainer.fit(progress=False, stop=stop)
    cpu, wall = time.process_time() - cpu0, time.time() - wall0
    model.load_state_dict(best["weights"])
    trained = MelodyModel(model, task.meta())
    scores = trained.evaluate(test)
    spb = {"4th": 1, "8th": 2, "16th": 4, "32nd": 8}[grid]
    sampled = [trained.render(trained.sample_tokens(64, 1.0, seed=k))[1] for k in range(20)]
    real = [n for m in load_melodies(test, grid)["test" if test.endswith(".json") else "train"]
            for n in _notes(m.tokens)]
    out = {"corpus": name, "grid": grid, "vocab": task.vocab.size, "pieces": task.pieces,
           "steps": res.steps, "best_step": best["step"], "cpu_s": cpu, "wall_s": wall,
           "load_before": load0, "load_after": os.getloadavg(), **scores,
           "sample_note_beats": float(np.mean([note_beats(n, spb) for n in sampled])),
           "test_note_beats": note_beats(real, spb), "options": {**model_opts, **train_opts}}
    log(f"{name}: {scores['nats_per_token']:.3f} nats/token, unigram "
        f"{scores['unigram_nats_per_token']:.3f}, {res.steps} steps (best {best['step']}), "
        f"{cpu:.0f} CPU-s, {wall:.0f} s wall")
    return out


def _notes(tokens):
    return tokens_to_notes(tokens)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--midi", default="benchmarks/data/chorales-midi",
                    help="chorale MIDI folders from chorale_data.py --midi "
                    "(default: benchmarks/data/chorales-midi)")
    ap.add_argument("--budget", type=float, default=300.0,
                    help="process CPU seconds per corpus (default 300)")
    ap.add_argument("--grid", default="8th", help="chorales: the grid (default 8th)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="override a default, e.g. --set hidden=256 (exploration)")
    ap.add_argument("--corpora", nargs="*", default=["chorales", "scales"],
                    help="which corpora (default: chorales scales)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args(argv)
    overrides = {k: json.loads(v) if v[:1].isdigit() or v[:1] in "-.{" else v
                 for k, v in (s.split("=", 1) for s in a.set)}
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{cpu_name()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    results = []
    if "chorales" in a.corpora:
        if not os.path.isdir(os.path.join(a.midi, "train")):
            sys.exit(f"{a.midi}/train not found: run python benchmarks/chorale_data.py --midi "
                     f"{a.midi}")
        results.append(run_corpus("chorale soprano (MIDI, top voice)",
                                  os.path.join(a.midi, "train"), os.path.join(a.midi, "test"),
                                  a.grid, a.budget, overrides, log=log))
    if "scales" in a.corpora:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "scales.json")
            with open(path, "w") as f:
                json.dump({"train": melodies(200, seed=0), "valid": melodies(20, seed=1),
                           "test": melodies(40, seed=2)}, f)
            results.append(run_corpus("scales and arpeggios (generated)", path, path, "16th",
                                      a.budget, overrides, log=log))
    print("| corpus | grid | vocabulary | test nats/token | unigram nats/token | steps (best) "
          "| CPU-s | sample note length (beats) | test note length (beats) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['corpus']} | {r['grid']} | {r['vocab']} | {r['nats_per_token']:.3f} | "
              f"{r['unigram_nats_per_token']:.3f} | {r['steps']} ({r['best_step']}) | "
              f"{r['cpu_s']:.0f} | {r['sample_note_beats']:.2f} | {r['test_note_beats']:.2f} |")
    if a.out:
        from rnnlab.fileio import atomic_write_json
        atomic_write_json(a.out, {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(),
                                  "budget_cpu_s": a.budget, "results": results})


if __name__ == "__main__":
    main()

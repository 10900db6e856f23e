"""The `rnnlab` command: a thin layer of argparse over the Python API.

Every command maps to one API call (rnnlab.demo.run_demo, rnnlab.train.train, rnnlab.load(...)
.sample / .evaluate, ...). Bad input is reported as one line on stderr with exit code 2.
"""
import argparse
import json
import sys

from .errors import RnnlabError


def _add_model_options(p):
    g = p.add_argument_group("model")
    g.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru", "lstm-peephole",
                                                      "lstm-coupled", "rnn-relu"])
    g.add_argument("--hidden", type=int, default=128)
    g.add_argument("--layers", type=int, default=2)
    g.add_argument("--dropout", type=float, default=0.0)
    g.add_argument("--embed", type=int, default=0, help="embedding size; 0 = one-hot input")
    g.add_argument("--forget-bias", type=float, default=None)
    g.add_argument("--dtype", default="float32", choices=["float32", "float64"])


def _add_train_options(p):
    g = p.add_argument_group("training")
    g.add_argument("--tokens", default="char", choices=["char", "word"])
    g.add_argument("--encoding", default="utf-8")
    g.add_argument("--task", default=None, choices=["text", "series", "music"])
    g.add_argument("--seq-len", type=int, default=50)
    g.add_argument("--batch", type=int, default=50)
    g.add_argument("--val-fraction", type=float, default=0.1)
    g.add_argument("--optimizer", default="adam",
                   choices=["sgd", "momentum", "adagrad", "rmsprop", "adam"])
    g.add_argument("--lr", type=float, default=2e-3)
    g.add_argument("--lr-decay", type=float, default=1.0)
    g.add_argument("--lr-decay-every", type=int, default=1000)
    g.add_argument("--clip", type=float, default=5.0, help="global grad-norm clip; 0 = off")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--steps", type=int, default=None)
    g.add_argument("--epochs", type=float, default=None)
    g.add_argument("--time-budget", type=float, default=None, metavar="SECONDS")
    g.add_argument("--eval-every", type=int, default=100)
    g.add_argument("--patience", type=int, default=0, help="early stopping (evals); 0 = off")
    g.add_argument("--on-nan", default="stop", choices=["stop", "skip"])
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--backend", default=None, choices=["numba", "numpy"])
    g = p.add_argument_group("series (.csv) and music (.json, .mid)")
    g.add_argument("--target", default=None, help="series: the column to forecast")
    g.add_argument("--features", default=None, help="series: input columns, 'a,b,c'")
    g.add_argument("--fill", default=None, choices=["ffill", "interpolate"],
                   help="series: fill missing cells (default: they are an error)")
    g.add_argument("--lookback", type=int, default=None, help="series: window length (24)")
    g.add_argument("--horizon", type=int, default=None,
                   help="series: forecast steps validated for the interval (12)")
    g.add_argument("--difference", action="store_true", default=None,
                   help="series: model the first differences")
    g.add_argument("--grid", default=None, choices=["4th", "8th", "16th", "32nd"],
                   help="MIDI: quantisation grid (16th)")
    g.add_argument("--music-mode", default=None, choices=["roll", "melody"],
                   help="music: polyphonic piano roll (default)")


def cell_options(cell):
    """'lstm-peephole' -> cell='lstm', variant='peephole'; 'rnn-relu' -> nonlinearity."""
    if cell.startswith("lstm-"):
        return {"cell": "lstm", "variant": cell[5:]}
    if cell == "rnn-relu":
        return {"cell": "rnn", "nonlinearity": "relu"}
    return {"cell": cell}


def cmd_train(a):
    from .train import train
    opts = dict(hidden=a.hidden, layers=a.layers, dropout=a.dropout, embed=a.embed,
                forget_bias=a.forget_bias, dtype=a.dtype, tokens=a.tokens, encoding=a.encoding,
                task=a.task, seq_len=a.seq_len, batch=a.batch, val_fraction=a.val_fraction,
                optimizer=a.optimizer, lr=a.lr, lr_decay=a.lr_decay,
                lr_decay_every=a.lr_decay_every, clip=a.clip, weight_decay=a.weight_decay,
                steps=a.steps, epochs=a.epochs, time_budget=a.time_budget,
                eval_every=a.eval_every, patience=a.patience, on_nan=a.on_nan, seed=a.seed,
                backend=a.backend, **cell_options(a.cell))
    task_opts = {k: getattr(a, k) for k in ("target", "features", "fill", "lookback", "horizon",
                                             "difference", "grid", "music_mode")
                 if getattr(a, k, None) is not None}
    if task_opts:
        opts["task_options"] = task_opts
    opts.update(getattr(a, "task_options", {}) or {})
    if a.resume:
        opts = {k: v for k, v in opts.items() if k in ("steps", "epochs", "time_budget")}
    res = train(a.file, out=a.out, resume=a.resume, **opts)
    best = "-" if res.best_val_loss is None else f"{res.best_val_loss:.4f}"
    print(f"trained {res.steps} steps ({res.stopped}); best val loss {best}; run saved in {a.out}")
    return 0


def cmd_sample(a):
    from .inference import load
    model = load(a.run)
    if model.cfg.task == "music":
        steps = model.sample(a.length, a.temperature, a.top_k, a.prime, a.seed,
                             output=a.output, json_out=a.json_out)
        if a.output is None and a.json_out is None:
            print(json.dumps([steps]))
        else:
            print(f"wrote {len(steps)} steps to " +
                  " and ".join(f for f in (a.output, a.json_out) if f), file=sys.stderr)
        return 0
    if a.output is not None or a.json_out is not None:
        raise RnnlabError("-o/--output and --json-out are for music models (MIDI / notes JSON)")
    model.sample(a.length, a.temperature, a.top_k, a.prime, a.seed, stream=sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_evaluate(a):
    from .inference import load
    model = load(a.run)
    if a.season is not None and model.cfg.task != "series":
        raise RnnlabError("--season is for series models")
    res = model.evaluate(a.file, season=a.season) if model.cfg.task == "series" else \
        model.evaluate(a.file)
    if a.json:
        print(json.dumps(res))
    elif hasattr(model, "report_lines"):
        print("\n".join(model.report_lines(res)))
    else:
        print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in res.items()))
    return 0


def cmd_export(a):
    fmt = a.format or ("onnx" if a.output.lower().endswith(".onnx") else
                       "torch" if a.output.lower().endswith((".pt", ".pth")) else None)
    if fmt == "onnx":
        from .interop.onnx import export_onnx
        export_onnx(a.run, a.output, initial_state=a.initial_state, which=a.which)
    elif fmt == "torch":
        from .interop.torch import export_torch
        export_torch(a.run, a.output, which=a.which)
    else:
        raise RnnlabError(f"cannot tell the format of {a.output}; pass --format onnx or torch")
    print(f"wrote {a.output} ({fmt})")
    return 0


def cmd_import(a):
    from .interop.torch import import_torch
    run = import_torch(a.file, a.config, a.out)
    print(f"imported {a.file} into {run.path}")
    return 0


def cmd_forecast(a):
    from .inference import load
    model = load(a.run)
    if model.cfg.task != "series":
        raise RnnlabError(f"forecast works on series models; {a.run} is a {model.cfg.task} model")
    res = model.forecast(a.horizon)
    if a.plot:
        model.plot(a.plot, a.horizon)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['target']}: {len(res['forecast'])} steps, {res['level']:.0%} interval")
        for h, (f, lo, hi) in enumerate(zip(res["forecast"], res["lower"], res["upper"]), 1):
            print(f"{h:4d}  {f:.4f}  [{lo:.4f}, {hi:.4f}]")
    return 0


def cmd_demo(a):
    from .demo import run_demo
    run_demo(out=a.out, seed=a.seed)
    return 0


def cmd_explain(a):
    from .viz.commands import explain_command
    path = explain_command(a.run, a.text, a.input, a.output, a.title, a.bits)
    print(f"wrote {path}")
    return 0


def cmd_plot(a):
    from .viz.commands import plot_command
    for path in plot_command(a.run, a.text, a.input, a.output):
        print(path)
    return 0


def cmd_bench(a):
    from .bench import main as bench_main
    argv = ["--cells", a.cells] + (["--quick"] if a.quick else [])
    argv += ["--rounds", str(a.rounds)] if a.rounds else []
    argv += ["--repeats", str(a.repeats)] if a.repeats else []
    return bench_main(argv)


def build_parser():
    p = argparse.ArgumentParser(prog="rnnlab", description="Recurrent networks from first "
                                "principles: train, sample, evaluate and look inside.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the seed note's examples, run end to end")
    d.add_argument("--out", default="rnnlab-demo")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a model on a text, CSV, notes JSON or MIDI file")
    t.add_argument("file")
    t.add_argument("--out", required=True, help="run folder to create (or continue with --resume)")
    t.add_argument("--resume", action="store_true")
    _add_model_options(t)
    _add_train_options(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="generate from a trained model")
    s.add_argument("run")
    s.add_argument("--length", type=int, default=500)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", type=int, default=0)
    s.add_argument("--prime", default="")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("-o", "--output", default=None, help="music: write a MIDI file")
    s.add_argument("--json-out", default=None, help="music: write the notes as JSON")
    s.set_defaults(func=cmd_sample)

    f = sub.add_parser("forecast", help="continue a series past the end of its data")
    f.add_argument("run")
    f.add_argument("--horizon", type=int, default=None, help="steps (default: the training one)")
    f.add_argument("--json", action="store_true")
    f.add_argument("--plot", default=None, metavar="PNG", help="draw history + forecast")
    f.set_defaults(func=cmd_forecast)

    e = sub.add_parser("evaluate", help="exact loss of a trained model on a file")
    e.add_argument("run")
    e.add_argument("file")
    e.add_argument("--json", action="store_true")
    e.add_argument("--season", type=int, default=None,
                   help="series: season length for seasonal naive (default: detected)")
    e.set_defaults(func=cmd_evaluate)

    x = sub.add_parser("export", help="write a run as ONNX or as a PyTorch state dict")
    x.add_argument("run")
    x.add_argument("-o", "--output", required=True, help="model.onnx or model.pt")
    x.add_argument("--format", default=None, choices=["onnx", "torch"],
                   help="default: from the output's extension")
    x.add_argument("--which", default="best", choices=["best", "model"],
                   help="best weights on validation (default) or the last ones")
    x.add_argument("--initial-state", action="store_true",
                   help="ONNX: take initial_h (and initial_c) as graph inputs")
    x.set_defaults(func=cmd_export)

    i = sub.add_parser("import", help="bring torch-trained weights (.pt) into a new run folder")
    i.add_argument("file", help="a .pt state dict (read with weights_only=True)")
    i.add_argument("--config", required=True, help="the run folder (or its config.json) the "
                   "weights were exported from")
    i.add_argument("--out", required=True, help="new run folder to create")
    i.set_defaults(func=cmd_import)
    ex = sub.add_parser("explain", help="a self-contained HTML page of what the model remembers")
    ex.add_argument("run")
    ex.add_argument("--text", default=None, help="the text to explain (text models)")
    ex.add_argument("--input", default=None, metavar="FILE",
                    help="a text file, a CSV (series) or notes JSON / MIDI (music)")
    ex.add_argument("-o", "--output", default="explain.html")
    ex.add_argument("--title", default=None)
    ex.add_argument("--bits", type=int, default=8, choices=[8, 16])
    ex.set_defaults(func=cmd_explain)

    pl = sub.add_parser("plot", help="PNG plots: loss curves, gate heatmaps, gradient norms")
    pl.add_argument("run")
    pl.add_argument("--text", default=None)
    pl.add_argument("--input", default=None, metavar="FILE")
    pl.add_argument("-o", "--output", default=None, metavar="DIR",
                    help="folder for the PNGs and report.html (default RUN/plots)")
    pl.set_defaults(func=cmd_plot)

    bn = sub.add_parser("bench", help="time the numba kernels against torch (CPU, T=100)")
    bn.add_argument("--quick", action="store_true", help="smaller grid, one round")
    bn.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3)")
    bn.add_argument("--repeats", type=int, default=None, help="repeats per process")
    bn.add_argument("--cells", default="lstm,gru,rnn", help="comma-separated cells")
    bn.set_defaults(func=cmd_bench)

    from .experiments import add_arguments, run_from_args
    xp = sub.add_parser("experiment", help="long-memory experiments: adding, copy, temporal-order")
    add_arguments(xp)
    xp.set_defaults(func=run_from_args)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RnnlabError as e:
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

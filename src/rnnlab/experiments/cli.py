"""`rnnlab experiment`: its argparse options (each with a help line that gives its default) and
the call into run_experiments. The cells' own options are the cell registry's CellOptions, the
same flags as `rnnlab train`'s (--layer-norm, --mode recurrent, --num-heads 4, ...)."""
from __future__ import annotations

import sys

from ..nn import backend as _backend
from ..nn import registry
from ..nn.optim import OPTIMIZERS
from .options import DEFAULTS, STEP_RULE, cell_names
from .report import format_table
from .runner import run_experiments


def add_arguments(parser):
    """Add `rnnlab experiment`'s options to an argparse (sub)parser."""
    d = DEFAULTS
    parser.add_argument("task", help="adding | copy | temporal-order")
    parser.add_argument("--T", default=d["Ts"], help="sequence lengths, comma-separated "
                        "(default: %(default)s)")
    parser.add_argument("--cell", default=d["cells"], help="cells, comma-separated: "
                        f"{', '.join(cell_names())} (default: %(default)s)")
    parser.add_argument("--hidden", type=int, default=d["hidden"],
                        help="hidden units of the one recurrent layer (default: %(default)s)")
    parser.add_argument("--seeds", default=str(d["seeds"]),
                        help="number of seeds (3 = seeds 0,1,2) or a list like 0,4,7 "
                        "(default: %(default)s)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"step cap per run; a run stops earlier once solved (default: "
                        f"{STEP_RULE}, e.g. 3000 at T=200, unless --time-budget is given)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="wall-clock budget per run; with --steps, whichever ends first "
                        "(default: none)")
    parser.add_argument("--lr", type=float, default=d["lr"],
                        help="learning rate (default: %(default)s)")
    parser.add_argument("--clip", type=float, default=d["clip"],
                        help="gradient-norm clip, 0 disables (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=d["batch"],
                        help="fresh sequences per training step (default: %(default)s)")
    parser.add_argument("--optimizer", default=d["optimizer"], choices=list(OPTIMIZERS),
                        help="the optimizer (default: %(default)s)")
    parser.add_argument("--forget-bias", type=float, default=d["forget_bias"],
                        help="forget-gate bias at init of the cells that take one (default: "
                        "1.0 for the LSTM; the sLSTM's and mLSTM's own init, biases 3 to 6)")
    parser.add_argument("--eval-every", type=int, default=d["eval_every"],
                        help="check 'solved' every N steps (default: %(default)s)")
    parser.add_argument("--test-size", type=int, default=d["test_size"],
                        help="held-out test sequences, the same for every cell and seed "
                        "(default: %(default)s)")
    parser.add_argument("--backend", default=None, choices=list(_backend.BACKENDS),
                        help="the cells' implementation (default: the global, numba when "
                        "installed)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record per run on stdout, progress on stderr "
                        "(default: off)")
    parser.add_argument("--out", default="rnnlab-experiments", metavar="DIR",
                        help="folder for results.json, metric_vs_T.png, grad_norms.png "
                        "(default: ./%(default)s)")
    _cell_options(parser)
    return parser


def _cell_options(parser):
    """The cells' own options from the cell registry, as `rnnlab train` offers them; each
    reaches the listed cells that take it (an option several cells share appears once)."""
    seen = registry.options_by_name()
    if not seen:
        return
    g = parser.add_argument_group("cell options (each names the cells that take it; it "
                                  "reaches those of --cell that do)")
    for name, (o, cells) in seen.items():
        flag, text = "--" + name.replace("_", "-"), f"{', '.join(cells)}: {o.help}"
        if "default" not in text:
            text += " (default: off)" if o.flag or o.default is None else \
                f" (default: {o.default})"
        if o.flag:
            g.add_argument(flag, dest=name, action="store_true", default=None, help=text)
        else:
            g.add_argument(flag, dest=name, type=o.type, default=None, choices=o.choices,
                           metavar=o.metavar, help=text)


def given_cell_options(args):
    """{option: value} of the cell options given on the command line."""
    return {k: getattr(args, k) for k in sorted(registry.options_by_name())
            if getattr(args, k, None) is not None}


def run_from_args(args) -> int:
    """Run `rnnlab experiment` from parsed args. Returns the exit code (0). Bad options raise
    RnnlabError (the CLI turns it into exit code 2)."""
    if args.json:
        progress = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    else:
        progress = lambda s: print(s, flush=True)  # noqa: E731
    records = run_experiments(
        args.task, args.T, args.cell, args.hidden, args.seeds, steps=args.steps,
        time_budget=args.time_budget, lr=args.lr, clip=args.clip, batch=args.batch,
        optimizer=args.optimizer, out_dir=args.out, json_lines=args.json, progress=progress,
        forget_bias=args.forget_bias, eval_every=args.eval_every, test_size=args.test_size,
        backend=args.backend, cell_options=given_cell_options(args))
    (progress if args.json else print)(format_table(records))
    return 0

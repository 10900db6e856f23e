"""`rnnlab experiment`: its argparse options and the call into run_experiments."""
from __future__ import annotations

import sys

from ..nn.optim import OPTIMIZERS
from .options import DEFAULTS, cell_names
from .report import format_table
from .runner import run_experiments


def add_arguments(parser):
    """Add `rnnlab experiment`'s options to an argparse (sub)parser."""
    parser.add_argument("task", help="adding | copy | temporal-order")
    parser.add_argument("--T", default=DEFAULTS["Ts"], help="sequence lengths, comma-separated "
                        "(default %(default)s)")
    parser.add_argument("--cell", default=DEFAULTS["cells"], help="cells, comma-separated: "
                        f"{', '.join(cell_names())} (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    parser.add_argument("--seeds", default=str(DEFAULTS["seeds"]),
                        help="number of seeds (3 = seeds 0,1,2) or a list like 0,4,7")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps per run (default {DEFAULTS['steps']} unless "
                        "--time-budget is given)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="wall-clock budget per run; with --steps, whichever ends first")
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    parser.add_argument("--clip", type=float, default=DEFAULTS["clip"],
                        help="gradient-norm clip (0 disables)")
    parser.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    parser.add_argument("--optimizer", default=DEFAULTS["optimizer"],
                        help=f"{', '.join(OPTIMIZERS)} (default %(default)s)")
    parser.add_argument("--forget-bias", type=float, default=DEFAULTS["forget_bias"],
                        help="LSTM forget-gate bias at init (default %(default)s)")
    parser.add_argument("--eval-every", type=int, default=DEFAULTS["eval_every"],
                        help="check 'solved' every N steps (default %(default)s)")
    parser.add_argument("--test-size", type=int, default=DEFAULTS["test_size"])
    parser.add_argument("--backend", default=None, help="numba | numpy (default: the global)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record per run on stdout (progress on stderr)")
    parser.add_argument("--out", default="rnnlab-experiments", metavar="DIR",
                        help="results.json, metric_vs_T.png, grad_norms.png (default ./%(default)s)")
    return parser


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
        backend=args.backend)
    (progress if args.json else print)(format_table(records))
    return 0

"""`rnnlab experiment`: the long-memory experiments (adding, copy, temporal order)."""

# Help lines for options that experiments.add_arguments declares without one (or without its
# default), so that every option of every command says what it does and its default. Only
# options still lacking such a line are filled in.
HELP = {
    "--hidden": "hidden units per layer",
    "--lr": "learning rate",
    "--batch": "sequences per batch",
    "--test-size": "test sequences scored at the end of each run",
    "--time-budget": "wall-clock budget per run; with --steps, whichever ends first (default: "
                     "none)",
}


def add_parser(sub):
    from ...experiments import add_arguments
    xp = sub.add_parser("experiment",
                        help="long-memory experiments: adding, copy, temporal-order")
    add_arguments(xp)
    for action in xp._actions:
        flag = next((f for f in action.option_strings if f in HELP), None)
        if flag and (not action.help or "default" not in action.help and action.default is None):
            action.help = HELP[flag]
    xp.set_defaults(func=run)


def run(a):
    from ...experiments import run_from_args
    return run_from_args(a)

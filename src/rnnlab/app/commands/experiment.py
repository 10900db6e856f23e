"""`rnnlab experiment`: the long-memory experiments (adding, copy, temporal order); the options
and their help lines are rnnlab.experiments.cli's."""


def add_parser(sub):
    from ...experiments import add_arguments
    xp = sub.add_parser("experiment",
                        help="long-memory experiments: adding, copy, temporal-order")
    add_arguments(xp)
    xp.set_defaults(func=run)


def run(a):
    from ...experiments import run_from_args
    return run_from_args(a)

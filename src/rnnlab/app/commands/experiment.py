"""`rnnlab experiment`: the long-memory experiments (adding, copy, temporal order)."""


def add_parser(sub):
    from ...experiments import add_arguments, run_from_args
    xp = sub.add_parser("experiment",
                        help="long-memory experiments: adding, copy, temporal-order")
    add_arguments(xp)
    xp.set_defaults(func=run_from_args)

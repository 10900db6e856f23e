"""`rnnlab demo`: the seed note's examples, run end to end."""


def add_parser(sub):
    p = sub.add_parser("demo", help="the seed note's examples, run end to end",
                       description="Train an RNN and an LSTM on the dinner rotation and the "
                       "children's book, run a short long-memory experiment, and write the "
                       "plots, explain pages and summary.json.")
    p.add_argument("--out", default="rnnlab-demo", help="folder for everything the demo writes")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same run")
    p.set_defaults(func=run)


def run(a):
    from ..demo import run_demo
    run_demo(out=a.out, seed=a.seed)
    return 0

"""`rnnlab demo`: the seed note's examples, run end to end, and taught (lesson.html)."""
from ...viz.i18n import DEFAULT, languages


def add_parser(sub):
    p = sub.add_parser("demo", help="the seed note's examples, run end to end, and taught",
                       description="Train an RNN and an LSTM on the dinner rotation and, beside a "
                       "model with no memory, on the children's book; run a short long-memory "
                       "experiment; write lesson.html (the seed note taught with these models' "
                       "own numbers), the plots, explain pages and summary.json.")
    p.add_argument("--out", default="rnnlab-demo", help="folder for everything the demo writes")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same run")
    p.add_argument("--lang", default=DEFAULT, choices=languages(),
                   help="language of the printed text, the lesson and the explain pages")
    p.set_defaults(func=run)


def run(a):
    from ...nn.kernel_cache import compile_in_background
    from ...training.ahead import start_for
    from ..demo import run_demo
    with compile_in_background(ahead=start_for):
        run_demo(out=a.out, seed=a.seed, lang=a.lang)
    return 0

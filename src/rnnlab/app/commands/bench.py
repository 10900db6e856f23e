"""`rnnlab bench`: rnnlab against torch on the CPU (the layer grid, the LSTM's options and the
char-LM training step), each side in its own process. The options are ``app.bench``'s own."""


def add_parser(sub):
    from ..bench import add_arguments
    bn = sub.add_parser("bench", help="time the layers and the training step against torch (CPU)")
    add_arguments(bn)
    bn.set_defaults(func=run)


def run(a):
    from ..bench import run as bench_run
    return bench_run(a)

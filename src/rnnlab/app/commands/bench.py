"""`rnnlab bench`: the numba kernels against torch on the CPU, each side in its own process."""


def add_parser(sub):
    bn = sub.add_parser("bench", help="time the numba kernels against torch (CPU, T=100)")
    bn.add_argument("--quick", action="store_true", help="smaller grid, one round")
    bn.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds (default: 3, or 1 with --quick)")
    bn.add_argument("--repeats", type=int, default=None,
                    help="repeats per process (default: 7, or 3 with --quick)")
    bn.add_argument("--cells", default="lstm,gru,rnn", help="comma-separated cells")
    bn.set_defaults(func=run)


def run(a):
    from ..bench import main as bench_main
    argv = ["--cells", a.cells] + (["--quick"] if a.quick else [])
    argv += ["--rounds", str(a.rounds)] if a.rounds else []
    argv += ["--repeats", str(a.repeats)] if a.repeats else []
    return bench_main(argv)

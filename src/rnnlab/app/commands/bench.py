"""`rnnlab bench`: rnnlab against torch on the CPU (the layer grid and the char-LM training
step), each side in its own process."""


def add_parser(sub):
    bn = sub.add_parser("bench", help="time the layers and the training step against torch (CPU)")
    bn.add_argument("--quick", action="store_true", help="smaller grid, one round")
    bn.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds (default: 2, or 1 with --quick)")
    bn.add_argument("--repeats", type=int, default=None,
                    help="best of this many runs per process (default: 4, or 2 with --quick)")
    bn.add_argument("--cells", default="lstm,gru,rnn", help="comma-separated cells (default: %(default)s)")
    bn.add_argument("--sizes", default=None,
                    help="H:B pairs instead of the grid, e.g. 512:1,1024:64 (default: the grid)")
    bn.add_argument("--threads", type=int, default=2, help="threads per side (default: %(default)s)")
    bn.add_argument("--no-grid", action="store_true", help="skip the layer grid")
    bn.add_argument("--no-step", action="store_true", help="skip the training-step benchmark")
    bn.add_argument("--steps", type=int, default=None,
                    help="timed training steps per process (default: 40, or 20 with --quick)")
    bn.add_argument("--embed", default="0,32",
                    help="training step: embedding sizes, 0 = one-hot (default: %(default)s)")
    bn.set_defaults(func=run)


def run(a):
    from ..bench import main as bench_main
    argv = ["--cells", a.cells, "--threads", str(a.threads), "--embed", a.embed]
    argv += ["--quick"] if a.quick else []
    argv += ["--no-grid"] if a.no_grid else []
    argv += ["--no-step"] if a.no_step else []
    for name in ("rounds", "repeats", "sizes", "steps"):
        if getattr(a, name) is not None:
            argv += [f"--{name}", str(getattr(a, name))]
    return bench_main(argv)

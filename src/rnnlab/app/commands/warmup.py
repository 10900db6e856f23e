"""`rnnlab warmup`: compile the numba kernels ahead of time, so no run waits for them."""


def add_parser(sub):
    from ...nn.registry import CELLS
    p = sub.add_parser("warmup", help="compile the numba kernels ahead of time (once per machine)",
                       description="Compile (or load from numba's cache) every kernel of the "
                       "chosen cells, in the chosen dtypes, single-thread and threaded, by "
                       "training a tiny model of each for two steps; prints the time each took. "
                       "Runs after it load the machine code from the cache (NUMBA_CACHE_DIR, "
                       "else beside the kernels' sources).")
    p.add_argument("--cells", nargs="+", choices=list(CELLS), default=None, metavar="CELL",
                   help=f"cells to compile (default: all: {', '.join(CELLS)})")
    p.add_argument("--dtype", choices=("float32", "float64", "both"), default="both",
                   help="the dtype(s) to compile for (default: both)")
    p.add_argument("--splits", nargs="+", choices=("batch", "units", "none"),
                   default=["batch", "units"], help="the threaded variants to compile, which "
                   "big models use: batch split, unit split, or none (default: batch units)")
    p.add_argument("--no-options", action="store_true",
                   help="skip the options with compiled paths of their own (the LSTM's layer "
                        "norm, zoneout and recurrent dropout in every combination, the GRU's "
                        "and RNN's recurrent dropout) (default: compiled too)")
    p.add_argument("--quiet", action="store_true", help="print nothing (default: one line per "
                   "cell and dtype, and the total)")
    p.set_defaults(func=run)


def run(a):
    import time

    from ...errors import RnnlabError
    from ...training.warmup import DTYPES, warm_up
    if "none" in a.splits and len(a.splits) > 1:
        raise RnnlabError("--splits: 'none' cannot go with a split; fix: --splits none, or "
                          "name the splits")
    say = (lambda line: None) if a.quiet else (lambda line: print(line, flush=True))
    c0, w0 = time.process_time(), time.perf_counter()
    warm_up(a.cells, DTYPES if a.dtype == "both" else (a.dtype,),
            tuple(s for s in a.splits if s != "none"), say, options=not a.no_options)
    say(f"kernels ready: {time.perf_counter() - w0:.1f} s ({time.process_time() - c0:.1f} s "
        "of CPU)")
    return 0

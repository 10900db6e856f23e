"""Whether the numba kernels a run needs are compiled on this machine yet, and the one line
that says so when they are not (``compile_note``): numba compiles a kernel the first time it is
called with a new signature and keeps the machine code in its cache (NUMBA_CACHE_DIR, else
the kernels' __pycache__), so a first run waits 10-20 s inside step 1 with nothing printed.
``rnnlab warmup`` (training/warmup.py) compiles everything ahead of time.

Cold means: no compiled function of the cell's kernel modules is in the cache, in any dtype
(a cell cached for float32 and run in float64 still compiles, without the note)."""
import json
import os
import sys
from contextlib import contextmanager

import numpy as np

from ..fileio import atomic_write_json

# CPU seconds to compile one cell's own kernels (float32, the single-thread paths) with an
# empty cache, and the kernels every cell shares (packed GEMMs, cross-entropy, Adam): `rnnlab
# warmup --cells C --dtype float32 --splits none` in a fresh cache, less the mLSTM's run (4.6 s:
# it has no kernel of its own), on the 2-core AMD EPYC VM on 2026-12-07, 22:25 UTC, after the
# slice copies became loops (docs/performance.md): the note's estimate. The threaded variants
# compile in the background of `rnnlab train` and `rnnlab demo` (kernels/background.py).
COMPILE_S = {"rnn": 5, "lstm": 8, "gru": 7, "mingru": 5, "minlstm": 5, "slstm": 4,
             "mlstm": 0}
SHARED_S = 5
OPTIONS_S = 15
# ^ one combination of a cell's options with compiled paths of their own (the LSTM's layer
#   norm, zoneout, recurrent dropout, alone or together), on a cache holding the plain cell:
#   CPU s of a tiny text run, one thread, 2026-12-08 at load average about 1: zoneout 9.5,
#   layer norm 13.8, all three 23.2.
READY_FILE = "rnnlab-ready.json"
_UNMARKED = []      # the run keys of the last compile_note, marked ready by steps_loaded


def _kernel_modules(cell):
    """The short names of the modules whose compiled functions `cell` runs ('lstm'; minGRU:
    'mingru', 'minscan'); empty for a cell without a kernel."""
    from . import registry
    spec = registry.get(cell)
    try:
        mod = spec.kernel()
    except Exception:                 # no kernel, or numba not importable: nothing to compile
        return set()
    if mod is None:
        return set()
    pkg = mod.__name__.rsplit(".", 1)[0]
    names = {mod.__name__}
    for v in vars(mod).values():        # the modules it imports, and those of its compiled
        name = v.__name__ if type(v) is type(mod) else getattr(getattr(v, "py_func", v),
                                                                 "__module__", None)
        if isinstance(name, str) and name.startswith(pkg + "."):   # functions (time loops)
            names.add(name)
    return {n.rsplit(".", 1)[1] for n in names} - _EVERY_CELLS


def has_kernels(cell):
    """Whether `cell` trains on compiled kernels of its own (the mLSTM trains on NumPy; its
    B = 1 generation stepper, kernels/mlstm.py, compiles on the first sampled token, about
    1 s, and `rnnlab warmup` compiles it)."""
    return bool(_kernel_modules(cell))


# kernel modules every cell calls: cached once any cell ran, so they tell nothing of one cell
_EVERY_CELLS = {"_common", "activations", "gemms", "tiles", "panels", "fused", "policy"}


def kernel_cache_dir():
    """The folder numba keeps the kernels' machine code in (NUMBA_CACHE_DIR's subfolder for
    them, else their __pycache__)."""
    from .kernels import cache_folder
    return cache_folder()


def cold_cells(cells, options=None, dtype="float32"):
    """Those of `cells` whose kernels have nothing in the cache yet (a cell counts as cached
    once any of its compiled functions is, in any dtype), and 'shared' first when the kernels
    all cells share (cross-entropy, Adam) are not cached either. options: the cells' own
    options (a layer norm, a peephole variant...), which compile paths of their own: a cell
    whose kernels are cached but that has never run with these options (in this dtype, by
    ``mark_ready``) adds 'CELL+options'."""
    try:
        files = os.listdir(kernel_cache_dir())
    except OSError:
        files = []
    cached = {f.split(".", 1)[0] for f in files if f.endswith(".nbi")}
    cold = [] if "fused" in cached else ["shared"]
    ready = ready_keys()
    for cell in cells:
        mods = _kernel_modules(cell)
        if mods and not mods & cached:
            cold.append(cell)
        elif mods and run_key(cell, options, dtype) not in ready and _set(options):
            cold.append(f"{cell}+options")
    return cold


def _set(options):
    return sorted(k for k, v in (options or {}).items() if v)


def run_key(cell, options=None, dtype="float32"):
    """The name ``mark_ready`` keeps for a cell run with these options in this dtype."""
    return cell + "".join(f"+{k}" for k in _set(options)) + f":{np.dtype(dtype).name}"


def ready_keys():
    """The runs (``run_key``) whose kernels a first step or `rnnlab warmup` compiled into
    this cache folder; dropped with the machine code when the kernels' sources change."""
    try:
        with open(os.path.join(kernel_cache_dir(), READY_FILE)) as fh:
            keys = json.load(fh)
        return set(keys) if isinstance(keys, list) else set()
    except (OSError, ValueError):
        return set()


def mark_ready(keys):
    """Record that the kernels of these runs are compiled (a write failure only means the
    note may be said again)."""
    known = ready_keys()
    if set(keys) <= known:
        return
    try:
        atomic_write_json(os.path.join(kernel_cache_dir(), READY_FILE),
                          sorted(known | set(keys)))
    except OSError:
        pass


def compile_note(cells, say=None, dtype="float32", options=None):
    """When the kernels of `cells` (run with their own `options`) are not in the cache, say
    once that they are compiling and about how long it takes (this machine's CPU may differ
    from the one measured); returns the cold cells ([] when warm or when numba is not
    installed). Within ``compile_in_background`` given a way to compile ahead, part of the
    cold list starts compiling in a second process (in `dtype`), and the estimate is the
    longer of the two parts. The run's first step marks them ready (``steps_loaded``)."""
    from .backend import get_backend, numba_available
    if get_backend() != "numba" or not numba_available():
        return []
    cold = cold_cells(cells, options, dtype)
    _UNMARKED[:] = [run_key(c, options, dtype) for c in cells]
    if cold:
        elsewhere = (_AHEAD[0](cold, dtype, options) if _AHEAD and compiling_in_background()
                     else [])
        here = [c for c in cold if c not in elsewhere]
        secs = max(_compile_s(here), _compile_s(elsewhere))
        (say or _stderr)(f"compiling kernels for this machine (once, about {secs:.0f} s; "
                         "`rnnlab warmup` compiles all of them ahead of time)")
    return cold


def _compile_s(cold):
    return sum(SHARED_S if c == "shared" else OPTIONS_S if c.endswith("+options") else
               COMPILE_S.get(c, 0) for c in cold)


_AHEAD = []      # while a command runs: its way to compile part of the cold list elsewhere


@contextmanager
def compile_in_background(ahead=None):
    """Within the block (a command: `rnnlab train`, `rnnlab demo`), compile the threaded kernels
    in the background while the one-thread ones run (nn/kernels/background.py), when the numba
    backend runs. ahead(cold, dtype, options): starts part of a cold list (a run with its
    cell's options) compiling in a second process and returns that part
    (``training.ahead.start_for``; ``compile_note`` calls it). The same numbers either way;
    off again after the block, and for library code."""
    from .backend import get_backend, numba_available
    if get_backend() != "numba" or not numba_available():
        yield
        return
    from .kernels import background
    background.enable()
    _AHEAD[:] = [ahead] if ahead is not None else []
    try:
        yield
    finally:
        background.disable(wait=not _DETACH)
        _AHEAD.clear()


_DETACH = []     # [True]: the process ends right after the command (``detach_at_exit``)


def detach_at_exit():
    """The `rnnlab` command line ends the process right after its command: the end of
    ``compile_in_background`` then does not wait for a background compile under way (it
    could end a --time-budget run seconds late: 15 s for a 10 s budget with recurrent
    dropout, its threaded loop compiling), and the caller ends the process with os._exit when
    ``compile_left_running()``. Library code and the tests call the commands without it."""
    _DETACH[:] = [True]


def compile_left_running():
    """Whether a background compile is still under way after the command
    (``detach_at_exit``)."""
    bg = sys.modules.get("rnnlab.nn.kernels.background")
    return bg is not None and bg.left_running()


def compiling_in_background():
    """Whether this is a command that compiles kernels beside its work
    (``compile_in_background``)."""
    bg = sys.modules.get("rnnlab.nn.kernels.background")
    return bg is not None and bg.enabled()


def steps_loaded(seconds_left=None):
    """Say that a training loop's first step has run: every kernel its steps call is compiled
    or loaded, so the threaded variants queued meanwhile may compile in the background now
    (nn/kernels/background.py). Before this, a background compile would hold numba's one
    compile lock while the step waits to load its own kernels from the cache. seconds_left:
    what is left of a time budget (none starts near its end)."""
    if _UNMARKED:
        mark_ready(_UNMARKED)
        _UNMARKED.clear()
    bg = sys.modules.get("rnnlab.nn.kernels.background")
    if bg is not None and bg.enabled():
        bg.open_queue(seconds_left)


def _stderr(line):
    print(line, file=sys.stderr, flush=True)



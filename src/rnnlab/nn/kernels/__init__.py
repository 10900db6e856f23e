"""The numba kernels.

Threads: the kernels' only thread pool is numba's (OpenMP); no kernel calls BLAS, so
OpenBLAS's threads never wake to compete with it. OpenMP's threads spin after each parallel
region by default, which on a busy machine costs more than the work: a char-LM training step
took 172 ms (89 ms of CPU) at load average 20 with spinning threads, 56 ms (22 ms of CPU)
with OMP_WAIT_POLICY=passive, 55 ms on one thread (docs/performance.md). So unless the
environment already says otherwise, numba's thread pool is started here with
OMP_WAIT_POLICY=PASSIVE in the environment for that moment only: the OpenMP runtime reads the
variable once, when numba loads it, and the variable is removed again at once, so neither the
user's ``os.environ`` nor a child process sees it (``_start_threads``). It has no effect when
an OpenMP runtime is already loaded (e.g. by importing torch first) or when numba's threading
layer is not OpenMP. Set OMP_WAIT_POLICY=ACTIVE to keep spinning threads.

numba caches each compiled function on disk keyed on its own source
file only, but the machine code of a function includes every function it calls from other
files (``panels``, ``tiles``, the gate passes...): after an edit to one of those, the cached
callers would keep running the old code. So on first import the kernels' sources are
fingerprinted (names, sizes, modification times) and the cache is dropped when the
fingerprint changed since it was written: in the folder numba uses for them, which is
NUMBA_CACHE_DIR's when that is set (``cache_folder``)."""
import os


def cache_folder():
    """The folder numba keeps these modules' machine code in: their __pycache__, or a folder
    for them under NUMBA_CACHE_DIR."""
    from numba.core.caching import FunctionCache
    return FunctionCache(cache_folder).cache_path


def drop_stale_cache():
    """Remove the kernels' cached machine code when their sources changed since it was
    written (see above); keep it otherwise."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        cache = cache_folder()
    except Exception:          # no usable cache folder: numba compiles in memory anyway
        return
    try:
        srcs = sorted(f for f in os.listdir(here)       # these hold no compiled code
                      if f.endswith(".py") and f not in ("__init__.py", "policy.py",
                                                         "background.py"))
        stamp = ";".join(f"{f}:{os.stat(os.path.join(here, f)).st_size}:"
                         f"{os.stat(os.path.join(here, f)).st_mtime_ns}" for f in srcs)
        mark = os.path.join(cache, "rnnlab-kernels.stamp")
        if os.path.exists(mark):
            with open(mark) as fh:
                if fh.read() == stamp:
                    return
        if os.path.isdir(cache):
            for f in os.listdir(cache):
                if f.endswith((".nbi", ".nbc")):
                    os.remove(os.path.join(cache, f))
        os.makedirs(cache, exist_ok=True)
        with open(mark, "w") as fh:
            fh.write(stamp)
    except OSError:            # a read-only install: numba then compiles in memory anyway
        pass


def _start_threads():
    """Start numba's thread pool with passive OpenMP waiting unless the environment chose a
    policy; the environment is as it was afterwards."""
    import numba
    scoped = "OMP_WAIT_POLICY" not in os.environ
    if scoped:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        numba.get_num_threads()          # loads the threading layer; its runtime reads the policy
    finally:
        if scoped:
            os.environ.pop("OMP_WAIT_POLICY", None)


drop_stale_cache()
_start_threads()

from ._common import Workspace  # noqa: E402,F401  (public: a layer and the stream each hold one)
from ._common import forward_loops_skipped  # noqa: E402,F401  (public: training/ahead.py)

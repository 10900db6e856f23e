"""Which implementation of the cells a layer runs: ``'numba'`` (the fused kernels in
``rnnlab.nn.kernels``, the default) or ``'numpy'`` (the reference cells in
``rnnlab.nn.cells``). A layer names both modules; ``implementation`` picks one.

    rnnlab.set_backend('numpy')            # global default for this process
    layer(x, backend='numba')              # per call (the layer passes it to implementation)
    RNNLAB_BACKEND=numpy python train.py   # default taken from the environment

Both expose the same ``forward``/``backward`` (docs/design.md). If numba cannot be imported,
``'numba'`` falls back to ``'numpy'`` with one warning. Importing this module imports neither
numba nor the kernels; the kernels compile lazily on their first call and are cached on disk
(``cache=True``), so a second process loads machine code instead of compiling again.

BLAS and AVX-512
    The numba kernels do every product, in the time loop and around it, in their own
    packed-panel AVX-512 code (``rnnlab.nn.kernels.panels`` on the tiles of
    ``rnnlab.nn.kernels.tiles``), independent of any BLAS; OpenBLAS serves only the NumPy
    reference. NumPy and SciPy each bundle an OpenBLAS; both are DYNAMIC_ARCH
    builds that pick their kernels when they are loaded, from the CPU or from
    ``OPENBLAS_CORETYPE``. Check what they chose::

        python -c "import rnnlab.nn.backend as b; print(b.blas_info())"

    which prints, per library, (core name, build config), e.g. ``('SkylakeX', 'OpenBLAS
    0.3.31 ... DYNAMIC_ARCH ... SkylakeX ...')``: ``SkylakeX`` (or ``Cooperlake``,
    ``SapphireRapids``) are AVX-512 kernels, ``Haswell``/``Zen`` are AVX2. Older OpenBLAS
    builds do not know AMD's Zen 4/5 and fall back to AVX2; to force the AVX-512 ones set
    ``OPENBLAS_CORETYPE=SkylakeX`` *before* NumPy/SciPy are imported, e.g.
    ``OPENBLAS_CORETYPE=SkylakeX python train.py``. ``prefer_avx512_blas()`` sets it (when
    the CPU has avx512f and neither ``OPENBLAS_CORETYPE`` nor ``RNNLAB_NO_BLAS_TUNING`` is
    set) for a program that calls it before importing NumPy; nothing calls it implicitly.
"""
import importlib
import os
import warnings

from ..errors import RnnlabError

BACKENDS = ("numba", "numpy")

_default = None          # resolved lazily from RNNLAB_BACKEND
_numba_ok = None         # None: not probed yet
_warned = False


def _check_name(name, what="backend"):
    if name not in BACKENDS:
        raise RnnlabError(f"{what} {name!r} is unknown, expected 'numba' or 'numpy' "
                          "(set RNNLAB_BACKEND or call rnnlab.set_backend with one of them)")
    return name


def set_backend(name):
    """Set the process-wide default backend: 'numba' or 'numpy'."""
    global _default
    _default = _check_name(name)


def get_backend():
    """The process-wide default backend (RNNLAB_BACKEND, else 'numba')."""
    global _default
    if _default is None:
        _default = _check_name(os.environ.get("RNNLAB_BACKEND", "numba") or "numba",
                               "RNNLAB_BACKEND")
    return _default


def numba_available():
    """Whether the numba kernels can run here (numba importable)."""
    global _numba_ok
    if _numba_ok is None:
        try:
            import numba  # noqa: F401
            _numba_ok = True
        except Exception:       # ImportError, or a broken install
            _numba_ok = False
    return _numba_ok


def implementation(reference, kernel=None, backend=None):
    """The module whose ``forward``/``backward`` runs a cell: the fused kernel or the reference.

    reference: the reference cell module (rnnlab.nn.cells.<name>); kernel: a function that
    imports and returns the kernel module (None when the cell has none, then the reference
    always runs); backend: 'numba' | 'numpy' | None (the default, see get_backend)."""
    global _warned
    name = get_backend() if backend is None else _check_name(backend)
    if name == "numpy" or kernel is None:
        return reference
    if not numba_available():
        if not _warned:
            warnings.warn("rnnlab: numba is not importable; using the NumPy reference cells "
                          "(slower). pip install numba to fix.",
                          RuntimeWarning, stacklevel=3)
            _warned = True
        return reference
    return kernel()


# ------------------------------------------------------------------------- BLAS tuning

def cpu_has_avx512():
    """True when /proc/cpuinfo lists avx512f (Linux; False elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return " avx512f" in line
    except OSError:
        pass
    return False


def prefer_avx512_blas(environ=os.environ):
    """Ask OpenBLAS for its AVX-512 (SkylakeX) kernels when the CPU has avx512f and the user
    has not chosen (OPENBLAS_CORETYPE unset, RNNLAB_NO_BLAS_TUNING unset). Only effective
    before NumPy is first imported; returns whether it set the variable."""
    if environ.get("OPENBLAS_CORETYPE") or environ.get("RNNLAB_NO_BLAS_TUNING"):
        return False
    import sys
    if "numpy" in sys.modules or not cpu_has_avx512():
        return False
    environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    return True


def _openblas_libs(modules=("numpy", "scipy")):
    """(label, library, symbol prefix, symbol suffix) of each OpenBLAS copy bundled with
    `modules` (imported here if need be) that loads (ctypes: OpenBLAS has no Python API)."""
    import ctypes
    import glob
    for modname in modules:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        libdir = os.path.dirname(mod.__file__) + ".libs"
        for lib in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
            try:
                dll = ctypes.CDLL(lib)
            except OSError:
                continue
            for prefix in ("scipy_openblas_", "openblas_"):
                for suffix in ("64_", ""):
                    if getattr(dll, f"{prefix}get_config{suffix}", None) is not None:
                        yield f"{modname}: {os.path.basename(lib)}", dll, prefix, suffix
                        break
                else:
                    continue
                break


def blas_info():
    """{library file: (core kernels chosen, build config)} for the OpenBLAS copies bundled
    with NumPy and SciPy (empty when they cannot be queried)."""
    import ctypes
    out = {}
    for label, dll, prefix, suffix in _openblas_libs():
        fn = getattr(dll, f"{prefix}get_corename{suffix}")
        cfg = getattr(dll, f"{prefix}get_config{suffix}")
        fn.restype = cfg.restype = ctypes.c_char_p
        out[label] = (fn().decode(), cfg().decode())
    return out


def one_thread_blas(environ=os.environ):
    """Run NumPy's OpenBLAS on one thread in this process, unless the user chose a thread count
    (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS). The kernels never call BLAS; the NumPy paths that
    do (the mLSTM, the reference cells) make many small products, and on a shared 2-core
    machine a 2-thread OpenBLAS call stalls whenever one of its threads is descheduled: at load
    average 2.4, `rnnlab train --cell mlstm --time-budget 10` made 2 steps in 20.8 s with
    OpenBLAS's default 2 threads and 100 steps in 9.9 s with one (2026-12-07, AMD EPYC).
    Returns how many OpenBLAS copies were set."""
    if environ.get("OPENBLAS_NUM_THREADS") or environ.get("OMP_NUM_THREADS"):
        return 0
    return set_blas_threads(1)


def _loaded_openblas():
    import sys
    return _openblas_libs([m for m in ("numpy", "scipy") if m in sys.modules])


def set_blas_threads(n):
    """Set the thread count of the OpenBLAS copies NumPy (and SciPy, when imported) loaded;
    returns how many were set."""
    done = 0
    for _, dll, prefix, suffix in _loaded_openblas():
        fn = getattr(dll, f"{prefix}set_num_threads{suffix}", None)
        if fn is not None:
            fn(int(n))
            done += 1
    return done


def blas_threads():
    """The thread count of each OpenBLAS copy NumPy (and SciPy, when imported) loaded."""
    return [getattr(dll, f"{prefix}get_num_threads{suffix}")()
            for _, dll, prefix, suffix in _loaded_openblas()]

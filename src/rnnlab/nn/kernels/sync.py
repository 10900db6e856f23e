"""Step-by-step work sharing between the threads of one parallel region, for the time loops
whose per-step product is split by hidden units (``units``).

numba has no atomics, so they are emitted here as LLVM instructions (``atomicrmw``,
``cmpxchg``, an acquiring load), which LLVM lowers on every target. A waiting thread is polite
where the platform allows: x86's ``pause`` between polls (only on x86: the intrinsic does not
exist elsewhere, so on ARM no pause is emitted), and the C library's ``sched_yield`` every
``SPINS`` polls (only on POSIX systems, where it exists). ``wait_all``'s ``spins`` argument
0 turns both off at run time: the portable path, a plain spin on the atomic load, which needs
nothing from the platform. ``spins()`` is what the kernels pass: 0 when the environment
variable RNNLAB_PORTABLE_SYNC is set (not "" or "0") at import, so the portable path can be
forced (and is tested) on x86 too. The count is an argument, not a compile-time constant,
because the compiled loops are cached on disk keyed on their source, not on the environment
(and so that a benchmark can sweep it without compiling again).

The protocol never waits for a particular thread. Step t's work is cut into ``nparts`` parts;
a thread first claims its own part (a compare-and-swap on ``flags[t, part]``), then every
part still unclaimed, and after each finished part adds 1 to ``done[t]``; then it waits until
``done[t] == nparts``. The only wait is for parts a running thread has claimed, so a thread
the OS deschedules delays the others at most by the part it holds, and a region whose
iterations run one after the other on a single thread (one numba thread, or a busy pool)
does every part itself instead of hanging. Counters are per step, so nothing is reset
between steps; plain stores before the releasing ``atomicrmw`` are visible after the
acquiring load that sees its count.
"""
import os
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

SPINS = 2000
# ^ pause loops before a thread waiting for a part yields its CPU (a few microseconds: a part
#   in flight on a running thread finishes sooner; a descheduled one needs the CPU we hold).
#   Measured crossover: docs/performance.md, "Thresholds re-measured".

HAS_PAUSE = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
HAS_SCHED_YIELD = os.name == "posix"
POLITE = os.environ.get("RNNLAB_PORTABLE_SYNC", "") in ("", "0")


def spins():
    """wait_all's spins argument: SPINS, or 0 (the portable plain spin) when not POLITE."""
    return SPINS if POLITE else 0


def _elem_ptr(context, builder, aty, arr, idx):
    a = context.make_array(aty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, aty, a, [idx], wraparound=False)


@intrinsic
def atomic_add(typingctx, arr, idx, val):
    """arr[idx] += val atomically (int64 arr); returns the old value."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, v, "seq_cst")
    return types.int64(arr, idx, val), codegen


@intrinsic
def atomic_load(typingctx, arr, idx):
    """arr[idx] read with acquire ordering (int64 arr)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)
    return types.int64(arr, idx), codegen


@intrinsic
def atomic_claim(typingctx, arr, idx):
    """Compare-and-swap arr[idx] from 0 to 1 (int64 arr); True when this call did it."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        i64 = ir.IntType(64)
        res = builder.cmpxchg(ptr, ir.Constant(i64, 0), ir.Constant(i64, 1), "seq_cst",
                              "seq_cst")
        return builder.extract_value(res, 1)
    return types.boolean(arr, idx), codegen


@intrinsic
def cpu_pause(typingctx):
    """x86 ``pause``: a polite spin-loop hint; nothing off x86."""
    def codegen(context, builder, sig, args):
        if not HAS_PAUSE:
            return context.get_dummy_value()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                            "llvm.x86.sse2.pause")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def sched_yield(typingctx):
    """libc's sched_yield(): give the CPU to another runnable thread (declared as an external
    symbol, resolved in the process like numba's own libm calls, so the code can be cached);
    nothing where the C library has none (not POSIX)."""
    def codegen(context, builder, sig, args):
        if not HAS_SCHED_YIELD:
            return context.get_dummy_value()
        fn = cgutils.get_or_insert_function(builder.module,
                                            ir.FunctionType(ir.IntType(32), []), "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@njit(nogil=True, cache=True)
def claim(flags, t, p, nparts):
    """Claim part p of step t (flags: (T*nparts,) int64 zeros)."""
    return atomic_claim(flags, t * nparts + p)


@njit(nogil=True, cache=True)
def finish(done, t):
    """Count one finished part of step t (done: (T,) int64 zeros)."""
    atomic_add(done, t, 1)


@njit(nogil=True, cache=True)
def wait_all(done, t, nparts, spins):
    """Wait until every part of step t is finished: pause between polls and yield the CPU
    every ``spins`` polls; spins = 0: a plain spin (the portable path)."""
    polls = 0
    while atomic_load(done, t) < nparts:
        if spins > 0:
            cpu_pause()
            polls += 1
            if polls >= spins:
                sched_yield()
                polls = 0

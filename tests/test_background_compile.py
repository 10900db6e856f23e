"""Background compiling (nn/kernels/background.py): a threaded kernel without machine code is
not ready at once; its compile is queued for the call's argument types, runs on the
background thread, and the kernel is ready after it. (That the one-thread stand-in computes
the threaded kernel's bits: tests/test_fused.py, test_thread_count_changes_no_bit.)"""
import numpy as np
from numba import njit

from rnnlab.nn.kernels import background


def test_a_kernel_compiles_in_the_background_and_is_ready_after(monkeypatch):
    monkeypatch.setattr(background, "QUIET_S", 0.0)

    @njit(nogil=True)
    def double(a):               # a fresh function: no machine code yet, none in the cache
        for i in range(a.shape[0]):
            a[i] *= 2

    a = np.arange(4.0)
    background.disable()
    assert background.ready(double, (a,))          # off: every kernel runs at once
    background.enable()
    try:
        assert not background.ready(double, (a,))  # queued, not compiled yet
        assert background.drain(timeout=60)
        assert background.pending() == 0
        assert len(double.signatures) == 1 and background.ready(double, (a,))
        double(a)                                  # the compiled signature: no new compile
        assert len(double.signatures) == 1 and a.tolist() == [0.0, 2.0, 4.0, 6.0]
    finally:
        background.disable()


def test_no_compile_starts_near_the_end_of_a_budget_and_the_end_waits_for_none(monkeypatch):
    """With less of a time budget left than END_MARGIN_S, queued kernels stay queued, and
    the command's end (disable) drops them at once instead of compiling in a thread that the
    interpreter's exit would cut off (LLVM aborted the process there)."""
    monkeypatch.setattr(background, "QUIET_S", 0.0)

    @njit(nogil=True)
    def triple(a):
        for i in range(a.shape[0]):
            a[i] *= 3

    a = np.arange(3.0)
    background.enable()
    try:
        assert not background.ready(triple, (a,))
        background.open_queue(seconds_left=background.END_MARGIN_S / 2)
        assert not background.drain(timeout=0.5)     # nothing compiles this late
    finally:
        background.disable()
    assert background.pending() == 0 and triple.signatures == []
    background.enable()                             # a later command queues it again
    try:
        assert not background.ready(triple, (a,))
        assert background.drain(timeout=60) and len(triple.signatures) == 1
    finally:
        background.disable()

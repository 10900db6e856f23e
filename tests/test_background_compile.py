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

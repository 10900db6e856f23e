"""Background compiling (nn/kernels/background.py): a threaded kernel without machine code is
not ready at once; its compile is queued for the call's argument types, runs on the
background thread, and the kernel is ready after it. (That the one-thread stand-in computes
the threaded kernel's bits: tests/test_fused.py, test_thread_count_changes_no_bit.)"""
import time
from collections import namedtuple

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


class _SlowToCompile(namedtuple("_SlowToCompile", "a")):
    """An argument tuple whose threaded loop declares a long compile (as the LSTM with its
    options does: steps.LstmOptFwd.COMPILE_S)."""
    __slots__ = ()
    COMPILE_S = 1000.0


def test_a_loop_that_declares_a_long_compile_waits_for_a_budget_that_fits_it(monkeypatch):
    """With 2 * END_MARGIN_S of the budget left, a kernel whose argument tuple's class
    declares COMPILE_S = 1000 s stays queued, and one queued after it compiles first."""
    monkeypatch.setattr(background, "QUIET_S", 0.0)

    @njit(nogil=True)
    def scale(t):
        for i in range(t.a.shape[0]):
            t.a[i] *= 5

    @njit(nogil=True)
    def shift(a):
        for i in range(a.shape[0]):
            a[i] += 1

    slow, a = _SlowToCompile(np.arange(3.0)), np.arange(3.0)
    background.enable()
    try:
        assert not background.ready(scale, (slow,))
        assert not background.ready(shift, (a,))
        background.open_queue(seconds_left=2 * background.END_MARGIN_S)
        for _ in range(600):                         # shift compiles (up to 30 s) ...
            if shift.signatures:
                break
            time.sleep(0.05)
        assert not background.drain(timeout=0.2)     # ... and scale never starts
        assert len(shift.signatures) == 1 and scale.signatures == []
        assert background.pending() == 1
    finally:
        background.disable()
    assert background.pending() == 0 and scale.signatures == []


def test_machine_code_for_other_argument_types_is_not_ready(monkeypatch):
    """ready() asks for the call's own argument types: one loop serves every cell, and a
    kernel compiled for one cell's tuple must not send another cell's call into a compile in
    the foreground."""
    monkeypatch.setattr(background, "QUIET_S", 0.0)

    @njit(nogil=True)
    def negate(a):
        for i in range(a.shape[0]):
            a[i] = -a[i]

    floats, ints = np.arange(3.0), np.arange(3)
    negate(floats)                                  # machine code for float64 arrays only
    background.enable()
    try:
        assert background.ready(negate, (floats,))
        assert not background.ready(negate, (ints,))
        assert len(negate.signatures) == 1          # queued, not compiled in this call
    finally:
        background.disable()


def test_the_command_line_ends_at_once_when_a_compile_is_left_running(monkeypatch):
    """`rnnlab` (cli.entry): after the command, a background compile still under way is not
    waited for; the child compiling ahead is stopped and the process ends with os._exit and
    the command's exit code. With none left running, a normal exit (sys.exit)."""
    import pytest

    from rnnlab.app import cli
    from rnnlab.nn import kernel_cache
    from rnnlab.training import ahead
    calls = []
    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(kernel_cache, "detach_at_exit", lambda: calls.append("detach"))
    monkeypatch.setattr(ahead, "stop_children", lambda: calls.append("stop"))

    def fake_exit(code):
        calls.append(("os._exit", code))
        raise SystemExit(code)
    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setattr(kernel_cache, "compile_left_running", lambda: True)
    with pytest.raises(SystemExit):
        cli.entry()
    assert calls == ["detach", "stop", ("os._exit", 3)]
    calls.clear()
    monkeypatch.setattr(kernel_cache, "compile_left_running", lambda: False)
    with pytest.raises(SystemExit) as e:
        cli.entry()
    assert e.value.code == 3 and calls == ["detach"]

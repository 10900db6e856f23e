"""Stopping at a clean point on SIGINT (Ctrl-C) and SIGTERM.

    with SignalStop(enabled=True) as signals:
        while working:
            if signals.received:        # 'SIGINT' or 'SIGTERM'
                break                   # ... then save, and say so
            one_step()

The first signal only sets a flag, so the loop can finish its step and save a checkpoint of
it; a second signal raises KeyboardInterrupt at once (the last checkpoint stays as it was).
Handlers are installed only in the main thread (Python's rule) and put back on exit.
"""
import os
import signal
import threading


class SignalStop:
    """While active (main thread only), SIGINT and SIGTERM ask the training loop to stop after
    the current step; a second signal raises KeyboardInterrupt at once. The handler only sets
    a flag and writes one line with os.write (no buffered I/O inside a signal handler)."""

    def __init__(self, enabled):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.received, self._old = None, {}

    def __enter__(self):
        if self.enabled:
            for name in ("SIGINT", "SIGTERM"):
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.received is not None:
            raise KeyboardInterrupt(name)
        self.received = name
        try:
            os.write(2, f"rnnlab: {name}: finishing this step, then saving a checkpoint (send "
                        f"it again to stop at once, keeping the last checkpoint)\n".encode())
        except OSError:
            pass

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False

"""Compile the threaded kernels in the background on a fresh machine, while the one-thread
kernels already run.

On an empty numba cache a threaded variant (the batch split's and the unit split's time loops,
the threaded GEMMs) compiles for 3-8 s of one core each, about 20 s for a GRU's training step,
before the step can run. Each threaded kernel computes every number with the same sums in the
same order as its one-thread counterpart (``policy``; tests/test_fused.py), so a run may start
on one thread and move to two threads at any call without changing a bit. With background
compiling on (``enable``; the command line turns it on for `rnnlab train` and `rnnlab demo`):

- ``ready(dispatcher, args)`` answers at each call whether a threaded kernel can run now:
  yes when it has machine code (compiled in this process, or in numba's cache); otherwise
  it queues the compile of that kernel for these arguments' types and says no, and the
  caller runs its one-thread path;
- one daemon thread compiles the queue, one kernel at a time, once the caller's first step
  has run (``open_queue``; the trainer calls it through ``kernel_cache.steps_loaded``) and
  no other thread has compiled anything for ``QUIET_S`` seconds (numba's compile events):
  numba compiles, and loads from its cache, under one lock per process, so a compile started
  while the first step still compiles or loads its own kernels would make it wait;
- once compiled, the next call takes the threaded kernel.

Off (the default for library code and the tests), ``ready`` always says yes and a threaded
kernel compiles in the call that first needs it, as before. ``drain()`` waits for the queue
(``rnnlab warmup`` compiles synchronously anyway).
"""
import threading
import time

from . import policy

END_MARGIN_S = 5.0
# ^ no background compile starts this close to the end of a --time-budget: the command's end
#   waits for the one under way (0.3-1.4 s past a 10 s GRU budget without this rule; 1.5-2 s
#   with 3 s here), and they take up to 5 s each (the GRU's threaded backward loop, 4.9 s on
#   the AMD EPYC VM). A loop whose argument tuple's class sets COMPILE_S (the LSTM with its
#   options: 6 to 9.5 s) needs that long left instead; one that cannot finish in time is
#   dropped (its one-thread loop runs).
QUIET_S = 0.3
# ^ seconds without a compile in any other thread before the background thread starts the
#   next one: longer than the gaps between the first training step's own compiles (a few ms).

_state = {"enabled": False, "watching": False, "open": False, "thread": None,
          "last_compile": 0.0, "others": 0, "compiling": 0, "stop": False, "end": None}
_queue = []                    # [(dispatcher, argument types)] waiting to compile
_queued = set()                # the same, as keys, queued or done
_cond = threading.Condition()


def enable():
    """Turn background compiling on for this process, the queue closed until the caller's
    first step has run (``open_queue``)."""
    with _cond:
        _state["enabled"], _state["open"], _state["end"] = True, False, None
        if _state["watching"]:
            return
        _state["watching"] = True
    from numba.core import event
    event.register("numba:compile", _watch())


def open_queue(seconds_left=None):
    """Let the queue compile (the caller's first step has run: everything it calls is loaded;
    ``kernel_cache.steps_loaded``). Until then queued kernels wait: numba holds its one compile
    lock while it loads a kernel from the cache too, so a background compile started during
    the first step would make that step wait for it. seconds_left: the run's time budget
    left; no compile starts in its last END_MARGIN_S seconds (or its loop's COMPILE_S), since
    the command's end waits for one under way (``disable``)."""
    with _cond:
        _state["open"] = True
        _state["end"] = None if seconds_left is None else time.monotonic() + seconds_left
        _cond.notify_all()


def disable(wait=True):
    """Turn it off again at the end of a command: ``ready`` says yes to every kernel, the
    queue is dropped, and a compile under way finishes (its machine code reaches the cache
    for the next run) before this returns. The thread must not still be compiling when the
    interpreter exits: LLVM aborted the process there (SIGABRT, after a GRU run had saved its
    model) when a daemon thread was cut off mid-compile. wait=False (the `rnnlab` command
    line, which ends the process with os._exit next: ``left_running``): a compile under way
    is left running, and a --time-budget does not wait for it."""
    with _cond:
        _state["enabled"] = False
        _queued.difference_update(_queue)        # dropped: a later command queues them again
        _queue.clear()
        thread, _state["thread"] = _state["thread"], None
        _state["stop"] = thread is not None
        _cond.notify_all()
    if thread is not None and not wait and thread.is_alive():
        _state["left"] = thread
        return
    if thread is not None:
        thread.join()
    _state["stop"] = False


def left_running():
    """Whether ``disable(wait=False)`` left a compile running: the process must then end with
    os._exit (no interpreter exit while LLVM compiles in a thread)."""
    thread = _state.get("left")
    return thread is not None and thread.is_alive()


def enabled():
    return _state["enabled"]


def ready(dispatcher, args):
    """Whether the threaded kernel `dispatcher` should run now on `args`: True when it has
    machine code for these argument types (or, with none in this process yet, any in numba's
    cache) or background compiling is off; else its compile for them is queued (once) and
    the answer is False (run the one-thread path). One loop serves every cell, each cell its
    own argument types: with "any signature" here, a run whose background had compiled the
    recurrent-dropout LSTM's threaded loop compiled the plain LSTM's in the foreground at its
    final validation (5.4 s past a 10 s budget)."""
    if not _state["enabled"]:
        return True
    import numba
    sig = tuple(numba.typeof(a) for a in args)
    if sig in dispatcher.overloads:         # compiled or loaded in this process
        return True
    if not dispatcher.signatures and policy.has_machine_code(dispatcher):
        return True                         # none here yet, some on disk (a warm cache)
    key = (dispatcher, sig)
    with _cond:
        if key not in _queued:
            _queued.add(key)
            _queue.append(key)
            if _state["thread"] is None:
                _state["thread"] = threading.Thread(target=_work, name="rnnlab-compile",
                                                    daemon=True)
                _state["thread"].start()
            _cond.notify_all()
    return False


def pending():
    """How many queued kernels have not finished compiling."""
    with _cond:
        return len(_queue) + (1 if _state["compiling"] else 0)


def drain(timeout=None):
    """Open the queue (an open one keeps its budget's end) and wait until it is compiled (or
    timeout seconds pass); True when it is."""
    if not _state["open"]:
        open_queue()
    end = None if timeout is None else time.monotonic() + timeout
    with _cond:
        while _queue or _state["compiling"]:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            _cond.wait(left)
    return True


def _watch():
    """A listener of numba's compile events in every thread but ours: how many compiles are
    under way there, and when the last one ended."""
    from numba.core import event

    class CompileWatch(event.Listener):
        def on_start(self, ev):
            if threading.current_thread() is not _state["thread"]:
                with _cond:
                    _state["others"] += 1

        def on_end(self, ev):
            if threading.current_thread() is not _state["thread"]:
                with _cond:
                    _state["others"] -= 1
                    _state["last_compile"] = time.monotonic()
                    _cond.notify_all()
    return CompileWatch()


def _next_in_time():
    """The index of the first queued kernel whose compile would end in time, or None."""
    return next((i for i, (_, sig) in enumerate(_queue) if _in_time(sig)), None)


def _in_time(sig):
    """Whether a compile of the kernel for argument types sig, started now, ends before the
    budget's end (by END_MARGIN_S, or the COMPILE_S its argument tuple's class declares)."""
    if _state["end"] is None:
        return True
    margin = max([getattr(getattr(t, "instance_class", None), "COMPILE_S", END_MARGIN_S)
                  for t in sig] + [END_MARGIN_S])
    return time.monotonic() + margin < _state["end"]


def _work():
    while True:
        with _cond:
            while not (_state["open"] and _next_in_time() is not None) and not _state["stop"]:
                _cond.wait(None if _state["end"] is None else 1.0)
            while not _state["stop"] and (_state["others"] or
                                          time.monotonic() - _state["last_compile"] < QUIET_S):
                _cond.wait(QUIET_S)
            if _state["stop"]:
                return
            i = _next_in_time()
            if i is None:
                continue
            dispatcher, sig = _queue.pop(i)
            _state["compiling"] = 1
        try:
            dispatcher.compile(sig)
        except Exception:          # the call that needs it compiles it again and says why
            pass
        finally:
            with _cond:
                _state["compiling"] = 0
                _cond.notify_all()

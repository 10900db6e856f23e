"""Measure the peak resident memory of real training runs, for tests/test_memory.py (run as a
subprocess: `python tests/memory_probe.py DATA OUT CASES_JSON`; prints one JSON line per case).

How a case is measured, so that the interpreter, NumPy, numba and the compiled kernels (about
150 MB together, before any model exists) are not counted: the same configuration first
trains once in full (the same B, T and H, so the same kernel code paths, the threaded splits
that only a size takes among them: it imports everything and compiles or loads the kernels,
whose compilation would otherwise be counted); then the kernel's peak-RSS counter is reset (`5` into /proc/self/clear_refs:
VmHWM := VmRSS, Linux 4.0+) and the resident size read (the baseline); then the sized run
trains; its VmHWM minus the baseline is what that run added at its peak. The caller sets
MALLOC_MMAP_THRESHOLD_ so that glibc gives every big array back to the system when it is
freed (its default threshold grows after the first free, and then a freed array stays
resident and the next case's peak reuses it unseen)."""
import gc
import json
import sys
import time


runs = 0


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def run(data, out, case):
    from rnnlab.training.api import train
    global runs
    runs += 1
    train(data, out=f"{out}/{runs}", progress=False, log=lambda m: None,
          handle_signals=False, steps=2, eval_every=1, **case)


def trim():
    """glibc's malloc_trim(0): return the free parts of the heap to the system."""
    import ctypes
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):       # not glibc: nothing to trim this way
        pass


def start_thread_pool():
    """Start numba's worker threads now: their stacks and the OpenMP runtime (tens of MB) are
    the process's, not a model's, and a case whose warm-up stays on one thread (a split that
    only its full size takes) would otherwise count them."""
    from numba import njit, prange

    @njit(parallel=True)
    def spin(n):
        total = 0.0
        for i in prange(n):
            total += i
        return total
    spin(1 << 16)


def main(data, out, cases):
    from rnnlab.tasks.memory import estimate_training_memory
    from rnnlab.training.api import _new_configs
    start_thread_pool()
    run(data, out, cases[0])        # the first run of a process allocates for good what no
    for case in cases:              # later run does (caches, pools): not the model's memory
        t0 = time.process_time()
        run(data, out, case)                                   # the warm-up
        tcfg, mcfg, task, _ = _new_configs(data, dict(case, steps=2, eval_every=1))
        est = estimate_training_memory(mcfg, tcfg.batch, tcfg.seq_len, tcfg.optimizer,
                                       task.eval_tokens, tcfg.backend, task.eval_seq_len)
        del task
        gc.collect()
        trim()      # give freed heap (a compile's, the warm-up's) back: a later array must not
                    # land unseen in pages that are already resident
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = status_kib("VmRSS")
        run(data, out, case)
        peak = status_kib("VmHWM") - base
        print(json.dumps({"case": case, "measured": peak * 1024, "estimate": est.total,
                          "summary": est.summary(), "cpu_s": time.process_time() - t0}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))

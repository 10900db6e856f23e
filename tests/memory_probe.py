"""Measure the peak resident memory of real training runs, for tests/test_memory.py (run as a
subprocess: `python tests/memory_probe.py DATA OUT CASES_JSON`; prints one JSON line per case).

How a case is measured, so that the interpreter, NumPy, numba and the compiled kernels (about
150 MB together, before any model exists) are not counted: the same configuration first
trains for two steps on 4-step sequences (the same B and H, so the same kernel code paths:
imports everything and compiles or loads the kernels, whose compilation would otherwise be
counted); then the kernel's peak-RSS counter is reset (`5` into /proc/self/clear_refs:
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


def run(data, out, case, warm_up=False):
    from rnnlab.training.api import train
    global runs
    runs += 1
    opts = dict(case, seq_len=4) if warm_up else case     # the same B and H: the same code
    train(data, out=f"{out}/{runs}", progress=False, log=lambda m: None,   # paths, compiled
          handle_signals=False, steps=2, eval_every=1, **opts)


def main(data, out, cases):
    from rnnlab.tasks.memory import estimate_training_memory
    from rnnlab.training.api import _new_configs
    run(data, out, cases[0])        # the first run of a process allocates for good what no
    for case in cases:              # later run does (caches, pools): not the model's memory
        t0 = time.process_time()
        run(data, out, case, warm_up=True)
        tcfg, mcfg, task, _ = _new_configs(data, dict(case, steps=2, eval_every=1))
        est = estimate_training_memory(mcfg, tcfg.batch, tcfg.seq_len, tcfg.optimizer,
                                       task.eval_tokens, tcfg.backend, task.eval_seq_len)
        del task
        gc.collect()
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

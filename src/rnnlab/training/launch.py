"""Starting the processes of `rnnlab train --nproc N` and ending them all, whatever happens.

One host: `launch` spawns N workers (torch.multiprocessing, start method spawn); they meet at
tcp://127.0.0.1:<free port>. Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set)
this process is one rank and meets the others at env://. Rank 0 runs rnnlab's `train()` with
the DistributedTrainer; the others follow it (rnnlab/training/distributed.py).

Faults:
- a worker that dies (a signal, an exit) ends the job: the others are stopped (a grace period,
  then SIGTERM, then SIGKILL: torch's ProcessContext.join) and `launch` raises WorkerDied
  naming the rank; the checkpoint files are written atomically by rank 0, so the last complete
  one stays loadable;
- SIGINT or SIGTERM to the launcher is passed on to rank 0, which finishes its step, saves a
  checkpoint and makes every rank stop (Trainer.stop_request); the workers run in their own
  process group, so a terminal's Ctrl-C reaches rank 0 once, through the launcher;
- the workers other than rank 0 ignore SIGINT and SIGTERM: they stop when rank 0 says so or
  when the group breaks; a worker whose launcher dies gets SIGINT (torch sets it as the
  parent-death signal), so rank 0 stops with a checkpoint and the rest follow.
"""
import os
import signal
import socket
import sys
from dataclasses import asdict

from . import distributed
from ..errors import RnnlabError


class WorkerDied(Exception):
    """A rank died; the message is the one line to print, exit_code the command's exit status
    (1; 130 or 143 when a second signal to the launcher stopped the job at once)."""

    def __init__(self, line, exit_code=1):
        super().__init__(line)
        self.exit_code = exit_code


def under_torchrun():
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def check_setup(nproc, device, dist_backend):
    """(device, backend) after checking them: one line naming the problem and the fix."""
    torch = distributed.torch_module()
    if nproc is not None and nproc < 1:
        raise RnnlabError(f"--nproc must be a positive integer, got {nproc}")
    if device not in ("cpu", "cuda"):
        raise RnnlabError(f"--device must be cpu or cuda, got {device!r}")
    backend = dist_backend or ("nccl" if device == "cuda" else "gloo")
    if device == "cuda" and not torch.cuda.is_available():
        raise RnnlabError("--device cuda: this PyTorch sees no CUDA device; use --device cpu")
    if backend == "nccl" and device != "cuda":
        raise RnnlabError("--dist-backend nccl runs on GPUs: add --device cuda, or use gloo")
    if backend not in ("gloo", "nccl"):
        raise RnnlabError(f"--dist-backend must be gloo or nccl, got {backend!r}")
    return device, backend


def check_twin(build_twin, mcfg):
    """Refuse, in one line, a model whose cell or head has no torch twin."""
    if mcfg is None:
        return
    if mcfg.head != "bernoulli":
        raise RnnlabError(f"--nproc trains the model's PyTorch twin, which has no {mcfg.head} "
                          f"head; train it without --nproc, or with --head bernoulli")
    try:
        build_twin(mcfg)
    except RnnlabError as e:
        why = str(e).split(";")[0]
        raise RnnlabError(f"--nproc trains the model's PyTorch twin, and {why} (rnnlab's twin "
                          f"modules compute the standard LSTM only); train it without --nproc"
                          ) from None


def model_config(out, resume, options, data=None):
    """The ModelConfig a `train` call will build (enough of it to build the twin), or None
    when train() itself will refuse the call (a --resume without a run folder). With the data
    file, the task's own defaults count (the piano roll's head is nade)."""
    from .run_folder import RunFolder
    from ..tasks import registry
    from ..tasks.model import ModelConfig
    from .api import nest_task_options, split_options
    if resume:
        run = RunFolder(out)
        return ModelConfig.from_json(run.read_config()["model"]) if run.exists() else None
    given, task = {k: v for k, v in options.items() if v is not None}, {}
    if data is not None:
        name = registry.task_for_file(data, given.get("task"))
        given = registry.with_task_defaults(name, nest_task_options(name, given))
        task = {"task": getattr(registry.get(name).task, "model_task", name)}
    model, _ = split_options(given)
    return ModelConfig(input_size=1, output_size=1, **task, **model).validate()


def launch(jobs, nproc, build_twin, device="cpu", dist_backend=None):
    """Run `train(**job)` for each job (keywords of rnnlab.train) on one process group, one
    after the other; returns rank 0's TrainResult dicts. Raises RnnlabError for bad input (a
    job that fails stops the rest) and WorkerDied when a rank dies."""
    device, backend = check_setup(nproc, device, dist_backend)
    setup = {"device": device, "backend": backend, "build_twin": build_twin}
    if under_torchrun():
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        if nproc not in (None, 1, world):
            raise RnnlabError(f"under torchrun the processes are torchrun's ({world}); leave out "
                              f"--nproc {nproc}")
        outcome = _run_rank(rank, world, "env://", jobs, setup, local=int(
            os.environ.get("LOCAL_RANK", rank)))
        return _results(outcome) if rank == 0 else []
    import logging

    import torch.multiprocessing as mp
    from torch.multiprocessing.spawn import ProcessException
    # torch logs a warning for each process it stops; the one line below says it all
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    queue = mp.get_context("spawn").SimpleQueue()
    ctx = mp.start_processes(_worker, args=(nproc, f"tcp://127.0.0.1:{_free_port()}", jobs,
                                            setup, queue),
                             nprocs=nproc, join=False, start_method="spawn")
    received = []

    def forward(signum, frame):                    # to rank 0, which stops every rank
        received.append(signum)
        try:
            os.kill(ctx.processes[0].pid, signum)
        except ProcessLookupError:
            pass
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not ctx.join(timeout=0.5, grace_period=1):
            pass
    except ProcessException as e:
        if len(received) > 1:          # a second signal: rank 0 stopped at once, as one process
            name = signal.Signals(received[-1]).name
            raise WorkerDied(f"stopped at once by a second {name}; the last complete checkpoint"
                             f" is kept", 128 + received[-1]) from None
        said = queue.get() if not queue.empty() else None     # rank 0's own reason, if any
        raise WorkerDied(said[1] if said and said[0] == "died" else _death_line(e, nproc, jobs)
                         ) from None
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _reap(ctx)
    return _results(queue.get() if not queue.empty() else None)


def _results(outcome):
    if outcome is None:
        raise WorkerDied("rank 0 ended without a result; see the lines above")
    kind, value = outcome
    if kind == "error":
        raise RnnlabError(value)
    if kind == "died":
        raise WorkerDied(value)
    return value


def _death_line(e, world, jobs):
    """One line: which rank died first, how, and where the last checkpoint is."""
    if getattr(e, "signal_name", None):
        how = f"killed by {e.signal_name}"
    elif getattr(e, "exit_code", None) is not None:
        how = f"exit code {e.exit_code}"
    else:                              # it raised: the traceback's last line says what
        how = [line for line in str(e).splitlines() if line.strip()][-1].strip()
    outs = ", ".join(str(j.get("out")) for j in jobs if j.get("out"))
    return (f"rank {e.error_index} of {world} died ({how}); every rank is stopped; the last "
            f"complete checkpoint in {outs or 'the run folder'} is kept (continue with --resume)")


def _reap(ctx):
    """No process left behind: any worker still alive is killed and waited for."""
    for p in ctx.processes:
        if p.is_alive():
            p.kill()
        p.join(5)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, init_method, jobs, setup, queue):
    os.setpgrp()                       # the terminal's Ctrl-C goes to the launcher only
    outcome = _run_rank(rank, world, init_method, jobs, setup, local=rank)
    if rank == 0:
        queue.put(outcome)
    sys.stdout.flush()
    sys.stderr.flush()
    # a spawned worker leaves without the interpreter's teardown: with gloo on CPU, 1 run in
    # about 16 aborted there ("terminate called without an active exception", SIGABRT) after
    # every file was written (the example script it replaced, commit a818522)
    os._exit(0 if outcome is None or outcome[0] == "ok" else 1)


def _run_rank(rank, world, init_method, jobs, setup, local):
    """This rank's part of every job: ("ok", results) / ("error", line) on rank 0, else None."""
    import torch
    import torch.distributed as dist
    if rank != 0:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
    device = torch.device("cpu")
    if setup["device"] == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group(setup["backend"], init_method=init_method, rank=rank,
                            world_size=world)
    distributed.GROUP = g = distributed.Group(rank, world, device, setup["build_twin"])
    try:
        return _lead(g, jobs) if rank == 0 else _follow_jobs(g, jobs)
    except BaseException:
        if os.environ.get("RNNLAB_DEBUG"):
            import traceback
            traceback.print_exc()
        raise
    finally:
        dist.destroy_process_group()


def _lead(g, jobs):
    from .api import train
    results = []
    for job in jobs:
        try:
            res = train(**job, trainer_class=distributed.DistributedTrainer)
        except RnnlabError as e:
            if g.in_fit and not isinstance(e, distributed.Diverged):
                return ("died", f"rank 0: {e}")            # the others are mid-step
            g.broadcast(None)                              # the end of this job
            return ("error", str(e))
        except OSError as e:
            return ("died", f"rank 0: {e}")
        g.broadcast(None)
        results.append(asdict(res))
        if res.interrupted:
            break
    return ("ok", results)


def _follow_jobs(g, jobs):
    for _ in jobs:
        if distributed.follow(g) == "interrupted":
            break
    return None

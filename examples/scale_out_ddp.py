"""Scale out: train an rnnlab run's torch twin with DistributedDataParallel, then bring it back.

    python examples/scale_out_ddp.py RUN --out RUN-ddp --steps 200            # 2 CPU processes
    torchrun --nproc-per-node 8 examples/scale_out_ddp.py RUN --out RUN-ddp --backend nccl
    rnnlab evaluate RUN-ddp valid.txt

1. export: the run's weights become a torch state dict (rnnlab.interop.torch.export_torch),
   loaded into the nn.Module twin built from the run's config.json (build_twin).
2. train: every process gets the same global batch k (rnnlab's own task batcher, so the data
   and its order are exactly rnnlab's) and takes its share of the B streams (columns
   rank::world). Each process carries its streams' hidden state from batch to batch, as rnnlab
   does; DDP averages the gradients, so with equal shares one step is one full-batch step.
3. import: rank 0 saves the state dict and rnnlab imports it into a new run folder
   (import_torch, the same as `rnnlab import model.pt --config RUN --out NEWRUN`).
4. report: rank 0 computes the loss on the evaluation text exactly as `rnnlab evaluate` defines
   it (mean next-token cross-entropy, batch 1, state carried over chunks of 1000 tokens) and
   writes it with the training losses to NEWRUN/ddp_report.json.

Without torchrun the script spawns --nproc processes itself (torch.multiprocessing.spawn)
and rendezvous on 127.0.0.1. With torchrun, RANK / WORLD_SIZE / MASTER_ADDR come from the
environment; with --backend nccl each process uses cuda:LOCAL_RANK.
"""
import argparse
import json
import os
import socket
import sys
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eval_loss_torch(twin, ids, device, chunk=1000):
    """Mean next-token cross-entropy over ids, batch 1, state carried (= rnnlab evaluate)."""
    import torch
    F = torch.nn.functional
    x = torch.as_tensor(ids[:-1], dtype=torch.int64, device=device)[:, None]
    y = torch.as_tensor(ids[1:], dtype=torch.int64, device=device)[:, None]
    total, count, state = 0.0, 0, None
    twin.eval()
    with torch.no_grad():
        for s in range(0, len(x), chunk):
            out, state = twin(x[s:s + chunk], state)
            n = y[s:s + chunk].numel()
            total += float(F.cross_entropy(out.reshape(-1, out.shape[-1]).double(),
                                           y[s:s + chunk].reshape(-1), reduction="sum"))
            count += n
    return total / count


def worker(rank, world, args, port):
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from rnnlab.interop.torch import build_twin, read_run_config
    from rnnlab.training.api import TrainConfig, build_task

    torch.set_num_threads(1)
    if port is None:                                   # torchrun: env:// rendezvous
        dist.init_process_group(args.backend)
    else:
        dist.init_process_group(args.backend, init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world)
    device = torch.device("cpu")
    if args.backend == "nccl":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    cfg = read_run_config(args.run)
    twin = build_twin(cfg).to(device)
    twin.load_state_dict(torch.load(args.start, map_location=device, weights_only=True))
    model = DDP(twin, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    tcfg = TrainConfig(**cfg["train"])
    task = build_task(tcfg, cfg["data"])
    B = tcfg.batch
    if B % world:
        raise SystemExit(f"--batch {B} of the run does not split over {world} processes")
    cols = slice(rank, B, world)
    losses, state = [], None
    for k in range(args.steps):
        if task.carries_state and k % task.batches_per_epoch == 0:
            state = None
        inputs, targets, mask = task.batch(k)
        x = torch.as_tensor(np.ascontiguousarray(inputs[:, cols]), device=device)
        y = torch.as_tensor(np.ascontiguousarray(targets[:, cols]), device=device)
        model.train()
        out, state_n = model(x, state if task.carries_state else None)
        loss = twin.loss(out, y)
        opt.zero_grad()
        loss.backward()                                # DDP all-reduces (averages) gradients
        if tcfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.clip)
        opt.step()
        if task.carries_state:
            state = tuple(s.detach() for s in state_n) if isinstance(state_n, tuple) \
                else state_n.detach()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        losses.append(float(mean) / world)
    sd = {k: v.detach().cpu() for k, v in twin.state_dict().items()}
    torch.save(sd, Path(args.work) / f"rank{rank}.pt")
    if rank == 0:
        report = {"steps": args.steps, "world_size": world, "backend": args.backend,
                  "train_losses": losses}
        if cfg["model"]["task"] == "text":
            from rnnlab.data.text import Vocab, read_text
            vocab = Vocab.from_json(cfg["data"]["vocab"])
            ids = vocab.encode(read_text(args.eval or tcfg.data, tcfg.encoding))
            report["eval_file"] = str(args.eval or tcfg.data)
            report["eval_loss"] = eval_loss_torch(twin, np.asarray(ids, np.int64), device)
        (Path(args.work) / "report.json").write_text(json.dumps(report))
    dist.barrier()
    dist.destroy_process_group()
    if port is not None:
        # a spawned worker leaves without the interpreter's teardown: with gloo on CPU, 1 run in
        # about 16 aborted there ("terminate called without an active exception", SIGABRT) after
        # every file was written; the work is done and saved at this point
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="an rnnlab run folder")
    p.add_argument("--out", required=True, help="new run folder for the DDP-trained weights")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--nproc", type=int, default=2, help="processes to spawn (without torchrun)")
    p.add_argument("--backend", default="gloo", choices=["gloo", "nccl"])
    p.add_argument("--eval", default=None, help="text to evaluate on (default: the run's data)")
    args = p.parse_args(argv)

    import torch.multiprocessing as mp

    from rnnlab.interop.torch import export_torch, import_torch

    out = Path(args.out)
    work = Path(str(out) + ".ddp-work")
    work.mkdir(parents=True, exist_ok=True)
    args.work, args.start = str(work), str(work / "start.pt")
    under_torchrun = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", 0))
    if rank == 0:
        export_torch(args.run, args.start)                                   # 1. export
    if under_torchrun:
        if rank != 0:                                  # wait for rank 0's export
            import time
            while not Path(args.start).exists():
                time.sleep(0.1)
        worker(rank, int(os.environ["WORLD_SIZE"]), args, None)             # 2. train
        if rank != 0:
            return 0
    else:
        mp.spawn(worker, args=(args.nproc, args, free_port()), nprocs=args.nproc, join=True)
    import_torch(work / "rank0.pt", args.run, out)                          # 3. import
    report = json.loads((work / "report.json").read_text())
    (out / "ddp_report.json").write_text(json.dumps(report, indent=2))
    msg = f"trained {args.steps} steps on {report['world_size']} processes ({args.backend}); " \
          f"last loss {report['train_losses'][-1]:.4f}; imported into {out}"
    if "eval_loss" in report:
        msg += f"; torch eval loss {report['eval_loss']:.6f} on {report['eval_file']}" \
               f" (check: rnnlab evaluate {out} {report['eval_file']})"
    print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())

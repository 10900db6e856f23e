"""`rnnlab train --nproc N`: the same training run on N processes of PyTorch's
DistributedDataParallel (DDP), on the torch twin of the configured cell.

    rnnlab train corpus.txt --out r --nproc 2                       # one host, gloo on CPU
    torchrun --nnodes 2 --nproc-per-node 8 ... -m rnnlab train corpus.txt --out r \\
             --device cuda                                          # across hosts, NCCL

Rank 0 runs rnnlab's own `train()` (options, data, defaults, stopping rule, run folder,
checkpoints, ensemble members, review: all of it unchanged) with `trainer_class` set to
DistributedTrainer; the other ranks follow (`follow`): for each Trainer rank 0 fits, they
receive its configs, build the same task and model and run the same loop. The loop is the
Trainer's own (`Trainer.fit`); DistributedTrainer changes three public hooks:

- `train_step`: every rank reads global batch k from the task (so the data and its order are
  rnnlab's), takes its block of the B columns and steps the twin under DDP. Each rank's loss
  is its columns' weighted sum over the global weight (x world size: DDP averages), so the
  averaged gradient is the full batch's exactly, also for masked and uneven shares;
- `stop_request` and `validation_loss`: rank 0 decides (signals, time budget) and validates
  (in NumPy, as single-process rnnlab does); every rank takes its answer, so the Trainer's
  stopping rule (steps, time budget, patience) is decided once and obeyed everywhere;
- `evaluate` and the stop first copy the twin's weights, the torch optimizer's state (Adam's
  moments and step count, one to one: rnnlab's buffers carry torch's names) and the carried
  state (gathered from every rank) back into the rnnlab model, so every checkpoint is rnnlab's.

A start or resume goes the other way: rank 0's checkpoint (Trainer.checkpoint_arrays) is sent
to every rank and loaded into the twin and a torch optimizer. torch is imported here only, and
lazily; the twin builder comes from rnnlab.interop (a higher floor), passed in by the caller.
"""
from dataclasses import asdict

import numpy as np

from ..errors import RnnlabError, install_line
from .trainer import Diverged, Trainer

# the torch optimizer of each rnnlab optimizer (same update formulas, same buffer names)
TORCH_OPTIMIZERS = {"sgd": "SGD", "momentum": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop",
                    "adam": "Adam"}
STOP_CODES = [None, "interrupted by SIGINT", "interrupted by SIGTERM", "time budget"]


def torch_module():
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        raise RnnlabError(f"scaling out needs PyTorch: {install_line('torch')}") from None
    if not dist.is_available():
        raise RnnlabError(f"this PyTorch build has no torch.distributed; install the one rnnlab "
                          f"pins: {install_line('torch')}")
    return torch


class Group:
    """This process's place in the process group: rank, world size, device, twin builder."""

    def __init__(self, rank, world, device, build_twin):
        self.rank, self.world, self.device, self.build_twin = rank, world, device, build_twin
        self.in_fit = False          # inside a collective loop: an error there breaks the group

    def broadcast(self, obj=None):
        """rank 0's obj, on every rank (a small Python object)."""
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._object_device())
        return box[0]

    def gather(self, obj):
        import torch.distributed as dist
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def _object_device(self):
        return self.device if self.device.type == "cuda" else None


GROUP = None        # this process's Group while a distributed job runs


class DistributedTrainer(Trainer):
    """A Trainer whose steps run on every rank of the process group (see the module doc)."""

    def fit(self, progress=True, handle_signals=False, stop=None, started=None):
        g = GROUP
        if self.task.carries_state and self.cfg.batch < g.world:
            # checked on rank 0 before anything is sent, so every rank ends the job cleanly
            raise RnnlabError(f"--batch {self.cfg.batch} is fewer streams than the {g.world} "
                              f"processes; give --batch {g.world} or more, or fewer processes")
        if g.rank == 0:
            g.broadcast({"train": asdict(self.cfg), "model": self.model.cfg.to_json(),
                         "data": self.task.meta()})
        g.in_fit = True
        try:
            self._start(g)
            result = super().fit(progress if g.rank == 0 else False,
                                 handle_signals and g.rank == 0, stop, started)
        except Diverged:
            g.in_fit = False         # every rank raised it at the same step: the group is whole
            raise
        g.in_fit = False
        return result

    # ----- start: rank 0's checkpoint on every rank, in the twin and a torch optimizer ----------
    def _start(self, g):
        import torch
        from torch.nn.parallel import DistributedDataParallel as DDP
        self.group = g
        share = g.broadcast(self.checkpoint_arrays() if g.rank == 0 else None)
        if g.rank != 0:
            self.load_checkpoint(*share)
        torch.manual_seed(self.cfg.seed * 1000 + g.rank)        # the twin's dropout masks
        self.twin = g.build_twin(self.model.cfg).to(g.device)
        self.twin.load_state_dict({k: torch.from_numpy(np.array(v))
                                   for k, v in self.model.state_dict().items()})
        named = dict(self.twin.named_parameters())
        self.tparams = [named[k] for k in self.model.params]     # rnnlab's order
        self.ddp = DDP(self.twin, device_ids=[g.device.index] if g.device.type == "cuda" else None)
        self.topt = torch_optimizer(self.opt, self.tparams)
        self.tstate = self._shard_state(self.state)

    def _columns(self, B):
        """This rank's block of the B columns (np.array_split's; may be empty)."""
        return np.array_split(np.arange(B), self.group.world)[self.group.rank]

    def _shard_state(self, state):
        import torch
        if state is None:
            return None
        parts = state if isinstance(state, tuple) else (state,)
        cols = self._columns(parts[0].shape[1])
        out = tuple(torch.from_numpy(np.ascontiguousarray(p[:, cols])).to(self.group.device)
                    for p in parts)
        return out if isinstance(state, tuple) else out[0]

    # ----- one step ---------------------------------------------------------------------------
    def train_step(self):
        import torch
        import torch.distributed as dist
        g, task = self.group, self.task
        if task.carries_state and self.step % task.batches_per_epoch == 0:
            self.tstate = None
        inputs, targets, mask = task.batch(self.step)
        B = np.shape(inputs)[1]
        cols = self._columns(B)
        weight = np.ones(np.shape(targets)[:2]) if mask is None else np.asarray(mask, float)
        total = weight_total(weight, targets, self.model.loss_kind)
        empty = len(cols) == 0                      # fewer columns than ranks: weight 0
        take = cols if not empty else np.array([0])
        x = torch.as_tensor(np.ascontiguousarray(inputs[:, take]), device=g.device)
        y = torch.as_tensor(np.ascontiguousarray(targets[:, take]), device=g.device)
        w = torch.as_tensor(weight[:, take] * (0.0 if empty else 1.0), device=g.device)
        self.ddp.train()
        out, state_n = self.ddp(x, self.tstate if task.carries_state else None)
        local = weighted_loss_sum(out, y, w, self.model.loss_kind) / total
        self.topt.zero_grad()
        (local * g.world).backward()                # DDP averages: the full batch's gradient
        loss_t = local.detach().clone()
        dist.all_reduce(loss_t)
        loss = float(loss_t)
        if self.cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.tparams, self.cfg.clip)
        bad = first_nonfinite(self.model.params, self.tparams) or \
            (None if np.isfinite(loss) else "loss")
        if bad is not None:
            self.nonfinite(bad)
            if not all(bool(torch.isfinite(s).all()) for s in _parts(state_n)):
                state_n = None
        else:
            self.opt.lr = self.schedule(self.opt.step_count)
            for group in self.topt.param_groups:
                group["lr"] = self.opt.lr
            self.topt.step()
            self.opt.step_count += 1
        if task.carries_state and state_n is not None:
            state_n = tuple(s.detach() for s in state_n) if isinstance(state_n, tuple) \
                else state_n.detach()
        self.tstate = state_n if task.carries_state else None
        self.step += 1
        return loss

    # ----- rank 0 decides, every rank obeys; checkpoints are rnnlab's -------------------------
    def stop_request(self, signals, start):
        mine = super().stop_request(signals, start) if self.group.rank == 0 else None
        code = self._agree(STOP_CODES.index(mine))
        if STOP_CODES[code] is not None:
            self.sync()
        return STOP_CODES[code]

    def _agree(self, code):
        import torch
        import torch.distributed as dist
        t = torch.tensor([code], dtype=torch.int64, device=self.group.device)
        dist.broadcast(t, src=0)
        return int(t[0])

    def validation_loss(self, limit=None, model=None):
        val = super().validation_loss(limit, model) if self.group.rank == 0 else None
        return self.group.broadcast(val)

    def evaluate(self, window, since_step, seconds, start):
        self.sync()
        return super().evaluate(window, since_step, seconds, start)

    def sync(self):
        """The twin's weights, the torch optimizer's state and the carried state (gathered
        from every rank) into the rnnlab model, optimizer and Trainer: a checkpoint of now."""
        for k, p in zip(self.model.params, self.tparams):
            self.model.params[k][...] = p.detach().cpu().numpy()
        copy_optimizer_state(self.topt, self.tparams, self.opt)
        parts = [p.detach().cpu().numpy() for p in _parts(self.tstate)]
        shards = self.group.gather(parts)
        if not parts:
            self.state = None
            return
        full = [np.concatenate([s[i] for s in shards if s[i].shape[1]], axis=1)
                for i in range(len(parts))]
        self.state = tuple(full) if isinstance(self.tstate, tuple) else full[0]


def _parts(state):
    if state is None:
        return []
    return list(state) if isinstance(state, tuple) else [state]


def follow(g):
    """A rank other than 0: fit every Trainer rank 0 fits in this job, until rank 0 says the
    job is done. Returns 'interrupted' when a signal stopped it, else None."""
    from ..tasks.model import ModelConfig, SequenceModel
    from .api import TrainConfig, build_task
    last = None
    while (msg := g.broadcast()) is not None:
        tcfg = TrainConfig(**msg["train"])
        trainer = DistributedTrainer(SequenceModel(ModelConfig.from_json(msg["model"])),
                                     build_task(tcfg, msg["data"]), tcfg, None, lambda m: None)
        try:
            last = trainer.fit(False).interrupted
        except Diverged:
            last = None
    return "interrupted" if last else None


# ----------------------------------------------------------------------------- losses

def weight_total(weight, targets, kind):
    """The global sum of weights rnnlab's loss divides by (nn/losses.py): per (t, b) for
    cross-entropy, per element (a (T, B) mask broadcast over the last axis) for mse and bce;
    1 when everything is masked (the loss is 0 then, as rnnlab's)."""
    total = float(weight.sum())
    if kind != "ce" and weight.ndim < np.ndim(targets):
        total *= np.shape(targets)[-1]
    return total or 1.0


def weighted_loss_sum(out, y, w, kind):
    """sum of w * the element losses, as rnnlab's losses define them (before the mean)."""
    import torch.nn.functional as F
    w = w.to(out.dtype)
    if kind == "ce":
        per = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1).long(),
                              reduction="none")
        return (per * w.reshape(-1)).sum()
    y = y.to(out.dtype)
    per = (out - y) ** 2 if kind == "mse" else \
        F.binary_cross_entropy_with_logits(out, y, reduction="none")
    return (per * (w if w.dim() == per.dim() else w[..., None])).sum()


def first_nonfinite(params, tparams):
    import torch
    for name, p in zip(params, tparams):
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            return name
    return None


# ----------------------------------------------------------------------------- optimizer state

def torch_optimizer(opt, tparams):
    """The torch optimizer that computes rnnlab's `opt` update, holding its state: rnnlab's
    buffers are torch's (exp_avg, exp_avg_sq, momentum_buffer, sum, square_avg) and its step
    count is torch's 'step', so the state maps one to one."""
    import torch
    hp = opt.hyperparams()
    kw = {"lr": opt.lr, "weight_decay": hp["weight_decay"]}
    if opt.name == "momentum":
        kw.update(momentum=hp["momentum"], nesterov=hp["nesterov"])
    elif opt.name in ("adam",):
        kw.update(betas=tuple(hp["betas"]), eps=hp["eps"])
    elif opt.name == "rmsprop":
        kw.update(alpha=hp["alpha"], eps=hp["eps"])
    elif opt.name == "adagrad":
        kw.update(eps=hp["eps"])
    topt = getattr(torch.optim, TORCH_OPTIMIZERS[opt.name])(tparams, **kw)
    if opt.step_count:
        for name, p in zip(opt.params, tparams):
            st = topt.state[p]
            for b in opt.buffers:
                st[b] = torch.from_numpy(np.array(opt.state[b][name])).to(p.device)
            if opt.name != "momentum":
                st["step"] = torch.tensor(float(opt.step_count))
    return topt


def copy_optimizer_state(topt, tparams, opt):
    """torch's optimizer state back into rnnlab's (buffers and step count)."""
    for name, p in zip(opt.params, tparams):
        st = topt.state.get(p, {})
        for b in opt.buffers:
            if b in st:
                opt.state[b][name][...] = st[b].detach().cpu().numpy()

"""The PyTorch twin of rnnlab's char-rnn training, for the quality/speed benchmark.

    python benchmarks/torch_charlm.py CORPUS --budget 120 [--seed 0] [--json]

Same model, data pipeline, optimizer and evaluation as `rnnlab.train(CORPUS, cell="lstm",
hidden=128, layers=2)` with the default TrainConfig (see src/rnnlab/train.py,
tasks/text.py, data/text.py); nothing here imports rnnlab:

* vocabulary: every distinct character of the whole file and rnnlab's unknown token "<unk>",
  sorted (rnnlab's Vocab.build with the char default --min-count 1: "<unk>" never occurs in the
  text, but it is one more input and output, as in rnnlab);
* split: the last int(0.1 * N) ids are validation (split_ids);
* batches: the training ids cut into B=50 contiguous streams of L = (n - 1) // B ids; batch k is
  columns [k*T, (k+1)*T) of every stream, T=50 (TokenStream); the (h, c) state is carried from
  batch to batch, detached, and reset to zeros when k % batches_per_epoch == 0;
* model: one-hot input (size V) -> nn.LSTM(V, 128, num_layers=2) -> nn.Linear(128, V);
  mean softmax cross-entropy over the T*B targets;
* Adam(lr=2e-3, betas=(0.9, 0.999), eps=1e-8), global gradient-norm clip 5 before each step;
* training runs until `budget` seconds have passed (checked before each step, as Trainer.fit);
* val loss: the whole validation text as ONE stream, chunks of 1000 with the state carried,
  mean nats per predicted token (rnnlab's run_stream_loss(batch=1), i.e. TrainedModel.evaluate).
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_ids(path, val_fraction=0.1):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    vocab = sorted(set(text) | {"<unk>"})
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    n_val = int(len(ids) * val_fraction)
    return ids[:len(ids) - n_val], ids[len(ids) - n_val:], len(vocab)


class CharLSTM(nn.Module):
    def __init__(self, V, hidden=128, layers=2):
        super().__init__()
        self.V = V
        self.rnn = nn.LSTM(V, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, V)

    def forward(self, ids, state=None):             # ids (T, B) int64
        x = F.one_hot(ids, self.V).to(torch.float32)
        y, state = self.rnn(x, state)
        return self.head(y), state


@torch.no_grad()
def stream_loss(model, ids, chunk=1000):
    """Mean next-token CE (nats) over ids as one stream, state carried across chunks."""
    model.eval()
    x = torch.from_numpy(ids[:-1]).view(-1, 1)
    y = torch.from_numpy(ids[1:]).view(-1, 1)
    total, count, state = 0.0, 0, None
    for s in range(0, len(x), chunk):
        logits, state = model(x[s:s + chunk], state)
        total += float(F.cross_entropy(logits.reshape(-1, model.V).double(),
                                       y[s:s + chunk].reshape(-1), reduction="sum"))
        count += y[s:s + chunk].numel()
    return total / count, count


def run(corpus, budget, seed=0, batch=50, seq_len=50, hidden=128, layers=2, lr=2e-3, clip=5.0,
        threads=2, log=print):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train_ids, val_ids, V = load_ids(corpus)
    L = (len(train_ids) - 1) // batch
    xs = torch.from_numpy(train_ids[:batch * L].reshape(batch, L))
    ys = torch.from_numpy(train_ids[1:batch * L + 1].reshape(batch, L))
    per_epoch = L // seq_len
    model = CharLSTM(V, hidden, layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    step, state, losses = 0, None, []
    start = time.time()
    while time.time() - start < budget:
        k = step % per_epoch
        if k == 0:
            state = None
        cols = slice(k * seq_len, (k + 1) * seq_len)
        x = xs[:, cols].T.contiguous()
        y = ys[:, cols].T.contiguous()
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        state = tuple(s.detach() for s in state)
        losses.append(loss.item())
        step += 1
        if step % 100 == 0:
            log(f"torch step {step}  train {np.mean(losses[-100:]):.4f}  "
                f"{step * batch * seq_len / (time.time() - start):.0f} tok/s")
    train_s = time.time() - start
    t0 = time.time()
    val, n = stream_loss(model, val_ids)
    return {"side": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "steps": step, "train_seconds": train_s,
            "tokens_per_s": step * batch * seq_len / train_s,
            "train_loss_mean": float(np.mean(losses)) if losses else None,
            "last_train_loss": float(np.mean(losses[-100:])) if losses else None,
            "val_loss": val, "val_bits_per_char": val / math.log(2), "val_tokens": n,
            "eval_seconds": time.time() - t0, "vocab": V}


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch twin of rnnlab's char-rnn training")
    ap.add_argument("corpus")
    ap.add_argument("--budget", type=float, default=120.0, help="training seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    a = ap.parse_args(argv)
    import sys
    res = run(a.corpus, a.budget, a.seed, threads=a.threads,
              log=lambda m: print(m, file=sys.stderr, flush=True))
    print(("RESULT " + json.dumps(res)) if a.json else json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

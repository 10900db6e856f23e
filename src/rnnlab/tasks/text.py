"""Text: the language-model task and the trained text model (sample, evaluate).

    rnnlab train input.txt --out run              # char-level; --tokens word
    model = rnnlab.load("run")
    print(model.sample(200, temperature=0.8, prime="The "))
    print(model.evaluate("valid.txt"))           # {'loss': nats/token, 'bits_per_token', 'tokens'}

Training follows char-rnn's scheme. The token ids are cut into B contiguous streams; batch k
is the k-th window of T tokens of every stream, so the state is carried from one batch to the
next (truncated BPTT). Evaluation is exact: every token after the first is predicted once,
with the state carried through the whole file. Sampling feeds each token back in, one step at
a time, on the kernels' B=1 steppers (stream.py).
"""
import math

import numpy as np

from ..data.text import TokenStream, Vocab, read_ascii_char_ids, read_text, split_ids
from ..errors import RnnlabError
from ..nn.functional import softmax
from .base import TrainedModel
from .model import detach_state
from .stream import pipelined_stream_loss, streaming_model


def run_stream_loss(model, ids, chunk=1000, batch=1):
    """Mean next-token cross-entropy (nats) over an id sequence, as one stream per row with the
    state carried across chunks: exact, every token after the first is predicted once.
    Returns (mean_loss, n_predictions)."""
    ids = np.asarray(ids)
    if len(ids) < 2:
        raise RnnlabError("the text has fewer than 2 tokens: nothing to predict")
    if batch == 1:            # the same numbers, layers overlapped on the cores (stream.py)
        res = pipelined_stream_loss(model, ids)
        if res is not None:
            return res
    L = (len(ids) - 1) // batch
    x = ids[:batch * L].reshape(batch, L).T            # (L, B)
    y = ids[1:batch * L + 1].reshape(batch, L).T
    model.eval()
    total, count, state = 0.0, 0, None
    for s in range(0, L, chunk):
        logits, state = model.forward(x[s:s + chunk].astype(np.int64), state)
        loss, _ = model.loss(logits, y[s:s + chunk].astype(np.int64))
        n = y[s:s + chunk].size
        total += loss * n
        count += n
        state = detach_state(state)
    return total / count, count


class TextTask:
    kind = "text"
    carries_state = True
    OPTIONS = ()       # the text options (--tokens, --encoding) are TrainConfig fields

    def __init__(self, ids, vocab, batch=50, seq_len=50, val_fraction=0.1):
        """ids: (N,) token ids of the whole text, vocab: the Vocab that made them."""
        self.vocab = vocab
        self.train_ids, self.val_ids = split_ids(ids, val_fraction)
        self.stream = TokenStream(self.train_ids, batch, seq_len)
        self.input_size = self.output_size = vocab.size
        self.batches_per_epoch = self.stream.batches_per_epoch
        self.tokens_per_batch = batch * seq_len
        self.initial_loss = float(np.log(vocab.size))   # uniform guessing: ln V

    @classmethod
    def from_file(cls, path, tokens="char", encoding="utf-8", batch=50, seq_len=50,
                  val_fraction=0.1, vocab=None):
        if tokens == "char":        # large ASCII files: ids only, never the text as a str
            fast = read_ascii_char_ids(path, encoding, vocab)
            if fast is not None:
                return cls(fast[1], fast[0], batch, seq_len, val_fraction)
        text = read_text(path, encoding)
        vocab = vocab or Vocab.build(text, tokens)
        return cls(vocab.encode(text), vocab, batch, seq_len, val_fraction)

    @classmethod
    def from_config(cls, tcfg, meta=None):
        vocab = Vocab.from_json(meta["vocab"]) if meta else None
        return cls.from_file(tcfg.data, tcfg.tokens, tcfg.encoding, tcfg.batch, tcfg.seq_len,
                             tcfg.val_fraction, vocab=vocab)

    def batch(self, k):
        x, y = self.stream.get(k)
        return x, y, None

    def validation_loss(self, model):
        if len(self.val_ids) < 2:
            return None
        return run_stream_loss(model, self.val_ids, batch=min(16, max(1, len(self.val_ids) // 200)))[0]

    def meta(self):
        return {"kind": "text", "vocab": self.vocab.to_json()}


class TextModel(TrainedModel):
    """A trained language model: `sample`, `sample_ids`, `evaluate`."""
    kind = "text"

    def __init__(self, model, data_meta, train_cfg=None, path=None):
        super().__init__(model, data_meta, train_cfg, path)
        self.vocab = Vocab.from_json(data_meta["vocab"])

    def labels(self):
        return list(self.vocab.tokens)

    def sample_ids(self, length, temperature=1.0, top_k=0, prime_ids=(), seed=None):
        """Generate `length` token ids, one step at a time (B=1), feeding each back in.
        Yields ids as they are produced. temperature 0 means argmax."""
        if length < 0:
            raise RnnlabError(f"--length must be >= 0, got {length}")
        if temperature < 0:
            raise RnnlabError(f"--temperature must be >= 0 (0 = always the most likely), got {temperature}")
        if top_k < 0:
            raise RnnlabError(f"--top-k must be >= 0 (0 = off), got {top_k}")
        rng = np.random.default_rng(seed)
        V, state = self.cfg.output_size, None
        prime = list(prime_ids)
        if not prime:
            prime = [int(rng.integers(V))]          # no prime: start from a random token
        logits, state = self.model.forward(np.asarray(prime, np.int64)[:, None], state)
        last = logits[-1, 0]
        stream = streaming_model(self.model)       # fused B=1 steppers: no per-step overhead
        if stream is not None:
            stream.reset(state)
        for _ in range(length):
            tok = pick_token(last, temperature, top_k, rng)
            yield tok
            if stream is not None:
                last = stream.step(tok)
            else:
                logits, state = self.model.forward(np.array([[tok]], np.int64), state)
                last = logits[0, 0]

    def sample(self, length=200, temperature=1.0, top_k=0, prime="", seed=None, stream=None):
        """Sampled text (with the prime in front). With `stream`, each piece is written as soon
        as it is generated."""
        prime_ids = self.vocab.encode(prime).tolist() if prime else []
        pieces = [prime]
        if stream is not None and prime:
            stream.write(prime)
        for tok in self.sample_ids(length, temperature, top_k, prime_ids, seed):
            piece = self.vocab.tokens[tok]
            pieces.append(piece)
            if stream is not None:
                stream.write(piece)
                stream.flush()
        return "".join(pieces)

    def evaluate(self, path, encoding="utf-8"):
        """Mean next-token cross-entropy over a file, exactly: every token after the first is
        predicted once, with the state carried through the whole file."""
        ids = self.vocab.encode(read_text(path, encoding))
        loss, n = run_stream_loss(self.model, ids, batch=1)
        return {"loss": loss, "bits_per_token": loss / math.log(2), "tokens": n,
                "perplexity": math.exp(loss)}


def pick_token(logits, temperature, top_k, rng):
    """One token from logits (V,): argmax at temperature 0, else softmax(logits / T),
    restricted to the top_k most likely when top_k > 0."""
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    if 0 < top_k < len(z):
        cut = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= cut, z, -np.inf)
    p = softmax(z)
    return int(rng.choice(len(p), p=p))

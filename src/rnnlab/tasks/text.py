"""Text: the language-model task and the trained text model (sample, evaluate).

    rnnlab train input.txt --out run              # char-level; --tokens word
    model = rnnlab.load("run")
    print(model.sample(200, temperature=0.8, prime="The "))
    print(model.evaluate("valid.txt"))           # {'loss': nats/token, 'bits_per_token', 'tokens', ...}

Training follows char-rnn's scheme. The token ids are cut into B contiguous streams; batch k
is the k-th window of T tokens of every stream, so the state is carried from one batch to the
next (truncated BPTT). Evaluation is exact: every token after the first is predicted once,
with the state carried through the whole file. Sampling feeds each token back in, one step at
a time, on the kernels' B=1 steppers (stream.py).

The vocabulary has an unknown token, <unk> (data/vocab.py): tokens seen fewer than
--min-count times in the training text (default: 2 for words, 1 for characters) and, with
--max-vocab N, all but the N-1 most frequent map to it and train it. A token that `evaluate`
or `sample --prime` meets and the vocabulary lacks is read as <unk>, counted and reported. A
run saved before <unk> existed has none: there such tokens are skipped, and counted.
"""
import math
import warnings

import numpy as np

from ..data.text import TokenStream, Vocab, read_ascii_char_ids, read_text, split_ids
from ..data.vocab import count_tokens
from ..errors import RnnlabError, RnnlabWarning
from ..nn.functional import softmax
from .base import TaskOption, TrainedModel, default_steps, task_options
from .model import detach_state
from .stream import pipelined_stream_loss, streaming_model

MIN_COUNT = {"char": 1, "word": 2}      # --min-count's default for each token level
MAX_TOKENS = 20_000_000                 # the default stopping rule's cap, in training tokens
MIN_STEPS = 200


def _count(ids, value, chunk=1 << 22):
    """How often `value` occurs in `ids`, in pieces (no temporary as large as the corpus)."""
    return sum(int(np.count_nonzero(ids[k:k + chunk] == value))
               for k in range(0, len(ids), chunk))


def unknown_policy(vocab):
    """How a vocabulary reads a token it lacks: 'map' to <unk>, or 'skip' (no <unk>: a run
    saved before rnnlab had one)."""
    return "map" if vocab.has_unk else "skip"


def describe_unknown(vocab, unknown, what):
    """One sentence on the unknown tokens `what` (e.g. 'the prime') held, or None."""
    if not unknown.count:
        return None
    unit = "character" if vocab.level == "char" else "token"
    s = "" if unknown.count == 1 else "s"
    head = (f"{what} has {unknown.count:,} {unit}{s} not in the model's vocabulary "
            f"({len(unknown.tokens):,} distinct: {', '.join(unknown.examples())})")
    if vocab.has_unk:
        return head + ": read as <unk>"
    return head + ": skipped (this model was saved before rnnlab had <unk>)"


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
    return _rows_loss(model, x, y, chunk)


def sampled_stream_loss(model, ids, limit, rows, chunk=1000):
    """Mean next-token cross-entropy over a fixed sample of about `limit` predictions: `rows`
    streams of limit // rows tokens, starting at evenly spaced points of `ids` (the whole
    sequence is covered, the same sample every call), each with its state carried. Returns
    (mean_loss, n_predictions)."""
    ids = np.asarray(ids)
    rows = max(1, min(rows, limit, len(ids) - 1))
    L = max(1, min(limit // rows, len(ids) - 1))
    starts = np.linspace(0, len(ids) - 1 - L, rows).astype(np.int64)
    seg = ids[starts[:, None] + np.arange(L + 1)]             # (rows, L + 1)
    return _rows_loss(model, seg[:, :-1].T, seg[:, 1:].T, chunk)


def _rows_loss(model, x, y, chunk):
    """(mean loss, count) of streams x -> y (L, B), the state carried across chunks."""
    L = x.shape[0]
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
    # --tokens and --encoding are TrainConfig fields; these shape the vocabulary
    OPTIONS = (
        TaskOption("min_count", "tokens seen fewer times than this in the training text become "
                   "<unk> (default: 2 for --tokens word, 1 for char)", int),
        TaskOption("max_vocab", "keep only the N-1 most frequent tokens, the rest become <unk> "
                   "(default: 0, no limit)", int),
    )
    STOP_RULE = (f"text: 10 passes over the training tokens, at least {MIN_STEPS} steps and at "
                 f"most {MAX_TOKENS // 1_000_000} million tokens")

    def __init__(self, ids, vocab, batch=50, seq_len=50, val_fraction=0.1, min_count=None,
                 max_vocab=0):
        """ids: (N,) token ids of the whole text, vocab: the Vocab that made them."""
        self.vocab = vocab
        self.min_count, self.max_vocab = min_count, max_vocab
        self.train_ids, self.val_ids = split_ids(ids, val_fraction)
        self.stream = TokenStream(self.train_ids, batch, seq_len)
        self.input_size = self.output_size = vocab.size
        self.batches_per_epoch = self.stream.batches_per_epoch
        self.tokens_per_batch = batch * seq_len
        self.initial_loss = float(np.log(vocab.size))   # uniform guessing: ln V
        self.unk_count = _count(self.train_ids, vocab.unk_id) if vocab.has_unk else 0
        n_val = len(self.val_ids)       # validation reads chunks of up to 1000 x val_batch
        self.val_batch = min(16, max(1, n_val // 200))
        self.eval_seq_len = min(1000, (n_val - 1) // self.val_batch) if n_val >= 2 else 0
        self.eval_tokens = self.eval_seq_len * self.val_batch

    @classmethod
    def from_file(cls, path, tokens="char", encoding="utf-8", batch=50, seq_len=50,
                  val_fraction=0.1, vocab=None, min_count=None, max_vocab=0):
        """The task of a text file; `vocab` (a resumed run's) or one built from the file."""
        min_count = MIN_COUNT.get(tokens, 1) if min_count is None else min_count
        max_vocab = max_vocab or 0
        args = (batch, seq_len, val_fraction, min_count, max_vocab)
        if tokens == "char":        # large ASCII files: ids only, never the text as a str
            fast = read_ascii_char_ids(path, encoding, vocab, min_count=min_count,
                                       max_vocab=max_vocab)
            if fast is not None:
                return cls(fast[1], fast[0], *args)
        text = read_text(path, encoding)
        if vocab is None:
            vocab = Vocab.from_counts(count_tokens(text, tokens), tokens, min_count, max_vocab)
        return cls(vocab.encode(text, unknown_policy(vocab)), vocab, *args)

    @classmethod
    def from_config(cls, tcfg, meta=None):
        vocab = Vocab.from_json(meta["vocab"]) if meta else None
        return cls.from_file(tcfg.data, tcfg.tokens, tcfg.encoding, tcfg.batch, tcfg.seq_len,
                             tcfg.val_fraction, vocab=vocab, **task_options(tcfg, cls))

    def default_steps(self):
        cap = max(1, MAX_TOKENS // self.tokens_per_batch)
        return default_steps(self.batches_per_epoch, MIN_STEPS, cap,
                             f"the {len(self.train_ids):,} training tokens",
                             cap=f"{MAX_TOKENS // 1_000_000} million tokens ({cap:,} steps)")

    def describe(self):
        v, unit = self.vocab, "chars" if self.vocab.level == "char" else "tokens"
        line = (f"data: {len(self.train_ids) + len(self.val_ids):,} {unit} "
                f"({len(self.train_ids):,} train, {len(self.val_ids):,} validation); vocabulary "
                f"{v.size - v.has_unk:,} {unit}")
        if not v.has_unk:
            return line + " (no <unk>: a run saved before rnnlab had one)"
        rule = f"--min-count {self.min_count}" + (f", --max-vocab {self.max_vocab}"
                                                   if self.max_vocab else "")
        return line + (f" + <unk>, which stands for {self.unk_count:,} training tokens "
                       f"({rule})")

    def batch(self, k):
        x, y = self.stream.get(k)
        return x, y, None

    @property
    def validation_size(self):
        """Validation predictions (tokens after the first); 0 without a validation part."""
        return max(0, len(self.val_ids) - 1)

    def validation_loss(self, model, limit=None):
        if len(self.val_ids) < 2:
            return None
        if limit is not None and limit < self.validation_size:
            return sampled_stream_loss(model, self.val_ids, limit, self.val_batch)[0]
        return run_stream_loss(model, self.val_ids, batch=self.val_batch)[0]

    def meta(self):
        return {"kind": "text", "vocab": self.vocab.to_json(), "unk_in_training": self.unk_count}


class TextModel(TrainedModel):
    """A trained language model: `sample`, `sample_ids`, `evaluate`."""
    kind = "text"
    verbs = ("sample", "score")

    def __init__(self, model, data_meta, train_cfg=None, path=None):
        super().__init__(model, data_meta, train_cfg, path)
        self.vocab = Vocab.from_json(data_meta["vocab"])

    def score(self, data):
        """Mean next-token cross-entropy over a str, as evaluate() over a file."""
        if not isinstance(data, str):
            raise RnnlabError("a text model scores a str")
        ids, unknown = self.vocab.encode_counted(data, unknown_policy(self.vocab))
        loss, n = run_stream_loss(self.model, ids, batch=1)
        return {"loss": loss, "bits_per_token": loss / math.log(2), "tokens": n,
                "perplexity": math.exp(loss), "unknown_tokens": unknown.count}

    def labels(self):
        return list(self.vocab.tokens)

    def sample_ids(self, length, temperature=1.0, top_k=0, prime_ids=(), seed=None):
        """Generate `length` token ids, one step at a time (B=1), feeding each back in.
        Yields ids as they are produced. temperature 0 means argmax. <unk> is never sampled
        (it stands for no token in particular): its probability goes to the known tokens."""
        if length < 0:
            raise RnnlabError(f"--length must be >= 0, got {length}")
        if temperature < 0:
            raise RnnlabError(f"--temperature must be >= 0 (0 = always the most likely), got {temperature}")
        if top_k < 0:
            raise RnnlabError(f"--top-k must be >= 0 (0 = off), got {top_k}")
        rng = np.random.default_rng(seed)
        V, state = self.cfg.output_size, None
        prime, unk = list(prime_ids), self.vocab.unk_id
        if not prime:                               # no prime: start from a random token
            first = int(rng.integers(V - (unk is not None)))
            prime = [first + (unk is not None and first >= unk)]
        logits, state = self.model.forward(np.asarray(prime, np.int64)[:, None], state)
        last = logits[-1, 0]
        stream = streaming_model(self.model)       # fused B=1 steppers: no per-step overhead
        if stream is not None:
            stream.reset(state)
        for _ in range(length):
            if unk is not None:
                last[unk] = -np.inf
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
        prime_ids = []
        if prime:
            ids, unknown = self.vocab.encode_counted(prime, unknown_policy(self.vocab))
            note = describe_unknown(self.vocab, unknown, "--prime")
            if note:
                warnings.warn(note, RnnlabWarning, stacklevel=2)
            prime_ids = ids.tolist()
        pieces, sep = [prime], self.vocab.separator      # " " between hand-made words
        if stream is not None and prime:
            stream.write(prime)
        for tok in self.sample_ids(length, temperature, top_k, prime_ids, seed):
            piece = (sep if prime or len(pieces) > 1 else "") + self.vocab.tokens[tok]
            pieces.append(piece)
            if stream is not None:
                stream.write(piece)
                stream.flush()
        return "".join(pieces)

    def evaluate(self, path, encoding="utf-8"):
        """Mean next-token cross-entropy over a file, exactly: every token after the first is
        predicted once, with the state carried through the whole file. Tokens the vocabulary
        lacks are read as <unk> and scored as <unk> (or, in a run saved before rnnlab had
        <unk>, skipped); `unknown_tokens` counts them and `unknown_scored` says which."""
        ids, unknown = self.vocab.encode_counted(read_text(path, encoding),
                                                 unknown_policy(self.vocab))
        loss, n = run_stream_loss(self.model, ids, batch=1)
        return {"loss": loss, "bits_per_token": loss / math.log(2), "tokens": n,
                "perplexity": math.exp(loss), "unknown_tokens": unknown.count,
                "unknown_scored": self.vocab.has_unk,
                "unknown_examples": [t for t, _ in unknown.tokens.most_common(5)],
                "unk_in_training": self.meta.get("unk_in_training")}

    def report_lines(self, res):
        """evaluate()'s result as text lines for the CLI."""
        lines = [f"loss {res['loss']:.4f} nats/token  ({res['bits_per_token']:.4f} bits/token, "
                 f"perplexity {res['perplexity']:.3f}) over {res['tokens']:,} predicted tokens"]
        n = res["unknown_tokens"]
        if not n:
            return lines + ["unknown tokens: none (every token is in the model's vocabulary)"]
        examples = ", ".join(repr(t) for t in res["unknown_examples"])
        if not res["unknown_scored"]:
            return lines + [f"unknown tokens: {n:,} ({examples}), skipped, not scored: this "
                            f"model was saved before rnnlab had <unk>; the loss covers the "
                            f"other tokens"]
        line = f"unknown tokens: {n:,} ({examples}), read as <unk> and scored as <unk>"
        if res.get("unk_in_training") == 0:
            line += ("; <unk> never occurred in training, so the model gives it little "
                     "probability (retrain with a higher --min-count to train it)")
        return lines + [line]


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

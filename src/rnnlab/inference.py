"""A trained model, loaded from its run folder: sample, evaluate, step.

    model = rnnlab.load("run")                   # config.json + best (or last) weights
    print(model.sample(200, temperature=0.8, prime="The "))
    print(model.evaluate("valid.txt"))           # {'loss': nats/token, 'bits_per_token', 'tokens'}

Loading reads JSON and safetensors only: a model file never runs code.
"""
import math

import numpy as np

from .blocks import softmax
from .errors import RnnlabError
from .models import ModelConfig, SequenceModel
from .runs import RunFolder
from .stream import streaming_model


class TrainedModel:
    """A SequenceModel plus what its task needs to read and write data (vocabulary, ...)."""

    def __init__(self, model, data_meta, train_cfg=None, path=None):
        self.model, self.meta, self.train_cfg, self.path = model, data_meta, train_cfg or {}, path
        self.cfg = model.cfg
        self.vocab = None
        if self.cfg.task == "text":
            from .data.text import Vocab
            self.vocab = Vocab.from_json(data_meta["vocab"])
        model.eval()

    # ----- text ---------------------------------------------------------------------------
    def _require(self, task, what):
        if self.cfg.task != task:
            raise RnnlabError(f"{what} works on {task} models; this run is a {self.cfg.task} model")

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
        self._require("text", "sample")
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
        self._require("text", "evaluate on text")
        from .data.text import read_text
        from .tasks import run_stream_loss
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


def load(path, which="best"):
    """Load a run folder: rebuild the model from config.json and its weights."""
    run = RunFolder(path)
    cfg = run.read_config()
    for key in ("model", "data"):
        if key not in cfg:
            raise RnnlabError(f"{path}/config.json lacks {key!r}; it is not a complete rnnlab run")
    model = SequenceModel(ModelConfig.from_json(cfg["model"]))
    weights_file = run.path / f"{which}.safetensors"
    if which == "best" and not weights_file.exists():
        which = "model"
    model.load_state_dict(run.load_weights(which), source=f"{path}/{which}.safetensors")
    return model_class(model.cfg.task)(model, cfg["data"], cfg.get("train"), str(path))


def model_class(task):
    """The TrainedModel class for a task: series and music models add forecast / MIDI output."""
    if task == "series":
        from .series_task import SeriesModel
        return SeriesModel
    if task == "music":
        from .music_task import MusicModel
        return MusicModel
    return TrainedModel

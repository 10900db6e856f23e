"""The demo's second example: the children's book. Vocabulary {Doug, Jane, Spot, saw, .},
sentences "Name saw OtherName .". Three models learn it: one with no memory at all (the next
word from the current word alone: the counts of word pairs in the book), a plain RNN and an
LSTM. 1,000 sentences sampled from each are judged (data/synthetic.py: judge_sentences) and
every kind of mistake is counted, with 95% Wilson intervals; differences are claimed only
where a two-proportion test supports them.
"""
import math

import numpy as np

from ..data.synthetic import (BOOK_WORDS, SENTENCE_KINDS, book_corpus, judge_sentences,
                              sentence_kind)
from ..data.text import Vocab
from ..tasks.stream import streaming_model
from ..tasks.text import pick_token
from ..viz.i18n import strings
from .demo_dinner import train_in_memory

MODELS = ("memoryless", "rnn", "lstm")     # the book's models, in the order the lesson shows
N_EXAMPLES = 12                            # sampled sentences kept for the lesson, per model


class Memoryless:
    """The next word from the current word alone: P(next | current) counted over the book's
    word pairs (maximum likelihood). It is the best any model without memory can do on this
    book: whatever it learns, it sees only the current word."""

    def __init__(self, ids, V):
        counts = np.zeros((V, V))
        np.add.at(counts, (np.asarray(ids[:-1]), np.asarray(ids[1:])), 1.0)
        totals = counts.sum(1, keepdims=True)
        self.probs = np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / V)   # (V, V)

    def step(self, tok):
        """Log-probabilities (V,) of the word after `tok` (-inf for a pair never seen)."""
        with np.errstate(divide="ignore"):
            return np.log(self.probs[tok])


def _stepper(model):
    """A function token -> logits (V,) that carries the model's state from call to call."""
    if isinstance(model, Memoryless):
        return model.step
    sm = getattr(model, "model", model)
    stream = streaming_model(sm)                   # the fused B=1 path, when numba is here
    if stream is not None:
        stream.reset()
        return stream.step
    state = [None]

    def step(tok):
        logits, state[0] = sm.forward(np.array([[tok]], np.int64), state[0])
        return logits[0, 0]
    return step


def sample_sentences(model, vocab, n_sentences, seed, max_tokens=20000):
    """Sample tokens (temperature 1) until n_sentences full stops, starting after a '.'."""
    rng = np.random.default_rng(seed)
    dot = vocab.tokens.index(".")
    step, out, tok, stops = _stepper(model), [], dot, 0
    while stops < n_sentences and len(out) < max_tokens:
        tok = pick_token(step(tok), 1.0, 0, rng)
        out.append(vocab.tokens[tok])
        stops += tok == dot
    return out


def book_vocab_and_corpus(seed):
    vocab = Vocab(sorted(BOOK_WORDS), level="word")
    corpus = np.array([vocab.tokens.index(w) for w in book_corpus(600, seed=seed)])
    return vocab, corpus


def run_book(cell, seed, n_sentences=1000):
    """Train one book model ('memoryless', 'rnn' or 'lstm'), sample and judge its sentences.
    Returns (model, vocab, result): the counts of every kind, their shares and 95% Wilson
    intervals, and the first N_EXAMPLES sampled sentences."""
    vocab, corpus = book_vocab_and_corpus(seed)
    if cell == "memoryless":
        model = Memoryless(corpus, vocab.size)
    else:
        model = train_in_memory(corpus, vocab, cell, hidden=16, steps=300, seed=seed, lr=0.02)
    tokens = sample_sentences(model, vocab, n_sentences, seed)
    counts = judge_sentences(tokens)
    total = max(counts["total"], 1)
    extra = ({"next_word": {"words": list(vocab.tokens), "probs": model.probs.round(4).tolist()}}
             if cell == "memoryless" else {})
    return model, vocab, {**extra,
        "sentences": counts["total"], "counts": counts,
        **{f"{k}_share": counts[k] / total for k in SENTENCE_KINDS},
        "ci95": {k: list(wilson(counts[k], counts["total"])) for k in SENTENCE_KINDS},
        "examples": _sentences(tokens, N_EXAMPLES)}


def _sentences(tokens, n):
    """The first n finished sentences of a token stream: [{"words": [... '.'], "kind"}]."""
    out, cur = [], []
    for tok in tokens:
        cur.append(tok)
        if tok == ".":
            out.append({"words": cur, "kind": sentence_kind(cur[:-1])})
            cur = []
            if len(out) == n:
                break
    return out


def wilson(k, n, z=1.959964):
    """The Wilson score interval (95% by default) for k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


def two_proportion_p(k1, n1, k2, n2):
    """Two-sided p-value of the pooled two-proportion z test (1.0 when both are all or none)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return math.erfc(abs(k1 / n1 - k2 / n2) / se / math.sqrt(2))


def compare_grammar(book, say, tr=None, pair=("lstm", "rnn")):
    """The grammatical counts of two book models, their 95% Wilson intervals, and what the
    difference supports: a claim only when the two-proportion test gives p < 0.05. Says one
    line (in the language of `tr`, an i18n Strings; default English) and returns the numbers:
    {a: {grammatical, sentences, ci95}, b: {...}, "p_value", "significant", "pair"}."""
    tr = tr or strings()
    rows = {}
    for cell in pair:
        k, n = book[cell]["counts"]["grammatical"], book[cell]["counts"]["total"]
        rows[cell] = {"grammatical": k, "sentences": n, "ci95": list(wilson(k, n))}
    (k1, n1), (k2, n2) = ((rows[c]["grammatical"], rows[c]["sentences"]) for c in pair)
    p = two_proportion_p(k1, n1, k2, n2)
    shown = tr("demo.claim_sep").join(
        tr("demo.claim_row", model=tr(f"demo.model_{c}"), k=r["grammatical"], n=r["sentences"],
           lo=f"{r['ci95'][0]:.1%}", hi=f"{r['ci95'][1]:.1%}") for c, r in rows.items())
    diff = k1 / max(n1, 1) - k2 / max(n2, 1)
    if p < 0.05:
        better = pair[0] if diff > 0 else pair[1]
        verdict = tr("demo.claim_better", model=tr(f"demo.model_{better}"),
                     points=f"{abs(diff) * 100:.1f}", p=f"{p:.2g}")
    else:
        verdict = tr("demo.claim_not_significant", points=f"{diff * 100:+.1f}", p=f"{p:.2f}")
    say(tr("demo.claim", shown=shown, verdict=verdict))
    return {**rows, "p_value": p, "significant": p < 0.05, "pair": list(pair)}

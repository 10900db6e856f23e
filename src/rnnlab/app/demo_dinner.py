"""The demo's first example: the roommate's dinner rotation (pizza -> sushi -> waffles -> pizza
...). Dinners are one-hot vectors; a plain RNN (H=3) and an LSTM (H=4) learn to predict
today's dinner from yesterday's, and then to predict from their own predictions: the day
before yesterday gives a guess for yesterday, which gives a guess for today, and so on for two
weeks. Everything here computes; app/demo_text.py says it in words.
"""
import numpy as np

from ..data.synthetic import DINNERS, dinner_days
from ..data.text import Vocab
from ..nn.functional import softmax
from ..tasks.model import ModelConfig, SequenceModel
from ..tasks.text import TextModel, TextTask
from ..training.api import TrainConfig
from ..training.trainer import Trainer

HORIZON = 14           # the rollout: two weeks of dinners from the model's own predictions


def train_in_memory(ids, vocab, cell, hidden, steps, seed, batch=8, seq_len=12, lr=0.05):
    """Train a one-layer token model on an id sequence `(N,)`; returns a TextModel (a
    TrainedModel: `sample`, `explain`, ...) around the trained SequenceModel."""
    task = TextTask(np.asarray(ids), vocab, batch=batch, seq_len=seq_len, val_fraction=0.0)
    cfg = ModelConfig(task="text", cell=cell, input_size=vocab.size, output_size=vocab.size,
                      hidden=hidden, layers=1, seed=seed)
    tcfg = TrainConfig(steps=steps, lr=lr, batch=batch, seq_len=seq_len, eval_every=steps,
                       seed=seed)
    model = SequenceModel(cfg)
    Trainer(model, task, tcfg, run=None, log=lambda msg: None).fit(progress=False)
    return TextModel(model.eval(), {"kind": "text", "vocab": vocab.to_json()})


def dinner_model(cell="rnn", seed=0):
    """The demo's dinner model: an RNN with H=3 or an LSTM with H=4 trained for 150 steps on
    400 days of the rotation (about a second). Returns a TextModel over the vocabulary
    (pizza, sushi, waffles)."""
    vocab = Vocab(list(DINNERS), level="word")
    hidden = 3 if cell == "rnn" else 4
    return train_in_memory(dinner_days(400, start=0), vocab, cell, hidden, steps=150, seed=seed)


def rollout(model, start, days=HORIZON):
    """Feed each prediction back in: from the dinner `start` (an id), predict the next day,
    read that prediction as the next input, and so on. Returns (ids [days], probs (days, 3)):
    the predicted dinner of each day and the probabilities it came from."""
    sm = getattr(model, "model", model)
    state, today, ids, probs = None, int(start), [], []
    for _ in range(days):                          # yesterday's prediction is today's input
        logits, state = sm.forward(np.array([[today]], np.int64), state)
        p = softmax(logits[0, 0].astype(np.float64))
        today = int(p.argmax())
        ids.append(today)
        probs.append(p)
    return ids, np.array(probs)


def dinner_scores(model, n_test=30, horizon=HORIZON):
    """next-day accuracy with the true yesterday, and the accuracy of the `horizon`-day
    rollout that feeds each prediction back in, from every starting dinner."""
    sm = getattr(model, "model", model)
    days = dinner_days(n_test + 1, start=1)
    logits, _ = sm.forward(days[:-1, None].astype(np.int64))
    next_day = float(np.mean(logits[:, 0].argmax(-1) == days[1:]))
    correct = 0
    for start in range(len(DINNERS)):
        ids, _ = rollout(sm, start, horizon)
        correct += int(np.sum(np.array(ids) == dinner_days(horizon + 1, start=start)[1:]))
    return next_day, correct / (len(DINNERS) * horizon)


def dinner_weights(model):
    """The learned matrices that encode the rotation, by name, and the whole chain dinner ->
    memory -> tomorrow as one table. RNN: W_ih (H x 3), W_hh (H x H); LSTM: W_ig, the
    candidate g's block of W_ih (gate order i, f, g, o); both: W_out (3 x H) and P, the
    probabilities P[yesterday, today] from a zero state."""
    sm = getattr(model, "model", model)
    p, H = sm.params, sm.cfg.hidden
    W_ih = p["rnn.weight_ih_l0"]
    out = {"W_ih": W_ih, "W_hh": p["rnn.weight_hh_l0"]} if sm.cfg.cell == "rnn" else \
        {"W_ig": W_ih[2 * H:3 * H]}
    out["W_out"] = p["head.weight"]
    logits, _ = sm.forward(np.arange(len(DINNERS), dtype=np.int64)[None, :])   # T=1, B=3
    out["P"] = softmax(logits[0].astype(np.float64))
    return out


def two_step(model):
    """When yesterday is unknown: from the day before yesterday (each dinner in turn) predict
    yesterday, feed that prediction in, predict today. [{"before": id, "yesterday": id,
    "p_yesterday": [3], "today": id, "p_today": [3]}] * 3."""
    rows = []
    for before in range(len(DINNERS)):
        ids, probs = rollout(model, before, days=2)
        rows.append({"before": before, "yesterday": ids[0], "p_yesterday": probs[0].tolist(),
                     "today": ids[1], "p_today": probs[1].tolist()})
    return rows


def run_dinner(cell, seed):
    """Train one dinner model and measure it. Returns (TextModel, result): result holds the
    accuracies, H, the matrices (rounded), the two-step predictions and the rollout from
    pizza (ids and probabilities), all plain JSON."""
    model = dinner_model(cell, seed)
    next_day, rolled = dinner_scores(model)
    ids, probs = rollout(model, 0)
    weights = dinner_weights(model)
    return model, {
        "next_day_accuracy": next_day, "rollout_14_accuracy": rolled,
        "hidden": model.cfg.hidden,
        "weights": {k: np.round(M, 3).tolist() for k, M in weights.items()},
        "two_step": two_step(model),
        "rollout": {"start": 0, "ids": ids, "probs": np.round(probs, 4).tolist(),
                    "truth": dinner_days(HORIZON + 1, start=0)[1:].tolist()},
    }

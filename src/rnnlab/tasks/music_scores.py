"""The piano-roll model's outputs read as music, for either head (ModelConfig.head): the NLL
per step, the predicted frames behind the frame accuracy, and one frame drawn for sampling.

    bernoulli   out (..., P) logits, one independent sigmoid per pitch
    nade        out (..., P + Hn) the biases of a NADE over the pitches (nn/nade.py): the NLL
                is exact, frames are drawn pitch by pitch, each given the pitches below it
"""
import numpy as np

from ..nn.functional import sigmoid
from ..nn.losses import sigmoid_bce


def step_nll(model, out, y, mask):
    """(NLL summed over the pitches and the unmasked steps, number of unmasked steps)."""
    n = int(mask.sum())
    if model.nade is not None:
        nll = model.nade.nll(out, y, mask, backend=model.backend)
        return float((nll * mask).sum()), n
    loss, _ = sigmoid_bce(out, y, mask, reduction="sum_per_step")
    return loss * n, n


def predicted_frames(model, out):
    """The frame the model predicts at each step (bool (..., P)): bernoulli, every pitch whose
    sigmoid is >= 1/2; nade, the greedy chord (each pitch, low to high, on when its
    probability given the pitches already chosen is >= 1/2)."""
    if model.nade is not None:
        return model.nade.sample(out, temperature=0, backend=model.backend) > 0.5
    return sigmoid(out) >= 0.5


def pitch_probabilities(model, out):
    """The probability of each pitch at each step (..., P): bernoulli, sigmoid(out); nade, the
    probability of each pitch given the pitches below it in the greedy chord (the NADE's
    marginals have no closed form; these are the numbers its greedy choice reads)."""
    if model.nade is None:
        return sigmoid(out)
    return model.nade.conditionals(out, predicted_frames(model, out))


def roll_scores(model, rolls, batch=32):
    """(nll_per_step, frame_accuracy, steps) of a model over piano rolls: NLL summed over the
    pitches, averaged over the steps; frame accuracy = sum TP / sum (TP + FP + FN) over all
    frames, of the predicted_frames (Bay et al. 2009)."""
    model.eval()
    total, steps, tp, fp_fn = 0.0, 0, 0.0, 0.0
    for k in range(0, len(rolls), batch):
        x, y, mask = padded(rolls[k:k + batch], model.dtype)
        out, _ = model.forward(x)
        nll, n = step_nll(model, out, y, mask)
        total += nll
        steps += n
        on = predicted_frames(model, out) & (mask[..., None] > 0)
        truth = y > 0.5
        tp += float((on & truth).sum())
        fp_fn += float((on & ~truth).sum() + (~on & truth).sum())
    acc = tp / (tp + fp_fn) if tp + fp_fn > 0 else 1.0
    return total / max(steps, 1), acc, steps


def inputs_of(roll, before=None):
    """What the model reads at each step of `roll` (n, P): the frame before it (silence at the
    first step, or `before`, the frame that precedes a window cut from a longer roll)."""
    x = np.zeros_like(roll)
    x[1:] = roll[:-1]
    if before is not None:
        x[0] = before
    return x


def stack(pairs, dtype):
    """[(inputs (n, P), targets (n, P)), ...] -> inputs (T, B, P), targets (T, B, P), mask
    (T, B): one batch, each sequence padded at the end to the longest."""
    T, B, P = max(len(y) for _, y in pairs), len(pairs), pairs[0][1].shape[1]
    X, Y, M = np.zeros((T, B, P), dtype), np.zeros((T, B, P), dtype), np.zeros((T, B), dtype)
    for b, (x, y) in enumerate(pairs):
        X[:len(y), b], Y[:len(y), b], M[:len(y), b] = x, y, 1
    return X, Y, M


def padded(rolls, dtype):
    """Whole rolls as one batch (validation, evaluation): see stack."""
    return stack([(inputs_of(r), r) for r in rolls], dtype)


def independent_nll(freq, rolls):
    """NLL per step of the independent-pitch baseline: each pitch on with its training
    frequency, independently of everything else."""
    f = np.clip(np.asarray(freq, np.float64), 1e-6, 1 - 1e-6)
    frames = np.concatenate(rolls).astype(np.float64)
    ll = frames @ np.log(f) + (1 - frames) @ np.log1p(-f)
    return float(-ll.mean())


def decode_frame(logits, temperature, rng):
    """One multi-hot frame (P,) bool from the logits (P,) of independent pitches.

    T > 0: each pitch on with probability sigmoid(logit / T). T = 0: the k most probable
    pitches, k = round(sum of the probabilities), the number of notes the model expects.
    ("p >= 0.5", the most likely frame under independence, is often silence: a model unsure
    which of several pitches comes next gives each less than one half.)"""
    z = np.asarray(logits, np.float64)
    if temperature > 0:
        return rng.random(z.shape) < sigmoid(z / temperature)
    p = sigmoid(z)
    on = np.zeros(z.shape, bool)
    on[np.argsort(-p, kind="stable")[:int(round(float(p.sum())))]] = True
    return on


def draw_frame(model, out, temperature, rng):
    """One frame (P,) bool from one step's output (O,): bernoulli, decode_frame; nade, a
    chord drawn pitch by pitch at the temperature (0: the greedy chord)."""
    if model.nade is not None:
        return model.nade.sample(out, rng, temperature, backend=model.backend) > 0.5
    return decode_frame(out, temperature, rng)

"""The forecast itself, shared by the series task (its validation loss) and the trained model.

Two strategies, one loop. The model reads `lookback` scaled rows and its last output holds the
next `Ho` target values: Ho = 1 for `recursive` (one step, fed back in, again and again), Ho =
the training horizon for `direct` (a multi-output head predicts the whole horizon at once; a
longer forecast feeds that block back in and predicts the next block). Every prediction sees a
window of exactly `lookback` rows from a zero state, as in training. The other features are
held: a fed-back row carries their last observed value (differenced: a change of 0), i.e. the
features get the naive forecast.
"""
import numpy as np


def held_features(scaler, ctx_last, differenced):
    """The scaled feature values a fed-back row carries: (B, F-1). ctx_last: (B, F), the last
    context row (scaled)."""
    if differenced:    # held at their level: their change is 0, i.e. -mean/std once scaled
        return np.broadcast_to(-scaler.mean[1:] / scaler.std[1:], ctx_last[:, 1:].shape)
    return ctx_last[:, 1:].copy()


def predict_scaled(model, ctx, horizon, held):
    """ctx: (B, L, F) scaled rows -> (B, horizon) scaled target predictions, in blocks of the
    model's Ho outputs. held: (B, F-1) from held_features."""
    buf = np.array(ctx, np.float64)
    B, L, F = buf.shape
    model.eval()
    preds, done = [], 0
    while done < horizon:
        out, _ = model.forward(np.ascontiguousarray(buf[:, -L:].transpose(1, 0, 2)))
        block = np.asarray(out[-1], np.float64)[:, :horizon - done]       # (B, k)
        k = block.shape[1]
        preds.append(block)
        done += k
        if done < horizon:
            new = np.empty((B, k, F))
            new[:, :, 0] = block
            new[:, :, 1:] = held[:, None, :]
            buf = np.concatenate([buf[:, k:], new], axis=1)
    return np.concatenate(preds, axis=1)


def ensemble_levels(models, ctx, horizon, scaler, transform, past):
    """The members' forecasts in levels and their median: ctx (B, L, F) scaled rows, past
    (B, k) the target's last levels before the first forecast (k >= transform.rows_lost).
    Returns (median (B, horizon), members (N, B, horizon)). The median is taken in levels,
    after the inverse transform."""
    held = held_features(scaler, np.asarray(ctx)[:, -1], transform.difference)
    out = []
    for m in models:
        z = predict_scaled(m, ctx, horizon, held) * scaler.std[0] + scaler.mean[0]
        out.append(transform.inverse(z, past))
    members = np.stack(out)
    return np.median(members, axis=0), members

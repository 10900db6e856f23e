"""The panel task's defaults, chosen from the panel (printed at the start of training and
saved in config.json "chosen", as the series task's are)."""
import numpy as np

from ...data.forecast_metrics import detect_season
from ...errors import RnnlabError
from ..base import positive_int
from .data import season_of

HIDDEN, LAYERS, BATCH, LR = 64, 1, 128, 3e-3
PASSES, MIN_STEPS, MAX_STEPS = 4, 300, 2000
ENSEMBLE = 3      # M4 Hourly (docs/series-and-music.md): OWA 0.485 with 3, 0.498 with 1
EVAL_EVERY, PATIENCE = 50, 8
# val_sample 0: the whole panel is validated every time. One validation is one forward pass of
# a lookback window per series (M4 Hourly: 414 x 72 steps, beyond the trainer's 20,000-step
# sample, which kept 277 evenly spaced series and chose worse weights; measured in docs).


def plan(panel, given, training=False):
    """{option: (value, why)}: the season, horizon and lookback (and with training, the
    trainer's fields in task.CHOSEN) from the panel; a given value is kept ('given')."""
    out = {}
    if given.get("season") is not None:
        out["season"] = (positive_int("season", given["season"]), "given")
    else:
        out["season"] = season_of(panel, detect_season)
    m = out["season"][0]
    if given.get("horizon") is not None:
        out["horizon"] = (positive_int("horizon", given["horizon"]), "given")
    else:
        out["horizon"] = (m, "one season") if m > 1 else (12, "no season: 12 steps")
    H = out["horizon"][0]
    shortest = int(panel.lengths.min())
    if given.get("lookback") is not None:
        L = positive_int("lookback", given["lookback"])
        if m > 1 and L <= m:      # a window's level is the mean of its first season
            raise RnnlabError(f"--lookback {L} is not longer than a season ({m} rows): each "
                              f"window is scaled by the level of its first season; use "
                              f"--lookback {m + 1} or more, or leave it out")
        out["lookback"] = (L, "given")
    else:
        want = max(3 * m, H + m) if m > 1 else max(2 * H, 24)
        room = shortest - H - 1
        K = m if m > 1 else 12
        L = int(min(want, max(room, K + 1)))
        why = (f"three seasons or a horizon and a season ({want})" if m > 1 else
               f"two horizons, 24 at least ({want})")
        if L < want:
            why += f", shortened to fit the shortest series ({shortest} rows)"
        out["lookback"] = (L, why)
    if given.get("ensemble") is not None:
        out["ensemble"] = (positive_int("ensemble", given["ensemble"]), "given")
    else:
        out["ensemble"] = (ENSEMBLE, "the median of 3 seeds (M4 Hourly OWA 0.485; one model "
                                     "0.498, at half the CPU time)")
    if training:
        L = out["lookback"][0]
        W = int(sum(max(0, n - H - L) for n in panel.lengths))
        batch = given.get("batch") or BATCH
        for name, value, why in (
                ("hidden", HIDDEN, "one global model; enough for M4 Hourly"),
                ("layers", LAYERS, "one layer"), ("batch", BATCH, "windows a step"),
                ("lr", LR, "Adam, the rate that trains a global model in few steps")):
            out[name] = (given[name], "given") if given.get(name) is not None else (value, why)
        if given.get("steps") is None and not given.get("epochs") and \
                not given.get("time_budget"):
            out["steps"] = steps(max(1, -(-W // batch)), W)
        for name, value, why in (
                ("eval_every", EVAL_EVERY, "a validation is one forward pass over the panel"),
                ("patience", PATIENCE, "stop after 8 validations without improvement"),
                ("val_sample", 0, "every series at every validation (a sample of them chose "
                                  "worse weights: M4 Hourly one-model OWA 0.515, not 0.498)")):
            out[name] = (given[name], "given") if given.get(name) is not None else (value, why)
    return out


def steps(per_pass, windows):
    n = int(np.clip(PASSES * per_pass, MIN_STEPS, MAX_STEPS))
    return n, (f"{PASSES} passes over the {windows:,} training windows ({per_pass:,} steps a "
               f"pass), kept within {MIN_STEPS:,} to {MAX_STEPS:,} steps")


def check_lengths(panel, L, H, where):
    need = L + H + 1
    short = np.flatnonzero(panel.lengths < need)
    if len(short):
        k = int(short[0])
        raise RnnlabError(f"{where}: series {panel.ids[k]!r} has {panel.lengths[k]} rows, too "
                          f"short for --horizon {H} with --lookback {L} (need at least {need}: "
                          f"lookback+1 rows to train on and horizon rows to validate on); drop "
                          f"the short series or lower --horizon/--lookback")

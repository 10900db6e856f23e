"""The series task's defaults, chosen from the series itself.

`plan(y, given, frequency)` decides every option the user did not give, in this order, and
says why (the reason is printed at the start of training and saved in config.json["chosen"]):

    season       the autocorrelation peak of the training part (data.series.detect_season)
    horizon      one season; 12 without one; at most a tenth of the series
    log          positive, and the seasonal swing grows with the level (data.transforms)
    seasonal_difference  off: the season enters as lags (the lookback covers two seasons)
    difference   KPSS rejects a stationary level at 5% (data.transforms.kpss)
    lookback     two seasons or two horizons (12 at least), at most a third of the training rows
    strategy     direct: one multi-output head predicts the whole horizon
    ensemble     the median of 3 models with seeds seed, seed+1, seed+2
    val_fraction the last max(horizon, n/8) rows validate (early stopping, the interval)
    hidden 32, 1 layer (64 from 2000 rows), batch 32, lr 0.01
    eval_every   20: validation every 20 steps (the run is short)

How long to train is the trainer's one stopping rule (rnnlab.training.stopping): early stopping after
10 validations without a better loss (defaults.STOPPING: 200 steps here), at most EPOCHS
passes within [MIN_STEPS, MAX_STEPS] (SeriesTask.default_steps); --steps, --epochs or
--time-budget replace it.

The numbers come from a measurement on the 11 benchmark series (benchmarks/bench_series.py,
docs/series-and-music.md "Choosing the defaults"; mean MASE in a rolling-origin backtest):
these defaults 1.34; recursive 1.42; one model 1.39, five 1.35; 16 hidden units 1.37;
seasonal differences 1.49 (worse on every seasonal series).
"""
import math

import numpy as np

from ..data.series import detect_season
from ..data.transforms import KPSS_CRITICAL_5, kpss, swing_grows_with_level
from .base import positive_int

from ..errors import RnnlabError

LR, BATCH, EVAL_EVERY = 1e-2, 32, 20
# The shortest series a forecaster is trained on: windows of MIN_LOOKBACK rows, MIN_WINDOWS
# of them to train on and MIN_VAL rows to validate on (early stopping and the interval), one
# row more for a first difference. Below it `rnnlab train` refuses; under SHORT_ROWS it warns
# and trains a smaller model (SHORT_HIDDEN units: fewer weights than training targets).
MIN_LOOKBACK, MIN_WINDOWS, MIN_VAL = 4, 12, 4
MIN_ROWS = MIN_LOOKBACK + MIN_WINDOWS + MIN_VAL + 1
SHORT_ROWS, SHORT_HIDDEN = 60, 8
EPOCHS, MIN_STEPS, MAX_STEPS = 60, 400, 3000
ENSEMBLE = 3
VAL_SHARE = 8                      # at least 1/8 of the rows validate


def hidden_for(n):
    """Hidden units by series length: SHORT_HIDDEN near the minimum, one small layer (32
    units: 4.5k weights) up to 2000 rows, 64 beyond."""
    return SHORT_HIDDEN if n < SHORT_ROWS else 32 if n < 2000 else 64


def check_length(n):
    """An error below MIN_ROWS, with the minimum and why; a warning line under SHORT_ROWS,
    else None."""
    if n < MIN_ROWS:
        raise RnnlabError(
            f"the series has {n} rows: too few, a forecaster needs at least {MIN_ROWS} "
            f"({MIN_WINDOWS} training windows of {MIN_LOOKBACK} rows, {MIN_VAL} rows to "
            f"validate on and 1 for a difference); use a longer series, or a baseline "
            f"(naive: the last value; seasonal naive: the value one season back)")
    if n < SHORT_ROWS:
        return (f"WARNING: the series has {n} rows, close to the minimum of {MIN_ROWS}: a "
                f"small model ({SHORT_HIDDEN} hidden units) is trained, and a forecast from so "
                f"few rows is rough; check it against naive with rnnlab backtest")
    return None


def _season(y, given):
    if given.get("season") is not None:
        s = int(given["season"])
        return (s if s > 1 else None), "given"
    s = detect_season(y)
    if s is None:
        return None, "no autocorrelation peak above max(0.3, 2/sqrt(n)): no season"
    return s, f"the autocorrelation peaks at lag {s}"


def _horizon(n, season, given):
    if given.get("horizon") is not None:
        return int(given["horizon"]), "given"
    h = season if season and season <= 52 else 12
    why = f"one season ({h})" if season and season <= 52 else f"{h} steps without a season"
    cap = max(1, n // 10)
    if h > cap:
        return cap, f"{why}, cut to {cap}: a tenth of the {n} rows, rounded down"
    return h, why


def _log(y, season, given):
    if given.get("log") is not None:
        return bool(given["log"]), "given"
    grows, slope, r = swing_grows_with_level(y, season)
    if slope is None:
        return False, ("the series has values <= 0" if min(y) <= 0 else
                       "fewer than 4 seasons, or a flat level or swing: nothing to compare")
    how = f"log(swing) on log(level): slope {slope:.2f}, r {r:.2f}"
    return grows, (f"{how}: the swing grows with the level" if grows else
                   f"{how} (logs need r >= 0.8 and slope >= 0.5)")


def _difference(y, log, lag, given):
    """KPSS on the series as the model would see it before first differences: logged, and
    seasonally differenced at `lag` (0: not)."""
    if given.get("difference") is not None:
        return bool(given["difference"]), "given"
    x = np.log(y) if log else np.asarray(y, np.float64)
    stat = kpss(x[lag:] - x[:-lag] if lag else x)
    if stat > KPSS_CRITICAL_5:
        return True, f"KPSS {stat:.3f} > {KPSS_CRITICAL_5} (5%): the level wanders"
    return False, f"KPSS {stat:.3f} <= {KPSS_CRITICAL_5} (5%): a stable level"


def _lookback(n_train, season, horizon, given):
    if given.get("lookback") is not None:
        return int(given["lookback"]), "given"
    want = max(2 * (season or 0), 2 * horizon, 12)
    why = (f"two seasons ({want})" if season and 2 * season == want else
           f"two horizons ({want})" if 2 * horizon == want else f"the least default, {want}")
    cap = max(MIN_LOOKBACK, n_train // 3)
    if want > cap:
        third = (f"a third of the {n_train} training rows, rounded down"
                 if cap == n_train // 3 else "the least lookback")
        return cap, f"{why}, cut to {cap}: {third}"
    return want, why


def plan(y, given):
    """Decide the options of a series whose target is y (N,) (the rows the run trains on).
    given: {option: value} the user set (None = not given). Returns {option: (value, why)},
    one entry per option; the given ones say "given"."""
    y = [float(v) for v in y]
    n = len(y)
    check_length(n)
    for name in ("horizon", "lookback", "season", "ensemble", "hidden", "layers", "batch",
                 "eval_every"):
        if given.get(name) is not None:
            positive_int(name, given[name])       # the task's own message, before any use
    out = {}
    season, why = _season(y, given)
    out["season"] = (season or 1, why)
    out["horizon"] = horizon = _horizon(n, season, given)
    horizon = horizon[0]
    out["log"] = _log(y, season, given)
    _fixed(out, given, "seasonal_difference", False, "the season enters as lags (a lookback of "
           "two seasons); seasonal differences measured worse")
    lag = (season or 0) if out["seasonal_difference"][0] else 0
    out["difference"] = _difference(y, out["log"][0], lag, given)
    n_z = n - int(out["difference"][0]) - lag
    if given.get("val_fraction") is not None:
        out["val_fraction"] = (float(given["val_fraction"]), "given")
    else:
        n_val = max(horizon, math.ceil(n_z / VAL_SHARE))
        vf = min(0.5, math.ceil(1000 * n_val / n_z) / 1000)
        out["val_fraction"] = (vf, f"the last {int(n_z * vf)} rows: at least one horizon and "
                                   f"1/{VAL_SHARE} of the series")
    n_train = n_z - int(n_z * out["val_fraction"][0])
    out["lookback"] = _lookback(n_train, season, horizon, given)
    _fixed(out, given, "strategy", "direct", "one multi-output head predicts the horizon "
           "(benchmark mean MASE 1.34, recursive 1.42)")
    _fixed(out, given, "ensemble", ENSEMBLE, f"the median of {ENSEMBLE} seeds (benchmark mean "
           "MASE 1.34; one model 1.39, five 1.35)")
    _fixed(out, given, "hidden", hidden_for(n), f"for {n} rows: {SHORT_HIDDEN} below "
           f"{SHORT_ROWS}, 32 below 2000, else 64")
    _fixed(out, given, "layers", 1, "a short series needs no stack")
    _fixed(out, given, "batch", BATCH, "small series, small batches")
    _fixed(out, given, "lr", LR, "0.005 measured worse on the benchmark series")
    _fixed(out, given, "eval_every", EVAL_EVERY, "validate often: the run is short")
    return out


def _fixed(out, given, name, value, why):
    out[name] = (given[name], "given") if given.get(name) is not None else (value, why)

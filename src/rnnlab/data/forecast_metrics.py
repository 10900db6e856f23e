"""What a forecaster must beat and how it is scored: the naive and seasonal naive baselines,
the season length they need (`detect_season`), and the errors RMSE, MAE and MASE (MAE relative
to the naive method's in-sample error: below 1 is better than naive)."""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError


def naive_forecast(history, horizon: int) -> np.ndarray:
    """Repeat the last observed value `horizon` times."""
    history = np.asarray(history, np.float64)
    return np.full(int(horizon), history[-1])


def seasonal_naive_forecast(history, horizon: int, season: int) -> np.ndarray:
    """Repeat the last full season: forecast[h] = history[-season + h % season]."""
    history = np.asarray(history, np.float64)
    if season < 1 or len(history) < season:
        raise RnnlabError(f"season {season} needs at least {season} history values, got {len(history)}")
    return history[-season:][np.arange(int(horizon)) % season]


def detect_season(series, max_lag: int | None = None) -> int | None:
    """Season length from the autocorrelation of the linearly detrended series: the smallest
    local peak at least 90% as high as the highest peak (so 12, not 24); None if no peak is
    above max(0.3, 2/sqrt(N))."""
    x = np.asarray(series, np.float64)
    n = len(x)
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    max_lag = min(max_lag or n // 3, n - 2)
    if max_lag < 3 or x.var() == 0:
        return None
    acf = np.array([np.dot(x[:-k], x[k:]) / (n * x.var()) for k in range(1, max_lag + 1)])
    lags = np.arange(1, max_lag + 1)
    peak = (acf[1:-1] > acf[:-2]) & (acf[1:-1] >= acf[2:])
    cand_lags, cand_acf = lags[1:-1][peak], acf[1:-1][peak]
    keep = cand_acf > max(0.3, 2 / math.sqrt(n))
    if not keep.any():
        return None
    cand_lags, cand_acf = cand_lags[keep], cand_acf[keep]
    return int(cand_lags[np.argmax(cand_acf >= 0.9 * cand_acf.max())])


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def mae(a, b) -> float:
    return float(np.mean(np.abs(np.asarray(a, float) - np.asarray(b, float))))


def mase(actual, forecast, train_history, season: int = 1) -> float:
    """MAE of the forecast divided by the in-sample MAE of the (seasonal) naive forecast on the
    training history. Below 1: better than the naive method."""
    h = np.asarray(train_history, np.float64)
    if len(h) <= season:
        raise RnnlabError(f"mase needs more than {season} training values, got {len(h)}")
    scale = np.mean(np.abs(h[season:] - h[:-season]))
    if scale == 0:
        raise RnnlabError("mase is undefined: the training history's naive error is 0")
    return mae(actual, forecast) / float(scale)


def smape(actual, forecast) -> float:
    """Symmetric MAPE in percent: mean of 200 |a - f| / (|a| + |f|) (0 where both are 0)."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    den = np.abs(a) + np.abs(f)
    return float(np.mean(np.where(den > 0, 200 * np.abs(a - f) / np.where(den > 0, den, 1), 0)))


def naive_scale(train_history, season: int = 1) -> float:
    """MASE's denominator: the in-sample MAE of the (seasonal) naive forecast, or NaN when
    the history is too short or never moves."""
    h = np.asarray(train_history, np.float64)
    if len(h) <= season:
        return math.nan
    scale = float(np.mean(np.abs(h[season:] - h[:-season])))
    return scale if scale > 0 else math.nan

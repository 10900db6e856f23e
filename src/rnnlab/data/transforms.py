"""What a series needs before a network sees it, decided from the series itself.

    kpss(x)                       the KPSS statistic: does the level wander? (difference it)
    swing_grows_with_level(y, m)  does the seasonal swing grow with the level? (take logs)
    SeriesTransform(log, difference).forward(rows) / .inverse(z, last_row)

The KPSS test (Kwiatkowski, Phillips, Schmidt and Shin 1992) is written here in NumPy so that
statsmodels is not needed: residuals from the mean, their partial sums S_t, and

    eta = sum_t S_t^2 / (n^2 * s^2)

with s^2 the Newey-West long-run variance of the residuals (Bartlett weights, lag
floor(4 (n/100)^(1/4)) as in Schwert 1989). Stationarity around a constant is rejected at 5%
when eta > 0.463, the critical value of the paper's Table 1, and the series is then modelled
in first differences (one at most). The statistic equals statsmodels'
`kpss(x, 'c', nlags=int(4 * (n/100)**0.25))` (tests/test_data_transforms.py checks it when
statsmodels is installed).
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import RnnlabError

KPSS_CRITICAL_5 = 0.463          # level stationarity, 5% (KPSS 1992, Table 1)
SWING_MIN_CORRELATION = 0.8      # log(swing) on log(level): this correlated ...
SWING_MIN_SLOPE = 0.5            # ... and at least this steep (1 = swing proportional to level)


def kpss(x) -> float:
    """KPSS level-stationarity statistic of x (N,); large = the level wanders."""
    x = np.asarray(x, np.float64)
    n = len(x)
    if n < 4:
        raise RnnlabError(f"kpss needs at least 4 values, got {n}")
    e = x - x.mean()
    s = np.cumsum(e)
    lags = int(4 * (n / 100) ** 0.25)
    var = e @ e / n
    for k in range(1, min(lags, n - 1) + 1):
        var += 2 * (1 - k / (lags + 1)) * (e[k:] @ e[:-k]) / n
    if var <= 0:
        return 0.0            # a constant series: nothing wanders
    return float(s @ s / (n * n * var))


def swing_grows_with_level(y, season: int | None):
    """Does the swing of a positive series grow with its level?

    The series is cut into blocks of one season (4 rows at least; N/10 rows when there is no
    season). For each block: its mean (the level) and the standard deviation around its own
    straight line (the swing). Returns (grows, slope, r): the slope and correlation of
    log(swing) against log(level); grows when r >= 0.8 and slope >= 0.5. A series with a
    value <= 0, fewer than 4 blocks or a flat block -> (False, None, None)."""
    y = np.asarray(y, np.float64)
    b = max(season or 0, 4) if season and season > 1 else max(8, len(y) // 10)
    k = len(y) // b
    if k < 4 or y.min() <= 0:
        return False, None, None
    blocks = y[len(y) - k * b:].reshape(k, b)
    t = np.arange(b)
    coef = np.polyfit(t, blocks.T, 1)                         # (2, k)
    swing = np.std(blocks - (coef[0][:, None] * t + coef[1][:, None]), axis=1)
    if (swing <= 0).any():
        return False, None, None
    level, spread = np.log(blocks.mean(axis=1)), np.log(swing)
    if np.ptp(level) < 1e-9 or np.ptp(spread) < 1e-9:        # a flat level or swing (logs)
        return False, None, None
    slope = float(np.polyfit(level, spread, 1)[0])
    r = float(np.corrcoef(level, spread)[0, 1])
    return (r >= SWING_MIN_CORRELATION and slope >= SWING_MIN_SLOPE), slope, r


class SeriesTransform:
    """log of the target (column 0) when `log`, then seasonal differences at lag `seasonal`
    of every column (0 = none), then first differences of every column when `difference`.
    rows (N, F) -> z (N - rows_lost, F); `inverse` takes predicted target values z (B, H)
    back to levels, given the levels before them."""

    def __init__(self, log: bool = False, difference: bool = False, seasonal: int = 0):
        self.log, self.difference, self.seasonal = bool(log), bool(difference), int(seasonal)

    def forward(self, rows) -> np.ndarray:
        z = np.array(rows, np.float64)
        if z.ndim == 1:
            z = z[:, None]
        if self.log:
            if (z[:, 0] <= 0).any():
                raise RnnlabError("the log transform needs a positive target; the series has "
                                  "a value <= 0: pass --no-log")
            z[:, 0] = np.log(z[:, 0])
        if self.seasonal:
            z = z[self.seasonal:] - z[:-self.seasonal]
        return np.diff(z, axis=0) if self.difference else z

    def inverse(self, z, past) -> np.ndarray:
        """z: (B, H) transformed target predictions for the H rows after `past`, the target's
        last levels before them: (B, k) with k >= rows_lost (or (B,), the last level).
        Returns levels (B, H)."""
        z = np.asarray(z, np.float64)
        past = np.asarray(past, np.float64)
        past = past[:, None] if past.ndim == 1 else past
        x = np.log(past) if self.log else past                      # (B, k)
        m, H = self.seasonal, z.shape[1]
        if self.difference:                  # back to the seasonal differences (or levels)
            last = x[:, -1] - x[:, -1 - m] if m else x[:, -1]
            z = last[:, None] + np.cumsum(z, axis=1)
        if m:                                # x_t = x_{t-m} + s_t, one step at a time
            x = np.concatenate([x[:, -m:], np.empty_like(z)], axis=1)
            for h in range(H):
                x[:, m + h] = x[:, h] + z[:, h]
            z = x[:, m:]
        if self.log:
            with np.errstate(over="ignore"):
                return np.exp(np.minimum(z, math.log(np.finfo(np.float64).max)))
        return z

    @property
    def rows_lost(self) -> int:
        """Rows the differences drop at the start (and levels `inverse` needs before z)."""
        return self.seasonal + int(self.difference)

    def to_json(self) -> dict:
        return {"log": self.log, "difference": self.difference, "seasonal": self.seasonal}

    @classmethod
    def from_json(cls, d) -> "SeriesTransform":
        return cls(bool(d.get("log", False)), bool(d.get("difference", False)),
                   int(d.get("seasonal", 0) or 0))

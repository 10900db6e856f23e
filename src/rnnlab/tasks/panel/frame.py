"""The window arithmetic of a panel: every series' values in one flat array, and the inputs and
targets of the global model read from it.

Per series s (fixed on its training part, printed and saved):
  g(y)      log(y) when every value of the panel is positive (the model then works in ratios
            to the window's level), else y / d_s, with d_s the series' mean absolute seasonal
            change (level scaling for series that touch zero or go negative);
  lag P_s   the series' base forecast: naive (P = 1), seasonal naive at the season (P = m)
            or at the long season (P = m2, a week of hours), whichever erred least on the
            recent training part (choose_lag).
A window of L rows starting at row r0: inputs x_t = (g(y_t) - level) / sigma_in, level = mean
of g(y) over the window's first K rows (K = the season, or 12 without one), so no step sees
a level made from its own future; a second channel holds the value A_s = P*ceil(H/P) - H rows
back (its last H steps are the base forecast's values, even for a lag longer than the
window); then the base's kind, one-hot. Targets at step t, horizon h: (g(y_{t+1+h}) -
g(base_{t,h})) / sigma_out, the correction over the base forecast made at t. Steps before K-1
and targets past the series' training part are masked out.
"""
import math

import numpy as np

MIN_SCALE = 1e-8


def seasonal_scale(y, m):
    """Mean absolute change at lag m (1 when too short): MASE's scale; 1.0 when it is 0."""
    y = np.asarray(y, np.float64)
    lag = m if len(y) > m else 1
    d = float(np.mean(np.abs(y[lag:] - y[:-lag]))) if len(y) > lag else 0.0
    return d if d > 0 else 1.0


def base_offsets(H, P):
    """(H,) offsets from the last context row to each horizon step's base value: the same
    phase P rows back (P = 1: naive, the last row)."""
    h = np.arange(H)
    return 1 + h - P * ((h + P) // P)


def lead(H, P):
    """A_s: how far back the second input channel reads (P*ceil(H/P) - H >= 0)."""
    return int(P * -(-H // P) - H)


def choose_lag(y, H, lags, recent):
    """The lag among `lags` whose base forecast (h = 1..H steps ahead) erred least, in mean
    absolute error, over the last `recent` rows of y."""
    y = np.asarray(y, np.float64)[-recent:]
    best, best_err = lags[0], math.inf
    for P in lags:
        shifts = np.unique(P * ((np.arange(H) + P) // P))
        if shifts.max() >= len(y) // 2:
            continue
        err = np.mean([np.mean(np.abs(y[s:] - y[:-s])) for s in shifts])
        if err < best_err - 1e-12:
            best, best_err = P, err
    return int(best)


class PanelFrame:
    """Flat rows of a panel and the windows read from them (see the module doc)."""

    def __init__(self, values, exog, n_train, season, lookback, horizon, log, lags, scale,
                 exog_mean, exog_std, n_ids=0, ids_onehot=False, kinds=(1,)):
        self.m, self.L, self.H, self.log = int(season), int(lookback), int(horizon), bool(log)
        self.K = self.m if self.m > 1 else min(12, self.L)
        self.lengths = np.array([len(v) for v in values])
        self.offsets = np.r_[0, np.cumsum(self.lengths)[:-1]].astype(np.int64)
        self.n_train = np.asarray(n_train, np.int64)
        self.series = np.repeat(np.arange(len(values)), self.lengths)
        self.lags, self.scale = np.asarray(lags, np.int64), np.asarray(scale, np.float64)
        self.kinds = list(kinds)                 # the lags a series may have (one-hot order)
        self.kind = np.array([self.kinds.index(P) for P in self.lags], np.int64)
        self.leads = np.array([lead(self.H, P) for P in self.lags], np.int64)
        y = np.concatenate(values)
        self.g = np.log(y) if self.log else y / self.scale[self.series]
        E = exog[0].shape[1] if len(exog) else 0
        self.exog = ((np.concatenate(exog) - exog_mean) / exog_std) if E else np.zeros((len(y), 0))
        self.onehot = bool(ids_onehot)
        self.n_ids = int(n_ids)
        self.offs = np.stack([base_offsets(self.H, P) for P in self.lags]) \
            if len(values) else np.zeros((0, self.H), np.int64)
        self.sigma_in = self.sigma_out = 1.0
        self.C = 2 + len(self.kinds)             # value, the base's values, the base's kind
        self.input_size = self.C + E + (self.n_ids if self.onehot else 0)

    def starts(self):
        """Every training window's first row (flat index): each window's last row has at
        least one target inside its series' training part."""
        out = [o + np.arange(a, max(a, nt - self.L))
               for o, nt, a in zip(self.offsets, self.n_train, self.leads)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def inputs(self, rows, series):
        """rows (L, B) flat row indices of windows (series (B,)) -> X (L, B, F)."""
        L, B = rows.shape
        level = self.g[rows[:self.K]].mean(axis=0)                         # (B,)
        X = np.empty((L, B, self.input_size))
        X[:, :, 0] = (self.g[rows] - level) / self.sigma_in
        X[:, :, 1] = (self.g[rows - self.leads[series]] - level) / self.sigma_in
        X[:, :, 2:self.C] = 0.0
        X[:, np.arange(B), 2 + self.kind[series]] = 1.0
        E, C = self.exog.shape[1], self.C
        if E:
            X[:, :, C:C + E] = self.exog[rows]
        if self.onehot:
            X[:, :, C + E:] = 0.0
            X[:, np.arange(B), C + E + series] = 1.0
        return X

    def windows(self, starts):
        """Training windows at flat rows `starts` (B,): X (L, B, F), Y (L, B, H), mask."""
        s = self.series[starts]
        rows = starts[None, :] + np.arange(self.L)[:, None]                   # (L, B)
        X = self.inputs(rows, s)
        ahead = rows[:, :, None] + 1 + np.arange(self.H)                       # (L, B, H)
        end = (self.offsets + self.n_train)[s]                                  # (B,)
        base = rows[:, :, None] + self.offs[s][None]
        inside = (ahead < end[None, :, None]) & (np.arange(self.L) >= self.K - 1)[:, None, None]
        ahead = np.minimum(ahead, end[None, :, None] - 1)
        Y = np.where(inside, (self.g[ahead] - self.g[base]) / self.sigma_out, 0.0)
        return X, Y, inside.astype(np.float64)

    def context(self, k, end):
        """Rows of series k's window ending before its row `end` (local): X (L, 1, F)."""
        rows = (self.offsets[k] + end - self.L + np.arange(self.L))[:, None]
        return self.inputs(rows, np.array([k]))

    def contexts(self, ends):
        """Every series' window ending before local row ends[k]: X (L, S, F)."""
        S = len(ends)
        rows = self.offsets[None, :S] + np.asarray(ends)[None, :] - self.L + \
            np.arange(self.L)[:, None]
        return self.inputs(rows, np.arange(S))

    def levels(self, out_last, ends):
        """The model's last-step outputs (S, H) for windows ending before local rows `ends`
        -> forecasts in the series' units (S, H)."""
        S = len(ends)
        r = self.offsets[:S] + np.asarray(ends) - 1
        gbase = self.g[r[:, None] + self.offs[:S]]
        gf = gbase + out_last * self.sigma_out
        if self.log:
            return np.exp(gf)
        return gf * self.scale[:S, None]

    def fit_sigmas(self, seed=0, n=4000):
        """The global input and output scales, from up to n training windows."""
        st = self.starts()
        if len(st) == 0:
            return
        rng = np.random.default_rng([seed, 99])
        pick = st if len(st) <= n else rng.choice(st, n, replace=False)
        self.sigma_in = self.sigma_out = 1.0
        X, Y, M = self.windows(np.sort(pick))
        valid = (np.arange(self.L) >= self.K - 1)
        self.sigma_in = float(np.std(X[valid, :, 0])) or 1.0
        self.sigma_out = float(np.sqrt(np.sum(M * Y ** 2) / max(M.sum(), 1))) or 1.0
        self.sigma_in, self.sigma_out = max(self.sigma_in, MIN_SCALE), max(self.sigma_out,
                                                                            MIN_SCALE)

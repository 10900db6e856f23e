"""The trained forecaster: forecast with dates and an interval, evaluate against the baselines,
and a warning when it loses to seasonal naive on its own validation part.

    model = rnnlab.load("run")
    model.forecast(12)   # {"forecast", "lower", "upper", "dates", "level", "target", ...}
    model.evaluate("holdout.csv")

The forecast continues the series past the end of the training data (series_forecast.py); an
ensemble run forecasts with every member and takes the median, step by step, in levels. The
prediction interval comes from the validation part: the h-step-ahead errors of forecasts
started at every validation row (docs/series-and-music.md). Runs written before the
transform, the strategies and the ensembles (config.json without "transform") load as what
they were: recursive, one model, differenced or not.
"""
import math
from statistics import NormalDist

import numpy as np

from ..data.dates import iso, parse_iso, step_dates
from ..data.series import (Scaler, detect_season, mae, mase, naive_forecast,
                           read_target_column, rmse, seasonal_naive_forecast)
from ..data.transforms import SeriesTransform
from ..errors import RnnlabError
from ..validate import integer, positive_int
from .base import TrainedModel
from . import series_defaults
from .series_forecast import ensemble_levels

LEVEL = 0.9                # the prediction interval's coverage
Z_LEVEL = NormalDist().inv_cdf((1 + LEVEL) / 2)   # the normal quantile of that interval
MIN_EMPIRICAL = 20         # errors needed at a horizon step for empirical quantiles
TIE = 0.02                 # MAE differences under 2% of the mean one-step change are ties


class SeriesModel(TrainedModel):
    """A trained forecaster: `forecast(horizon)`, `evaluate(holdout.csv, season=None)`."""
    kind = "series"
    verbs = ("forecast",)
    EVALUATE_OPTIONS = ("season",)

    def __init__(self, model, data_meta, train_cfg=None, path=None, members=()):
        super().__init__(model, data_meta, train_cfg, path, members)
        m = data_meta
        self.scaler = Scaler.from_json(m["scaler"])
        self.transform = SeriesTransform.from_json(m.get("transform") or
                                                   {"difference": m["difference"]})
        self.lookback, self.diff = int(m["lookback"]), self.transform.difference
        self.strategy = m.get("strategy", "recursive")
        self.target, self.features = m["target"], list(m["features"])
        self.history = np.asarray(m["target_history"], np.float64)
        self.tail = np.asarray(m["tail"], np.float64).reshape(-1, len(m["columns"]))
        self.n_val = int(m["n_val"])
        self.season = m.get("season") or detect_season(self.history) or 1
        self.frequency = m.get("frequency")
        self._errors = None       # validation errors (origins, steps), computed on demand

    # ----- the forecast ---------------------------------------------------------------------
    def scale_rows(self, rows):
        """Raw rows (N, F) as the model reads them: transformed, scaled (N - d, F)."""
        return self.scaler.transform(self.transform.forward(rows))

    def levels(self, ctx, horizon, past):
        """ctx (B, L, F) scaled rows, past (B, k) the target's levels before the forecast ->
        the ensemble's median forecast in levels (B, horizon)."""
        return ensemble_levels(self.members, ctx, horizon, self.scaler, self.transform,
                               past)[0]

    def model_input(self, data):
        """Rows in the data's units (the training CSV's columns; a bare value per row when
        there is one column), transformed and scaled like the training data."""
        rows = np.asarray(data, np.float64)
        rows = rows[:, None] if rows.ndim == 1 else rows
        if rows.ndim != 2 or rows.shape[1] != len(self.meta["columns"]) or not len(rows):
            raise RnnlabError(f"a series input is a list of rows of {len(self.meta['columns'])} "
                              f"value(s) ({', '.join(self.meta['columns'])})")
        z = self.scale_rows(rows)
        return {"x": z, "labels": [f"{v:.4g}" for v in rows[len(rows) - len(z):, 0]]}

    def _validation_errors(self, steps):
        """errors[j, h] = actual - forecast, h+1 steps after validation origin j (NaN past the
        data). Origins: every validation row; the context is the lookback rows before it."""
        if self._errors is not None and self._errors.shape[1] >= steps:
            return self._errors[:, :steps]
        L, d, n_val = self.lookback, self.transform.rows_lost, self.n_val
        z = self.scale_rows(self.tail)                                   # (L + n_val, F)
        ctx = np.stack([z[j:j + L] for j in range(n_val)])
        H, k = min(steps, n_val), max(1, d)
        past = np.stack([self.tail[j + L + d - k:j + L + d, 0] for j in range(n_val)])
        levels = self.levels(ctx, H, past)
        err = np.full((n_val, steps), np.nan)
        for j in range(n_val):
            k = min(H, n_val - j)
            err[j, :k] = self.tail[j + L + d:j + L + d + k, 0] - levels[j, :k]
        self._errors = err
        return err

    def forecast(self, horizon=None):
        """Forecast the target `horizon` steps past the end of the training data.
        Returns {"forecast", "lower", "upper", "dates", "frequency", "level", "target",
        "held_features", "interval", "strategy", "members"}; "dates" are ISO 8601 (None when
        the training CSV had no regular date column)."""
        horizon = self.meta["horizon"] if horizon is None else horizon
        horizon = positive_int("--horizon", horizon)
        z = self.scale_rows(self.tail)
        past = self.tail[-max(1, self.transform.rows_lost):, 0]
        fc = self.levels(z[None, -self.lookback:], horizon, past[None])[0]
        lower, upper, kind = self._interval(fc, self._validation_errors(horizon))
        return {"forecast": fc.tolist(), "lower": lower.tolist(), "upper": upper.tolist(),
                "dates": self.dates(horizon), "frequency": (self.frequency or {}).get("name"),
                "level": LEVEL, "target": self.target,
                "held_features": {f: float(v) for f, v in zip(self.features, self.tail[-1, 1:])},
                "interval": kind, "strategy": self.strategy, "members": len(self.members)}

    @staticmethod
    def _interval(fc, err):
        """Empirical quantiles of the validation errors per step where there are enough, else
        the normal approximation from the one-step error. Returns (lower, upper, kind)."""
        s1 = math.sqrt(np.nanmean(err[:, 0] ** 2))
        lower, upper, kinds = np.empty(len(fc)), np.empty(len(fc)), set()
        for h in range(len(fc)):
            e = err[:, h][~np.isnan(err[:, h])]
            if len(e) >= MIN_EMPIRICAL:
                lo, hi = np.quantile(e, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
                kinds.add("empirical")
            else:
                lo = -Z_LEVEL * s1 * math.sqrt(h + 1)
                hi = -lo
                kinds.add("normal")
            lower[h], upper[h] = fc[h] + lo, fc[h] + hi
        return lower, upper, "+".join(sorted(kinds))

    def dates(self, horizon, history=0):
        """ISO dates of the next `horizon` steps (and, with history=k, of the last k observed
        rows first); None without a regular date column."""
        if not self.frequency or not self.meta.get("last_time"):
            return None
        try:
            last = parse_iso(self.meta["last_time"])
        except ValueError:          # a date format fromisoformat does not read: from the CSV
            from ..data.dates import parse_times
            last = parse_times([self.meta["last_time"]])[0]
        past = step_dates(last, self.frequency, history, backward=True) if history else []
        return [iso(t, self.frequency) for t in past + step_dates(last, self.frequency, horizon)]

    # ----- against the baselines ------------------------------------------------------------
    def validation_check(self):
        """The forecast against seasonal naive (naive without a season) on the validation
        part: the same origins and steps (up to the horizon), MAE in levels. The model
        `loses` when its MAE is above the baseline's by more than a tie (2% of the series'
        mean one-step change: a series that repeats exactly is forecast exactly by seasonal
        naive, and a trained network can only come close)."""
        H = min(int(self.meta["horizon"]), self.n_val)
        err = self._validation_errors(H)
        y, m, N = self.history, self.season, len(self.history)
        base = np.full_like(err, np.nan)
        for j in range(self.n_val):
            r = N - self.n_val + j                    # the first forecast row of origin j
            n = min(H, N - r)
            f = seasonal_naive_forecast(y[:r], n, m) if m > 1 and r >= m else \
                naive_forecast(y[:r], n)
            base[j, :n] = y[r:r + n] - f
        ok = ~np.isnan(err) & ~np.isnan(base)
        model_mae, base_mae = float(np.mean(np.abs(err[ok]))), float(np.mean(np.abs(base[ok])))
        tie = TIE * float(np.mean(np.abs(np.diff(y[:N - self.n_val]))))
        return {"mae": model_mae, "baseline_mae": base_mae, "season": int(m),
                "baseline": "seasonal naive" if m > 1 else "naive",
                "loses": bool(model_mae > base_mae + tie), "origins": self.n_val, "steps": H}

    def validation_warnings(self):
        """One warning line (with what to try) when the model loses to seasonal naive on the
        validation part; [] otherwise."""
        v = self.validation_check()
        if not v["loses"]:
            return []
        return [f"WARNING: on the validation part ({v['origins']} origins, {v['steps']} steps) "
                f"the model's MAE {v['mae']:.4g} is not below {v['baseline']}'s "
                f"{v['baseline_mae']:.4g}; try: {', '.join(self._what_to_try())}, more rows, "
                f"or forecast with {v['baseline']}"]

    def _what_to_try(self):
        """The changes worth a try: back to the defaults for the options this run set away
        from what the data would choose (only options the user gave can differ), then the
        other strategy and a bigger ensemble unless the run already has them."""
        m = self.meta
        used = {"lookback": self.lookback, "difference": bool(self.diff),
                "log": bool(self.transform.log)}
        given = {"season": m.get("season"),
                 "val_fraction": m.get("val_fraction", self.train_cfg.get("val_fraction"))}
        chosen = series_defaults.plan(self.history, given)
        off = [k for k, v in used.items() if chosen[k][0] != v]
        tries = [f"the defaults (drop {'/'.join('--' + k for k in off)})"] if off else []
        if self.strategy != "recursive":
            tries.append("--strategy recursive")
        if len(self.members) < 5:
            tries.append("--ensemble 5")
        if not m.get("season") or m.get("season") == 1:
            tries.append("--season N")
        return tries

    def overlap_rows(self, actual):
        """How many of a holdout's first values are the training data's first values (the
        training file itself evaluated as if held out); 0 for a real holdout."""
        n = min(len(actual), len(self.history))
        same = np.flatnonzero(~np.isclose(actual[:n], self.history[:n], rtol=0, atol=1e-12))
        return int(same[0] if same.size else n)

    def evaluate(self, path, season=None):
        """Forecast len(holdout) steps from the end of the training data and score it against
        the holdout file's target column, beside the naive and seasonal-naive baselines."""
        actual = read_target_column(path, self.target, self.meta.get("fill"))
        H, hist = len(actual), self.history
        detected = season is None
        if season is None:
            season = detect_season(hist)
        else:
            season = integer("--season", season, 1, len(hist) - 1,
                             hint="the length of one cycle in rows")
        fc = np.asarray(self.forecast(H)["forecast"])

        def scores(f):
            return {"rmse": rmse(actual, f), "mae": mae(actual, f), "mase": mase(actual, f, hist)}

        res = {"horizon": H, **scores(fc), "naive": scores(naive_forecast(hist, H)),
               "season": None if season is None else int(season), "season_detected": detected,
               "seasonal_naive": None, "validation": self.validation_check()}
        res["beats_naive"] = res["mae"] < res["naive"]["mae"]
        res["overlap_rows"] = self.overlap_rows(actual)
        res["beats_seasonal_naive"] = None
        if season is not None:
            res["seasonal_naive"] = scores(seasonal_naive_forecast(hist, H, int(season)))
            res["beats_seasonal_naive"] = res["mae"] < res["seasonal_naive"]["mae"]
        return res

    def report_lines(self, res):
        """evaluate()'s result as text lines for the CLI."""
        def row(name, s):
            return f"{name:15s} rmse {s['rmse']:.4f}  mae {s['mae']:.4f}  mase {s['mase']:.4f}"
        lines = [f"holdout: {res['horizon']} steps",
                 row("model", res), row("naive", res["naive"])]
        if res["seasonal_naive"] is not None:
            how = "detected" if res["season_detected"] else "given"
            lines.append(row("seasonal naive", res["seasonal_naive"]) +
                         f"  (season {res['season']}, {how})")
        else:
            lines.append("seasonal naive: no season detected (pass --season N)")
        if res["beats_seasonal_naive"] is False:
            lines.append("WARNING: the model does NOT beat the seasonal naive forecast")
        if not res["beats_naive"]:
            lines.append("WARNING: the model does NOT beat the naive forecast")
        if res.get("overlap_rows", 0) > 1:
            lines.append(f"WARNING: the holdout's first {res['overlap_rows']} rows are the "
                         f"training data's first rows: this is the training file, not held-out "
                         f"data, so these scores say nothing about the future; evaluate on rows "
                         f"that come after the training data")
        return lines + self.validation_warnings()

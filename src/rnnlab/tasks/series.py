"""Time series: the training task (CSV -> scaled windows) and the trained forecaster.

    rnnlab train sales.csv --out run --target sales --lookback 24 --horizon 12
    rnnlab forecast run --horizon 12 --json
    rnnlab evaluate run holdout.csv --json

Pipeline (column 0 is always the target, the other columns are input features):

    rows (N, F) --[difference]--> z (N', F) --chrono split--> train | val (last val_fraction)
    Scaler fit on the TRAIN part only; training windows of `lookback` steps, every step
    predicts the next target value (MSE, scaled units).

Forecasting is recursive: the last `lookback` rows go in, the predicted target is appended as
the next row and fed back in, `horizon` times. Every prediction sees exactly the window of
`lookback` rows it saw in training (the window slides; the state starts at zero each time).
Other features are held at their last observed value (with --difference: their change is 0),
i.e. the features get the naive forecast. The prediction interval comes from the validation
part: the h-step-ahead errors of forecasts started at every validation point (see
docs/series-and-music.md).
"""
import math

import numpy as np

from ..data.series import (Scaler, chrono_split, detect_season, load_csv, mae, make_windows,
                           mase, naive_forecast, read_target_column, rmse,
                           seasonal_naive_forecast)
from ..data.series import difference as diff_rows
from ..errors import RnnlabError
from ..nn.losses import mse
from .base import TaskOption, TrainedModel, default_steps, positive_int, task_options

LEVEL = 0.9                # the prediction interval's coverage
Z90 = 1.6448536269514722   # normal quantile for a central 90% interval
MIN_EMPIRICAL = 20         # errors needed at a horizon step for empirical quantiles
MIN_STEPS, MAX_STEPS = 1000, 5000   # the default stopping rule's bounds


def _rows_needed(lookback, horizon, val_fraction, diff):
    """Fewest rows that leave lookback+1 rows to train on and horizon rows to validate on."""
    for n in range(lookback + horizon + 1, 10 ** 7):
        m = n - diff
        n_val = int(m * val_fraction)
        if n_val >= horizon and m - n_val >= lookback + 1:
            return n
    return None


class SeriesTask:
    kind = "series"
    carries_state = False
    OPTIONS = (
        TaskOption("target", "the column to forecast (default: the first numeric column)"),
        TaskOption("features", "input columns besides the target, 'a,b,c' (default: none)"),
        TaskOption("fill", "fill missing cells (default: a missing cell is an error)",
                   choices=("ffill", "interpolate")),
        TaskOption("lookback", "window length in rows", int, 24),
        TaskOption("horizon", "forecast steps validated for the interval", int, 12),
        TaskOption("difference", "model the first differences", bool, False, flag=True),
    )
    STOP_RULE = (f"series: 10 passes over the training windows (one per row), at least "
                 f"{MIN_STEPS:,} and at most {MAX_STEPS:,} steps")

    def __init__(self, path, target=None, features=None, fill=None, lookback=24, horizon=12,
                 difference=False, batch=50, val_fraction=0.1, seed=0):
        self.lookback = L = positive_int("lookback", lookback)
        self.horizon = H = positive_int("horizon", horizon)
        self.difference = bool(difference)
        self.fill, self.batch_size, self.seed = fill, int(batch), int(seed)
        data = load_csv(path, target, features, fill)
        raw = data.values
        d = int(self.difference)
        if not 0 < val_fraction <= 0.5:
            raise RnnlabError(f"--val-fraction must be in (0, 0.5] for a series (the validation "
                              f"part gives the forecast interval), got {val_fraction}")
        need = _rows_needed(L, H, val_fraction, d)
        n = len(raw) - d
        n_val = int(max(n, 0) * val_fraction)
        if n_val < H or n - n_val < L + 1:
            raise RnnlabError(
                f"{path} has {len(raw)} rows: too few for --lookback {L} and --horizon {H} with "
                f"--val-fraction {val_fraction} (need at least {need}: lookback+1 rows to train "
                f"on and horizon rows to validate on); use a smaller --lookback/--horizon or "
                f"more data")
        z_raw = diff_rows(raw)[0] if d else raw
        train, _ = chrono_split(z_raw, val_fraction)
        self.n_train, self.n_val = len(train), n_val
        self.scaler = Scaler().fit(train, data.columns)
        z = self.scaler.transform(z_raw)
        self.X, self.Y = make_windows(z[:self.n_train], L)               # (L, W, F), (L, W, 1)
        self.Xv, self.Yv = make_windows(z[self.n_train - L:], L)         # one window per val row
        self.data, self.raw = data, raw
        self.input_size, self.output_size = raw.shape[1], 1
        W = self.X.shape[1]
        self.batches_per_epoch = max(1, math.ceil(W / self.batch_size))
        self.tokens_per_batch = min(self.batch_size, W) * L
        self.eval_tokens = L * self.Xv.shape[1]          # validation: one forward, every window
        self._perm_epoch, self._perm = None, None

    @classmethod
    def from_config(cls, tcfg, meta=None):
        return cls(tcfg.data, batch=tcfg.batch, val_fraction=tcfg.val_fraction, seed=tcfg.seed,
                   **task_options(tcfg, cls))

    def default_steps(self):
        return default_steps(self.batches_per_epoch, MIN_STEPS, MAX_STEPS,
                             f"the {self.X.shape[1]:,} training windows")

    def describe(self):
        feats = f" and {len(self.data.columns) - 1} feature column(s)" \
            if len(self.data.columns) > 1 else ""
        return (f"data: {len(self.raw):,} rows of {self.data.target!r}{feats}: "
                f"{self.X.shape[1]:,} training windows of {self.lookback} rows, "
                f"{self.n_val:,} validation rows")

    def batch(self, k):
        """A shuffled minibatch of training windows; the order depends on (seed, epoch) only,
        so a resumed run sees the same batches."""
        epoch, i = divmod(int(k), self.batches_per_epoch)
        if self._perm_epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._perm, self._perm_epoch = rng.permutation(self.X.shape[1]), epoch
        idx = self._perm[i * self.batch_size:(i + 1) * self.batch_size]
        return self.X[:, idx], self.Y[:, idx], None

    def validation_loss(self, model):
        """One-step-ahead MSE (scaled units) at every validation row, with full lookback."""
        model.eval()
        out, _ = model.forward(self.Xv)
        return mse(out[-1], self.Yv[-1])[0]

    def meta(self):
        L, d = self.lookback, int(self.difference)
        tail = self.raw[len(self.raw) - (self.n_val + L + d):]
        return {"kind": "series", "target": self.data.target, "columns": self.data.columns,
                "features": self.data.columns[1:], "fill": self.fill, "lookback": L,
                "horizon": self.horizon, "difference": self.difference,
                "scaler": self.scaler.to_json(), "n_rows": int(len(self.raw)),
                "n_val": int(self.n_val),
                "last_time": self.data.time[-1] if self.data.time else None,
                "target_history": self.raw[:, 0].tolist(), "tail": tail.tolist()}


class SeriesModel(TrainedModel):
    """A trained forecaster: `forecast(horizon)`, `evaluate(holdout.csv, season=None)`."""
    kind = "series"

    def __init__(self, model, data_meta, train_cfg=None, path=None):
        super().__init__(model, data_meta, train_cfg, path)
        m = data_meta
        self.scaler = Scaler.from_json(m["scaler"])
        self.lookback, self.diff = int(m["lookback"]), bool(m["difference"])
        self.target, self.features = m["target"], list(m["features"])
        self.history = np.asarray(m["target_history"], np.float64)
        self.tail = np.asarray(m["tail"], np.float64).reshape(-1, len(m["columns"]))
        self.n_val = int(m["n_val"])
        self._errors = None       # validation errors (origins, steps), computed on demand

    # ----- the recursion ------------------------------------------------------------------
    def scale_rows(self, rows):
        """Raw rows (N, F) as the model reads them: differenced (when trained so), scaled."""
        return self.scaler.transform(diff_rows(rows)[0] if self.diff else rows)

    def _forecast_z(self, ctx, horizon):
        """ctx (B, L, F) scaled rows -> (B, horizon) scaled target predictions."""
        L = self.lookback
        buf = np.array(ctx, np.float64)
        B, F = buf.shape[0], buf.shape[2]
        if self.diff:     # features held at their level: their change is 0
            held = np.broadcast_to(-self.scaler.mean[1:] / self.scaler.std[1:], (B, F - 1))
        else:
            held = buf[:, -1, 1:].copy()
        preds = np.empty((B, horizon))
        self.model.eval()
        for h in range(horizon):
            out, _ = self.model.forward(np.ascontiguousarray(buf[:, -L:].transpose(1, 0, 2)))
            preds[:, h] = out[-1, :, 0]
            new = np.empty((B, 1, F))
            new[:, 0, 0], new[:, 0, 1:] = preds[:, h], held
            buf = np.concatenate([buf[:, 1:], new], axis=1)
        return preds

    def _to_levels(self, preds, last_level):
        y = preds * self.scaler.std[0] + self.scaler.mean[0]
        return np.asarray(last_level)[:, None] + np.cumsum(y, axis=1) if self.diff else y

    def _validation_errors(self, steps):
        """errors[j, h] = actual - forecast, h+1 steps after validation origin j (NaN past the
        data). Origins: every validation row; the context is the lookback rows before it."""
        if self._errors is not None and self._errors.shape[1] >= steps:
            return self._errors[:, :steps]
        L, d, n_val = self.lookback, int(self.diff), self.n_val
        z = self.scale_rows(self.tail)                                   # (L + n_val, F)
        ctx = np.stack([z[j:j + L] for j in range(n_val)])
        H = min(steps, n_val)
        levels = self._to_levels(self._forecast_z(ctx, H), self.tail[L + d - 1:L + d - 1 + n_val, 0])
        err = np.full((n_val, steps), np.nan)
        for j in range(n_val):
            k = min(H, n_val - j)
            err[j, :k] = self.tail[j + L + d:j + L + d + k, 0] - levels[j, :k]
        self._errors = err
        return err

    def forecast(self, horizon=None):
        """Forecast the target `horizon` steps past the end of the training data.
        Returns {"forecast", "lower", "upper", "level", "target", "held_features", "interval"}."""
        horizon = self.meta["horizon"] if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise RnnlabError(f"--horizon must be a positive integer, got {horizon!r}")
        horizon = int(horizon)
        z = self.scale_rows(self.tail)
        fc = self._to_levels(self._forecast_z(z[None, -self.lookback:], horizon),
                             self.tail[-1:, 0])[0]
        err = self._validation_errors(horizon)
        s1 = math.sqrt(np.nanmean(err[:, 0] ** 2))
        lower, upper, kinds = np.empty(horizon), np.empty(horizon), set()
        for h in range(horizon):
            e = err[:, h][~np.isnan(err[:, h])]
            if len(e) >= MIN_EMPIRICAL:
                lo, hi = np.quantile(e, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
                kinds.add("empirical")
            else:
                lo = -Z90 * s1 * math.sqrt(h + 1)
                hi = -lo
                kinds.add("normal")
            lower[h], upper[h] = fc[h] + lo, fc[h] + hi
        return {"forecast": fc.tolist(), "lower": lower.tolist(), "upper": upper.tolist(),
                "level": LEVEL, "target": self.target,
                "held_features": {f: float(v) for f, v in zip(self.features, self.tail[-1, 1:])},
                "interval": "+".join(sorted(kinds))}

    def evaluate(self, path, season=None):
        """Forecast len(holdout) steps from the end of the training data and score it against
        the holdout file's target column, beside the naive and seasonal-naive baselines."""
        actual = self._read_target(path)
        H = len(actual)
        hist = self.history
        detected = season is None
        if season is None:
            season = detect_season(hist)
        elif isinstance(season, bool) or not isinstance(season, (int, np.integer)) \
                or not 1 <= season < len(hist):
            raise RnnlabError(f"--season must be an integer in [1, {len(hist) - 1}] (the length "
                              f"of one cycle in rows), got {season!r}")
        fc = np.asarray(self.forecast(H)["forecast"])

        def scores(f):
            return {"rmse": rmse(actual, f), "mae": mae(actual, f), "mase": mase(actual, f, hist)}

        res = {"horizon": H, **scores(fc), "naive": scores(naive_forecast(hist, H)),
               "season": None if season is None else int(season), "season_detected": detected,
               "seasonal_naive": None}
        res["beats_naive"] = res["mae"] < res["naive"]["mae"]
        res["beats_seasonal_naive"] = None
        if season is not None:
            res["seasonal_naive"] = scores(seasonal_naive_forecast(hist, H, int(season)))
            res["beats_seasonal_naive"] = res["mae"] < res["seasonal_naive"]["mae"]
        return res

    def _read_target(self, path):
        """The holdout's target column (missing cells filled as in training)."""
        return read_target_column(path, self.target, self.meta.get("fill"))

    @staticmethod
    def report_lines(res):
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
        return lines

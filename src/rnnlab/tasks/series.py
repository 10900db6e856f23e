"""Time series: the training task (CSV -> transformed, scaled windows).

    rnnlab train sales.csv --out run --target sales          # defaults chosen from the data
    rnnlab forecast run --horizon 12 --json                  # with "dates" when the CSV has them
    rnnlab backtest sales.csv --target sales --horizon 12 --folds 4

Pipeline (column 0 is always the target, the other columns are input features):

    rows (N, F) --[log of the target]--[difference]--> z (N', F) --chrono split--> train | val
    Scaler fit on the TRAIN part only; windows of `lookback` rows. Every step of a window
    predicts what follows it: the next target value (strategy 'recursive') or the next
    `horizon` values at once (strategy 'direct', a multi-output head), MSE in scaled units,
    targets past the training part masked out.

Every option left unset is chosen from the data (tasks/series_defaults.py), printed at the
start of training and saved in config.json. The validation loss is the MSE of the
`horizon`-step forecast started at every validation row (what the forecast will be used for),
so early stopping picks the model that forecasts best. The trained model (forecast, interval,
evaluate, ensemble) is in series_model.py.
"""
import math
from dataclasses import replace

import numpy as np

from ..data.dates import frequency_problem, infer_frequency, iso, parse_times, regular_grid
from ..data.series import Scaler, detect_season, insert_rows, load_csv
from ..data.transforms import SeriesTransform
from ..errors import RnnlabError
from . import series_defaults
from .base import TaskOption, default_steps, positive_int, task_options
from .series_forecast import held_features, predict_scaled
from .series_model import SeriesModel

STRATEGIES = ("direct", "recursive")
# the TrainConfig / ModelConfig fields this task chooses from the data when not given
CHOSEN = ("hidden", "layers", "batch", "lr", "eval_every", "val_fraction")


class SeriesTask:
    kind = "series"
    carries_state = False
    CHOSEN = CHOSEN
    OPTIONS = (
        TaskOption("target", "the column to forecast (default: the first numeric column)"),
        TaskOption("features", "input columns besides the target, 'a,b,c' (default: every "
                   "other numeric column)"),
        TaskOption("fill", "fill missing cells (default: a missing cell is an error)",
                   choices=("ffill", "interpolate")),
        TaskOption("lookback", "window length in rows (default: two seasons or two horizons, "
                   "chosen from the data)", int),
        TaskOption("horizon", "forecast steps trained for and validated (default: one season, "
                   "else 12)", int),
        TaskOption("difference", "model the first differences (default: when a KPSS test "
                   "says the level wanders)", bool, flag=True),
        TaskOption("log", "model the log of the target (default: when the series is positive "
                   "and its swing grows with its level)", bool, flag=True),
        TaskOption("season", "season length in rows, 1 = none (default: detected)", int),
        TaskOption("seasonal_difference", "model the differences at the season's lag (default: "
                   "off; the season enters as lags: a lookback of two seasons)", bool,
                   flag=True),
        TaskOption("strategy", "direct: one head predicts the whole horizon; recursive: one "
                   "step fed back (default: direct)", choices=STRATEGIES),
        TaskOption("ensemble", "train N models (seeds seed..seed+N-1) and forecast their "
                   "median (default: 3)", int),
        TaskOption("until", "train on the first N rows only (a backtest's origin; default: "
                   "all rows)", int),
    )
    STOP_RULE = (f"series: early stopping (validation every {series_defaults.EVAL_EVERY} "
                 f"steps, chosen from the series), at most {series_defaults.EPOCHS} passes over "
                 f"the training windows, {series_defaults.MIN_STEPS:,} to "
                 f"{series_defaults.MAX_STEPS:,} steps")

    def __init__(self, path, target=None, features=None, fill=None, lookback=None, horizon=None,
                 difference=None, log=None, season=None, seasonal_difference=None,
                 strategy=None, ensemble=None, until=None, batch=50, val_fraction=0.1, seed=0):
        if not 0 < val_fraction <= 0.5:
            raise RnnlabError(f"--val-fraction must be in (0, 0.5] for a series (the validation "
                              f"part gives the forecast interval), got {val_fraction}")
        data, raw, times = read_series(path, target, features, fill, until)
        given = dict(lookback=lookback, horizon=horizon, difference=difference, log=log,
                     season=season, seasonal_difference=seasonal_difference,
                     strategy=strategy, ensemble=ensemble, val_fraction=val_fraction)
        if any(v is None for v in given.values()):       # built without train(): decide here
            chosen = series_defaults.plan(raw[:, 0], given)
            given = {k: chosen[k][0] for k in given}
        self.lookback = L = positive_int("lookback", given["lookback"])
        self.horizon = H = positive_int("horizon", given["horizon"])
        self.season = positive_int("season", given["season"])
        self.ensemble = positive_int("ensemble", given["ensemble"])
        self.strategy = given["strategy"]
        if self.strategy not in STRATEGIES:
            raise RnnlabError(f"--strategy must be direct or recursive, got {self.strategy!r}")
        seasonal = self.season if given["seasonal_difference"] and self.season > 1 else 0
        self.transform = SeriesTransform(given["log"], given["difference"], seasonal)
        self.difference = self.transform.difference
        self.fill, self.batch_size, self.seed = fill, int(batch), int(seed)
        self.val_fraction = val_fraction
        self.frequency = infer_frequency(times)
        self.dates_note = dates_note(data, times, fill)
        short = len(raw) >= series_defaults.MIN_ROWS     # (a run's own check: plan refuses)
        self.length_note = series_defaults.check_length(len(raw)) if short else None
        self._check_rows(path, len(raw), val_fraction)
        z_raw = self.transform.forward(raw)
        self.n_val = int(len(z_raw) * val_fraction)
        self.n_train = len(z_raw) - self.n_val
        self.scaler = fit_scaler(z_raw[:self.n_train], data.columns)
        self.z = self.scaler.transform(z_raw)                          # (N', F)
        self.data, self.raw, self.times = data, raw, times
        self.input_size = raw.shape[1]
        self.output_size = H if self.strategy == "direct" else 1
        self.val_steps = H                 # the validation loss's forecast steps
        self.starts = np.arange(self.n_train - L)      # window w: rows starts[w] .. + L - 1
        W = len(self.starts)
        self.batches_per_epoch = max(1, math.ceil(W / self.batch_size))
        # the throughput counts windows (one window: L rows in, the targets after each out);
        # the history's "tokens_per_s" holds windows/s for a series
        self.rate_unit = "windows/s"
        self.tokens_per_batch = min(self.batch_size, W)
        self.eval_tokens = L * max(self.n_val, 1)   # validation: a window at every validation row
        self.eval_seq_len = L
        self._perm_epoch, self._perm = None, None

    def _check_rows(self, path, n_rows, val_fraction):
        L, H, d = self.lookback, self.horizon, self.transform.rows_lost
        n = n_rows - d
        n_val = int(max(n, 0) * val_fraction)
        if n_val < H or n - n_val < L + 1:
            need = next(m for m in range(L + H + 1 + d, 10 ** 8)
                        if int((m - d) * val_fraction) >= H
                        and m - d - int((m - d) * val_fraction) >= L + 1)
            raise RnnlabError(
                f"{path} has {n_rows} rows: too few for --lookback {L} and --horizon {H} with "
                f"--val-fraction {val_fraction} (need at least {need}: lookback+1 rows to train "
                f"on and horizon rows to validate on); use a smaller --lookback/--horizon or "
                f"more data")

    @classmethod
    def from_config(cls, tcfg, meta=None):
        opts = task_options(tcfg, cls)
        legacy = meta is not None and "transform" not in meta
        if legacy:
            # a run from before the chosen defaults: it was what its meta says, and recursive
            season = detect_season(meta["target_history"]) or 1
            opts.update(lookback=meta["lookback"], horizon=meta["horizon"], log=False,
                        difference=bool(meta["difference"]), strategy="recursive",
                        ensemble=1, season=season, seasonal_difference=False)
        task = cls(tcfg.data, batch=tcfg.batch, val_fraction=tcfg.val_fraction, seed=tcfg.seed,
                   **opts)
        if legacy:
            task.val_steps = 1      # its best loss so far is a one-step loss: keep comparing so
        return task

    def default_steps(self):
        d = series_defaults
        return default_steps(self.batches_per_epoch, d.MIN_STEPS, d.MAX_STEPS,
                             f"the {len(self.starts):,} training windows", passes=d.EPOCHS)

    def describe(self):
        feats = f" and {len(self.data.columns) - 1} feature column(s)" \
            if len(self.data.columns) > 1 else ""
        return (f"data: {len(self.raw):,} rows of {self.data.target!r}{feats}: "
                f"{len(self.starts):,} training windows of {self.lookback} rows, "
                f"{self.n_val:,} validation rows" +
                "".join(f"\n{note}" for note in (self.length_note, self.dates_note) if note))


    @classmethod
    def choose_defaults(cls, tcfg, given):
        """The trainer's hook: {option: (value, why)} for this task's options and the trainer
        and model fields in CHOSEN, decided from the data (given ones are kept)."""
        opts = task_options(tcfg, cls)
        _, raw, _ = read_series(tcfg.data, opts["target"], opts["features"], opts["fill"],
                                opts["until"])
        return series_defaults.plan(raw[:, 0], {**opts, **given})

    # ----- training -----------------------------------------------------------------------
    def batch(self, k):
        """A shuffled minibatch of training windows (inputs (L, B, F), targets (L, B, Ho),
        mask or None); the order depends on (seed, epoch) only, so a resumed run sees the same
        batches. Targets past the training part are masked out."""
        epoch, i = divmod(int(k), self.batches_per_epoch)
        if self._perm_epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._perm, self._perm_epoch = rng.permutation(len(self.starts)), epoch
        idx = self.starts[self._perm[i * self.batch_size:(i + 1) * self.batch_size]]
        return self.windows(idx)

    def windows(self, starts):
        """Windows starting at rows `starts` (B,): X (L, B, F), Y (L, B, Ho), mask or None.
        Y[t, b, h] is the target h+1 rows after X[t, b]."""
        L, Ho = self.lookback, self.output_size
        rows = starts[None, :] + np.arange(L)[:, None]                          # (L, B)
        X = self.z[rows]
        ahead = rows[:, :, None] + 1 + np.arange(Ho)                            # (L, B, Ho)
        inside = ahead < self.n_train
        Y = self.z[np.minimum(ahead, self.n_train - 1), 0]
        if inside.all():
            return X, Y, None
        return X, np.where(inside, Y, 0.0), inside.astype(X.dtype)

    def validation_targets(self):
        """Contexts (n_val, L, F) ending before each validation row and that row's next
        `val_steps` (the horizon) scaled targets (n_val, H), NaN past the data."""
        L, H, n = self.lookback, self.val_steps, len(self.z)
        origins = np.arange(self.n_train, n)
        ctx = np.stack([self.z[o - L:o] for o in origins])
        ahead = origins[:, None] + np.arange(H)
        y = np.where(ahead < n, self.z[np.minimum(ahead, n - 1), 0], np.nan)
        return ctx, y

    @property
    def validation_size(self):
        """Model steps of a validation: a lookback window at every validation row."""
        return self.n_val * self.lookback

    def validation_loss(self, model, limit=None):
        """MSE (scaled units) of the horizon-step forecast from every validation row, or from
        limit // lookback evenly spaced ones (the same rows at every call)."""
        ctx, y = self.validation_targets()
        if limit is not None and limit < self.validation_size:
            keep = np.unique(np.linspace(0, len(ctx) - 1, max(1, limit // self.lookback))
                             .astype(np.int64))
            ctx, y = ctx[keep], y[keep]
        held = held_features(self.scaler, ctx[:, -1], self.difference)
        p = predict_scaled(model, ctx, y.shape[1], held)
        ok = ~np.isnan(y)
        return float(np.mean((p[ok] - y[ok]) ** 2))

    def review(self, models):
        """Lines of warning after training: the forecast against seasonal naive on the
        validation part (models: the trained SequenceModels, the ensemble's members)."""
        fitted = SeriesModel(models[0], self.meta(), members=models[1:])
        return fitted.validation_warnings()

    def meta(self):
        L, d = self.lookback, self.transform.rows_lost
        tail = self.raw[len(self.raw) - (self.n_val + L + d):]
        return {"kind": "series", "target": self.data.target, "columns": self.data.columns,
                "features": self.data.columns[1:], "fill": self.fill, "lookback": L,
                "horizon": self.horizon, "difference": self.difference,
                "transform": self.transform.to_json(), "strategy": self.strategy,
                "season": self.season, "ensemble": self.ensemble,
                "scaler": self.scaler.to_json(), "n_rows": int(len(self.raw)),
                "n_val": int(self.n_val), "val_fraction": self.val_fraction,
                "frequency": self.frequency, "dates_note": self.dates_note,
                "last_time": self.data.time[len(self.raw) - 1] if self.data.time else None,
                "target_history": self.raw[:, 0].tolist(), "tail": tail.tolist()}


def read_series(path, target, features, fill, until):
    """(SeriesData, rows (N, F), datetimes or None): the CSV's first `until` rows."""
    data = load_csv(path, target, features, fill)
    n = len(data.values)
    if until is not None:
        until = positive_int("until", until)
        if until > n:
            raise RnnlabError(f"--until {until} is past the end of {path} ({n} rows); give at "
                              f"most {n}")
        n = until
    times = parse_times(data.time[:n]) if data.time else None
    rows = data.values[:n]
    grid = regular_grid(times) if fill else None
    if grid is not None:            # whole steps missing: --fill puts the rows back, filled
        dates, where = grid
        rows = insert_rows(rows, where, len(dates), fill, path, data.columns)
        data = replace(data, values=rows, time=[iso(t) for t in dates])
        times = dates
    return data, rows, times


def dates_note(data, times, fill):
    """Why a CSV with a date column gets no dates (forecasts numbered by step), and what to
    do, in one line; None when it has its dates or no date column."""
    if not data.time or infer_frequency(times) is not None:
        return None
    why = frequency_problem(times)
    fix = ("; pass --fill interpolate (or ffill) to put the missing rows back, filled, and "
           "keep the dates" if regular_grid(times) is not None and not fill else
           "; make every step the same to keep them")
    return f"WARNING: the dates are dropped and forecasts are numbered by step: {why}{fix}"


def fit_scaler(train, columns):
    """The Scaler of the training part; a target that does not move there (a pure trend,
    differenced) keeps unit scale instead of failing: it is what is forecast, not a feature."""
    train = np.asarray(train, np.float64)
    if np.std(train[:, 0]) == 0:
        rest = Scaler().fit(train[:, 1:], columns[1:]) if train.shape[1] > 1 else None
        mean = np.r_[train[0, 0], rest.mean if rest else []]
        std = np.r_[1.0, rest.std if rest else []]
        return Scaler(mean, std)
    return Scaler().fit(train, columns)

"""Many series, one model: the panel task (a long-format CSV -> windows from every series).

    rnnlab train panel.csv --out run --horizon 48          # unique_id, ds, y (+ exogenous)
    rnnlab forecast run --json                             # {"forecasts": {id: {...}}}

One global network reads windows drawn from all the series (frame.py: per-series level
scaling and a learned correction over each series' base forecast: naive, seasonal naive, or
seasonal naive a long season back, whichever erred least on the series' training part).
Each series' last `horizon` rows are its validation part: the validation loss is the
horizon-step forecast from there, and the trained model (model.py) picks per series between
the network, seasonal naive and their mean on it.
Every option left unset is chosen from the data (defaults.py), printed and saved.
"""
import math

import numpy as np

from ..base import TaskOption, positive_int, task_options
from .data import read_panel
from .frame import PanelFrame, choose_lag, lead, seasonal_scale
from . import defaults

# the long season of a season (hours: a week), when the base may look that far back
LONG_SEASONS = {24: 168}
LAG_NAMES = {1: "naive"}
CHOSEN = ("hidden", "layers", "batch", "lr", "steps", "eval_every", "patience", "val_sample")


class PanelTask:
    kind = "panel"
    model_task = "series"      # the network is a series model (MSE, a direct multi-output head)
    carries_state = False
    panel = True               # the CLI's backtest runs rolling origins over the whole panel
    CHOSEN = CHOSEN
    OPTIONS = (
        TaskOption("id", "panel: the series id column (default: unique_id, series_id, "
                   "item_id, id or series)"),
        TaskOption("time", "panel: the time column, dates or integer steps (default: ds, "
                   "date, time, timestamp, datetime, step or t)"),
        TaskOption("target", "the column to forecast (default: y, value or target, else "
                   "the first numeric column)"),
        TaskOption("horizon", "forecast steps trained for and validated (default: one "
                   "season, else 12)", int),
        TaskOption("season", "season length in rows, 1 = none (default: detected)", int),
        TaskOption("lookback", "window length in rows (default: chosen from the data)", int),
        TaskOption("embedding", "panel: give the network each series' identity (a learned "
                   "per-series embedding: one-hot ids times the input weights; default: "
                   "off)", bool, flag=True),
        TaskOption("fallback", "panel: per series, forecast with seasonal naive or the mean of "
                   "both where that beat the network on the validation part (default: on; "
                   "--no-fallback shows the raw network)", bool, flag=True),
        TaskOption("ensemble", "train N models (seeds seed..seed+N-1) and forecast with the "
                   "median of their outputs (default: 3)", int),
        TaskOption("until", "train on the first N rows of each series only (a backtest's "
                   "origin; default: all rows)", int),
    )
    STOP_RULE = ("panel: chosen from the panel with the other defaults: about 4 passes over "
                 "the training windows, 300 to 2,000 steps, validated every 50 steps with "
                 "early stopping after 8 validations without improvement (printed at the "
                 "start)")

    def __init__(self, path, id=None, time=None, target=None, horizon=None, season=None,
                 lookback=None, embedding=None, fallback=None, ensemble=None, until=None,
                 batch=128, seed=0):
        self.path = str(path)
        panel = read_panel(path, id, time, target)
        if until is not None:
            until = positive_int("until", until)
            panel.values = [v[:until] for v in panel.values]
            panel.exog = [e[:until] for e in panel.exog]
        self.panel = panel
        plan = defaults.plan(panel, dict(horizon=horizon, season=season, lookback=lookback,
                                         ensemble=ensemble))
        self.season, self.horizon, self.lookback = (plan[k][0] for k in
                                                    ("season", "horizon", "lookback"))
        self.embedding, self.fallback = bool(embedding), fallback is not False
        self.ensemble = plan["ensemble"][0]
        self.batch_size, self.seed = int(batch), int(seed)
        defaults.check_lengths(panel, self.lookback, self.horizon, self.path)
        H, m = self.horizon, self.season
        n_train = panel.lengths - H
        self.log = bool(all((v > 0).all() for v in panel.values))
        self.long_season = LONG_SEASONS.get(m)
        self.kinds = list(dict.fromkeys(P for P in (1, m, self.long_season) if P))
        self.lags = []
        for v, nt in zip(panel.values, n_train):
            ok = [P for P in self.kinds if nt >= self.lookback + 1 + lead(H, P) + P]
            self.lags.append(choose_lag(v[:nt], H, ok or [1], min(int(nt), 10 * max(ok or [1]))))
        self.scale = [seasonal_scale(v[:nt], m) for v, nt in zip(panel.values, n_train)]
        E = len(panel.columns["exog"])
        if E:
            train_ex = np.concatenate([e[:nt] for e, nt in zip(panel.exog, n_train)])
            ex_mean, ex_std = train_ex.mean(axis=0), train_ex.std(axis=0)
            ex_std[ex_std == 0] = 1.0
        else:
            ex_mean, ex_std = np.zeros(0), np.ones(0)
        self.exog_mean, self.exog_std = ex_mean, ex_std
        self.frame = PanelFrame(panel.values, panel.exog, n_train, m, self.lookback, H,
                                self.log, self.lags, self.scale, ex_mean, ex_std,
                                len(panel.ids), self.embedding, self.kinds)
        self.frame.fit_sigmas(self.seed)
        self.starts = self.frame.starts()
        self.input_size, self.output_size = self.frame.input_size, H
        W = len(self.starts)
        self.batches_per_epoch = max(1, math.ceil(W / self.batch_size))
        self.tokens_per_batch = min(self.batch_size, W) * self.lookback
        self.eval_tokens = self.lookback * len(panel.ids)
        self.n_train = n_train

    @classmethod
    def from_config(cls, tcfg, meta=None):
        opts = task_options(tcfg, cls)
        return cls(tcfg.data, batch=tcfg.batch, seed=tcfg.seed, **opts)

    @classmethod
    def choose_defaults(cls, tcfg, given):
        opts = task_options(tcfg, cls)
        panel = read_panel(tcfg.data, opts["id"], opts["time"], opts["target"])
        if opts["until"] is not None:
            panel.values = [v[:positive_int("until", opts["until"])] for v in panel.values]
        return defaults.plan(panel, {**opts, **given}, training=True)

    def default_steps(self):
        return defaults.steps(self.batches_per_epoch, len(self.starts))

    def describe(self):
        p, f = self.panel, self.frame
        how = ("log ratios to each window's level (every value > 0)" if self.log else
               "changes from each window's level in units of the series' mean absolute "
               "seasonal change (some values <= 0)")
        exog = f", exogenous {', '.join(p.columns['exog'])}" if p.columns["exog"] else ""
        return (f"data: {len(p.ids):,} series, {int(p.lengths.sum()):,} rows ({p.lengths.min()}"
                f" to {p.lengths.max()} a series){exog}; {len(self.starts):,} training windows "
                f"of {self.lookback} rows, the last {self.horizon} rows of each series "
                f"validate\nnormalisation: {how}; input scale {f.sigma_in:.4g}, output scale "
                f"{f.sigma_out:.4g}\nseasonality: season {self.season}"
                + (f", long season {self.long_season}" if self.long_season else "")
                + "; base forecast by the least error on each series' training part: "
                + ", ".join(f"{self.lags.count(P)} {LAG_NAMES.get(P, 'seasonal naive')} ({P})"
                            for P in self.kinds))

    # ----- training ----------------------------------------------------------------------
    def batch(self, k):
        """A minibatch of windows drawn from every series; a pure function of (seed, k)."""
        rng = np.random.default_rng([self.seed, int(k)])
        idx = rng.integers(0, len(self.starts), min(self.batch_size, len(self.starts)))
        return self.frame.windows(self.starts[idx])

    @property
    def validation_size(self):
        """Model steps of a validation: a lookback window for every series."""
        return self.lookback * len(self.panel.ids)

    def validation_outputs(self, model):
        """The network's last-step outputs (S, H) from each series' validation origin."""
        model.eval()
        out, _ = model.forward(np.ascontiguousarray(self.frame.contexts(self.n_train)))
        return np.asarray(out[-1], np.float64)

    def validation_targets(self):
        f, H = self.frame, self.horizon
        r = f.offsets + self.n_train - 1
        ahead = r[:, None] + 1 + np.arange(H)
        return (f.g[ahead] - f.g[r[:, None] + f.offs]) / f.sigma_out

    def validation_loss(self, model, limit=None):
        """MSE (scaled units) of the horizon-step forecast from every series' origin, or from
        limit // lookback evenly spaced series (the same ones at every call)."""
        err = (self.validation_outputs(model) - self.validation_targets()) ** 2
        if limit is not None and limit < self.validation_size:
            S = len(self.panel.ids)
            keep = np.unique(np.linspace(0, S - 1, max(1, limit // self.lookback)).astype(int))
            err = err[keep]
        return float(np.mean(err))

    def review(self, models):
        from .model import PanelModel
        return PanelModel(models[0], self.meta(), members=models[1:]).choice_lines()

    def meta(self):
        p, L, H = self.panel, self.lookback, self.horizon
        keep = L + H + max(self.frame.leads, default=0)
        return {"kind": "panel", "columns": p.columns, "ids": p.ids, "season": self.season,
                "horizon": H, "lookback": L, "log": self.log, "lags": self.lags,
                "kinds": self.kinds,
                "scale": self.scale,
                "mase_scale": [seasonal_scale(v, self.season) for v in p.values],
                "sigma_in": self.frame.sigma_in,
                "sigma_out": self.frame.sigma_out, "embedding": self.embedding,
                "fallback": self.fallback, "ensemble": self.ensemble,
                "exog_mean": self.exog_mean.tolist(),
                "exog_std": self.exog_std.tolist(), "freq": p.freq, "step": p.step,
                "last": [str(t) if p.freq else int(t) for t in p.last],
                "lengths": p.lengths.tolist(),
                "tail": [v[-keep:].tolist() for v in p.values],
                "exog_tail": [e[-keep:].tolist() for e in p.exog]}



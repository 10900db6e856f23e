"""The trained panel forecaster: every series' forecast, the per-series fallback, intervals
calibrated on the validation part, and the scores of a held-out panel.

    model = rnnlab.load("run")
    model.forecast(48)    # {"forecasts": {id: {"forecast", "lower", "upper", "dates"}}, ...}
    model.evaluate("holdout.csv")

Fallback: on each series' validation part (its last `horizon` rows, which the network never
trained on) the network, seasonal naive (naive without a season) and their mean are scored
by MAE; the series is forecast with the best of the three (with fallback off, always the
network). Intervals: split conformal. The network's validation errors (the chosen
forecast's would be optimistic: the choice was made on them), in units of each series'
scale, give per-step quantiles across the series (pooled over the steps, by sqrt(h), when
there are fewer than MIN_SERIES series).
"""
import numpy as np

from ...errors import RnnlabError
from ..base import TrainedModel
from .frame import PanelFrame
from .scores import score_panel, score_lines

LEVEL = 0.95              # M4's interval level (MSIS is defined at 95%)
MIN_SERIES = 20
CHOICES = ("network", "seasonal naive", "combination")


class PanelModel(TrainedModel):
    kind = "panel"
    EVALUATE_OPTIONS = ("season",)     # accepted only as the run's own season (evaluate)

    def __init__(self, model, data_meta, train_cfg=None, path=None, members=()):
        super().__init__(model, data_meta, train_cfg, path, members)
        m = data_meta
        self.ids, self.season, self.horizon = list(m["ids"]), int(m["season"]), int(m["horizon"])
        self.lookback = int(m["lookback"])
        self.tails = [np.asarray(t, np.float64) for t in m["tail"]]
        E = len(m["columns"]["exog"])
        self.exog_tails = [np.asarray(e, np.float64).reshape(len(t), E)
                           for e, t in zip(m["exog_tail"], self.tails)]
        self.fallback = bool(m.get("fallback", True))
        self._val = None

    # ----- the network's forecast -------------------------------------------------------------
    def _frame(self, values, exog):
        m = self.meta
        f = PanelFrame(values, exog, [len(v) for v in values], self.season, self.lookback,
                       self.horizon, m["log"], m["lags"], m["scale"],
                       np.asarray(m["exog_mean"]), np.asarray(m["exog_std"]), len(self.ids),
                       m["embedding"], m["kinds"])
        f.sigma_in, f.sigma_out = m["sigma_in"], m["sigma_out"]
        return f

    def network(self, values, exog, horizon):
        """The network's forecast (S, horizon) past the end of each series in `values`; past
        its trained horizon it feeds its own forecast back in (exogenous inputs held)."""
        values, exog, done, H = [np.asarray(v, np.float64) for v in values], list(exog), [], 0
        while H < horizon:
            f = self._frame(values, exog)
            ends = f.lengths
            ctx = np.ascontiguousarray(f.contexts(ends))
            outs = [np.asarray(m.forward(ctx)[0][-1], np.float64) for m in self.members]
            block = f.levels(np.median(outs, axis=0), ends)     # an ensemble: the median
            done.append(block)
            H += block.shape[1]
            values = [np.r_[v, b] for v, b in zip(values, block)]
            exog = [np.r_[e, np.repeat(e[-1:], block.shape[1], 0)] for e in exog]
        return np.concatenate(done, axis=1)[:, :horizon]

    def baseline(self, values, horizon):
        """Seasonal naive (naive without a season) for each series: (S, horizon)."""
        m, out = self.season, []
        for v in values:
            lag = m if m > 1 and len(v) >= m else 1
            out.append(v[-lag:][np.arange(horizon) % lag])
        return np.stack(out)

    # ----- the validation part: the choice and the interval ----------------------------------
    def validation(self, fallback=None):
        """{"choice": (S,) index into CHOICES, "errors": (S, H) scaled errors of the
        network, "mae": (S, 3)} on each series' validation part. fallback: None = the run's
        (--fallback / --no-fallback), False = the network everywhere."""
        fallback = self.fallback if fallback is None else bool(fallback)
        if self._val is not None and self._val["fallback"] == fallback:
            return self._val
        H = self.horizon
        past = [t[:-H] for t in self.tails]
        actual = np.stack([t[-H:] for t in self.tails])
        net = self.network(past, [e[:-H] for e in self.exog_tails], H)
        base = self.baseline(past, H)
        cands = np.stack([net, base, (net + base) / 2])                     # (3, S, H)
        mae = np.mean(np.abs(cands - actual[None]), axis=2).T                # (S, 3)
        choice = np.argmin(mae, axis=1) if fallback else np.zeros(len(self.ids), int)
        scale = np.asarray(self.meta["scale"])[:, None]
        self._val = {"choice": choice, "mae": mae, "errors": (actual - net) / scale,
                     "fallback": fallback}
        return self._val

    def _quantiles(self, horizon, level, fallback=None):
        """(lower, upper) scaled error quantiles per step (horizon,)."""
        e = self.validation(fallback)["errors"]
        S, H = e.shape
        a = (1 - level) / 2
        steps = np.arange(1, horizon + 1)
        if S >= MIN_SERIES:
            lo, hi = np.quantile(e, [a, 1 - a], axis=0)
            grow = np.sqrt(np.maximum(steps / H, 1.0))
            idx = np.minimum(steps - 1, H - 1)
            return lo[idx] * grow, hi[idx] * grow
        pooled = e / np.sqrt(np.arange(1, H + 1))
        lo, hi = np.quantile(pooled, [a, 1 - a])
        return lo * np.sqrt(steps), hi * np.sqrt(steps)

    def choices(self):
        """{id: 'network' | 'seasonal naive' | 'combination'} (the forecast each series uses)."""
        return {i: CHOICES[c] for i, c in zip(self.ids, self.validation()["choice"])}

    def choice_lines(self):
        v = self.validation()
        counts = np.bincount(v["choice"], minlength=3)
        mae = v["mae"]
        used = mae[np.arange(len(self.ids)), v["choice"]]
        lines = [f"validation part ({self.horizon} steps a series): forecast used: "
                 + ", ".join(f"{n} {c}" for c, n in zip(CHOICES, counts))
                 + ("" if self.fallback else " (--no-fallback: the network everywhere)"),
                 f"  mean MAE over the series: network {mae[:, 0].mean():.4g}, seasonal naive "
                 f"{mae[:, 1].mean():.4g}, used {used.mean():.4g}"]
        if len(self.ids) <= 20:
            lines += [f"  {i}: {CHOICES[c]} (MAE network {m[0]:.4g}, seasonal naive {m[1]:.4g}, "
                      f"combination {m[2]:.4g})" for i, c, m in zip(self.ids, v["choice"], mae)]
        worse = int(np.sum(used > mae[:, 1] * (1 + 1e-12)))
        if worse:
            lines.append(f"WARNING: {worse} series forecast worse than seasonal naive on their "
                         f"validation part (--no-fallback)")
        return lines

    # ----- the verbs ----------------------------------------------------------------------------
    def forecast(self, horizon=None, level=LEVEL, fallback=None):
        """Every series' forecast `horizon` steps past its end (default: the trained horizon):
        {"forecasts": {id: {"forecast", "lower", "upper", "dates", "used"}}, "level",
        "counts", "horizon"}. fallback=False: the raw network for every series."""
        horizon = self.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise RnnlabError(f"--horizon must be a positive integer, got {horizon!r}")
        h = int(horizon)
        net = self.network(self.tails, self.exog_tails, h)
        base = self.baseline(self.tails, h)
        cands = np.stack([net, base, (net + base) / 2])
        choice = self.validation(fallback)["choice"]
        fc = cands[choice, np.arange(len(self.ids))]
        lo, hi = self._quantiles(h, level, fallback)
        scale = np.asarray(self.meta["scale"])[:, None]
        lower, upper = fc + lo * scale, fc + hi * scale
        out = {}
        for k, i in enumerate(self.ids):
            out[i] = {"forecast": fc[k].tolist(), "lower": lower[k].tolist(),
                      "upper": upper[k].tolist(), "dates": self.dates(k, h),
                      "used": CHOICES[choice[k]]}
        counts = {c: int(n) for c, n in zip(CHOICES, np.bincount(choice, minlength=3))}
        return {"forecasts": out, "level": level, "horizon": h, "counts": counts,
                "target": self.meta["columns"]["target"]}

    def dates(self, k, h):
        last = self.meta["last"][k]
        if not self.meta.get("freq"):
            step = int(self.meta.get("step", 1))
            return [int(last) + step * (j + 1) for j in range(h)]
        from .data import pandas
        pd = pandas()
        return [t.isoformat() for t in
                pd.date_range(pd.Timestamp(last), periods=h + 1, freq=self.meta["freq"])[1:]]

    def forecast_csv(self, res):
        """The forecast as CSV lines: id, time, forecast, lower, upper, used."""
        c = self.meta["columns"]
        p = round(res["level"] * 100)
        lines = [f"{c['id']},{c['time']},forecast,lo-{p},hi-{p},used"]
        for i, r in res["forecasts"].items():
            for d, f, lo, hi in zip(r["dates"], r["forecast"], r["lower"], r["upper"]):
                lines.append(f"{i},{d},{f:.6g},{lo:.6g},{hi:.6g},{r['used']}")
        return lines

    def evaluate(self, path, season=None):
        """Score the forecast against a held-out panel (the rows after each series' end),
        beside seasonal naive: sMAPE, MASE (the season's lag), interval coverage and MSIS."""
        from .data import read_panel
        c = self.meta["columns"]
        hold = read_panel(path, c["id"], c["time"], c["target"])
        missing = [i for i in hold.ids if i not in self.ids]
        if missing:
            raise RnnlabError(f"{path}: series {missing[0]!r} is not in the trained panel; "
                              f"evaluate on the rows after the training panel's series")
        h = int(hold.lengths.max())
        res = self.forecast(h)
        k = {i: j for j, i in enumerate(self.ids)}
        rows = [k[i] for i in hold.ids]
        if season is not None and season != self.season:
            raise RnnlabError(f"--season: a panel model is scored at its own season "
                              f"({self.season}, as trained); drop --season")
        m = self.season
        base = self.baseline([self.tails[j] for j in rows], h)
        fc = [res["forecasts"][i] for i in hold.ids]
        scale = np.asarray(self.meta["mase_scale"])[rows]
        return score_panel(hold.values, [np.asarray(f["forecast"]) for f in fc], base,
                           scale, [np.asarray(f["lower"]) for f in fc],
                           [np.asarray(f["upper"]) for f in fc], res["level"], m)

    def report_lines(self, res):
        return score_lines(res)

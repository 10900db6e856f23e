"""The panel forecaster in the ecosystem's shape (statsforecast, neuralforecast): pandas
DataFrames in the long format, one row per (series, time).

    from rnnlab import Forecaster
    fc = Forecaster(horizon=48).fit(df)           # df: unique_id, ds, y (+ exogenous)
    fc.predict()                                   # unique_id, ds, rnnlab, rnnlab-lo-95, ...
    fc.cross_validation(df, h=48, n_windows=3)     # unique_id, ds, cutoff, y, rnnlab, ...

A thin layer over `rnnlab.train` and `rnnlab.load` with the panel task (rnnlab/tasks/panel):
`rnnlab train panel.csv` is the same training. pandas is imported here on first use only.
"""
import os
import tempfile

import numpy as np

from ..errors import RnnlabError
from ..tasks.panel.data import find_column, pandas, ID_NAMES, TIME_NAMES, TARGET_NAMES
from ..tasks.panel.scores import score_panel, score_lines
from .api import train
from .load import load

NAME = "rnnlab"


class Forecaster:
    """One global recurrent model over every series of a long-format panel.

    horizon, season, lookback, ensemble: as `rnnlab train --horizon/--season/--lookback/
    --ensemble` (None: chosen from the data; 3 models); embedding: a learned per-series
    embedding; fallback: per series, seasonal naive or the mean of both where that beat the
    network on the validation part; level: the interval's coverage; out: the run folder to
    keep (default: a temporary one); other keywords are training options (steps, hidden,
    lr, seed, ...)."""

    def __init__(self, horizon=None, *, season=None, lookback=None, embedding=False,
                 fallback=True, ensemble=None, level=0.95, out=None, progress=False, log=None,
                 **train_options):
        self.task_options = {k: v for k, v in dict(horizon=horizon, season=season,
                                                   lookback=lookback, embedding=embedding,
                                                   fallback=fallback,
                                                   ensemble=ensemble).items() if v is not None}
        self.level, self.out, self.progress = level, out, progress
        self.log = log or (lambda msg: None)
        self.train_options = train_options
        self.model, self._tmp, self.result = None, None, None

    def fit(self, df, id_col=None, time_col=None, target_col=None):
        """Train on every series of `df`; returns self."""
        pd = pandas()
        if not isinstance(df, pd.DataFrame):
            raise RnnlabError(f"fit needs a pandas DataFrame in the long format (unique_id, "
                              f"ds, y), got {type(df).__name__}")
        cols = list(df.columns)
        self.columns = (find_column(cols, id_col, ID_NAMES, "id", "id_col", "the data frame"),
                        find_column(cols, time_col, TIME_NAMES, "time", "time_col",
                                    "the data frame"))
        self._tmp = tempfile.TemporaryDirectory(prefix="rnnlab-panel-")
        data = os.path.join(self._tmp.name, "panel.csv")
        df.to_csv(data, index=False)
        opts = dict(self.task_options, id=self.columns[0], time=self.columns[1])
        if target_col is not None:
            opts["target"] = target_col
        run = self.out or os.path.join(self._tmp.name, "run")
        self.result = train(data, out=run, task="panel", task_options=opts,
                            progress=self.progress, log=self.log, handle_signals=False,
                            **self.train_options)
        self.model = load(run)
        return self

    def _fitted(self):
        if self.model is None:
            raise RnnlabError("the Forecaster is not fitted: call fit(df) first")
        return self.model

    def choices(self):
        """{id: 'network' | 'seasonal naive' | 'combination'}: each series' forecast."""
        return self._fitted().choices()

    def predict(self, h=None):
        """Every series' forecast h steps past its end (default: the trained horizon), as a
        DataFrame: id, time, rnnlab, rnnlab-lo-P, rnnlab-hi-P (P: the level in percent)."""
        pd = pandas()
        res = self._fitted().forecast(h, level=self.level)
        p = round(self.level * 100)
        rows = []
        for i, r in res["forecasts"].items():
            for d, f, lo, hi in zip(r["dates"], r["forecast"], r["lower"], r["upper"]):
                rows.append((i, d, f, lo, hi))
        out = pd.DataFrame(rows, columns=[*self.columns, NAME, f"{NAME}-lo-{p}",
                                          f"{NAME}-hi-{p}"])
        if self.model.meta.get("freq"):
            out[self.columns[1]] = pd.to_datetime(out[self.columns[1]])
        return out

    def cross_validation(self, df, h, n_windows=1, step_size=None, id_col=None,
                         time_col=None):
        """Rolling origins: for each of n_windows cutoffs (step_size apart, the last h steps
        before each series' end), fit on the rows up to the cutoff and forecast h steps.
        Returns id, time, cutoff, y, rnnlab, rnnlab-lo-P, rnnlab-hi-P."""
        pd = pandas()
        step = int(step_size or h)
        cols = list(df.columns)
        idc = find_column(cols, id_col, ID_NAMES, "id", "id_col", "the data frame")
        tc = find_column(cols, time_col, TIME_NAMES, "time", "time_col", "the data frame")
        if not pd.api.types.is_numeric_dtype(df[tc]):       # dates read from a CSV as text
            df = df.assign(**{tc: pd.to_datetime(df[tc])})
        df = df.sort_values([idc, tc], kind="stable").reset_index(drop=True)
        pos = df.groupby(idc).cumcount()
        n = df.groupby(idc)[tc].transform("size")
        frames = []
        for w in range(int(n_windows)):
            back = h + (int(n_windows) - 1 - w) * step       # rows after the cutoff
            train_part = df[pos < n - back]
            test_part = df[(pos >= n - back) & (pos < n - back + h)]
            cutoff = train_part.groupby(idc)[tc].last().rename("cutoff")
            fc = Forecaster(self.task_options.get("horizon") or h, level=self.level,
                            progress=self.progress, log=self.log,
                            **{k: v for k, v in self.task_options.items() if k != "horizon"},
                            **self.train_options).fit(train_part, idc, tc)
            pred = fc.predict(h)
            self.season = fc.model.season         # the season the folds chose (for scores)
            pred[idc] = pred[idc].astype(df[idc].dtype)
            part = test_part.merge(pred, on=[idc, tc], how="left").merge(
                cutoff, left_on=idc, right_index=True)
            frames.append(part)
        return pd.concat(frames, ignore_index=True)


def backtest_panel(path, horizon=None, folds=3, log=None, **options):
    """`rnnlab backtest` on a panel CSV: cross_validation over `folds` origins, scored per
    fold as `rnnlab evaluate` scores a held-out panel. Returns {"folds": [...], "lines"}."""
    pd = pandas()
    if horizon is None:
        raise RnnlabError("backtest on a panel needs --horizon (the steps of each fold)")
    df = pd.read_csv(path)
    fc = Forecaster(horizon, log=log, **options)
    cv = fc.cross_validation(df, horizon, folds)
    df = cv_times(df, cv)
    idc, tc = (find_column(list(df.columns), None, names, what, flag, path) for names, what,
               flag in ((ID_NAMES, "id", "--id"), (TIME_NAMES, "time", "--time")))
    yc = find_column([c for c in df.columns if c not in (idc, tc)], None, TARGET_NAMES,
                     "target", "--target", path)
    p = round(fc.level * 100)
    out, lines = [], []
    fold = cv.groupby(idc)["cutoff"].rank(method="dense").astype(int)   # series' ends differ
    for k, (_, part) in enumerate(cv.groupby(fold, sort=True)):
        cut = f"{part['cutoff'].min()} to {part['cutoff'].max()}" \
            if part["cutoff"].nunique() > 1 else str(part["cutoff"].iloc[0])
        acts, fcs, los, his, bases, scales = [], [], [], [], [], []
        for i, g in part.groupby(idc, sort=False):
            hist = df[(df[idc] == i) & (df[tc] <= g["cutoff"].iloc[0])][yc].to_numpy(float)
            m = fc.season
            acts.append(g[yc].to_numpy(float))
            fcs.append(g[NAME].to_numpy(float))
            los.append(g[f"{NAME}-lo-{p}"].to_numpy(float))
            his.append(g[f"{NAME}-hi-{p}"].to_numpy(float))
            lag = m if len(hist) > m else 1
            bases.append(hist[-lag:][np.arange(len(g)) % lag])
            d = np.mean(np.abs(hist[lag:] - hist[:-lag]))
            scales.append(d if d > 0 else 1.0)
        res = score_panel(acts, fcs, bases, np.asarray(scales), los, his, fc.level, m)
        out.append({"cutoff": cut, **res})
        lines += [f"fold {k + 1} (cutoff {cut}):", *("  " + s for s in score_lines(res))]
    return {"folds": out, "lines": lines}


def cv_times(df, cv):
    """df with its time column as cross_validation read it (dates parsed)."""
    pd = pandas()
    for c in df.columns:
        if c in cv.columns and c != "y" and pd.api.types.is_datetime64_any_dtype(cv[c]) \
                and not pd.api.types.is_datetime64_any_dtype(df[c]):
            df = df.assign(**{c: pd.to_datetime(df[c])})
    return df

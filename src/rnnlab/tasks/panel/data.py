"""Reading a panel: many series in the long format (`unique_id, ds, y`), as statsforecast,
neuralforecast and darts read them.

    unique_id,ds,y[,exogenous...]      one row per (series, time)

The id, time and target columns are found by name (ID_NAMES, TIME_NAMES, TARGET_NAMES; the
target falls back to the first numeric column left) or given (--id, --time, --target). Every
other numeric column is an exogenous input (static or time-varying; a forecast holds its last
value). The time column holds dates (one frequency for the whole panel, no gaps) or plain
integer steps (one step size). Bad panels raise RnnlabError with one line naming the fix.
pandas is imported here only, on first use (the forecast extra: errors.install_line).
"""
import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import RnnlabError, install_line

ID_NAMES = ("unique_id", "series_id", "item_id", "id", "series")
TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime", "step", "t")
TARGET_NAMES = ("y", "value", "target")
# the season a date frequency implies (pandas' frequency codes, without their anchors)
SEASONS = {"h": 24, "H": 24, "D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4,
           "QS": 4, "QE": 4, "min": 60, "T": 60, "30min": 48, "15min": 96}


def pandas():
    try:
        import pandas as pd
    except ImportError:
        raise RnnlabError(f"panels need pandas: {install_line('forecast')}") from None
    return pd


@dataclass
class Panel:
    ids: list            # series ids (str), in order of first appearance
    values: list         # per series: (n_i,) float64 targets, in time order
    exog: list           # per series: (n_i, E) float64 exogenous columns (E may be 0)
    last: list           # per series: the last time (a pandas Timestamp, or an int step)
    freq: str | None     # pandas frequency of date times; None for integer steps
    step: int            # integer steps: the step size (1 for dates)
    columns: dict        # {"id", "time", "target", "exog": [...]}

    @property
    def lengths(self):
        return np.array([len(v) for v in self.values])

    def future_times(self, k, h):
        """The next h times of series k: ISO strings for dates, ints for steps."""
        if self.freq is None:
            return [int(self.last[k]) + self.step * (j + 1) for j in range(h)]
        pd = pandas()
        t = pd.date_range(self.last[k], periods=h + 1, freq=self.freq)[1:]
        return [x.isoformat() for x in t]


def find_column(columns, given, names, what, flag, where):
    if given is not None:
        if given not in columns:
            raise RnnlabError(f"{where} has no column {given!r} ({flag}); its columns are "
                              f"{', '.join(map(str, columns))}")
        return given
    lower = {str(c).lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    raise RnnlabError(f"{where} has no {what} column (looked for {', '.join(names)}); name it "
                      f"with {flag} COLUMN")


def has_id_column(path):
    """True when a CSV's header names an id column (the file is read as a panel)."""
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline()
    except (OSError, UnicodeDecodeError):
        return False
    names = {c.strip().strip('"').lower() for c in header.split(",")}
    return any(n in names for n in ID_NAMES[:3])


def read_panel(source, id=None, time=None, target=None, where=None):
    """A Panel from a CSV path or a pandas DataFrame in the long format."""
    pd = pandas()
    where = where or (str(source) if not isinstance(source, pd.DataFrame) else "the data frame")
    if isinstance(source, pd.DataFrame):
        df = source.reset_index(drop=True)
    else:
        try:
            df = pd.read_csv(source)
        except (OSError, ValueError) as e:
            raise RnnlabError(f"cannot read {where} as a CSV panel ({e}); give a CSV with "
                              f"columns unique_id, ds, y") from None
    cols = list(df.columns)
    id_col = find_column(cols, id, ID_NAMES, "id", "--id", where)
    time_col = find_column(cols, time, TIME_NAMES, "time", "--time", where)
    rest = [c for c in cols if c not in (id_col, time_col)]
    try:
        target_col = find_column(rest, target, TARGET_NAMES, "target", "--target", where)
    except RnnlabError:
        numeric = [c for c in rest if pd.api.types.is_numeric_dtype(df[c])]
        if target is not None or not numeric:
            raise
        target_col = numeric[0]
    if not pd.api.types.is_numeric_dtype(df[target_col]):
        raise RnnlabError(f"{where}: the target column {target_col!r} is not numeric; name the "
                          f"column to forecast with --target")
    exog = [c for c in rest if c != target_col and pd.api.types.is_numeric_dtype(df[c])]
    if df[[target_col, *exog]].isna().any().any():
        bad = df[df[[target_col, *exog]].isna().any(axis=1)].iloc[0]
        raise RnnlabError(f"{where}: a missing value in series {bad[id_col]!r} at "
                          f"{bad[time_col]}; fill or drop the missing rows first")
    dup = df.duplicated([id_col, time_col])
    if dup.any():
        row = df[dup].iloc[0]
        raise RnnlabError(f"{where} has duplicate rows for series {row[id_col]!r} at "
                          f"{row[time_col]}; keep one row per (id, time)")
    if pd.api.types.is_integer_dtype(df[time_col]):
        times, freq = df[time_col].astype("int64"), None
    else:
        try:
            times, freq = pd.to_datetime(df[time_col]), "?"
        except (ValueError, TypeError):
            raise RnnlabError(f"{where}: the time column {time_col!r} holds neither dates nor "
                              f"integer steps; name the time column with --time") from None
    order = list(dict.fromkeys(df[id_col].astype(str)))        # as the series first appear
    df = df.assign(**{time_col: times}).sort_values([id_col, time_col], kind="stable")
    groups = {str(k): g for k, g in df.groupby(df[id_col].astype(str), sort=False)}
    panel = Panel([], [], [], [], None, 1, {"id": str(id_col), "time": str(time_col),
                                            "target": str(target_col),
                                            "exog": [str(c) for c in exog]})
    found = set()
    for key in order:
        g = groups[key]
        t = g[time_col]
        if freq is None:
            found.add(_step(t, key, where))
        elif len(t) >= 3:
            with warnings.catch_warnings():       # pandas 3 announces offsets, not strings
                warnings.simplefilter("ignore")
                f = pd.infer_freq(pd.DatetimeIndex(t))
            if f is None:
                raise RnnlabError(f"{where}: series {key!r} has irregular times (gaps or "
                                  f"uneven steps); fill the gaps so each series is regular")
            found.add(f)
        panel.ids.append(key)
        panel.values.append(g[target_col].to_numpy(np.float64))
        panel.exog.append(g[exog].to_numpy(np.float64).reshape(len(g), len(exog)))
        panel.last.append(t.iloc[-1] if freq is None else pd.Timestamp(t.iloc[-1]))
    if len(found) > 1:
        raise RnnlabError(f"{where} mixes frequencies ({', '.join(sorted(map(str, found)))}); "
                          f"give one panel per frequency")
    if freq is None:
        panel.step = found.pop() if found else 1
        panel.last = [int(x) for x in panel.last]
    else:
        panel.freq = found.pop() if found else None
        if panel.freq is None:
            raise RnnlabError(f"{where}: too few rows to tell the frequency; give each series "
                              f"at least 3 rows")
    return panel


def _step(t, key, where):
    d = np.diff(t.to_numpy())
    if len(d) and (d != d[0]).any():
        raise RnnlabError(f"{where}: series {key!r} has gaps or uneven steps in its time "
                          f"column; fill the gaps so each series is regular")
    return int(d[0]) if len(d) else 1


def season_of(panel, detect):
    """(season, why): from the date frequency, else detected on the series (detect(values)
    -> season or None; the most common answer over up to 50 series)."""
    if panel.freq is not None:
        code = panel.freq.split("-")[0].lstrip("0123456789") or panel.freq
        m = SEASONS.get(panel.freq) or SEASONS.get(code)
        if m:
            return m, f"the {panel.freq} frequency"
    found = [detect(v) for v in panel.values[:50]]
    found = [m for m in found if m]
    if not found:
        return 1, "no season detected in the series"
    vals, counts = np.unique(found, return_counts=True)
    m = int(vals[np.argmax(counts)])
    return m, f"detected in {counts.max()} of {min(50, len(panel.values))} series"

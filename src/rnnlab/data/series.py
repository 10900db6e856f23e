"""Time series: CSV loading, scaling, differencing, windows, baselines and metrics.

A forecaster's pipeline::

    data = load_csv("sales.csv", target="sales", fill="interpolate")   # values (N, F)
    train, val = chrono_split(data.values, 0.2)                         # chronological
    scaler = Scaler().fit(train, data.columns)                          # fit on TRAIN only
    X, Y = make_windows(scaler.transform(train), lookback=24)          # (T, W, F), (T, W, 1)

Column 0 of `values` is always the target. The baselines (naive, seasonal naive) and MASE are
what a trained model must beat to be worth anything; they live in forecast_metrics.py and are
re-exported here.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from rnnlab.data.forecast_metrics import (  # noqa: F401  (re-exported: series' API)
    detect_season, mae, mase, naive_forecast, rmse, seasonal_naive_forecast,
)
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes

_MISSING = {"", "nan", "na", "n/a", "null", "none"}
_TIME_NAMES = {"date", "time", "timestamp", "datetime", "year"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m", "%Y%m%d", "%d.%m.%Y")
_FILLS = (None, "ffill", "interpolate")


@dataclass
class SeriesData:
    """A loaded series. `values: (N, F)` float64, column 0 is the target; `columns[j]` names
    `values[:, j]`; `time` holds the date/time column's strings (or None)."""

    values: np.ndarray
    columns: list
    target: str
    time: list | None = None


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in _MISSING


def _parses_float(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _parses_date(cell: str) -> bool:
    cell = cell.strip()
    try:
        datetime.fromisoformat(cell)
        return True
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            datetime.strptime(cell, fmt)
            return True
        except ValueError:
            pass
    return False


def _read_rows(path: str):
    if os.path.isdir(path) or not os.path.exists(path):
        raise RnnlabError(f"CSV file {path} not found (or is a directory); check the path")
    rows, lines = [], []  # lines[i]: the file line of rows[i], for error messages
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for r in reader:
                if any(c.strip() for c in r):
                    rows.append(r)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise RnnlabError(f"{path} is not UTF-8 text (byte offset {e.start}); save it as UTF-8") from None
    if len(rows) < 2:
        raise RnnlabError(f"{path} has no data rows; expected a header line and rows of numbers")
    header = [h.strip() for h in rows[0]]
    for r, line in zip(rows[1:], lines[1:]):
        if len(r) != len(header):
            raise RnnlabError(
                f"{path} line {line} has {len(r)} cells, expected {len(header)} like the header; "
                "fix the row"
            )
    return header, rows[1:], lines[1:]


def _column_kinds(header, rows):
    """Which columns are numeric (most present cells parse as numbers) and which is time."""
    numeric, time_col = [], None
    for j, name in enumerate(header):
        present = [r[j] for r in rows if not _is_missing(r[j])]
        n_num = sum(_parses_float(c) for c in present)
        if name.lower() in _TIME_NAMES and time_col is None:
            time_col = j
        elif present and n_num * 2 > len(present):
            numeric.append(j)
        elif j == 0 and present and all(_parses_date(c) for c in present[:20]):
            time_col = j
    return numeric, time_col


def _column_values(path, header, rows, lines, j) -> np.ndarray:
    out = np.empty(len(rows))
    for i, r in enumerate(rows):
        cell = r[j].strip()
        if _is_missing(cell):
            out[i] = np.nan
        elif _parses_float(cell):
            out[i] = float(cell)
        else:
            raise RnnlabError(
                f"{path} line {lines[i]} column {header[j]!r} is {cell!r}, expected a number; "
                "fix or remove that cell"
            )
    return out


def _fill(col: np.ndarray, how: str, name: str, path: str) -> np.ndarray:
    ok = ~np.isnan(col)
    if not ok.any():
        raise RnnlabError(f"{path} column {name!r} has no values at all; choose another column")
    idx = np.arange(len(col))
    if how == "interpolate":
        # np.interp holds the end values flat beyond the first/last known point.
        return np.interp(idx, idx[ok], col[ok])
    # ffill: index of the last known value at or before each row; leading gaps are back-filled.
    last = np.maximum.accumulate(np.where(ok, idx, -1))
    last[last < 0] = np.flatnonzero(ok)[0]
    return col[last]


def load_csv(path, target: str | None = None, features=None, fill: str | None = None) -> SeriesData:
    """Load a time series CSV (header line required) into `SeriesData`.

    target: column to forecast (default: the first numeric column that is not the time column).
    features: input columns, a list or "a,b" (default: every numeric column); the target is
    always column 0 of `values` and is an input too.
    fill: None (missing cells are an error), 'ffill' (forward fill; a missing first value is
    back-filled) or 'interpolate' (linear, ends held flat). Missing = empty or NaN/NA cells.
    """
    path = os.fspath(path)
    if fill not in _FILLS:
        raise RnnlabError(f"fill is {fill!r}, expected one of ffill, interpolate (or none)")
    header, rows, lines = _read_rows(path)
    numeric, time_col = _column_kinds(header, rows)

    def col_index(name):
        if name not in header:
            raise RnnlabError(
                f"{path} has no column {name!r}; available columns: {', '.join(header)}"
            )
        return header.index(name)

    if target is not None:
        t = col_index(target)
    elif numeric:
        t = numeric[0]
    else:
        raise RnnlabError(
            f"{path} has no numeric column (columns: {', '.join(header)}); a series needs numbers"
        )
    if isinstance(features, str):  # the CLI passes "a,b,c"
        features = [f.strip() for f in features.split(",") if f.strip()]
    feats = [col_index(f) for f in features] if features is not None else numeric
    order = [t] + [j for j in feats if j != t]
    cols = []
    for j in order:
        col = _column_values(path, header, rows, lines, j)
        missing = np.flatnonzero(np.isnan(col))
        if missing.size and fill is None:
            raise RnnlabError(
                f"{path} line {lines[missing[0]]} column {header[j]!r} is missing "
                f"({missing.size} missing cells in that column); pass --fill ffill|interpolate"
            )
        cols.append(_fill(col, fill, header[j], path) if missing.size else col)
    values = np.stack(cols, axis=1)
    if np.std(values[:, 0]) == 0:
        raise RnnlabError(
            f"{path} target column {header[t]!r} is constant; there is nothing to forecast"
        )
    time = [r[time_col].strip() for r in rows] if time_col is not None else None
    return SeriesData(values, [header[j] for j in order], header[t], time)


def insert_rows(values, rows, n, fill, path, columns) -> np.ndarray:
    """values (N, F) placed at `rows` of an n-row table, the rows between them filled as
    missing cells are (`fill`: 'ffill' or 'interpolate'): (n, F). For a date column with
    whole steps missing (data.dates.regular_grid)."""
    out = np.full((n, values.shape[1]), np.nan)
    out[np.asarray(rows)] = values
    return np.stack([_fill(out[:, j], fill, columns[j], path) for j in range(out.shape[1])],
                    axis=1)


def read_target_column(path, target: str, fill: str | None = None) -> np.ndarray:
    """One column of a CSV (a model's target in a holdout file), missing cells filled as in
    training. Unlike load_csv a constant column is fine: a short continuation may be flat."""
    path = os.fspath(path)
    header, rows, lines = _read_rows(path)
    if target not in header:
        raise RnnlabError(f"{path} has no column {target!r} (the model's target); "
                          f"available columns: {', '.join(header)}")
    col = _column_values(path, header, rows, lines, header.index(target))
    missing = np.flatnonzero(np.isnan(col))
    if missing.size:
        if fill is None:
            raise RnnlabError(f"{path} line {lines[missing[0]]} column {target!r} is missing; "
                              f"fill it (the model was trained without --fill)")
        col = _fill(col, fill, target, path)
    return col


def write_csv(path, columns: dict, time=None) -> None:
    """Write `columns` (name -> 1-D array, equal lengths) as a CSV; `time` becomes a 'date'
    column first. Floats are written with repr so they read back exactly."""
    names = list(columns)
    arrays = [np.asarray(columns[n]).reshape(-1) for n in names]
    n = len(arrays[0]) if arrays else 0
    if any(len(a) != n for a in arrays) or (time is not None and len(time) != n):
        raise RnnlabError("write_csv columns (and time) must all have the same length")
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow((["date"] if time is not None else []) + names)
    for i in range(n):
        cells = ["" if math.isnan(a[i]) else repr(float(a[i])) for a in arrays]
        w.writerow(([time[i]] if time is not None else []) + cells)
    atomic_write_bytes(os.fspath(path), buf.getvalue().encode("utf-8"))


class Scaler:
    """Per-column standardisation (x - mean) / std. Fit it on the TRAINING part only, so no
    information from the validation period leaks into the model."""

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else np.asarray(mean, np.float64)
        self.std = None if std is None else np.asarray(std, np.float64)

    def fit(self, values, columns=None) -> "Scaler":
        """values: (N, F) (or (N,)); `columns` names them for error messages."""
        values = np.asarray(values, np.float64)
        mean, std = values.mean(axis=0), values.std(axis=0)
        zero = np.flatnonzero(np.atleast_1d(std) == 0)
        if zero.size:
            j = int(zero[0])
            name = repr(columns[j]) if columns is not None else f"{j}"
            raise RnnlabError(
                f"column {name} is constant in the training data (std 0); drop it from --features"
            )
        self.mean, self.std = mean, std
        return self

    def _check(self, values):
        if self.mean is None:
            raise RnnlabError("the Scaler is not fitted; call fit(train_values) first")
        values = np.asarray(values, np.float64)
        if values.shape[-1:] != np.shape(self.mean)[-1:]:
            raise RnnlabError(
                f"values have {values.shape[-1]} columns but the scaler was fitted on "
                f"{np.size(self.mean)}; use the same columns"
            )
        return values

    def transform(self, values) -> np.ndarray:
        return (self._check(values) - self.mean) / self.std

    def inverse_transform(self, values) -> np.ndarray:
        return self._check(values) * self.std + self.mean

    def to_json(self) -> dict:
        return {"mean": np.atleast_1d(self.mean).tolist(), "std": np.atleast_1d(self.std).tolist()}

    @classmethod
    def from_json(cls, d) -> "Scaler":
        if not isinstance(d, dict) or "mean" not in d or "std" not in d:
            raise RnnlabError("scaler JSON needs 'mean' and 'std'; the run folder is damaged")
        return cls(d["mean"], d["std"])


def difference(values):
    """First differences along time: values (N, ...) -> (diffs (N-1, ...), first_row)."""
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        raise RnnlabError("difference needs at least 2 rows")
    return np.diff(values, axis=0), values[0].copy()


def undifference(diffs, first_row) -> np.ndarray:
    """Inverse of `difference`: (N-1, ...) diffs + first row -> (N, ...) levels."""
    first = np.asarray(first_row, np.float64)
    levels = first + np.cumsum(np.asarray(diffs, np.float64), axis=0)
    return np.concatenate([first[None], levels], axis=0)


def chrono_split(values, val_fraction: float):
    """(train, val) with validation the LAST `val_fraction` of the rows (never shuffled)."""
    if not 0.0 <= float(val_fraction) <= 0.5:
        raise RnnlabError(f"val_fraction is {val_fraction}, expected a number in [0, 0.5]; try 0.2")
    values = np.asarray(values)
    n_val = int(len(values) * float(val_fraction))
    return values[:len(values) - n_val], values[len(values) - n_val:]


def make_windows(values, lookback: int, target_col: int = 0):
    """All windows of `lookback` steps: values (N, F) -> X (T, W, F), Y (T, W, 1), T = lookback,
    W = N - T. Window w is rows w..w+T-1 and Y[t, w] is the target one step after X[t, w]."""
    values = np.asarray(values, np.float64)
    if values.ndim == 1:
        values = values[:, None]
    T = int(lookback)
    if T < 1:
        raise RnnlabError(f"lookback is {lookback}, expected a positive integer")
    if len(values) < T + 1:
        raise RnnlabError(
            f"{len(values)} rows are too few for lookback {T}: need at least {T + 1}; "
            "use a smaller --lookback or more data"
        )
    win = np.lib.stride_tricks.sliding_window_view(values[:-1], T, axis=0)  # (W, F, T)
    X = np.ascontiguousarray(win.transpose(2, 0, 1))
    tgt = np.lib.stride_tricks.sliding_window_view(values[1:, target_col], T)  # (W, T)
    Y = np.ascontiguousarray(tgt.T[:, :, None])
    return X, Y


def generate_series(kind: str, n: int, seed=0) -> np.ndarray:
    """Synthetic series (n,) float64 of known structure.

    'seasonal': 10 + 0.05 t + 3 sin(2 pi t / 12) + N(0, 0.5) noise (additive);
    'multiplicative': a level growing 1% a step times a period-12 season of +-30%, times
        lognormal noise of 3%, so the swing grows with the level (like airline passengers);
    'pure_seasonal': one fixed 12-step pattern repeated, no trend, no noise (seasonal naive
        forecasts it exactly);
    'ar': the AR(2) process x_t = 0.6 x_{t-1} - 0.3 x_{t-2} + e_t (after a 100-step burn-in)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "seasonal":
        return 10 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, n)
    if kind == "multiplicative":
        season = 1 + 0.3 * np.sin(2 * np.pi * t / 12) + 0.1 * np.cos(4 * np.pi * t / 12)
        return 100 * 1.01 ** t * season * np.exp(rng.normal(0, 0.03, n))
    if kind == "pure_seasonal":
        pattern = np.array([3.0, 5, 9, 4, 6, 8, 12, 7, 2, 4, 6, 5])
        return pattern[t % 12]
    if kind == "ar":
        e = rng.normal(0, 1, n + 100)
        x = np.zeros(n + 100)
        for i in range(2, n + 100):
            x[i] = 0.6 * x[i - 1] - 0.3 * x[i - 2] + e[i]
        return x[100:]
    raise RnnlabError(f"series kind {kind!r} is not known; use 'seasonal', 'multiplicative', "
                      f"'pure_seasonal' or 'ar'")

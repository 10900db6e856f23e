"""Dates of a series: parse a CSV's date/time column, infer its frequency, step it forward.

    times = parse_times(["2020-01-31", "2020-02-29", "2020-03-31"])
    freq = infer_frequency(times)          # {"unit": "month", "step": 1, "end": True, ...}
    step_dates(times[-1], freq, 2)         # ['2020-04-30', '2020-05-31']

A frequency is a small JSON-ready dict, saved with a trained series model:

    unit   'second' (step = seconds: hourly is 3600, daily 86400, weekly 604800),
           'month' (step = months: 1 monthly, 3 quarterly, 12 yearly) or
           'bday' (business days, Monday to Friday, step 1)
    end    months only: every date is its month's last day (month-end data stays month-end)
    name   'monthly', 'every 15 minutes', ... for messages and plots
    season the season length the calendar suggests (12 for monthly, 7 for daily, ...) or None

Only a regular column has a frequency: every step the same (a month is a month, whatever its
length). A gap or a repeated date means no frequency, and `frequency_problem` says where.
"""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m", "%Y%m%d", "%d.%m.%Y",
            "%Y")
_SECONDS = {604800: ("weekly", 52), 86400: ("daily", 7), 3600: ("hourly", 24),
            1800: ("half-hourly", 48), 900: ("every 15 minutes", 96), 60: ("every minute", 60),
            1: ("every second", 60)}
_MONTHS = {1: ("monthly", 12), 3: ("quarterly", 4), 6: ("half-yearly", 2), 12: ("yearly", None)}


def _parse_one(cell: str, fmt):
    if fmt == "iso":
        return datetime.fromisoformat(cell)
    if fmt == "year-float":           # a year written as a number: 1871 or 1871.0
        year = float(cell)
        if year != int(year) or not 1 <= year <= 9999:
            raise ValueError(cell)
        return datetime(int(year), 1, 1)
    return datetime.strptime(cell, fmt)


def _parses(cell: str, fmt) -> bool:
    try:
        _parse_one(cell, fmt)
        return True
    except ValueError:
        return False


def parse_times(cells) -> list | None:
    """The column's cells as datetimes (naive; a time zone is dropped), in the first format
    that reads every cell (so 01/02 and 13/02 together are day/month), or None."""
    cells = [c.strip() for c in cells]
    if not cells:
        return None
    for fmt in ("iso",) + _FORMATS + ("year-float",):
        if _parses(cells[0], fmt) and all(_parses(c, fmt) for c in cells):
            return [_parse_one(c, fmt).replace(tzinfo=None) for c in cells]
    return None


def _is_month_end(t: datetime) -> bool:
    return t.day == calendar.monthrange(t.year, t.month)[1]


def _add_months(t: datetime, k: int, end: bool) -> datetime:
    y, m = divmod(t.month - 1 + k, 12)
    year, month = t.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    return t.replace(year=year, month=month, day=last if end else min(t.day, last))


def _month_index(t: datetime) -> int:
    return t.year * 12 + t.month - 1


def _month_frequency(times):
    """{'unit': 'month', ...} when every step is the same number of months on the same day of
    the month (or every date is a month end); else None."""
    steps = {_month_index(b) - _month_index(a) for a, b in zip(times, times[1:])}
    if len(steps) != 1 or next(iter(steps)) < 1:
        return None
    end = all(_is_month_end(t) for t in times)
    if not end and len({(t.day, t.time()) for t in times}) != 1:
        return None
    k = next(iter(steps))
    name, season = _MONTHS.get(k, (f"every {k} months", None))
    return {"unit": "month", "step": k, "end": end, "name": name, "season": season}


def _second_frequency(times):
    deltas = {(b - a).total_seconds() for a, b in zip(times, times[1:])}
    if len(deltas) != 1 or next(iter(deltas)) <= 0:
        return None
    s = int(next(iter(deltas)))
    name, season = _SECONDS.get(s, (f"every {timedelta(seconds=s)}", None))
    return {"unit": "second", "step": s, "end": False, "name": name, "season": season}


def _bday_frequency(times):
    """Monday-to-Friday data: steps of one day, three days over each weekend."""
    if any(t.weekday() > 4 for t in times):
        return None
    for a, b in zip(times, times[1:]):
        if (b - a) != timedelta(days=3 if a.weekday() == 4 else 1):
            return None
    return {"unit": "bday", "step": 1, "end": False, "name": "business daily", "season": 5}


def infer_frequency(times) -> dict | None:
    """The frequency of a list of datetimes (at least 3), or None when the steps differ."""
    if times is None or len(times) < 3:
        return None
    return _month_frequency(times) or _second_frequency(times) or _bday_frequency(times)


def frequency_problem(times) -> str:
    """Why `times` has no frequency, in a few words (for a one-line warning)."""
    if times is None:
        return "the date column does not parse"
    if len(times) < 3:
        return "fewer than 3 dates"
    for i, (a, b) in enumerate(zip(times, times[1:])):
        if b <= a:
            return f"row {i + 2} ({b.isoformat()}) does not come after the row before it"
    if all(t.day == times[0].day and t.time() == times[0].time() for t in times) or \
            all(_is_month_end(t) for t in times):          # calendar months: count months
        steps = [_month_index(b) - _month_index(a) for a, b in zip(times, times[1:])]
        common = max(set(steps), key=steps.count)
        odd = [i for i, k in enumerate(steps) if k != common]
        return (f"{len(odd)} of {len(steps)} steps are not the usual {common} month"
                f"{'s' if common != 1 else ''} (the first: {iso(times[odd[0]])} to "
                f"{iso(times[odd[0] + 1])})")
    deltas = [(b - a) for a, b in zip(times, times[1:])]
    common = max(set(deltas), key=deltas.count)
    odd = sum(d != common for d in deltas)
    return f"{odd} of {len(deltas)} steps differ from the usual {_span(common)}"


def regular_grid(times):
    """(dates, rows) when `times` are a regular series with whole steps missing (a monthly
    column without three of its months): every date of the regular column from the first
    to the last, and where each given row sits in it. None when the dates are already
    regular, or when no regular column holds them all (a repeated date, a step that is no
    whole number of the usual one)."""
    if times is None or len(times) < 3 or infer_frequency(times) is not None or \
            any(b <= a for a, b in zip(times, times[1:])):
        return None
    months = [_month_index(b) - _month_index(a) for a, b in zip(times, times[1:])]
    if all(t.day == times[0].day and t.time() == times[0].time() for t in times) or \
            all(_is_month_end(t) for t in times):
        unit = min(months)
        if unit >= 1 and all(m % unit == 0 for m in months):
            end = all(_is_month_end(t) for t in times)
            dates = [_add_months(times[0], k * unit, end)
                     for k in range((_month_index(times[-1]) - _month_index(times[0])) // unit + 1)]
            return dates, [(_month_index(t) - _month_index(times[0])) // unit for t in times]
    seconds = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    unit = min(seconds)
    if unit > 0 and all(s % unit == 0 for s in seconds):
        n = int((times[-1] - times[0]).total_seconds() // unit) + 1
        if n <= 10 * len(times):             # mostly rows, not mostly holes
            step = timedelta(seconds=unit)
            return ([times[0] + k * step for k in range(n)],
                    [int((t - times[0]).total_seconds() // unit) for t in times])
    return None


def step_dates(last: datetime, freq: dict, k: int, backward: bool = False) -> list:
    """The k dates after `last` (or, backward, the k dates up to and including `last`,
    oldest first), as datetimes."""
    offsets = range(0, -k, -1) if backward else range(1, k + 1)
    out = []
    for i in offsets:
        if freq["unit"] == "month":
            out.append(_add_months(last, i * freq["step"], freq["end"]))
        elif freq["unit"] == "second":
            out.append(last + timedelta(seconds=i * freq["step"]))
        else:
            out.append(_add_bdays(last, i))
    return out[::-1] if backward else out


def _add_bdays(t: datetime, k: int) -> datetime:
    step = 1 if k >= 0 else -1
    while k:
        t += timedelta(days=step)
        if t.weekday() < 5:
            k -= step
    return t


def iso(t: datetime, freq: dict | None = None) -> str:
    """ISO 8601: the date alone for daily and longer steps (or a midnight time), else date and
    time."""
    sub_daily = freq is not None and freq["unit"] == "second" and freq["step"] < 86400
    if not sub_daily and t.hour == t.minute == t.second == t.microsecond == 0:
        return t.date().isoformat()
    return t.isoformat()


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, n in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if s and s % n == 0:
            return f"{s // n} {unit}{'s' if s // n != 1 else ''}"
    return f"{s} seconds"

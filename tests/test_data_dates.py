"""Dates of a series: parsing, frequency inference, stepping forward and back, ISO output."""
from datetime import datetime

import pytest

from rnnlab.data.dates import (frequency_problem, infer_frequency, iso, parse_times,
                               step_dates)


def freq_of(cells):
    return infer_frequency(parse_times(cells))


@pytest.mark.parametrize("cells, name, season", [
    (["2020-01-01", "2020-02-01", "2020-03-01"], "monthly", 12),
    (["2020-01", "2020-02", "2020-03"], "monthly", 12),
    (["1959-01-01", "1959-04-01", "1959-07-01"], "quarterly", 4),
    (["1871", "1872", "1873"], "yearly", None),
    (["1871.0", "1872.0", "1873.0"], "yearly", None),
    (["2001-01-01", "2001-01-08", "2001-01-15"], "weekly", 52),
    (["02/01/2020", "03/01/2020", "04/01/2020"], "daily", 7),
    (["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:00"], "hourly", 24),
    (["2020-01-01T00:00:00", "2020-01-01T00:15:00", "2020-01-01T00:30:00"],
     "every 15 minutes", 96),
    (["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"], "business daily", 5),
])
def test_infer_frequency(cells, name, season):
    f = freq_of(cells)
    assert f["name"] == name and f["season"] == season


def test_month_ends_stay_month_ends():
    t = parse_times(["2020-01-31", "2020-02-29", "2020-03-31"])
    f = infer_frequency(t)
    assert f["end"] is True
    assert [iso(d) for d in step_dates(t[-1], f, 3)] == ["2020-04-30", "2020-05-31",
                                                         "2020-06-30"]
    # the 31st of each month without month-end rows: the day is kept where it exists
    t = parse_times(["2020-01-15", "2020-02-15", "2020-03-15"])
    assert [iso(d) for d in step_dates(t[-1], infer_frequency(t), 2)] == ["2020-04-15",
                                                                         "2020-05-15"]


def test_day_first_or_month_first_is_decided_by_all_cells():
    t = parse_times(["01/02/2020", "13/02/2020"])
    assert t[0] == datetime(2020, 2, 1)            # 13/02 only reads day first
    t = parse_times(["02/01/2020", "02/13/2020"])
    assert t[0] == datetime(2020, 2, 1)            # 02/13 only reads month first


def test_steps_forward_and_back():
    t = parse_times(["2020-01-03", "2020-01-06"])  # Friday, Monday
    f = {"unit": "bday", "step": 1, "end": False}
    assert [iso(d) for d in step_dates(t[-1], f, 5)] == [
        "2020-01-07", "2020-01-08", "2020-01-09", "2020-01-10", "2020-01-13"]
    assert [iso(d) for d in step_dates(t[-1], f, 3, backward=True)] == [
        "2020-01-02", "2020-01-03", "2020-01-06"]
    h = freq_of(["2020-01-01 22:00", "2020-01-01 23:00", "2020-01-02 00:00"])
    last = datetime(2020, 1, 2)
    assert [iso(d, h) for d in step_dates(last, h, 2)] == ["2020-01-02T01:00:00",
                                                          "2020-01-02T02:00:00"]
    assert iso(last, h) == "2020-01-02T00:00:00"  # sub-daily: the time is always written


@pytest.mark.parametrize("cells, why", [
    (["2020-01-01", "2020-01-02", "2020-01-04"], "1 of 2 steps differ from the usual 1 day"),
    (["2020-01-01", "2020-01-01", "2020-01-02"], "row 2"),
    (["2020-03-01", "2020-02-01", "2020-01-01"], "does not come after"),
])
def test_irregular_dates_have_no_frequency(cells, why):
    t = parse_times(cells)
    assert infer_frequency(t) is None and why in frequency_problem(t)


def test_unparseable_or_short_columns():
    assert parse_times(["2020-01-01", "soon"]) is None
    assert parse_times([]) is None
    assert infer_frequency(parse_times(["2020-01-01", "2020-01-02"])) is None
    assert frequency_problem(None) == "the date column does not parse"

"""The dashboard's period (cartback.dashboard.period): presets, ranges, dates as readers type them."""

from __future__ import annotations

import datetime as dt

from cartback.dashboard.period import MAX_DAYS, period_of
from cartback.report.period import parse_day as _parse_day


def test_period_presets_ranges_and_bad_input():
    day = dt.date(2026, 11, 23)
    p = period_of({}, day)
    assert (p.start, p.end, p.preset, p.fixed) == (dt.date(2026, 8, 26), day, 90, False)
    assert period_of({"days": "7"}, day).start == dt.date(2026, 11, 17)
    swapped = period_of({"from": "2026-10-10", "to": "2026-10-01"}, day)
    assert (swapped.start, swapped.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 10))
    assert period_of({"from": "2026-10-25", "to": "2026-11-23"}, day).preset == 30
    for bad in ({"from": "yesterday"}, {"days": "-3"}, {"from": "2010-01-01", "to": "2026-01-01"}):
        p = period_of(bad, day)
        assert p.fixed and p.days == 90


def test_days_that_int_would_choke_on_fall_back():
    day = dt.date(2026, 11, 23)
    for bad in ("²", "9" * 5000, "0", str(MAX_DAYS + 1), "7.5"):
        assert period_of({"days": bad}, day).fixed, bad
    p = period_of({"days": "45"}, day)
    assert (p.days, p.preset, p.fixed) == (45, None, False)


def test_one_end_of_the_range_may_be_left_out():
    day = dt.date(2026, 11, 23)
    to_today = period_of({"from": "2026-11-01"}, day)
    assert (to_today.start, to_today.end) == (dt.date(2026, 11, 1), day)
    p = period_of({"to": "2026-10-31"}, day)
    assert (p.start, p.end, p.days) == (dt.date(2026, 8, 3), dt.date(2026, 10, 31), 90)


def test_dates_written_day_first_as_turkish_readers_do():
    assert _parse_day("5.9.2026") == _parse_day("05/09/2026") == _parse_day("2026-09-05") == dt.date(2026, 9, 5)
    assert _parse_day(" 2026-09-05T10:00 ") == dt.date(2026, 9, 5)
    for bad in (None, "", "31.02.2026", "9/5", "0001-01-01", "9999-12-31", "tomorrow"):
        assert _parse_day(bad) is None, bad

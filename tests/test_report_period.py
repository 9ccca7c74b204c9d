"""The report's dates (server/cartback/report/period.py): the strict period of the API and the CLI,
and the lenient reading a form a person typed into can use."""

from __future__ import annotations

from datetime import date

import pytest
from cartback.errors import ApiError
from cartback.report.period import DEFAULT_DAYS, LAST_DATE, MAX_DAYS, parse_day, parse_period

TODAY = date(2026, 10, 31)


def refused(date_from: object, date_to: object, **kw: object) -> tuple[str | None, str]:
    with pytest.raises(ApiError) as err:
        parse_period(date_from, date_to, today=TODAY, **kw)
    assert err.value.status == 400
    return err.value.field, err.value.message


def test_default_period_is_the_last_90_days():
    start, end = parse_period(None, None, today=TODAY)
    assert (start, end) == (date(2026, 8, 3), date(2026, 10, 31))  # 90 days, both ends included
    assert (end - start).days + 1 == DEFAULT_DAYS == 90
    assert parse_period("2026-08-01", None, today=TODAY) == (date(2026, 8, 1), date(2026, 10, 31))
    assert parse_period(None, "2026-03-31", today=TODAY) == (date(2026, 1, 1), date(2026, 3, 31))
    assert parse_period(" 2026-08-01 ", "", today=TODAY) == (date(2026, 8, 1), date(2026, 10, 31))
    assert parse_period(date(2026, 8, 1), date(2026, 8, 2), today=TODAY) == (date(2026, 8, 1), date(2026, 8, 2))


def test_a_start_after_today_alone_is_a_one_day_period():
    assert parse_period("2026-12-01", None, today=TODAY) == (date(2026, 12, 1), date(2026, 12, 1))


@pytest.mark.parametrize("date_from, date_to, field, words", [
    ("5.9.2026", None, "from", "YYYY-MM-DD"),  # the API's contract: ISO dates only
    ("2026-13-01", None, "from", "not a calendar date"),
    (None, "2026-02-30", "to", "not a calendar date"),
    ("0001-01-01", None, "from", "1970-01-01 to 9000-12-31"),
    ("2026-03-02", "2026-03-01", "from", "after to"),
    ("2000-01-01", "2026-01-01", "to", f"at most {MAX_DAYS} days"),
])
def test_the_strict_period_refuses_naming_the_field(date_from, date_to, field, words):
    got_field, message = refused(date_from, date_to)
    assert got_field == field and words in message


@pytest.mark.parametrize("text, day", [
    ("2026-09-05", date(2026, 9, 5)),
    ("5.9.2026", date(2026, 9, 5)),
    ("05/09/2026", date(2026, 9, 5)),
    ("5-9-2026", date(2026, 9, 5)),
    (" 31.12.2026 ", date(2026, 12, 31)),
    ("2026-09-05T10:00:00", date(2026, 9, 5)),
])
def test_parse_day_reads_iso_and_day_first_dates(text, day):
    assert parse_day(text) == day


@pytest.mark.parametrize("text", [None, "", "yesterday", "31.2.2026", "13/13/2026", "1.1.1969", "1.1.9001",
                                  "5.9.26", "2026/09/05"])
def test_parse_day_says_none_for_what_it_cannot_use(text):
    assert parse_day(text) is None


def test_parse_day_keeps_to_the_reports_dates():
    assert parse_day(LAST_DATE.isoformat()) == LAST_DATE and parse_day("1.1.1970") == date(1970, 1, 1)


def test_the_lenient_period_reads_day_first_and_swaps_reversed_dates():
    assert parse_period("1.9.2026", "30.9.2026", today=TODAY, lenient=True) == (date(2026, 9, 1), date(2026, 9, 30))
    assert parse_period("30.9.2026", "1.9.2026", today=TODAY, lenient=True) == (date(2026, 9, 1), date(2026, 9, 30))
    # A start after today alone: today to that day (the strict period makes it one day).
    assert parse_period("1.12.2026", None, today=TODAY, lenient=True) == (TODAY, date(2026, 12, 1))
    assert parse_period(None, None, today=TODAY, lenient=True) == parse_period(None, None, today=TODAY)


def test_the_lenient_period_still_refuses_what_it_cannot_use():
    assert refused("soon", None, lenient=True)[0] == "from"
    assert refused(None, "31.2.2026", lenient=True)[0] == "to"
    # A caller with a tighter limit passes its own.
    assert parse_period("1.1.2026", "31.12.2026", today=TODAY, lenient=True, max_days=732)[0] == date(2026, 1, 1)
    field, message = refused("1.1.2020", "31.12.2026", lenient=True, max_days=732)
    assert field == "to" and "at most 732 days" in message

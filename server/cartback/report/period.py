"""The report's dates: the period asked for, and days as numbers (UTC days since 1970-01-01).

A period is inclusive at both ends, in UTC. The API and the CLI take strict ISO dates (docs/REPORT.md:
anything else answers 400 naming `from` or `to`); `parse_day` also reads dates written day first, as
Turkish readers write them, for callers that show a form rather than a contract (the dashboard).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from ..errors import bad_request

DAY = 86400
EPOCH = date(1970, 1, 1)
DEFAULT_DAYS = 90
# The longest period one report covers (docs/REPORT.md). A caller with a tighter limit passes its own
# `max_days` to `parse_period`.
MAX_DAYS = 3660
# The dates a report may name: Unix time's first day, and a last one far enough from 9999-12-31
# that a period and its attribution window after it stay representable.
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9000, 12, 31)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_of(ts: float) -> int:
    return int(ts // DAY)


def day_text(n: int) -> str:
    return (EPOCH + timedelta(days=n)).isoformat()


def today_utc() -> date:
    return datetime.now(UTC).date()


def in_range(day: date) -> bool:
    """Whether a report may name `day` (day arithmetic near year 1 or 9999 overflows Python's dates)."""
    return FIRST_DATE <= day <= LAST_DATE


def parse_day(text: str | None) -> date | None:
    """An ISO date (2026-09-05) or one written day first (5.9.2026, 05/09/2026, 5-9-2026); None for
    anything else, for an impossible date and for a date outside FIRST_DATE … LAST_DATE."""
    if not text:
        return None
    text = text.strip()
    try:
        m = _DAY_FIRST.match(text)
        day = date(int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else date.fromisoformat(text[:10])
    except ValueError:
        return None
    return day if in_range(day) else None


def _parse_date(value: object, name: str) -> date | None:
    """A strict YYYY-MM-DD date (or a `date`), None when left out; 400 naming `name` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        shown = value[:40] if isinstance(value, str) else value
        raise bad_request(name, f"use a date as YYYY-MM-DD, not {shown!r}")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(name, f"{value.strip()!r} is not a calendar date") from None
    if not in_range(day):
        raise bad_request(name, f"use a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}")
    return day


def _lenient_date(value: object, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return _parse_date(value, name)
    text = str(value).strip()
    if not text:
        return None
    day = parse_day(text)
    if day is None:
        raise bad_request(name, f"use a date as YYYY-MM-DD or DD.MM.YYYY, not {text[:40]!r}")
    return day


def parse_period(date_from: object, date_to: object, today: date | None = None, *, lenient: bool = False,
                 max_days: int = MAX_DAYS) -> tuple[date, date]:
    """Inclusive UTC dates; by default the last DEFAULT_DAYS days up to today. 400 naming `from`/`to`.

    Strict (the API, the CLI): dates are YYYY-MM-DD; a `from` after today without a `to` is a
    one-day period; `from` after `to` is refused. Lenient (a form a person typed into): dates are read
    by `parse_day`, a missing `to` is today, and dates given the wrong way round are swapped. Both
    refuse an unusable date and a period longer than `max_days` with the same 400, which a lenient
    caller may turn into its default period.
    """
    today = today or today_utc()
    if lenient:
        start, end = _lenient_date(date_from, "from"), _lenient_date(date_to, "to")
        end = end or today
    else:
        start, end = _parse_date(date_from, "from"), _parse_date(date_to, "to")
        if end is None:
            end = today if start is None or start <= today else start
    if start is None:
        start = max(FIRST_DATE, end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        if not lenient:
            raise bad_request("from", f"{start.isoformat()} is after to ({end.isoformat()})")
        start, end = end, start
    if (end - start).days >= max_days:
        raise bad_request("to", f"a report covers at most {max_days} days")
    return start, end

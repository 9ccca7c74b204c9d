"""The dashboard's period: ?days=N (a preset) or ?from=&to=, dates typed the ISO way or day first.

Unusable input never fails the page: it falls back to the last 90 days and says so (`Period.fixed`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..report import FIRST_DATE, LAST_DATE

DEFAULT_DAYS = 90
MAX_DAYS = 2 * 366
PRESETS = (7, 30, 90)


@dataclass
class Period:
    start: dt.date
    end: dt.date
    preset: int | None
    fixed: bool  # the asked dates were unusable and were replaced

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")


def _parse_day(value: str | None) -> dt.date | None:
    """An ISO date (2026-09-05) or one written day first (5.9.2026, 05/09/2026), as Turkish readers do."""
    if not value:
        return None
    text = value.strip()
    try:
        m = _DAY_FIRST.match(text)
        day = dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else dt.date.fromisoformat(text[:10])
    except ValueError:
        return None
    # Outside the report's dates (year 1, 9999: overflowing day arithmetic) counts as unusable.
    return day if FIRST_DATE <= day <= LAST_DATE else None


def period_of(params: Mapping[str, str], today: dt.date) -> Period:
    """The period asked for: ?days=N (a preset), or ?from=&to= (either may be left out)."""
    def default(fixed: bool) -> Period:
        return Period(today - dt.timedelta(days=DEFAULT_DAYS - 1), today, DEFAULT_DAYS, fixed)

    raw_days = (params.get("days") or "").strip()
    if raw_days:
        # isdigit() alone lets "²" and 5,000-digit numbers through to int(), which raises.
        if not (raw_days.isascii() and raw_days.isdigit() and len(raw_days) <= 4) or not 1 <= int(raw_days) <= MAX_DAYS:
            return default(True)
        n = int(raw_days)
        return Period(today - dt.timedelta(days=n - 1), today, n if n in PRESETS else None, False)
    raw_from, raw_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    if not raw_from and not raw_to:
        return default(False)
    start, end = _parse_day(raw_from), _parse_day(raw_to)
    if (raw_from and start is None) or (raw_to and end is None):
        return default(True)
    end = end or today
    start = start or max(FIRST_DATE, end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        return default(True)
    preset = next((n for n in PRESETS if end == today and (end - start).days == n - 1), None)
    return Period(start, end, preset, False)


"""The dashboard's period: ?days=N (a preset) or ?from=&to=, dates typed the ISO way or day first.

The dates are read by the report's one period rule (`report.period.parse_period`, lenient: a
person typed them). Unusable input never fails the page: it falls back to the last DEFAULT_DAYS
days and says so (`Period.fixed`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ApiError
from ..report.period import DEFAULT_DAYS, MAX_DAYS, parse_period

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
    try:
        start, end = parse_period(raw_from, raw_to, today, lenient=True)
    except ApiError:
        return default(True)
    preset = next((n for n in PRESETS if end == today and (end - start).days == n - 1), None)
    return Period(start, end, preset, False)

"""Numbers, money, percentages and dates as the dashboard's reader writes them (Babel/CLDR):
35.412 and %2,49 in Turkish, 35,412 and 2.49% in English; signed differences with a true minus."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_compact_decimal, format_decimal, format_percent

from ..i18n import BABEL_LOCALES
from ..render import format_price


class Fmt:
    """Numbers, money, percentages and dates in the reader's language (Babel/CLDR)."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale = locale
        self.babel = BABEL_LOCALES.get(locale, locale)
        self.currency = currency

    def num(self, value: Any) -> str:
        return format_decimal(value or 0, format="#,##0", locale=self.babel)

    def dec(self, value: Any, digits: int = 1) -> str:
        return format_decimal(value or 0, format="#,##0." + "0" * digits, locale=self.babel)

    def pct(self, value: Any, digits: int = 1, sign: bool = False) -> str:
        value = float(value or 0)
        text = format_percent(abs(value) if sign else value, format=_percent_pattern(self.babel, digits),
                              locale=self.babel)
        if sign:
            text = ("+" if value > 0 else "−" if value < 0 else "±") + text
        return text

    def points(self, value: Any, digits: int = 1) -> str:
        # A difference of two rates, in percentage points: 0.007 → "+0.7".
        value = float(value or 0) * 100
        text = format_decimal(abs(value), format="#,##0." + "0" * digits, locale=self.babel)
        return ("+" if value > 0 else "−" if value < 0 else "±") + text

    def money(self, value: Any) -> str:
        return format_price(float(value or 0), self.currency, self.locale)

    def money_signed(self, value: Any) -> str:
        value = float(value or 0)
        return ("+" if value > 0 else "−" if value < 0 else "±") + self.money(abs(value))

    def compact(self, value: float, money: bool = False) -> str:
        if abs(value) < 1000:
            text = format_decimal(value, format="#,##0.#", locale=self.babel)
        else:
            text = format_compact_decimal(value, locale=self.babel, fraction_digits=1)
        if money:
            sign = format_price(0, self.currency, self.locale)
            return sign.replace(format_decimal(0, format="0.00", locale=self.babel), text)
        return text

    def date(self, day: dt.date, fmt: str = "d MMM y") -> str:
        return format_date(day, fmt, locale=self.babel)

    def field_date(self, day: dt.date) -> str:
        """A date as typed in the period fields: 05.09.2026 in Turkish, 2026-09-05 in English."""
        return day.strftime("%d.%m.%Y") if self.babel.startswith("tr") else day.isoformat()

    def short_date(self, day: dt.date) -> str:
        return format_date(day, "d MMM", locale=self.babel)


@lru_cache(maxsize=16)
def _percent_pattern(babel_locale: str, digits: int) -> str:
    pattern = str(Locale.parse(babel_locale).percent_formats[None].pattern)
    return pattern.replace("#,##0", "#,##0" + ("." + "0" * digits if digits else ""), 1)

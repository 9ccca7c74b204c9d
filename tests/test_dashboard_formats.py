"""Numbers, money, percentages and dates in the reader's language (cartback.dashboard.formats)."""

from __future__ import annotations

import datetime as dt

from cartback.dashboard.formats import Fmt


def test_numbers_in_each_language():
    tr, en = Fmt("tr", "TRY"), Fmt("en", "TRY")
    assert (tr.num(35412), en.num(35412)) == ("35.412", "35,412")
    assert (tr.pct(0.0249, 2), en.pct(0.0249, 2)) == ("%2,49", "2.49%")
    assert (tr.money(1234.5), en.money(1234.5)) == ("₺1.234,50", "₺1,234.50")
    assert en.points(0.0071) == "+0.7" and tr.points(-0.0071) == "−0,7"


def test_signed_figures_use_a_true_minus_and_plus_minus_for_none():
    en = Fmt("en", "TRY")
    assert (en.pct(0.25, 0, sign=True), en.pct(-0.25, 0, sign=True), en.pct(0, 0, sign=True)) == ("+25%", "−25%", "±0%")
    assert en.money_signed(-12.5) == "−₺12.50" and en.money_signed(None) == "±₺0.00"
    assert (en.num(None), en.dec(2.25, 2)) == ("0", "2.25")


def test_chart_axis_labels_are_compact():
    tr, en = Fmt("tr", "TRY"), Fmt("en", "TRY")
    assert (en.compact(2.5), en.compact(12_500)) == ("2.5", "12.5K")
    assert en.compact(12_500, money=True) == "₺12.5K"
    assert tr.compact(2.5, money=True) == "₺2,5"


def test_dates_as_read_and_as_typed():
    day = dt.date(2026, 9, 5)
    tr, en = Fmt("tr", "TRY"), Fmt("en", "TRY")
    assert (tr.field_date(day), en.field_date(day)) == ("05.09.2026", "2026-09-05")
    assert (tr.date(day), en.date(day)) == ("5 Eyl 2026", "5 Sep 2026")
    assert en.short_date(day) == "5 Sep"

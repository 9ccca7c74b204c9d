"""The dashboard's SVG chart geometry (cartback.dashboard.charts)."""

from __future__ import annotations

import datetime as dt

import pytest
from cartback.dashboard.charts import CHART_H, PAD_B, PAD_T, _buckets, _nice_step, build_chart, ci_chart
from cartback.dashboard.formats import Fmt
from cartback.dashboard.period import Period
from cartback.i18n import translator


def test_tick_steps_are_round_and_counts_never_use_halves():
    assert [_nice_step(v) for v in (0, 4, 9, 38, 100, 4500)] == [1.0, 1.0, 2.5, 10, 25, 2000]
    assert _nice_step(9, counts=True) == 5
    assert _nice_step(0.3) == pytest.approx(0.1)


def test_missing_days_are_zero_and_long_periods_go_by_week():
    period = Period(dt.date(2026, 9, 1), dt.date(2026, 9, 3), None, False)
    rows, weekly = _buckets([{"date": "2026-09-02", "clicks": 4}, {"date": "not a day", "clicks": 9}], period)
    assert not weekly and [(r["start"].day, r["clicks"], r["impressions"]) for r in rows] == [
        (1, 0, 0), (2, 4, 0), (3, 0, 0)]
    long = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30), None, False)  # Thursday to Tuesday, 181 days
    daily = [{"date": (long.start + dt.timedelta(days=i)).isoformat(), "clicks": 1} for i in range(long.days)]
    weeks, weekly = _buckets(daily, long)
    assert weekly and sum(w["clicks"] for w in weeks) == long.days
    assert weeks[0]["end"] == dt.date(2026, 1, 4) and weeks[1]["start"].weekday() == 0
    assert weeks[-1]["end"] == long.end


def test_a_chart_marks_today_as_under_way():
    today = dt.date(2026, 9, 3)
    period = Period(dt.date(2026, 9, 1), today, None, False)
    rows, _ = _buckets([{"date": "2026-09-01", "clicks": 3}, {"date": "2026-09-02", "clicks": 7},
                        {"date": "2026-09-03", "clicks": 2}], period)
    chart = build_chart("bars", "clicks", "Clicks", rows, Fmt("en", "TRY"), translator("en"), False, today=today)
    assert chart["total"] == "12" and not chart["empty"] and chart["dots"]
    assert [p["partial"] for p in chart["points"]] == [False, False, True]
    assert chart["points"][-1]["label"] == "Thu 3 Sep 2026 · today, so far"
    assert chart["line"].count("L") == 1 and chart["partial_line"].startswith("M")
    assert [t["label"] for t in chart["ticks"]] == ["0", "2", "4", "6", "8"]
    assert chart["ticks"][0]["y"] == CHART_H - PAD_B and chart["ticks"][-1]["y"] == PAD_T
    tallest = max(chart["points"], key=lambda p: p["value"])
    assert tallest["bar_h"] == pytest.approx((CHART_H - PAD_T - PAD_B) * 7 / 8, abs=0.1)


def test_an_empty_money_chart_still_has_an_axis():
    period = Period(dt.date(2026, 9, 1), dt.date(2026, 9, 7), 7, False)
    rows, _ = _buckets([], period)
    chart = build_chart("area", "attributed_revenue", "Revenue", rows, Fmt("tr", "TRY"), translator("tr"), False,
                        money=True)
    assert chart["empty"] and chart["total"] == "₺0,00"
    assert [t["label"] for t in chart["ticks"]] == ["₺0", "₺250", "₺500", "₺750", "₺1\xa0B"]  # CLDR: 1 bin


def test_the_interval_chart_says_which_side_of_zero():
    assert ci_chart(0.02, 0.01, 0.03)["tone"] == "up"
    assert ci_chart(-0.02, -0.03, -0.01)["tone"] == "down"
    neutral = ci_chart(0.01, -0.01, 0.03)
    assert neutral["tone"] == "neutral" and neutral["lo"] < neutral["zero"] < neutral["dot"] < neutral["hi"]

"""The dashboard's SVG charts, drawn on the server: a day (or week) per point, round tick steps, and
the holdout's 95 % interval around zero. The geometry is returned as numbers for the templates."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ..i18n import Translate
from ..report.period import parse_day
from .formats import Fmt
from .period import Period

CHART_W, CHART_H = 560, 190
PAD_L, PAD_R, PAD_T, PAD_B = 48, 10, 12, 26


def _nice_step(top: float, ticks: int = 4, counts: bool = False) -> float:
    if top <= 0:
        return 1.0
    raw = top / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for m in ((1, 2, 5, 10) if counts else (1, 2, 2.5, 5, 10)):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _buckets(daily: list[dict[str, Any]], period: Period) -> tuple[list[dict[str, Any]], bool]:
    """One row per day of the period (missing days are zero); per week when the period is long."""
    keys = ("rendered", "impressions", "clicks", "attributed_orders", "attributed_revenue")
    by_day: dict[dt.date, dict[str, Any]] = {}
    for row in daily or []:
        day = parse_day(str(row.get("date", "")))
        if day is not None:
            by_day[day] = row
    rows: list[dict[str, Any]] = []
    for i in range(period.days):
        day = period.start + dt.timedelta(days=i)
        src = by_day.get(day, {})
        rows.append({"start": day, "end": day, **{k: float(src.get(k) or 0) for k in keys}})
    if period.days <= 120:
        return rows, False
    weeks: list[dict[str, Any]] = []
    for row in rows:
        if not weeks or row["start"].weekday() == 0:
            weeks.append({"start": row["start"], "end": row["end"], **{k: 0.0 for k in keys}})
        week = weeks[-1]
        week["end"] = row["end"]
        for k in keys:
            week[k] += row[k]
    return weeks, True


def build_chart(kind: str, key: str, title: str, rows: list[dict[str, Any]], fmt: Fmt, t: Translate, weekly: bool,
                money: bool = False, attributed: bool = False, today: dt.date | None = None) -> dict[str, Any]:
    values = [row[key] for row in rows]
    n = len(values)
    top = max(values, default=0)
    step = _nice_step(top if top > 0 else (1000 if money else 4), counts=not money)
    if not money and step < 1:
        step = 1.0
    y_max = step * max(1, math.ceil(top / step - 1e-9)) if top > 0 else step * 4
    inner_w, inner_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    slot = inner_w / max(n, 1)

    def y(v: float) -> float:
        return PAD_T + inner_h - (v / y_max) * inner_h

    ticks = []
    v = 0.0
    while v <= y_max + 1e-9:
        ticks.append({"y": round(y(v), 1), "label": fmt.compact(v, money=money)})
        v += step
    points = []
    for i, row in enumerate(rows):
        value = row[key]
        cx = PAD_L + slot * (i + 0.5)
        label = t("week_of", d=fmt.short_date(row["start"])) if weekly else fmt.date(row["start"], "EEE d MMM y")
        partial = today is not None and row["end"] >= today
        if partial:
            label += " · " + t("so_far")
        shown = fmt.money(value) if money else fmt.num(value)
        bar_w = max(1.0, min(slot * 0.7, 28))
        points.append({
            "x": round(cx, 1), "y": round(y(value), 1), "value": value, "text": shown, "label": label,
            "date": row["start"].isoformat(), "col_x": round(PAD_L + slot * i, 1), "col_w": round(slot, 2),
            "bar_x": round(cx - bar_w / 2, 1), "bar_w": round(bar_w, 1),
            "bar_h": round(max(0.0, PAD_T + inner_h - y(value)), 1), "partial": partial,
        })
    # The period's last day may be today, still under way: its segment is drawn dashed.
    solid = points[:-1] if len(points) > 1 and points[-1]["partial"] else points
    line = " ".join(("M" if i == 0 else "L") + f"{p['x']},{p['y']}" for i, p in enumerate(solid))
    partial_line = (f"M{solid[-1]['x']},{solid[-1]['y']} L{points[-1]['x']},{points[-1]['y']}"
                    if len(solid) < len(points) else "")
    full_line = " ".join(("M" if i == 0 else "L") + f"{p['x']},{p['y']}" for i, p in enumerate(points))
    base = PAD_T + inner_h
    area = f"{full_line} L{points[-1]['x']},{base} L{points[0]['x']},{base} Z" if points else ""
    # About six date labels, on round days (month starts for long periods).
    labels = []
    if n:
        every = max(1, math.ceil(n / 6))
        for i in range(0, n, every):
            p, row = points[i], rows[i]
            labels.append({"x": p["x"], "text": fmt.short_date(row["start"])})
    total = sum(values)
    return {
        "kind": kind, "key": key, "title": title, "w": CHART_W, "h": CHART_H, "ticks": ticks, "points": points,
        "line": line, "partial_line": partial_line, "area": area, "labels": labels, "base": base, "top": PAD_T,
        "left": PAD_L, "right": CHART_W - PAD_R,
        "total": fmt.money(total) if money else fmt.num(total), "attributed": attributed, "empty": total == 0,
        "dots": n <= 45,
    }


def ci_chart(diff: float, lo: float, hi: float) -> dict[str, Any]:
    """A horizontal interval around zero: where the true difference lies with 95 % confidence."""
    w, h, pad = 360, 44, 16
    span = max(abs(lo), abs(hi), abs(diff), 1e-9) * 1.15
    scale = (w - 2 * pad) / (2 * span)

    def x(v: float) -> float:
        return round(w / 2 + v * scale, 1)

    significant = lo > 0 or hi < 0
    tone = "up" if significant and diff > 0 else "down" if significant else "neutral"
    return {"w": w, "h": h, "zero": x(0), "lo": x(lo), "hi": x(hi), "dot": x(diff), "mid": h / 2 + 4, "tone": tone}

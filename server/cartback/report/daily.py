"""Days rolled up into `daily_counts` (privacy.py's retention): written as rows, read back into
Figures, so a report over them adds up to what it said while their raw rows existed."""

from __future__ import annotations

import sqlite3
from datetime import date

from .figures import COUNTS, DAILY, HOLDOUT_METRICS, RESTORE_METRICS, VISITORS, Figures
from .period import day_number, day_text


def rolled_days(conn: sqlite3.Connection, shop: str, lo_day: int, hi_day: int) -> set[int]:
    rows = conn.execute("SELECT day FROM daily_counts WHERE shop = ? AND day >= ? AND day < ? AND scope = 'day' "
                        "AND metric = 'rolled_at'", (shop, day_text(lo_day), day_text(hi_day))).fetchall()
    return {day_number(date.fromisoformat(r[0])) for r in rows}


def daily_rows(fig: Figures, day: int, rolled_at: float) -> list[tuple[str, str, float]]:
    """A one-day Figures as (scope, metric, value) rows for `daily_counts` (zeros left out)."""
    rows: list[tuple[str, str, float]] = [("day", "rolled_at", rolled_at)]
    for key, scope in fig.scopes.items():
        rows += [(key, m, v) for m, v in scope.counts.items() if v]
        rows += [(key, m, scope.visitors(m)) for m in VISITORS if scope.visitors(m)]
    rows += [("totals", m, v) for m, v in (("orders", fig.orders), ("revenue", fig.revenue),
                                           ("orders_confirmed", fig.orders_confirmed),
                                           ("revenue_confirmed", fig.revenue_confirmed)) if v]
    for group, values in fig.holdout.items():
        rows += [(group, m, v) for m, v in values.items() if v]
    rows += [("restores", m, v) for m, v in fig.restores.items() if v]
    return rows


def add_rolled(conn: sqlite3.Connection, shop: str, fig: Figures, lo_day: int, hi_day: int) -> None:
    rows = conn.execute("SELECT day, scope, metric, value FROM daily_counts WHERE shop = ? AND day >= ? AND day < ?",
                        (shop, day_text(lo_day), day_text(hi_day))).fetchall()
    for day_s, scope, metric, value in rows:
        n = day_number(date.fromisoformat(day_s))
        if scope in fig.scopes:
            target = fig.scopes[scope]
            if metric in VISITORS:
                target.extra[metric] += int(value)
            elif metric in COUNTS:
                target.counts[metric] += value
                if scope == "block" and metric in DAILY:
                    fig.day(n)[metric] += value
        elif scope == "totals":
            if metric == "orders":
                fig.orders += int(value)
            elif metric == "revenue":
                fig.revenue += value
            elif metric == "orders_confirmed":
                fig.orders_confirmed += int(value)
            elif metric == "revenue_confirmed":
                fig.revenue_confirmed += value
            if metric in DAILY:
                fig.day(n)[metric] += value
        elif scope in fig.holdout and metric in HOLDOUT_METRICS:
            fig.holdout[scope][metric] += value
        elif scope == "restores" and metric in RESTORE_METRICS:
            fig.restores[metric] += value
        elif scope == "day":
            fig.day(n)


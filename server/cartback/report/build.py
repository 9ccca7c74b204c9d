"""The report as a JSON-ready dict (CONTRACT §5, docs/REPORT.md): raw days and rolled-up days
combined into figures, then shaped per scope, with totals, restores, the holdout and a daily series.

One synchronous implementation over a `sqlite3` connection serves the HTTP endpoint (run in a
worker thread on its own read-only connection, so a large report never stalls the event loop),
the dashboard and the CLI.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from typing import Any, Protocol

from ..connection import begin_read, reader_connection
from ..errors import ApiError
from ..shop_settings import attribution_days, holdout_share
from ..shops import HOLDOUT_CHANGED, Shop, get_shop
from ..validation import SECTIONS
from .daily import add_rolled, rolled_days
from .figures import DAILY, VISITORS, Figures, ScopeFigures, money, plain, ratio
from .holdout import holdout_json
from .period import day_number, day_text, parse_period
from .prices import OUTLIER_FACTOR
from .raw import compute_raw


def _scope_dict(s: ScopeFigures) -> dict[str, Any]:
    reached, clicked, purchased = (s.visitors(m) for m in VISITORS)
    c = s.counts
    return {
        "rendered": int(c["rendered"]),
        "impressions": int(c["impressions"]),
        "visitors_reached": reached,
        "clicks": int(c["clicks"]),
        "visitors_clicked": clicked,
        "ctr_visitors": ratio(clicked, reached),
        "ctr_impressions": ratio(c["clicks"], c["impressions"]),
        "attributed_orders": int(c["attributed_orders"]),
        "visitors_purchased": purchased,
        "click_to_purchase": ratio(purchased, clicked),
        "attributed_revenue": money(c["attributed_revenue"]),
        "attributed_order_revenue": money(c["attributed_order_revenue"]),
        "attributed_orders_confirmed": int(c["attributed_orders_confirmed"]),
        "attributed_revenue_confirmed": money(c["attributed_revenue_confirmed"]),
    }


def _notes(conn: sqlite3.Connection, shop: str, rolled: set[int], outliers: int) -> list[str]:
    """Caveats in words: rolled-up days, the shop's caps reached, orders counted at catalog prices."""
    from ..caps import notes as cap_notes

    notes = []
    if rolled:
        first, last = min(rolled), max(rolled)
        notes.append(
            f"{day_text(first)} to {day_text(last)} come from daily counts (raw events older than the "
            f"retention period are deleted): visitor counts there are sums of daily counts, so a visitor "
            f"active on several of those days counts once per day")
    notes += cap_notes(conn, shop)
    if outliers:
        notes.append(
            f"{outliers} browser-reported order(s) sent a total more than {OUTLIER_FACTOR:g} times what their "
            f"products cost in the catalog: they count at the catalog's prices")
    return notes


def build_report(conn: sqlite3.Connection, shop: Shop, start: date, end: date) -> dict[str, Any]:
    """The report of `shop` for the inclusive UTC dates start … end (docs/REPORT.md)."""
    lo_day, hi_day = day_number(start), day_number(end) + 1
    window = attribution_days(shop.settings)
    rolled = rolled_days(conn, shop.id, lo_day, hi_day)
    raw_lo = lo_day
    while raw_lo in rolled and raw_lo < hi_day:
        raw_lo += 1
    fig = compute_raw(conn, shop.id, raw_lo, hi_day, window, rolled) if raw_lo < hi_day else Figures()
    add_rolled(conn, shop.id, fig, lo_day, hi_day)
    return {
        "shop": shop.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "currency": shop.currency,
        "attribution_days": plain(window),
        "block": _scope_dict(fig.scopes["block"]),
        "sections": {key: _scope_dict(fig.scopes[key]) for key in SECTIONS},
        "totals": {
            "orders": fig.orders,
            "revenue": money(fig.revenue),
            "block_revenue_share": ratio(fig.scopes["block"].counts["attributed_revenue"], fig.revenue),
            "orders_confirmed": fig.orders_confirmed,
            "revenue_confirmed": money(fig.revenue_confirmed),
        },
        "restores": {
            "carts": int(fig.restores["carts"]),
            "items": int(fig.restores["items"]),
            "orders": int(fig.restores["orders"]),
            "revenue": money(fig.restores["revenue"]),
        },
        "holdout": holdout_json(fig, holdout_share(shop.settings), shop.settings.get(HOLDOUT_CHANGED)),
        "daily": [
            {"date": day_text(n), **{k: (money(v) if k in ("attributed_revenue", "revenue") else int(v))
                                    for k, v in fig.daily.get(n, dict.fromkeys(DAILY, 0)).items()}}
            for n in range(lo_day, hi_day)
        ],
        "notes": _notes(conn, shop.id, rolled, fig.outliers),
    }


def report_in_snapshot(conn: sqlite3.Connection, shop: Shop, start: date, end: date) -> dict[str, Any]:
    """`build_report` in one read transaction: every figure sees the same snapshot."""
    begin_read(conn)
    try:
        return build_report(conn, shop, start, end)
    finally:
        conn.execute("COMMIT")


def shop_or_404(conn: sqlite3.Connection, shop_id: str) -> Shop:
    shop = get_shop(conn, shop_id)
    if shop is None:
        raise ApiError(404, "unknown_shop", f"shop: no shop {shop_id[:80]!r}", "shop")
    return shop


def _report_sync(path: str, shop: Shop | str, date_from: object, date_to: object) -> dict[str, Any]:
    start, end = parse_period(date_from, date_to)
    conn = reader_connection(path)
    try:
        found = shop if isinstance(shop, Shop) else shop_or_404(conn, str(shop))
        return report_in_snapshot(conn, found, start, end)
    finally:
        conn.close()


class HasPath(Protocol):
    """What the report needs of the server's `db.Database`: the file's path."""

    @property
    def path(self) -> str: ...


async def report_json(db: HasPath, shop: Shop | str, date_from: object = None,
                      date_to: object = None) -> dict[str, Any]:
    """The report as a JSON-ready dict. `db` is the server's Database; `shop` a Shop or a shop id;
    dates are `date`s or YYYY-MM-DD strings (None: the defaults). Raises ApiError 400/404."""
    return await asyncio.to_thread(_report_sync, db.path, shop, date_from, date_to)

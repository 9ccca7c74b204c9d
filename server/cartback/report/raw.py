"""Figures of days still held as raw rows (`blocks` and `events`), one pass per kind of row.

Impressions and clicks timestamped before their block was rendered are not counted (they cannot
happen; a back end sending inconsistent times would otherwise count a block twice). How each figure
is dated: figures.py.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import sqlite3
from collections.abc import Iterator

from ..validation import SECTIONS
from .figures import Figures
from .period import DAY, day_of
from .prices import OUTLIER_FACTOR, Prices, order_total, purchase_confirmed, purchase_items


def _sections_of(raw: str | None) -> tuple[list[str], dict[str, str]]:
    """(section keys, product → section) of a block's stored summary."""
    try:
        parsed = json.loads(raw or "[]")
    except ValueError:
        return [], {}
    keys: list[str] = []
    where: dict[str, str] = {}
    for s in parsed if isinstance(parsed, list) else []:
        if not isinstance(s, dict) or s.get("key") not in SECTIONS:
            continue
        keys.append(s["key"])
        for pid in s.get("ids") or []:
            where.setdefault(str(pid), s["key"])
    return keys, where


_BLOCKS_SQL = """
SELECT id, ts, holdout, sections FROM blocks
WHERE shop = ? AND ts >= ? AND ts < ?
"""

_IMPRESSIONS_SQL = """
SELECT block_id, vid, ts FROM events
WHERE shop = ? AND type = 'impression' AND ts >= ? AND ts < ?
"""

# Blocks rendered before the period whose first impression was before it too (counted then).
_SEEN_BEFORE_SQL = """
SELECT DISTINCT e.block_id FROM events e JOIN blocks b ON b.shop = e.shop AND b.id = e.block_id
WHERE e.shop = ? AND e.type = 'impression' AND e.ts < ? AND e.ts >= b.ts AND e.block_id IN ({marks})
"""

_CLICKS_SQL = """
SELECT c.vid, c.block_id, c.product_id, c.ts, b.sections,
       EXISTS (SELECT 1 FROM events e WHERE e.shop = c.shop AND e.block_id = c.block_id AND e.type = 'click'
               AND e.ts < ? AND e.ts >= b.ts AND e.product_id = c.product_id) AS counted_before
FROM events c JOIN blocks b ON b.id = c.block_id AND b.shop = c.shop
WHERE c.shop = ? AND c.type = 'click' AND c.ts >= ? AND c.ts < ? AND c.ts >= b.ts AND b.holdout = 0
ORDER BY c.ts
"""

_RESTORES_SQL = """
SELECT vid, ts, data FROM events
WHERE shop = ? AND type = 'restore' AND ts >= ? AND ts < ?
ORDER BY ts
"""

_PURCHASES_SQL = """
SELECT vid, ts, value, data FROM events
WHERE shop = ? AND type = 'purchase' AND ts >= ? AND ts < ?
"""

# Visitors whose first eligible moment ever falls in the range, and their group then.
# `visitors.first_eligible_at` remembers moments whose blocks rows have aged out: a visitor whose
# first moment was earlier than their first block still stored belongs to that earlier day.
_COHORT_SQL = """
WITH firsts AS (
    SELECT vid, min(ts) AS first FROM blocks
    WHERE shop = :shop AND ts >= :lo AND ts < :hi
    GROUP BY vid
)
SELECT f.vid, f.first,
       (SELECT b.holdout FROM blocks b WHERE b.shop = :shop AND b.vid = f.vid AND b.ts = f.first LIMIT 1)
FROM firsts f
WHERE NOT EXISTS (SELECT 1 FROM blocks e WHERE e.shop = :shop AND e.vid = f.vid AND e.ts < f.first)
  AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = :shop AND v.vid = f.vid
                  AND v.first_eligible_at < f.first)
"""


# Section keys straight from the stored summary (written by json.dumps; an id containing the
# pattern would be escaped): a regex is several times cheaper than parsing every block's JSON.
_SECTION_KEY = re.compile(r'"key":\s*"(cart|viewed|favorites|similar)"')


def _keys(raw: str | None) -> list[str]:
    return list(dict.fromkeys(_SECTION_KEY.findall(raw or "")))


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def compute_raw(conn: sqlite3.Connection, shop: str, lo_day: int, hi_day: int, window_days: float,
                skip: set[int] | frozenset[int] = frozenset()) -> Figures:
    """Figures of the days [lo_day, hi_day) from the raw tables, leaving out the days in `skip`."""
    fig = Figures()
    lo, hi = lo_day * DAY, hi_day * DAY
    window = window_days * DAY
    block_scope = fig.scopes["block"]

    def keep(ts: float) -> bool:
        return not skip or day_of(ts) not in skip

    # Rendered (blocks shown, holdout = 0).
    blocks: dict[str, tuple[float, int, str | None]] = {}
    for block_id, ts, holdout, sections in conn.execute(_BLOCKS_SQL, (shop, lo, hi)):
        blocks[block_id] = (ts, holdout, sections)
        if holdout or not keep(ts):
            continue
        block_scope.counts["rendered"] += 1
        fig.day(day_of(ts))["rendered"] += 1
        for key in _keys(sections):
            fig.scopes[key].counts["rendered"] += 1

    # Viewable impressions: a block once, at its first valid impression (not before its render);
    # its sections with it.
    seen: dict[str, list[tuple[float, str]]] = {}
    for block_id, vid, ts in conn.execute(_IMPRESSIONS_SQL, (shop, lo, hi)):
        if block_id is not None:
            seen.setdefault(block_id, []).append((ts, vid))
    older = [b for b in seen if b not in blocks]
    for chunk in _chunks(older):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT id, ts, holdout, sections FROM blocks WHERE shop = ? AND id IN ({marks})",
                            (shop, *chunk))
        for block_id, ts, holdout, sections in rows:
            blocks[block_id] = (ts, holdout, sections)
        for (block_id,) in conn.execute(_SEEN_BEFORE_SQL.format(marks=marks), (shop, lo, *chunk)):
            seen.pop(block_id, None)
    for block_id, views in seen.items():
        block = blocks.get(block_id)
        if block is None or block[1]:
            continue
        valid = [v for v in views if v[0] >= block[0]]
        if not valid:
            continue
        ts, vid = min(valid)
        if not keep(ts):
            continue
        fig.day(day_of(ts))["impressions"] += 1
        for key in ("block", *_keys(block[2])):
            scope = fig.scopes[key]
            scope.counts["impressions"] += 1
            scope.sets["visitors_reached"].add(vid)

    # Clicks: on a product the block showed (its section comes from the block, not the browser).
    # Those from one window before the period on are kept for attribution.
    fetch_lo = lo - window
    parsed: dict[str, dict[str, str]] = {}
    by_visitor: dict[tuple[str, str], list[tuple[float, str]]] = {}
    first_click: dict[tuple[str, str], tuple[float, str, str] | None] = {}
    for vid, block_id, pid, ts, sections, counted_before in conn.execute(_CLICKS_SQL, (fetch_lo, shop, fetch_lo, hi)):
        where = parsed.get(block_id)
        if where is None:
            where = parsed[block_id] = _sections_of(sections)[1]
        section = where.get(pid)
        if section is None:
            continue
        by_visitor.setdefault((vid, pid), []).append((ts, section))
        shown = (block_id, pid)
        if shown not in first_click:
            first_click[shown] = None if counted_before else (ts, vid, section)
    for first in first_click.values():
        if first is None:
            continue
        ts, vid, section = first
        if ts < lo or not keep(ts):
            continue
        fig.day(day_of(ts))["clicks"] += 1
        for key in ("block", section):
            scope = fig.scopes[key]
            scope.counts["clicks"] += 1
            scope.sets["visitors_clicked"].add(vid)

    # Restores of the period; those from one window before it on are kept for the orders after them.
    restored_by: dict[str, list[float]] = {}
    for vid, ts, data in conn.execute(_RESTORES_SQL, (shop, fetch_lo, hi)):
        restored_by.setdefault(vid, []).append(ts)
        if ts < lo or not keep(ts):
            continue
        fig.restores["carts"] += 1
        fig.restores["items"] += sum(max(0, int(i.get("qty") or 0)) for i in purchase_items(data))

    # Purchases of the period, and after it for one window (the holdout cohort's conversions).
    prices = Prices(conn, shop)
    purchases = [(vid, ts, value, purchase_items(data), purchase_confirmed(data))
                 for vid, ts, value, data in conn.execute(_PURCHASES_SQL, (shop, lo, hi + window))]
    prices.prefetch(str(i["id"]) for p in purchases for i in p[3])
    by_buyer: dict[str, list[tuple[float, float]]] = {}
    for vid, ts, value, items, confirmed in purchases:
        total = order_total(value, items, prices)
        outlier = False
        if not confirmed and prices.all_in_catalog(items):
            # Anyone can post a purchase: a browser's total far above what its lines cost in the
            # catalog counts at the catalog's value (shipping and taxes fit well within the factor).
            worth = math.fsum(prices.line(i) for i in items)
            if total > OUTLIER_FACTOR * worth:
                total, outlier = worth, True
        by_buyer.setdefault(vid, []).append((ts, total))
        if ts >= hi or not keep(ts):
            continue
        # All orders, and those with a product the visitor clicked in a block within the window
        # before (the last click wins the product's section).
        day = fig.day(day_of(ts))
        fig.orders += 1
        fig.revenue += total
        fig.outliers += outlier
        if confirmed:
            fig.orders_confirmed += 1
            fig.revenue_confirmed += total
        day["orders"] += 1
        day["revenue"] += total
        restores = restored_by.get(vid)
        if restores:
            at = bisect.bisect_right(restores, ts) - 1
            if at >= 0 and restores[at] >= ts - window:
                fig.restores["orders"] += 1
                fig.restores["revenue"] += total
        attributed: dict[str, float] = {}
        for item in items:
            qty = item.get("qty", 1)
            if qty is not None and qty <= 0:
                continue
            clicks = by_visitor.get((vid, str(item["id"])))
            if not clicks:
                continue
            at = bisect.bisect_right(clicks, (ts, "\uffff")) - 1
            if at < 0 or clicks[at][0] < ts - window:
                continue
            section = clicks[at][1]
            attributed[section] = attributed.get(section, 0.0) + prices.line(item, confirmed)
        if not attributed:
            continue
        revenue = math.fsum(attributed.values())
        day["attributed_orders"] += 1
        day["attributed_revenue"] += revenue
        for key, amount in (("block", revenue), *attributed.items()):
            scope = fig.scopes[key]
            scope.counts["attributed_orders"] += 1
            scope.counts["attributed_revenue"] += amount
            scope.counts["attributed_order_revenue"] += total
            if confirmed:
                scope.counts["attributed_orders_confirmed"] += 1
                scope.counts["attributed_revenue_confirmed"] += amount
            scope.sets["visitors_purchased"].add(vid)

    # Holdout cohort: first eligible in the period; purchases within the window after that moment.
    for vid, first, holdout in conn.execute(_COHORT_SQL, {"shop": shop, "lo": lo, "hi": hi}):
        if not keep(first):
            continue
        bought = [total for ts, total in by_buyer.get(vid, ()) if first <= ts <= first + window]
        revenue = math.fsum(bought)
        h = fig.holdout["control" if holdout else "treatment"]
        h["visitors"] += 1
        h["converted"] += 1 if bought else 0
        h["revenue"] += revenue
        h["revenue_sq"] += revenue * revenue
    return fig



"""The measured results (CONTRACT §5, docs/REPORT.md): figures per block and section, totals, the
holdout comparison and a daily series; as JSON, CSV and a terminal table.

One synchronous implementation over a `sqlite3` connection serves the HTTP endpoint (run in a
worker thread on its own read-only connection, so a large report never stalls the event loop),
the CLI, and the retention roll-up (server/cartback/privacy.py, in the writer's transaction).

How each figure is dated, so that every count is a sum over days (what lets retention roll finished
days into `daily_counts` without changing the totals):
- rendered: the block's `ts`; impressions: the block's first impression event; clicks: the first
  click on that product of that block; purchases and attributed purchases: the purchase's `ts`
  (the click may be earlier, up to the attribution window before it);
- the holdout cohort of a day: the visitors whose *first* eligible moment ever (first `blocks` row,
  shown or held out) falls on that day, with their purchases in the attribution window after it.
Distinct-visitor figures are distinct within the period for days still held as raw events; for
rolled-up days they are the sums of daily distinct counts (a visitor active on two rolled-up
days counts twice). That is the one approximation, and the report says when it applies.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import io
import json
import math
import re
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .errors import ApiError, bad_request
from .shops import DEFAULT_SETTINGS, HOLDOUT_CHANGED, Shop, get_shop
from .stats import Sample, two_proportions, welch
from .validation import SECTIONS

DAY = 86400
EPOCH = date(1970, 1, 1)
DEFAULT_DAYS = 90
MAX_DAYS = 3660
SCOPES = ("block", *SECTIONS)
GROUPS = ("treatment", "control")
# Additive per day (summed as they are); distinct visitors (sets on raw days, counts on rolled-up days).
COUNTS = ("rendered", "impressions", "clicks", "attributed_orders", "attributed_revenue", "attributed_order_revenue",
          "attributed_orders_confirmed", "attributed_revenue_confirmed")
VISITORS = ("visitors_reached", "visitors_clicked", "visitors_purchased")
DAILY = ("rendered", "impressions", "clicks", "attributed_orders", "attributed_revenue", "orders", "revenue")
HOLDOUT_METRICS = ("visitors", "converted", "revenue", "revenue_sq")
# One-click restores (scope "restores"): carts put back, their lines' quantities, and the orders of
# the same visitor within the attribution window after a restore (dated by the purchase).
RESTORE_METRICS = ("carts", "items", "orders", "revenue")
# A browser-reported order whose total is more than this many times its lines' catalog value is an
# outlier (a fake or broken funnel): it counts at its lines' value and the report's notes say so.
OUTLIER_FACTOR = 2.0
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The dates a report may name: Unix time's first day, and a last one far enough from 9999-12-31
# that a period and its attribution window after it stay representable.
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9000, 12, 31)


# -- settings and periods ----------------------------------------------------------------------------

def attribution_days(settings: dict[str, Any]) -> float:
    value = settings.get("attribution_days", DEFAULT_SETTINGS["attribution_days"])
    try:
        days = float(value)
    except (TypeError, ValueError):
        return float(DEFAULT_SETTINGS["attribution_days"])
    return days if math.isfinite(days) and days > 0 else float(DEFAULT_SETTINGS["attribution_days"])


def holdout_share(settings: dict[str, Any]) -> float:
    value = settings.get("holdout_share", DEFAULT_SETTINGS["holdout_share"])
    try:
        share = float(value)
    except (TypeError, ValueError):
        return float(DEFAULT_SETTINGS["holdout_share"])
    if not math.isfinite(share) or share <= 0:
        return 0.0
    return min(share, 0.5)  # what shops.validate_settings allows


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_of(ts: float) -> int:
    return int(ts // DAY)


def day_text(n: int) -> str:
    return (EPOCH + timedelta(days=n)).isoformat()


def today_utc() -> date:
    return datetime.now(UTC).date()


def _parse_date(value: Any, name: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        shown = value[:40] if isinstance(value, str) else value
        raise bad_request(name, f"use a date as YYYY-MM-DD, not {shown!r}")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(name, f"{value.strip()!r} is not a calendar date") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        # Day arithmetic near year 1 or 9999 overflows Python's dates.
        raise bad_request(name, f"use a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}")
    return day


def parse_period(date_from: Any, date_to: Any, today: date | None = None) -> tuple[date, date]:
    """Inclusive UTC dates; by default the last 90 days up to today. 400 naming `from`/`to`."""
    today = today or today_utc()
    start, end = _parse_date(date_from, "from"), _parse_date(date_to, "to")
    if end is None:
        end = today if start is None or start <= today else start
    if start is None:
        start = max(FIRST_DATE, end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise bad_request("from", f"{start.isoformat()} is after to ({end.isoformat()})")
    if (end - start).days >= MAX_DAYS:
        raise bad_request("to", f"a report covers at most {MAX_DAYS} days")
    return start, end


# -- figures -----------------------------------------------------------------------------------------

@dataclass
class ScopeFigures:
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    sets: dict[str, set] = field(default_factory=lambda: {k: set() for k in VISITORS})
    # Distinct visitors of rolled-up days, already counted per day.
    extra: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VISITORS, 0))

    def visitors(self, metric: str) -> int:
        return len(self.sets[metric]) + self.extra[metric]


@dataclass
class Figures:
    scopes: dict[str, ScopeFigures] = field(default_factory=lambda: {s: ScopeFigures() for s in SCOPES})
    daily: dict[int, dict[str, float]] = field(default_factory=dict)
    orders: int = 0
    revenue: float = 0.0
    # Per group: visitors, converted, Σ revenue per visitor, Σ (revenue per visitor)².
    holdout: dict[str, dict[str, float]] = field(
        default_factory=lambda: {g: dict.fromkeys(HOLDOUT_METRICS, 0) for g in GROUPS})
    restores: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RESTORE_METRICS, 0))
    # Orders the merchant's back end posted with the shop's API key (docs/REPORT.md).
    orders_confirmed: int = 0
    revenue_confirmed: float = 0.0
    outliers: int = 0  # browser-reported orders counted at their lines' catalog value (raw days only)

    def day(self, n: int) -> dict[str, float]:
        row = self.daily.get(n)
        if row is None:
            row = self.daily[n] = dict.fromkeys(DAILY, 0)
        return row


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


class Prices:
    """What a purchase line is worth: the catalog's price where the catalog has one (a browser's
    price is whatever the browser says), else the price sent with the line, else a browser-reported
    product price."""

    def __init__(self, conn: sqlite3.Connection, shop: str) -> None:
        self.conn, self.shop, self.known, self.catalog = conn, shop, {}, {}

    def prefetch(self, ids: Iterable[str]) -> None:
        missing = sorted({i for i in ids if i not in self.known})
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            rows = self.conn.execute(
                f"SELECT id, price, source FROM products WHERE shop = ? AND id IN ({','.join('?' * len(chunk))})",
                (self.shop, *chunk)).fetchall()
            found = {pid: (price, source) for pid, price, source in rows}
            for pid in chunk:
                price, source = found.get(pid, (None, None))
                self.known[pid] = price
                if source in ("catalog", "page") and price is not None:  # the shop's own word
                    self.catalog[pid] = price

    def line(self, item: dict, trusted: bool = False) -> float:
        """The line's value; `trusted` (a merchant-confirmed order): its own price first."""
        pid = str(item.get("id"))
        price = item.get("price") if trusted else self.catalog.get(pid)
        if price is None:
            price = item.get("price")
        if price is None:
            price = self.known.get(pid)
        qty = item.get("qty", 1)
        return float(price or 0.0) * float(qty if qty is not None else 1)

    def all_in_catalog(self, items: list[dict]) -> bool:
        return bool(items) and all(str(i.get("id")) in self.catalog for i in items)


def purchase_confirmed(data: str | None) -> bool:
    """Whether the merchant's back end posted (or confirmed) this order with the shop's API key."""
    return bool(data) and '"confirmed":true' in data  # ingest writes it compact, never inside an id


def purchase_items(data: str | None) -> list[dict]:
    try:
        parsed = json.loads(data or "{}")
    except ValueError:
        return []
    items = parsed.get("items") if isinstance(parsed, dict) else None
    return [i for i in items if isinstance(i, dict) and "id" in i] if isinstance(items, list) else []


def order_total(value: float | None, items: list[dict], prices: Prices) -> float:
    """The order's total as sent; without one, the sum of its lines."""
    if value is not None:
        return float(value)
    return math.fsum(prices.line(i) for i in items)


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
SELECT DISTINCT e.block_id FROM events e JOIN blocks b ON b.id = e.block_id
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
    SELECT vid, min(ts) AS first, holdout FROM blocks
    WHERE shop = :shop AND ts >= :lo AND ts < :hi
    GROUP BY vid
)
SELECT f.vid, f.first, f.holdout FROM firsts f
WHERE NOT EXISTS (SELECT 1 FROM blocks e WHERE e.shop = :shop AND e.vid = f.vid AND e.ts < f.first)
  AND NOT EXISTS (SELECT 1 FROM visitors v WHERE v.shop = :shop AND v.vid = f.vid
                  AND v.first_eligible_at < f.first)
"""


# Section keys straight from the stored summary (written by json.dumps; an id containing the
# pattern would be escaped): a regex is several times cheaper than parsing every block's JSON.
_SECTION_KEY = re.compile(r'"key":\s*"(cart|viewed|favorites|similar)"')


def _keys(raw: str | None) -> list[str]:
    return list(dict.fromkeys(_SECTION_KEY.findall(raw or "")))


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def compute_raw(conn: sqlite3.Connection, shop: str, lo_day: int, hi_day: int, window_days: float,
                skip: set[int] | frozenset[int] = frozenset()) -> Figures:
    """Figures of the days [lo_day, hi_day) from the raw tables, leaving out the days in `skip`.

    Impressions and clicks timestamped before their block was rendered are not counted (they
    cannot happen; a back end sending inconsistent times would otherwise count a block twice).
    """
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
        key = (block_id, pid)
        if key not in first_click:
            first_click[key] = None if counted_before else (ts, vid, section)
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


# -- daily counts (rolled-up days) -------------------------------------------------------------------

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


# -- the report --------------------------------------------------------------------------------------

def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _money(x: float) -> float:
    return round(x + 0.0, 2) + 0.0


def _scope_dict(s: ScopeFigures) -> dict[str, Any]:
    reached, clicked, purchased = (s.visitors(m) for m in VISITORS)
    c = s.counts
    return {
        "rendered": int(c["rendered"]),
        "impressions": int(c["impressions"]),
        "visitors_reached": reached,
        "clicks": int(c["clicks"]),
        "visitors_clicked": clicked,
        "ctr_visitors": _ratio(clicked, reached),
        "ctr_impressions": _ratio(c["clicks"], c["impressions"]),
        "attributed_orders": int(c["attributed_orders"]),
        "visitors_purchased": purchased,
        "click_to_purchase": _ratio(purchased, clicked),
        "attributed_revenue": _money(c["attributed_revenue"]),
        "attributed_order_revenue": _money(c["attributed_order_revenue"]),
        "attributed_orders_confirmed": int(c["attributed_orders_confirmed"]),
        "attributed_revenue_confirmed": _money(c["attributed_revenue_confirmed"]),
    }


def _group_dict(h: dict[str, float]) -> dict[str, Any]:
    n = int(h["visitors"])
    return {
        "visitors": n,
        "converted": int(h["converted"]),
        "conversion_rate": _ratio(h["converted"], n),
        "revenue": _money(h["revenue"]),
        "revenue_per_visitor": _money(_ratio(h["revenue"], n)),
    }


def _iso_time(ts: Any) -> str | None:
    if not isinstance(ts, (int, float)) or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _money_comparison(comparison: dict[str, Any]) -> dict[str, Any]:
    """A revenue comparison with its amounts in cents (the relative figures stay fractions)."""
    ci = comparison["ci95"]
    return {**comparison, "absolute": None if comparison["absolute"] is None else _money(comparison["absolute"]),
            "ci95": None if ci is None else [None if x is None else _money(x) for x in ci]}


def _verdict(share: float, t: dict, c: dict, conversion, rpv) -> str:
    if c["visitors"] == 0 and share == 0:
        return "holdout is off (holdout_share = 0): there is no control group to compare with"
    if t["visitors"] == 0 or c["visitors"] == 0:
        return "not enough data yet: both groups need eligible visitors"
    parts = []
    for name, comp, unit in (("conversion", conversion, "points"), ("revenue per visitor", rpv, "")):
        if comp.significant:
            direction = "higher" if comp.absolute > 0 else "lower"
            amount = f"{abs(comp.absolute) * 100:.2f} points" if unit else f"{abs(comp.absolute):.2f}"
            parts.append(f"{name} is {amount} {direction} with the block (significant at 95 %)")
        else:
            parts.append(f"{name}: not yet significant (the 95 % interval includes 0)")
    if not conversion.significant and not rpv.significant:
        return "not yet significant: the difference between the groups could still be chance " \
               "(both 95 % intervals include 0)"
    return "; ".join(parts)


def build_report(conn: sqlite3.Connection, shop: Shop, start: date, end: date) -> dict[str, Any]:
    """The report of `shop` for the inclusive UTC dates start … end (docs/REPORT.md)."""
    lo_day, hi_day = day_number(start), day_number(end) + 1
    window = attribution_days(shop.settings)
    share = holdout_share(shop.settings)
    rolled = rolled_days(conn, shop.id, lo_day, hi_day)
    raw_lo = lo_day
    while raw_lo in rolled and raw_lo < hi_day:
        raw_lo += 1
    fig = compute_raw(conn, shop.id, raw_lo, hi_day, window, rolled) if raw_lo < hi_day else Figures()
    add_rolled(conn, shop.id, fig, lo_day, hi_day)

    treatment, control = _group_dict(fig.holdout["treatment"]), _group_dict(fig.holdout["control"])
    conversion = two_proportions(treatment["converted"], treatment["visitors"], control["converted"],
                                 control["visitors"])
    samples = {g: Sample(int(fig.holdout[g]["visitors"]), fig.holdout[g]["revenue"], fig.holdout[g]["revenue_sq"])
               for g in GROUPS}
    rpv = welch(samples["treatment"], samples["control"])
    block = _scope_dict(fig.scopes["block"])
    notes = []
    if rolled:
        first, last = min(rolled), max(rolled)
        notes.append(
            f"{day_text(first)} to {day_text(last)} come from daily counts (raw events older than the "
            f"retention period are deleted): visitor counts there are sums of daily counts, so a visitor "
            f"active on several of those days counts once per day")
    from .caps import notes as cap_notes

    notes += cap_notes(conn, shop.id)
    if fig.outliers:
        notes.append(
            f"{fig.outliers} browser-reported order(s) sent a total more than {OUTLIER_FACTOR:g} times what their "
            f"products cost in the catalog: they count at the catalog's prices")
    return {
        "shop": shop.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "currency": shop.currency,
        "attribution_days": _plain(window),
        "block": block,
        "sections": {key: _scope_dict(fig.scopes[key]) for key in SECTIONS},
        "totals": {
            "orders": fig.orders,
            "revenue": _money(fig.revenue),
            "block_revenue_share": _ratio(fig.scopes["block"].counts["attributed_revenue"], fig.revenue),
            "orders_confirmed": fig.orders_confirmed,
            "revenue_confirmed": _money(fig.revenue_confirmed),
        },
        "restores": {
            "carts": int(fig.restores["carts"]),
            "items": int(fig.restores["items"]),
            "orders": int(fig.restores["orders"]),
            "revenue": _money(fig.restores["revenue"]),
        },
        "holdout": {
            "share": share,
            "changed_at": _iso_time(shop.settings.get(HOLDOUT_CHANGED)),
            "treatment": treatment,
            "control": control,
            "conversion": conversion.as_dict(),
            "revenue_per_visitor": _money_comparison(rpv.as_dict()),
            "verdict": _verdict(share, treatment, control, conversion, rpv),
        },
        "daily": [
            {"date": day_text(n), **{k: (_money(v) if k in ("attributed_revenue", "revenue") else int(v))
                                    for k, v in fig.daily.get(n, dict.fromkeys(DAILY, 0)).items()}}
            for n in range(lo_day, hi_day)
        ],
        "notes": notes,
    }


def read_connection(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=1")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _report_sync(path: str, shop: Shop | str, date_from: Any, date_to: Any) -> dict[str, Any]:
    start, end = parse_period(date_from, date_to)
    conn = read_connection(path)
    try:
        if not isinstance(shop, Shop):
            found = get_shop(conn, shop)
            if found is None:
                raise ApiError(404, "unknown_shop", f"shop: no shop {str(shop)[:80]!r}", "shop")
            shop = found
        # One read transaction: every figure sees the same snapshot.
        conn.execute("BEGIN")
        try:
            return build_report(conn, shop, start, end)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


async def report_json(db, shop: Shop | str, date_from: Any = None, date_to: Any = None) -> dict[str, Any]:
    """The report as a JSON-ready dict. `db` is the server's Database; `shop` a Shop or a shop id;
    dates are `date`s or YYYY-MM-DD strings (None: the defaults). Raises ApiError 400/404."""
    return await asyncio.to_thread(_report_sync, db.path, shop, date_from, date_to)


# -- CSV ---------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "shop", "from", "to", "currency", "attribution_days", "scope",
    "rendered", "impressions", "visitors_reached", "clicks", "visitors_clicked", "ctr_visitors", "ctr_impressions",
    "attributed_orders", "visitors_purchased", "click_to_purchase", "attributed_revenue", "attributed_order_revenue",
    "total_orders", "total_revenue", "block_revenue_share",
    "visitors", "converted", "conversion_rate", "revenue", "revenue_per_visitor",
    "absolute", "relative", "ci95_low", "ci95_high", "relative_ci95_low", "relative_ci95_high", "significant",
    "restored_carts", "restored_items",
    "attributed_orders_confirmed", "attributed_revenue_confirmed", "total_orders_confirmed", "total_revenue_confirmed",
)
DAILY_CSV_COLUMNS = ("shop", "date", *DAILY)
_MONEY_FIELDS = {"attributed_revenue", "attributed_order_revenue", "total_revenue", "revenue", "revenue_per_visitor",
                 "attributed_revenue_confirmed", "total_revenue_confirmed"}
_RATE_FIELDS = {"ctr_visitors", "ctr_impressions", "click_to_purchase", "block_revenue_share", "conversion_rate"}


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in _MONEY_FIELDS:
        return f"{value:.2f}"
    if name in _RATE_FIELDS:
        return f"{value:.6f}"
    if isinstance(value, float):
        return f"{value:.6g}" if not value.is_integer() or abs(value) >= 1e15 else str(int(value))
    return str(value)


def report_csv(report: dict[str, Any]) -> str:
    """One row per scope: the block, each section, the two holdout groups and the two uplifts."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    common = {k: report[k] for k in ("shop", "from", "to", "currency", "attribution_days")}
    rows = [{"scope": "block", **report["block"], "total_orders": report["totals"]["orders"],
             "total_revenue": report["totals"]["revenue"],
             "block_revenue_share": report["totals"]["block_revenue_share"],
             "total_orders_confirmed": report["totals"]["orders_confirmed"],
             "total_revenue_confirmed": report["totals"]["revenue_confirmed"]}]
    rows += [{"scope": f"section:{key}", **values} for key, values in report["sections"].items()]
    holdout = report["holdout"]
    rows += [{"scope": f"holdout:{g}", **holdout[g]} for g in GROUPS]
    for metric in ("conversion", "revenue_per_visitor"):
        comp = holdout[metric]
        ci, rel = comp["ci95"] or (None, None), comp["relative_ci95"] or (None, None)
        rows.append({"scope": f"uplift:{metric}", "absolute": comp["absolute"], "relative": comp["relative"],
                     "ci95_low": ci[0], "ci95_high": ci[1], "relative_ci95_low": rel[0],
                     "relative_ci95_high": rel[1], "significant": comp["significant"]})
    restores = report["restores"]
    rows.append({"scope": "restores", "restored_carts": restores["carts"], "restored_items": restores["items"],
                 "total_orders": restores["orders"], "total_revenue": restores["revenue"]})
    for row in rows:
        merged = {**common, **row}
        writer.writerow([_cell(c, merged.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


def daily_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DAILY_CSV_COLUMNS)
    for row in report["daily"]:
        merged = {"shop": report["shop"], **row}
        writer.writerow([_cell(c, merged.get(c)) for c in DAILY_CSV_COLUMNS])
    return out.getvalue()


# -- terminal ----------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]], first_left: bool = True) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [c.ljust(widths[i]) if i == 0 and first_left else c.rjust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def report_text(report: dict[str, Any], locale: str = "tr") -> str:
    from babel import Locale
    from babel.numbers import format_decimal, format_percent

    from .i18n import BABEL_LOCALES
    from .render import format_price

    cur = report["currency"]
    babel = BABEL_LOCALES.get(locale, "en_US")
    percent = Locale.parse(babel).percent_formats[None].pattern.replace("#,##0", "#,##0.0")  # "%80,0" in Turkish

    # Every number in the shop's locale, as its money already is ("3.856" next to "₺8.245,20").
    def num(n: float) -> str:
        return format_decimal(int(n), locale=babel)

    def pct(x: float | None, signed: bool = False) -> str:
        if x is None:
            return "–"
        text = format_percent(x, format=percent, locale=babel)
        return ("+" + text if x >= 0 else text) if signed else text

    def money(x: float | None) -> str:
        return "–" if x is None else format_price(x, cur, locale)

    def signed_money(x: float | None) -> str:
        if x is None:
            return "–"
        return ("+" if x >= 0 else "−") + format_price(abs(x), cur, locale)

    days = report["attribution_days"]
    lines = [
        f"Cartback report: shop {report['shop']}, {report['from']} to {report['to']} (UTC), currency {cur}",
        f"Attribution window: {days} days (a purchase counts for the block when it contains a product the "
        f"visitor clicked in the block up to {days} days before)",
        "",
    ]
    scopes = [("block", report["block"]), *report["sections"].items()]
    spec = [
        ("Rendered", "rendered", num),
        ("Impressions (>= 50% visible)", "impressions", num),
        ("Visitors reached", "visitors_reached", num),
        ("Clicks", "clicks", num),
        ("Visitors who clicked", "visitors_clicked", num),
        ("CTR (visitors)", "ctr_visitors", pct),
        ("CTR (impressions)", "ctr_impressions", pct),
        (f"Attributed orders ({days} d)", "attributed_orders", num),
        ("Visitors who purchased", "visitors_purchased", num),
        ("Click-to-purchase", "click_to_purchase", pct),
        (f"Attributed revenue ({days} d)", "attributed_revenue", money),
        ("Attributed orders' total", "attributed_order_revenue", money),
    ]
    rows = [[label, *(fmt(values[key]) for _, values in scopes)] for label, key, fmt in spec]
    lines += _table(["", *(name for name, _ in scopes)], rows)
    totals = report["totals"]
    lines += ["", f"All tracked orders: {num(totals['orders'])}, revenue {money(totals['revenue'])}; "
                  f"block's share of revenue: {pct(totals['block_revenue_share'])} ({days}-day attribution)", ""]

    r = report["restores"]
    lines += [f"Carts restored in one click: {num(r['carts'])} ({num(r['items'])} items); orders within "
              f"{days} days after a restore: {num(r['orders'])}, revenue {money(r['revenue'])}", ""]

    h = report["holdout"]
    if h["share"]:
        lines.append(f"Holdout: {pct(h['share'])} of visitors never see the block (conversion within {days} days "
                     f"of their first empty cart with something to show)")
    else:
        lines.append("Holdout: off (holdout_share = 0); earlier control visitors, if any, are still compared")
    rows = [[g, num(h[g]["visitors"]), num(h[g]["converted"]), pct(h[g]["conversion_rate"]),
             money(h[g]["revenue"]), money(h[g]["revenue_per_visitor"])] for g in GROUPS]
    lines += _table(["group", "visitors", "converted", "conversion", "revenue", "revenue/visitor"], rows)

    def interval(ci, fmt) -> str:
        return "–" if ci is None else f"{fmt(ci[0])} … {fmt(ci[1])}"

    def points(x: float) -> str:
        return f"{x * 100:+.2f} pts"

    conv, rpv = h["conversion"], h["revenue_per_visitor"]
    rows = [
        ["conversion", "–" if conv["absolute"] is None else points(conv["absolute"]), interval(conv["ci95"], points),
         pct(conv["relative"], True), interval(conv["relative_ci95"], lambda x: pct(x, True)),
         "yes" if conv["significant"] else "not yet"],
        ["revenue/visitor", signed_money(rpv["absolute"]), interval(rpv["ci95"], signed_money),
         pct(rpv["relative"], True), interval(rpv["relative_ci95"], lambda x: pct(x, True)),
         "yes" if rpv["significant"] else "not yet"],
    ]
    lines += [""] + _table(["uplift", "absolute", "95% CI", "relative", "95% CI", "significant"], rows)
    lines += [f"Verdict: {h['verdict']}", ""]

    active = [d for d in report["daily"] if any(v for k, v in d.items() if k != "date")]
    if not active:
        lines.append(f"No data yet: no block shown and no order tracked from {report['from']} to {report['to']}. "
                     f"Figures appear here once the tag is on the shop's pages and visitors come back.")
        return "\n".join(lines) + "\n"
    lines.append(f"Daily (the {num(len(active))} days with activity)")
    rows = [[d["date"], num(d["rendered"]), num(d["impressions"]), num(d["clicks"]), num(d["attributed_orders"]),
             money(d["attributed_revenue"]), num(d["orders"]), money(d["revenue"])] for d in active]
    lines += _table(["date", "rendered", "impressions", "clicks", "attr. orders", "attr. revenue", "orders",
                     "revenue"], rows)
    for note in report.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def cli_report(args) -> int:
    """`cartback report SHOP [--from] [--to] [--csv]`."""
    from .db import connect_sync

    start, end = parse_period(args.date_from, args.date_to)
    conn = connect_sync(args.db)
    try:
        shop = get_shop(conn, args.shop)
        if shop is None:
            raise ApiError(404, "unknown_shop", f"shop: no shop {args.shop!r}", "shop")
        conn.execute("BEGIN")
        try:
            report = build_report(conn, shop, start, end)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()
    sys.stdout.write(report_csv(report) if args.csv else report_text(report, shop.locale))
    return 0

"""One visitor's data (export, erase) and the per-shop retention period.

Erase (`DELETE /v1/shops/{shop}/visitors/{vid}`), in one transaction:
- deleted: every event the report does not count (add, remove, cart, favorite, unfavorite; views
  are not logged as events, server/cartback/ingest.py), the visitor's `visitor_items`, and rows with their
  id in any other table with `shop` and `vid` columns (tables added later, e.g. by the recommender,
  are covered without changes here);
- kept for the report, under one fresh random id (`erased-…`, per erase, unrelated to the old id,
  never issued as a token), so every count, distinct-visitor figure and holdout figure stays as it was:
  * impressions and clicks (block, product clicked, time);
  * purchases with a new random order id, the order total frozen into `value`, and only the lines of
    products the visitor clicked in a block (what attribution needs); the other lines, which say
    what else they bought, are dropped;
  * blocks with the section keys, and in each only the product ids the visitor clicked (the rest
    listed their browsing history);
  * the visitor row only when they were ever eligible for the holdout (its first eligible moment
    keeps the cohort exact once raw rows age out); otherwise it is deleted.
  Afterwards no row carries the old id, whichever process wrote the rows: a block another server
  process served before the erasure and records after it (server/cartback/renders.py batches
  them) is recorded under the new id, by a short-lived tombstone in `meta` (a hash of the old
  id, gone after renders.TOMBSTONE_SECONDS). The visitor's token stays cryptographically valid (tokens
  are stateless), but it names nobody: it shows no block, and if the browser keeps sending events
  they start a fresh, empty visitor. A purchase event re-sent later with the original order id is no
  longer recognised as a duplicate (the order id was personal data and is gone).

Retention (`settings.retention_days`, default 395), run once a day by the server (`run_retention`;
the CLI or a cron job may call it too):
- raw rows older than the period are deleted: events and blocks by their time, visitor_items by
  their last activity, visitor rows by last_seen;
- before that, each finished day is rolled up into `daily_counts` (server/cartback/report/daily.py reads those
  days from there, so the report's figures do not change). Days are rolled up a little ahead of
  deletion, up to attribution window + 1 day past the cut-off, so that a day still held raw never
  depends on deleted rows (a purchase's click, a block's earlier impression);
- approximate after roll-up: distinct-visitor figures over several rolled-up days (sums of daily
  distinct counts) and the rates built on them. With a retention period shorter than twice the
  attribution window (+1 day), the attribution and holdout figures of the oldest days are computed
  before all their purchases are in, and can come out low;
- events that arrive later for a day already rolled up (a back end back-filling a year-old day)
  are not counted;
- one run per shop at a time: every server process runs it, and on PostgreSQL, whose transactions
  do not wait for each other as SQLite's do, a run that started beside another could roll a day up
  from rows the other had just deleted and overwrite its figures with zeros. So a run takes the
  shop's retention lock for its transaction (`pg_try_advisory_xact_lock`) and leaves the shop to
  whoever holds it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import sqlite3
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .ingest import memo
from .locks import advisory_key
from .recommend import model_of
from .renders import forget_erasures, remember_erasure, slim_sections
from .report import DAY, Prices, compute_raw, daily_rows, day_of, day_text, order_total, purchase_items, rolled_days
from .shop_settings import attribution_days
from .shops import DEFAULT_SETTINGS, Shop, get_shop
from .validation import EVENT_TYPES

if TYPE_CHECKING:
    from .db import Database

log = logging.getLogger("cartback.privacy")

ERASED_PREFIX = "erased-"
COUNTED_TYPES = ("impression", "click", "purchase")
RAW_VID = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
_HANDLED = {"events", "blocks", "visitor_items", "visitors"}
_TYPE_MARKS = ",".join("?" * len(EVENT_TYPES))


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_PG_TABLES = """
SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name IN ('shop', 'vid')
GROUP BY table_name HAVING count(*) = 2 ORDER BY table_name
"""


def _other_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables (beyond the four handled by name) that hold rows per shop and visitor."""
    if getattr(conn, "dialect", "") == "postgresql":
        return [name for (name,) in conn.execute(_PG_TABLES) if name not in _HANDLED]
    found = []
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        if name in _HANDLED:
            continue
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')}
        if {"shop", "vid"} <= columns:
            found.append(name)
    return found


# -- export ------------------------------------------------------------------------------------------

def _rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _json_field(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def export_visitor(conn: sqlite3.Connection, shop: str, vid: str) -> dict[str, Any]:
    """Everything stored about one visitor of one shop, as JSON-ready data."""
    visitor = _rows(conn, "SELECT first_seen, last_seen, first_eligible_at FROM visitors WHERE shop = ? AND vid = ?",
                    (shop, vid))
    events = _rows(conn, "SELECT id, ts, type, product_id, qty, block_id, section, order_id, value, data "
                         "FROM events WHERE shop = ? AND vid = ? ORDER BY id", (shop, vid))
    for e in events:
        e["at"] = _iso(e["ts"])
        e["data"] = _json_field(e["data"])
    items = _rows(conn, "SELECT product_id, viewed_at, views, carted_at, in_cart, cart_qty, fav_at, bought_at, last_at "
                        "FROM visitor_items WHERE shop = ? AND vid = ? ORDER BY last_at DESC", (shop, vid))
    blocks = _rows(conn, "SELECT id, ts, locale, holdout, sections FROM blocks WHERE shop = ? AND vid = ? ORDER BY ts",
                   (shop, vid))
    for b in blocks:
        b["at"] = _iso(b["ts"])
        b["sections"] = _json_field(b["sections"])
    other = {}
    for table in _other_tables(conn):
        rows = _rows(conn, f'SELECT * FROM "{table}" WHERE shop = ? AND vid = ?', (shop, vid))
        if rows:
            other[table] = rows
    v = {key: _iso(value) for key, value in visitor[0].items()} if visitor else None
    return {
        "shop": shop,
        "vid": vid,
        "exported_at": _iso(time.time()),
        "found": bool(visitor or events or items or blocks or other),
        "visitor": v,
        "events": events,
        "visitor_items": items,
        "blocks": blocks,
        **({"other": other} if other else {}),
    }


# -- erase -------------------------------------------------------------------------------------------

def erase_visitor(conn: sqlite3.Connection, shop: str, vid: str) -> dict[str, Any]:
    """Erase one visitor (see the module docstring). Runs inside the caller's transaction."""
    memo.forget_visitor(shop, vid)  # a later event re-creates the visitor row (ingest.apply_events)
    model_of(conn).forget_visitor(shop, vid)
    alias = ERASED_PREFIX + secrets.token_urlsafe(12)
    clicks = conn.execute("SELECT block_id, product_id FROM events WHERE shop = ? AND vid = ? AND type = 'click'",
                          (shop, vid)).fetchall()
    clicked = {pid for _, pid in clicks if pid is not None}
    clicked_in = {(block, pid) for block, pid in clicks}
    deleted: dict[str, int] = {}
    kept: dict[str, int] = {}

    deleted["events"] = conn.execute(
        f"DELETE FROM events WHERE shop = ? AND vid = ? AND type NOT IN ({','.join('?' * len(COUNTED_TYPES))})",
        (shop, vid, *COUNTED_TYPES)).rowcount
    kept["events"] = conn.execute(
        "UPDATE events SET vid = ?, data = NULL WHERE shop = ? AND vid = ? AND type IN ('impression', 'click')",
        (alias, shop, vid)).rowcount

    prices = Prices(conn, shop)
    purchases = conn.execute("SELECT id, value, data FROM events WHERE shop = ? AND vid = ? AND type = 'purchase'",
                             (shop, vid)).fetchall()
    prices.prefetch(str(i["id"]) for _, _, data in purchases for i in purchase_items(data)
                    if i.get("price") is None)
    for event_id, value, data in purchases:
        parsed = _json_field(data) if data else {}
        items = purchase_items(data)
        total = order_total(value, items, prices)
        lines = [{"id": i["id"], "qty": i.get("qty"), "price": i.get("price")} for i in items
                 if str(i["id"]) in clicked]
        slim: dict[str, Any] = {"items": lines}
        if isinstance(parsed, dict) and parsed.get("currency"):
            slim["currency"] = parsed["currency"]
        if isinstance(parsed, dict) and parsed.get("confirmed") is True:
            slim["confirmed"] = True
        conn.execute("UPDATE events SET vid = ?, order_id = ?, value = ?, data = ? WHERE shop = ? AND id = ?",
                     (alias, ERASED_PREFIX + secrets.token_urlsafe(9), total, json.dumps(slim, separators=(",", ":")),
                      shop, event_id))
    kept["events"] += len(purchases)

    blocks = conn.execute("SELECT id, sections FROM blocks WHERE shop = ? AND vid = ?", (shop, vid)).fetchall()
    for block_id, sections in blocks:
        conn.execute("UPDATE blocks SET vid = ?, sections = ? WHERE shop = ? AND id = ?",
                     (alias, slim_sections(sections, (p for b, p in clicked_in if b == block_id)), shop, block_id))
    kept["blocks"] = len(blocks)
    # Blocks served before now that another process has yet to record (renders.RenderLog) join them.
    remember_erasure(conn, shop, vid, alias, time.time())

    deleted["visitor_items"] = conn.execute("DELETE FROM visitor_items WHERE shop = ? AND vid = ?",
                                            (shop, vid)).rowcount
    row = conn.execute("SELECT last_seen, first_eligible_at FROM visitors WHERE shop = ? AND vid = ?",
                       (shop, vid)).fetchone()
    if row is not None and row[1] is not None:
        conn.execute("UPDATE visitors SET vid = ?, first_seen = first_eligible_at WHERE shop = ? AND vid = ?",
                     (alias, shop, vid))
        kept["visitors"] = 1
    else:
        deleted["visitors"] = conn.execute("DELETE FROM visitors WHERE shop = ? AND vid = ?", (shop, vid)).rowcount
    for table in _other_tables(conn):
        deleted[table] = conn.execute(f'DELETE FROM "{table}" WHERE shop = ? AND vid = ?', (shop, vid)).rowcount
    found = any(deleted.values()) or any(kept.values())
    return {"shop": shop, "vid": vid, "erased": found, "deleted": deleted, "anonymized": kept}


# -- retention ---------------------------------------------------------------------------------------

def retention_days(settings: dict[str, Any]) -> float | None:
    """Days raw data is kept; None (keep everything) for a value that is not a positive number,
    which shops.validate_settings never lets through."""
    value = settings.get("retention_days", DEFAULT_SETTINGS["retention_days"])
    try:
        days = float(value)
    except (TypeError, ValueError):
        return None
    return days if math.isfinite(days) and days > 0 else None


def retain_shop(conn: sqlite3.Connection, shop: Shop, now: float) -> dict[str, Any]:
    days = retention_days(shop.settings)
    if days is None:
        return {"retention_days": None, "rolled_up_days": 0, "deleted": {}}
    if getattr(conn, "dialect", "") == "postgresql" and not conn.execute(
            "SELECT pg_try_advisory_xact_lock(?)", (advisory_key(f"retention:{shop.id}", conn),)).fetchone()[0]:
        return {"retention_days": days, "rolled_up_days": 0, "deleted": {}, "skipped": "another run holds the shop"}
    window = attribution_days(shop.settings)
    window_days = math.ceil(window)
    today = day_of(now)
    cutoff = now - days * DAY
    first_kept_day = day_of(cutoff)
    # Roll up ahead of deletion (see the module docstring), but only finished days whose
    # attribution windows have closed, and never less than what is about to be deleted.
    roll_until = max(first_kept_day, min(first_kept_day + window_days + 1, today - window_days - 1))
    cutoff = min(cutoff, roll_until * DAY)

    # Events are indexed by (shop, type, ts): one lookup per type (migration 5 says why).
    earliest = [conn.execute("SELECT min(ts) FROM events WHERE shop = ? AND type = ?", (shop.id, kind)).fetchone()[0]
                for kind in EVENT_TYPES]
    earliest.append(conn.execute("SELECT min(ts) FROM blocks WHERE shop = ?", (shop.id,)).fetchone()[0])
    earliest = [e for e in earliest if e is not None]
    rolled = 0
    if earliest and day_of(min(earliest)) < roll_until:
        start = day_of(min(earliest))
        done = rolled_days(conn, shop.id, start, roll_until)
        for day in range(start, roll_until):
            if day in done:
                continue
            fig = compute_raw(conn, shop.id, day, day + 1, window)
            conn.executemany(
                "INSERT INTO daily_counts (shop, day, scope, metric, value) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (shop, day, scope, metric) DO UPDATE SET value = excluded.value",
                [(shop.id, day_text(day), scope, metric, value) for scope, metric, value in daily_rows(fig, day, now)])
            rolled += 1

    deleted = {
        "events": conn.execute(f"DELETE FROM events WHERE shop = ? AND type IN ({_TYPE_MARKS}) AND ts < ?",
                               (shop.id, *EVENT_TYPES, cutoff)).rowcount,
        "blocks": conn.execute("DELETE FROM blocks WHERE shop = ? AND ts < ?", (shop.id, cutoff)).rowcount,
        "visitor_items": conn.execute("DELETE FROM visitor_items WHERE shop = ? AND last_at < ?",
                                      (shop.id, cutoff)).rowcount,
        "visitors": conn.execute("DELETE FROM visitors WHERE shop = ? AND last_seen < ?", (shop.id, cutoff)).rowcount,
    }
    if deleted["visitor_items"]:
        model_of(conn).forget_visitors()  # their recent products in memory may name deleted rows
    forget_erasures(conn, shop.id, now)
    return {"retention_days": days, "cutoff": _iso(cutoff), "rolled_up_days": rolled, "deleted": deleted}


def run_retention(conn: sqlite3.Connection, now: float | None = None, shop: str | None = None) -> dict[str, Any]:
    """Apply every shop's retention period (or one shop's). Uses the caller's transaction when there
    is one (the server's writer), else runs in its own."""
    now = time.time() if now is None else now
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        ids = [shop] if shop is not None else [r[0] for r in conn.execute("SELECT id FROM shops ORDER BY id")]
        result = {}
        for shop_id in ids:
            found = get_shop(conn, shop_id)
            if found is not None:
                result[shop_id] = retain_shop(conn, found, now)
    except BaseException:
        if own:
            conn.execute("ROLLBACK")
        raise
    if own:
        conn.execute("COMMIT")
    return {"ran_at": _iso(now), "shops": result}


# Once a day, first a minute after start-up (a server restarted every night still runs it).
RETENTION_FIRST_DELAY = 60.0
RETENTION_INTERVAL = 86400.0


async def retention_loop(db: Database, first_delay: float = RETENTION_FIRST_DELAY,
                         interval: float = RETENTION_INTERVAL) -> None:
    """The server's daily retention run: one writer transaction per shop, so browser events keep
    flowing between shops."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            for (shop_id,) in await db.fetchall("SELECT id FROM shops ORDER BY id"):
                result = await db.write(run_retention, None, shop_id)
                stats = result["shops"].get(shop_id)
                if stats and (stats["rolled_up_days"] or any(stats["deleted"].values())):
                    log.info("retention for %s: %s", shop_id, stats)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention run failed; retrying in a day")
        await asyncio.sleep(interval)


"""Served blocks are recorded in batches: one writer call for many requests, not one each.

A visitor never waits for this record (it acknowledges nothing the visitor sent), so it can wait
up to a second and share a transaction. The cost: a crash loses at most the last `interval`
seconds of render records, never an event the server acknowledged. Reports, exports and erasure
flush first; a record another process still holds when a visitor is erased is written under the
visitor's new id (`remember_erasure`). Why a whole second: a batch's rows share the index pages
they dirty (the per-visitor index takes one random page per row otherwise), and the block
reader's snapshot is renewed after every commit, so fewer commits leave more CPU for the blocks
themselves (bench/ab.py measures it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .ingest import memo

if TYPE_CHECKING:
    from .db import Database

# The visitor row remembers the first eligible moment (the holdout cohort) beyond the lifetime of
# the blocks rows; last_seen covers the block too, so retention never drops an active visitor.
_TOUCH_VISITOR = """
INSERT INTO visitors (shop, vid, first_seen, last_seen, first_eligible_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (shop, vid) DO UPDATE SET
    last_seen = max(visitors.last_seen, excluded.last_seen),
    first_eligible_at = min(coalesce(visitors.first_eligible_at, excluded.first_eligible_at),
                            excluded.first_eligible_at)
"""
_INSERT = "INSERT INTO blocks (id, shop, vid, ts, locale, holdout, sections) VALUES (?, ?, ?, ?, ?, ?, ?)"

Row = tuple[str, str, str, float, str, int, str]  # id, shop, vid, ts, locale, holdout, sections JSON


# An erasure (privacy.erase_visitor) leaves a tombstone in `meta` for a while: a block another process
# served before it, still waiting in that process's RenderLog, is then recorded under the visitor's
# new id, as the erasure would have left it, instead of bringing the erased id back. The key holds a
# hash of the id, not the id; the tombstone goes once TOMBSTONE_SECONDS have passed (the next erasure
# in the shop or the daily retention run), far longer than a record waits.
TOMBSTONE_SECONDS = 600.0
_UPSERT_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
_TOMBSTONES = "SELECT key, value FROM meta WHERE key >= ? AND key < ?"


def _tombstone_key(shop: str, vid: str) -> str:
    return f"erased:{shop}:{hashlib.sha256(vid.encode()).hexdigest()[:32]}"


def _tombstones(conn: sqlite3.Connection, shop: str) -> dict[str, tuple[float, str]]:
    """key → (when, the erased visitor's new id), for the shop's tombstones."""
    found = {}
    for key, value in conn.execute(_TOMBSTONES, (f"erased:{shop}:", f"erased:{shop};")):
        at, alias = json.loads(value)
        found[key] = (float(at), str(alias))
    return found


def remember_erasure(conn: sqlite3.Connection, shop: str, vid: str, alias: str, now: float) -> None:
    """In the erasure's transaction: the tombstone, and the shop's old ones gone."""
    forget_erasures(conn, shop, now)
    conn.execute(_UPSERT_META, (_tombstone_key(shop, vid), json.dumps([now, alias])))


def forget_erasures(conn: sqlite3.Connection, shop: str, now: float) -> None:
    old = [key for key, (at, _) in _tombstones(conn, shop).items() if at < now - TOMBSTONE_SECONDS]
    conn.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in old])


def slim_sections(sections: Any, clicked: Iterable[str]) -> str:
    """A block's sections JSON as an erasure keeps it: each section's key, and of its products only
    those the visitor clicked (what attribution needs); the rest listed their history."""
    keep = set(clicked)
    if isinstance(sections, str):
        try:
            sections = json.loads(sections)
        except ValueError:
            sections = None
    summary = [{"key": s.get("key"), "ids": [p for p in s.get("ids") or [] if p in keep]}
               for s in sections if isinstance(s, dict)] if isinstance(sections, list) else []
    return json.dumps(summary, separators=(",", ":"))


def _after_erasures(conn: sqlite3.Connection, rows: list[Row]) -> list[Row]:
    erased: dict[str, tuple[float, str]] = {}
    for shop in {row[1] for row in rows}:
        erased.update(_tombstones(conn, shop))
    if not erased:
        return rows
    out = []
    for row in rows:
        block_id, shop, vid, ts = row[:4]
        hit = erased.get(_tombstone_key(shop, vid))
        if hit is not None and ts > hit[0]:
            # The id came back after its erasure (tokens stay valid): a fresh visitor, whose row
            # this process's memo may still think it wrote.
            memo.forget_visitor(shop, vid)
        elif hit is not None:
            alias = hit[1]
            clicked = [r[0] for r in conn.execute(
                "SELECT product_id FROM events WHERE shop = ? AND vid = ? AND type = 'click' AND block_id = ?",
                (shop, alias, block_id))]
            out.append((block_id, shop, alias, ts, row[4], row[5], slim_sections(row[6], clicked)))
            continue
        out.append(row)
    return out


def record_blocks(conn: sqlite3.Connection, rows: list[Row]) -> None:
    rows = _after_erasures(conn, rows)
    conn.executemany(_INSERT, rows)
    # The visitor row changes only for a first eligible moment or a last_seen this process has not
    # written lately (ingest.memo); each `and` operand records what it is told when it says no.
    touched = [(shop, vid, ts, ts, ts) for _, shop, vid, ts, *_ in rows
               if not (memo.eligible_since(shop, vid, ts) & memo.seen_recently(shop, vid, ts))]
    if touched:
        conn.executemany(_TOUCH_VISITOR, touched)


class RenderLog:
    def __init__(self, db: Database, interval: float = 1.0, max_rows: int = 2000) -> None:
        self._db = db
        self._interval = interval
        self._max_rows = max_rows
        self._rows: list[Row] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def add(self, row: Row) -> None:
        self._rows.append(row)
        if len(self._rows) >= self._max_rows:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._start_flush)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rows, self._rows = self._rows, []
        if rows:
            task = asyncio.ensure_future(self._db.write(record_blocks, rows))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Everything added so far is committed when this returns (reports, exports and erasure call it)."""
        self._start_flush()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    close = flush

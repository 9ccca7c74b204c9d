"""Served blocks are recorded in batches: one writer call for many requests, not one each.

A visitor never waits for this record (it acknowledges nothing the visitor sent), so it can wait
up to a second and share a transaction. The cost: a crash loses at most the last `interval`
seconds of render records, never an event the server acknowledged. Reports, exports and erasure
flush first. Why a whole second: a batch's rows share the index pages they dirty (the per-visitor
index takes one random page per row otherwise), and the block reader's snapshot is renewed after
every commit, so fewer commits leave more CPU for the blocks themselves (bench/ab.py measures it).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING

from .ingest import memo

if TYPE_CHECKING:
    from .db import Database

# The visitor row remembers the first eligible moment (the holdout cohort) beyond the lifetime of
# the blocks rows; last_seen covers the block too, so retention never drops an active visitor.
_TOUCH_VISITOR = """
INSERT INTO visitors (shop, vid, first_seen, last_seen, first_eligible_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (shop, vid) DO UPDATE SET
    last_seen = max(last_seen, excluded.last_seen),
    first_eligible_at = min(coalesce(first_eligible_at, excluded.first_eligible_at), excluded.first_eligible_at)
"""
_INSERT = "INSERT INTO blocks (id, shop, vid, ts, locale, holdout, sections) VALUES (?, ?, ?, ?, ?, ?, ?)"

Row = tuple[str, str, str, float, str, int, str]  # id, shop, vid, ts, locale, holdout, sections JSON


def record_blocks(conn: sqlite3.Connection, rows: list[Row]) -> None:
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

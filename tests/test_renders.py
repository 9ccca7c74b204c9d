"""renders.py: served blocks recorded in batches, one writer call for many requests, through a
real Database; and what a recorded block does to its visitor's row."""

from __future__ import annotations

import asyncio
import sqlite3

from cartback.connection import connect_sync, transaction
from cartback.db import Database
from cartback.ingest import memo
from cartback.renders import RenderLog, record_blocks

from tests.conftest import new_database


def row(n: int, ts: float = 1000.0, vid: str = "v1") -> tuple:
    return (f"b{n}", "s1", vid, ts, "tr", 0, "[]")


class CountingDb:
    """The Database, counting the writer calls it is handed."""

    def __init__(self, db: Database) -> None:
        self.db, self.writes = db, 0

    async def write(self, fn, *args):
        self.writes += 1
        return await self.db.write(fn, *args)


def run(tmp_path, scenario) -> sqlite3.Connection:
    memo.clear()
    path = new_database(tmp_path, "r.db")

    async def main() -> None:
        db = Database(path)
        await db.start()
        try:
            await scenario(CountingDb(db))
        finally:
            await db.close()

    asyncio.run(main())
    return connect_sync(path)


def stored(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM blocks ORDER BY id")]


def test_blocks_wait_for_the_interval_and_go_in_one_write(tmp_path):
    async def scenario(db: CountingDb) -> None:
        log = RenderLog(db, interval=0.05)
        for n in range(5):
            log.add(row(n))
        await asyncio.sleep(0.01)
        assert db.writes == 0
        await asyncio.sleep(0.1)
        assert db.writes == 1
        log.add(row(5))  # a new batch, a timer of its own
        await log.close()
        assert db.writes == 2

    assert stored(run(tmp_path, scenario)) == [f"b{n}" for n in range(6)]


def test_a_full_batch_goes_at_once_and_flush_waits_for_the_commit(tmp_path):
    async def scenario(db: CountingDb) -> None:
        log = RenderLog(db, interval=60, max_rows=3)
        for n in range(7):
            log.add(row(n))
        await asyncio.sleep(0)  # the writes' tasks start
        assert db.writes == 2  # two full batches started; one row waits for its timer
        await log.flush()  # what a report does before reading
        assert db.writes == 3
        rows = await db.db.fetchall("SELECT count(*) FROM blocks")
        assert rows[0][0] == 7
        await log.flush()  # nothing left: no empty write
        assert db.writes == 3

    run(tmp_path, scenario)


def test_a_recorded_block_keeps_the_visitors_first_eligible_moment_and_moves_last_seen(tmp_path):
    memo.clear()
    conn = connect_sync(new_database(tmp_path, "v.db"))
    transaction(conn, record_blocks, [row(1, 2000.0), row(2, 1500.0)])
    assert conn.execute("SELECT first_seen, last_seen, first_eligible_at FROM visitors").fetchone() == (
        2000.0, 2000.0, 1500.0)
    memo.clear()  # another process, or after a restart: the file, not the memo, decides
    transaction(conn, record_blocks, [row(3, 3000.0), row(4, 1200.0, vid="v2")])
    assert conn.execute("SELECT vid, last_seen, first_eligible_at FROM visitors ORDER BY vid").fetchall() == [
        ("v1", 3000.0, 1500.0), ("v2", 1200.0, 1200.0)]
    assert conn.execute("SELECT count(*) FROM blocks").fetchone() == (4,)
    memo.clear()


def test_a_block_recorded_after_its_visitor_was_erased_elsewhere_joins_the_erased_rows(tmp_path):
    import json

    from cartback.privacy import erase_visitor
    from cartback.renders import TOMBSTONE_SECONDS, forget_erasures

    memo.clear()
    conn = connect_sync(new_database(tmp_path, "e.db"))
    served = ("late", "s1", "v1", 1000.0, "tr", 0, json.dumps([{"key": "viewed", "ids": ["a", "b"]}]))
    transaction(conn, record_blocks, [row(1, 900.0)])
    # Another process erases the visitor while this one still holds a block served before it.
    result = transaction(conn, erase_visitor, "s1", "v1")
    assert result["anonymized"]["blocks"] == 1
    memo.clear()
    transaction(conn, record_blocks, [served, row(2, 9e9)])  # and one served after: a fresh visitor
    rows = conn.execute("SELECT id, vid, sections FROM blocks ORDER BY id").fetchall()
    alias = rows[0][1]
    assert alias.startswith("erased-")
    assert rows == [("b1", alias, "[]"), ("b2", "v1", "[]"), ("late", alias, '[{"key":"viewed","ids":[]}]')]
    assert conn.execute("SELECT vid, first_eligible_at FROM visitors ORDER BY vid").fetchall() == [
        (alias, 900.0), ("v1", 9e9)]
    # The tombstone names nobody, and goes once nothing can be waiting any more.
    tombstones = conn.execute("SELECT key, value FROM meta WHERE key LIKE 'erased:%'").fetchall()
    assert len(tombstones) == 1 and "v1" not in tombstones[0][0].split(":", 2)[2]
    erased_at = json.loads(tombstones[0][1])[0]
    transaction(conn, forget_erasures, "s1", erased_at + TOMBSTONE_SECONDS - 1)
    assert conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'erased:%'").fetchone() == (1,)
    transaction(conn, forget_erasures, "s1", erased_at + TOMBSTONE_SECONDS + 1)
    assert conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'erased:%'").fetchone() == (0,)
    memo.clear()

"""The writer: group commit, acknowledgement only after COMMIT, one failing call isolated."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import httpx
import pytest
from cartback.connection import connect_sync
from cartback.db import Database
from cartback.migrations import STEPS, migrate

from tests.conftest import POSTGRES, ServerProcess, add_shop, at_once, new_database, query, sqlite_only


@pytest.mark.slow  # a server process, eight clients and a SIGKILL
def test_every_acknowledged_event_survives_kill_9(tmp_path):
    server = ServerProcess(new_database(tmp_path, "durable.db"), "--rate-limit", "0", "--count-bots").start()
    shop = add_shop(server.db_path, ["http://shop.test"])
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=2) as c:
            i = 0
            while not stop.is_set():
                pid = f"w{n}-{i}"
                i += 1
                try:
                    r = c.post("/v1/events", json={"shop": shop.id, "events": [{"type": "view", "product": pid}]})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with lock:
                        acknowledged.append(pid)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(kill=True)  # SIGKILL in the middle of the stream
    stop.set()
    for t in threads:
        t.join()

    stored = {r[0] for r in query(server.db_path, "SELECT product_id FROM visitor_items WHERE shop = ? AND views = 1",
                                  (shop.id,))}
    assert len(acknowledged) > 200  # a loaded machine is slower; the point is what follows
    missing = [pid for pid in acknowledged if pid not in stored]
    assert missing == []


def test_group_commit_isolates_a_failing_call(tmp_path):
    async def scenario():
        db = Database(new_database(tmp_path, "g.db"))
        await db.start()

        def ok(conn, key):
            conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))
            return key

        def boom(conn):
            conn.execute("INSERT INTO meta (key, value) VALUES ('half', 'v')")
            raise ValueError("nope")

        results = await asyncio.gather(db.write(ok, "a"), db.write(boom), db.write(ok, "b"),
                                       return_exceptions=True)
        assert results[0] == "a" and isinstance(results[1], ValueError) and results[2] == "b"
        keys = {r[0] for r in await db.fetchall("SELECT key FROM meta")}
        await db.close()
        return keys

    assert asyncio.run(scenario()) == {"a", "b"}


def test_a_call_failing_inside_a_batch_is_undone_alone_and_the_others_learn_once(tmp_path):
    # The writer runs a batch without a savepoint per call and, when one raises, runs it again
    # with savepoints: the others still commit, what they taught the recommender counts once, and
    # what the failed one taught before it raised does not count.
    from cartback.ingest import apply_events
    from cartback.shops import create_shop
    from cartback.validation import Event

    path = new_database(tmp_path, "batch.db")
    setup = connect_sync(path)
    from cartback.connection import transaction
    transaction(setup, create_shop, "s1", ["http://shop.test"])
    setup.close()
    views = [Event(type="view", product_id=pid, ts=1_700_000_000.0 + n) for n, pid in enumerate(["a", "b"])]

    async def scenario():
        db = Database(path)
        await db.start()
        gate = threading.Event()
        try:
            first = asyncio.ensure_future(db.write(lambda conn: gate.wait(10)))
            await asyncio.sleep(0.2)  # the writer is inside the first batch: the next calls queue up

            def boom(conn):
                conn.execute("INSERT INTO meta (key, value) VALUES ('half', 'v')")
                apply_events(conn, "s1", "u3", views, 1_700_000_000.0, True, True)  # taught, then undone
                raise ValueError("nope")

            calls = [db.write(apply_events, "s1", "u1", views, 1_700_000_000.0, True, True),
                     db.write(boom),
                     db.write(apply_events, "s1", "u2", views, 1_700_000_000.0, True, True)]
            pending = asyncio.gather(*calls, return_exceptions=True)
            await asyncio.sleep(0.2)
            gate.set()
            await first
            results = await pending
            await db.flush_model()
            # Shared mode (always on PostgreSQL): the calls logged what they taught; one learner
            # applies the log about every second.
            deadline = time.monotonic() + 20
            while (await db.fetchone("SELECT count(*) FROM rec_log"))[0] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return results
        finally:
            await db.close()

    results = asyncio.run(scenario())
    assert isinstance(results[1], ValueError)
    assert results[0].accepted == 2 and results[2].accepted == 2
    check = connect_sync(path)
    assert check.execute("SELECT count(*) FROM meta WHERE key = 'half'").fetchone() == (0,)
    # Each view counted once, though the batch ran twice.
    assert check.execute("SELECT vid, count(*), sum(views) FROM visitor_items GROUP BY vid ORDER BY vid").fetchall() \
        == [("u1", 2, 2), ("u2", 2, 2)]
    # Two visitors viewed a then b: b's popularity is 2 views, and a -> b was learned twice, not three
    # times (the batch ran twice) nor four (the failed call's visitor, whose rows are not kept).
    assert check.execute("SELECT popularity FROM rec_products WHERE product_id = 'b'").fetchone() == (2.0,)
    single = check.execute("SELECT score FROM rec_neighbours WHERE product_id = 'a' AND neighbour_id = 'b'"
                           ).fetchone()[0]
    assert single == pytest.approx(2 * 1.0 / (1.0 + 1.0 / 600.0), rel=1e-6)
    check.close()


def test_migrations_are_versioned_and_idempotent(tmp_path):
    conn = connect_sync(new_database(tmp_path, "m.db"))
    # The version: SQLite's PRAGMA user_version, a row of its own on PostgreSQL.
    version = "SELECT version FROM cartback_schema" if POSTGRES else "PRAGMA user_version"
    assert conn.execute(version).fetchone()[0] == len(STEPS)
    if not POSTGRES:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert migrate(conn) == len(STEPS)  # second run: nothing to do
    conn.execute("UPDATE cartback_schema SET version = ?" if POSTGRES else f"PRAGMA user_version = {len(STEPS) + 1}",
                 (len(STEPS) + 1,) if POSTGRES else ())
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn)
    conn.close()


def test_processes_starting_at_once_on_a_new_database_migrate_it_once(tmp_path):
    """Servers and commands opening a new database together each migrate it (workers started by
    `server.run` do as they start). Each step must run once, whoever gets there first; a process
    that ran one again would fail to start. On SQLite, each also switches the new file to WAL,
    which SQLite refuses at once while another holds a lock (about one start in thirty failed)."""
    version = "SELECT version FROM cartback_schema" if POSTGRES else "PRAGMA user_version"
    for attempt in range(20):
        target = new_database(tmp_path, f"race{attempt}.db")
        started = at_once([lambda t=target: connect_sync(t).close()] * 4)
        failed = [r for r in started if isinstance(r, BaseException)]
        assert failed == [], failed
        assert query(target, version) == [(len(STEPS),)]


# -- the event loop's reader (read_inline) keeps a snapshot between calls ------------------------------

def _meta(conn, key):
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _put(conn, key, value):
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))


def test_block_reads_see_every_commit_of_this_process_at_once(tmp_path):
    async def scenario():
        db = Database(new_database(tmp_path, "s.db"))
        await db.start()
        seen = []
        for n in range(5):
            await db.write(_put, "k", str(n))
            seen.append(await db.read_block(_meta, "k"))  # well within SNAPSHOT_MAX_AGE of the last read
        await db.close()
        return seen

    assert asyncio.run(scenario()) == ["0", "1", "2", "3", "4"]


def test_block_reads_see_another_process_within_the_snapshot_age(tmp_path):
    from cartback import db as db_module

    async def scenario():
        db = Database(new_database(tmp_path, "o.db"))
        await db.start()
        assert await db.read_block(_meta, "k") is None
        other = connect_sync(db.path)  # a CLI run: its commits do not pass through this writer
        other.execute("BEGIN IMMEDIATE")
        _put(other, "k", "cli")
        other.execute("COMMIT")
        other.close()
        waited = 0.0
        while await db.read_block(_meta, "k") != "cli" and waited < 2.0:
            await asyncio.sleep(0.02)
            waited += 0.02
        await db.close()
        return waited

    assert asyncio.run(scenario()) <= db_module.SNAPSHOT_MAX_AGE + 0.1


@sqlite_only  # SQLite's write-ahead log
def test_an_idle_inline_reader_lets_checkpoints_empty_the_wal(tmp_path):
    from cartback import db as db_module

    async def scenario():
        db = Database(str(tmp_path / "w.db"))
        await db.start()
        await db.write(_put, "k", "v")
        db.read_inline(_meta, "k")  # opens a snapshot; no block comes after it
        await db.write(_put, "k", "w")  # the WAL now holds a frame the snapshot predates
        await asyncio.sleep(db_module.SNAPSHOT_MAX_AGE + 0.15)
        other = sqlite3.connect(db.path)
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        other.close()
        wal_bytes = (tmp_path / "w.db-wal").stat().st_size
        await db.close()
        return busy, wal_bytes

    busy, wal_bytes = asyncio.run(scenario())
    assert busy == 0 and wal_bytes == 0


@sqlite_only  # the event loop's own read snapshot is SQLite's (PostgreSQL reads in threads: read_block)
def test_a_failing_inline_read_ends_its_snapshot(tmp_path):
    async def scenario():
        db = Database(str(tmp_path / "f.db"))
        await db.start()

        def broken(conn):
            conn.execute("SELECT nope FROM meta")

        with pytest.raises(sqlite3.OperationalError):
            db.read_inline(broken)
        after_failure = db._inline.in_transaction
        await db.write(_put, "k", "v")
        value = db.read_inline(_meta, "k")
        await db.close()
        return after_failure, value

    assert asyncio.run(scenario()) == (False, "v")


def test_a_shared_database_reads_another_processs_commit_at_once_beside_its_parent(tmp_path):
    from cartback.serve_lock import AlreadyServed, ServeLock

    path = str(tmp_path / "w.db")
    parent = ServeLock(path, shared=True)  # `serve --workers N` holds it in the parent, shared
    parent.acquire()

    async def scenario():
        with pytest.raises(AlreadyServed):
            await Database(path).start()
        db = Database(path, shared=True)
        await db.start()
        seen = [db.read_inline(_meta, "k")]
        other = connect_sync(path)  # another worker's writer
        for n in range(3):
            other.execute("BEGIN IMMEDIATE")
            _put(other, "k", str(n))
            other.execute("COMMIT")
            seen.append(db.read_inline(_meta, "k"))  # no wait: its next block has the event
        other.close()
        await db.close()
        return seen

    try:
        assert asyncio.run(scenario()) == [None, "0", "1", "2"]
    finally:
        parent.release()

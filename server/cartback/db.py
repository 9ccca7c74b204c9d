"""SQLite access: one writer thread with group commit, aiosqlite connections for reads.

Reads come three ways. `fetchall`/`fetchone` go through aiosqlite, one thread hop per query.
`read(fn)` runs a whole read function in a reader thread, in one read transaction: one hop and one
consistent snapshot instead of one hop per query (Datasette's model; exports use it).
`read_inline(fn)` runs it on the event loop itself, for the block's one small indexed query: on a
one-core server a hop to a thread costs more than such a query. Its snapshot lasts until
this process commits (or SNAPSHOT_MAX_AGE), so a block pays no locking when nothing changed.

Why a writer thread of our own: a group commit runs many requests' statements in one transaction,
and running that transaction as one Python call in one thread costs one thread hop per batch. With
aiosqlite every statement would be its own hop. Reads stay on aiosqlite (one hop per query).

Durability: a `write()` returns only after the COMMIT that holds its work, so anything the server
acknowledged is in the WAL. With `synchronous=NORMAL` that survives `kill -9` of the server (the
OS keeps the written pages); it does not promise survival of a power cut (use --sync full).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiosqlite

from .connection import (
    Connection,
    begin_read,
    connect_sync,
    reader_connection,
    rollback_hooks,
    storage_problem,
)
from .errors import ApiError
from .pg import is_postgres
from .products import ProductCache
from .recommend import Model
from .recommend.learner import Learner, SharedModel, drain
from .serve_lock import ServeLock

T = TypeVar("T")
# A write waiting for the writer thread: its future, fn and fn's arguments after the connection.
Job = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]
# What a job came to: its future, fn's result, or the exception it raised.
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

log = logging.getLogger("cartback")

_STOP = None  # put on the queue to stop the writer
# Enough to amortise the commit over a burst without letting one batch hold the lock for long.
MAX_BATCH = 512
# How often what the recommender learned is checkpointed (recommend.Model): the most learning a
# crash can lose, against the cost a busy server pays (~40 ms to rewrite 200 busy products' lists).
FLUSH_INTERVAL = 5.0
# The popularity earned is written whenever the writer runs out of work, and under steady load at
# least this often: one upsert per product a batch touched, which every group commit would otherwise
# pay. The fills read it from the file, a second late at most.
POPULARITY_INTERVAL = 1.0


# The writer's and the block reader's page cache (SQLite's default is 2 MB): the pages every
# event and block touch (the events indexes, visitor rows) stay in memory as the file grows.
CACHE_KIB = 65536
# How long the event loop's reader may keep one snapshot while this process commits nothing. Its
# reads see this process's commits at once (`read_inline`); another process's (a CLI import)
# within this many seconds. Each new snapshot costs three system calls (a lock on the WAL index,
# a stat of the file, the unlock), a fifth of the block's query on a virtual machine.
SNAPSHOT_MAX_AGE = 0.25


class Database:
    def __init__(self, path: str, readers: int = 2, synchronous: str = "NORMAL",
                 flush_interval: float = FLUSH_INTERVAL, max_pages: int | None = None, shared: bool = False) -> None:
        self.path = path
        # PostgreSQL: no file, no WAL, no reads on the event loop (each would wait on the network).
        self.postgres = is_postgres(path)
        # Other serving processes write this database too (serve --workers N; PostgreSQL, always):
        # every inline read takes a fresh snapshot, cached products live a second, what is learned
        # goes through one learner, and the serve lock is held shared (serve_lock.py).
        self.shared = shared or self.postgres
        # A cap on the file's size (PRAGMA max_page_count on the writer), for a disk shared with others.
        self.max_pages = max_pages
        # The last write the storage refused (monotonic time, SQLite's words): /healthz reports it.
        self.storage_failure: tuple[float, str] | None = None
        self.flush_interval = flush_interval
        self.synchronous = synchronous
        self._n_readers = max(1, readers)
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = itertools.cycle(range(self._n_readers))
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_pool: ThreadPoolExecutor | None = None
        self._inline: Connection | None = None
        # Commits by this process's writer; the inline reader's snapshot is as new as the count it saw.
        self._commits = 0
        self._snapshot_commits = -1
        self._snapshot_until = 0.0
        self._snapshot_timer: asyncio.TimerHandle | None = None
        self._flushed_at = time.monotonic()
        self._popularity_at = self._flushed_at
        self.model: Model = SharedModel() if self.shared else Model()
        # Shared: the process holding the learner's lock applies every process's learning (recommend/learner.py).
        self._learner = Learner(self.model, path) if isinstance(self.model, SharedModel) else None
        self.products = ProductCache(shared=self.shared)
        self._lock = None if self.postgres else ServeLock(path, shared=self.shared)

    connect_sync = staticmethod(connect_sync)

    async def start(self) -> None:
        if self._lock is not None:
            self._lock.acquire()  # serve_lock.AlreadyServed when another process serves this file
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._writer, name="cartback-writer", daemon=True)
        self._thread.start()
        await asyncio.get_running_loop().run_in_executor(None, self._ready.wait)
        if self._start_error is not None:
            if self._lock is not None:
                self._lock.release()
            raise self._start_error
        self._read_pool = ThreadPoolExecutor(self._n_readers, "cartback-read", initializer=self._open_reader)
        if self.postgres:
            return
        for _ in range(self._n_readers):
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            await conn.execute("PRAGMA query_only=1")
            await conn.execute("PRAGMA busy_timeout=5000")
            self._readers.append(conn)
        # WAL readers do not wait for the writer; the short timeout bounds the rare wait (a
        # checkpoint restarting the log) that would otherwise hold the event loop.
        self._inline = self._reader_connection(busy_ms=200)

    def _reader_connection(self, busy_ms: int = 5000) -> Connection:
        if self.postgres:
            conn = reader_connection(self.path)
            conn.model = self.model
            conn.products = self.products
            return conn
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, factory=Connection)
        conn.execute("PRAGMA query_only=1")
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        if busy_ms < 5000:  # the loop thread's reader: the block's pages stay cached
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        conn.model = self.model
        conn.products = self.products
        return conn

    def _open_reader(self) -> None:
        conn = self._reader_connection()
        self._local.conn = conn
        self._read_conns.append(conn)

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
            self._thread = None
        for conn in self._readers:
            await conn.close()
        self._readers.clear()
        if self._read_pool is not None:
            self._read_pool.shutdown(wait=True)
            self._read_pool = None
        for sync_conn in self._read_conns:
            sync_conn.close()
        self._read_conns.clear()
        if self._snapshot_timer is not None:
            self._snapshot_timer.cancel()
            self._snapshot_timer = None
        if self._inline is not None:
            self._end_snapshot()
            self._inline.close()
            self._inline = None
        if self._lock is not None:
            self._lock.release()

    # -- writes -----------------------------------------------------------------------------

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) in the writer thread; returns once its transaction has committed.

        Concurrent calls share one transaction (group commit). One call that raises is rolled back
        alone and the others still commit (`_run_items`); calls must therefore be safe to run twice
        in the same transaction's place, which writes in SQL and idempotent memos are.
        """
        assert self._loop is not None, "Database.start() was not awaited"
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((future, fn, args))
        try:
            return await future
        except Exception as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            self.storage_failure = (time.monotonic(), problem)
            log.warning("storage refused a write: %s", problem)
            raise ApiError(503, "storage_unavailable",
                           f"database: cannot store anything ({problem}); nothing of this request was kept",
                           "database") from None

    async def flush_model(self) -> int:
        """Checkpoint what the recommender learned now (the writer also does so on its own)."""
        return await self.write(self.model.flush)

    def _writer(self) -> None:
        try:
            conn = connect_sync(self.path, self.synchronous, model=self.model, products=self.products)
            if not self.postgres:  # the server's writer only; CLI runs stay small
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            if self.max_pages and not self.postgres:
                conn.execute(f"PRAGMA max_page_count={int(self.max_pages)}")
            if self._learner is None:
                drain(conn)  # served alone again: what shared-mode servers logged and nobody applied
        except BaseException as exc:  # noqa: BLE001 - surfaced by start()
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self._wake_in())
                except queue.Empty:  # quiet for a while: checkpoint what was learned
                    self._run_batch(conn, [], flush=True)
                    continue
                if item is None:
                    self._run_batch(conn, [], flush=True)
                    return
                batch = [item]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch, flush=stop)
                if stop:
                    return
        finally:
            if self._learner is not None:
                self._learner.close()
            conn.close()

    def _wake_in(self) -> float | None:
        """How long the writer may wait for work: until the model's checkpoint, the learner's cycle."""
        wait = self.flush_interval if self.model.dirty else None
        if self._learner is not None:
            due = self._learner.due_in()
            wait = due if wait is None else min(wait, due)
        return wait

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job], flush: bool = False) -> None:
        if batch or self.model.dirty:
            self._commit_batch(conn, batch, flush)
        if self._learner is not None:
            self._learner.cycle(conn)  # when due: its own transaction, after the batch's callers heard

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[Job], flush: bool) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes = self._run_items(conn, batch)
            if self.model.dirty:
                self._flush(conn, flush)
            conn.execute("COMMIT")
            self._commits += 1  # before anyone hears of the commit: the next inline read sees it
            self.model.committed()
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            # The commit itself failed (disk full, I/O error): nobody in this batch is acknowledged.
            self._roll_back(conn)
            outcomes = [(future, None, exc) for future, _, _ in batch]
        if outcomes:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_resolve, outcomes)

    def _run_items(self, conn: sqlite3.Connection, batch: list[Job]) -> list[Outcome]:
        """Run the batch's calls in the open transaction; one that raises is undone alone.

        Calls almost never raise, so the first pass gives them no SAVEPOINT each: inside a
        savepoint SQLite copies every page a call changes into a sub-journal first, a cost every
        tracking write would pay for a failure that almost never comes. When one
        raises, the transaction is rolled back and the batch runs again with a savepoint per call.
        What a call teaches the recommender's memory is applied when it returns, dropped when it
        raises; the calls before the failing one already taught, so they run again without
        learning."""
        outcomes: list[Outcome] = []
        failed = -1
        model = self.model
        for index, (future, fn, args) in enumerate(batch):
            model.lessons = []
            try:
                outcomes.append((future, fn(conn, *args), None))
            except BaseException as exc:
                model.lessons = None
                if storage_problem(exc) or not conn.in_transaction:
                    raise  # the storage refused (SQLite may have rolled back already): none of the batch is kept
                failed = index
                break
            model.keep_lessons()
        if failed < 0:
            return outcomes
        self._roll_back(conn)
        conn.execute("BEGIN IMMEDIATE")
        outcomes = []
        try:
            for index, (future, fn, args) in enumerate(batch):
                model.learning = index >= failed  # the failed call's lessons were dropped: it may learn now
                model.lessons = []
                conn.execute("SAVEPOINT item")
                try:
                    result = fn(conn, *args)
                except BaseException as exc:
                    model.lessons = None
                    if storage_problem(exc) or not conn.in_transaction:
                        raise
                    conn.execute("ROLLBACK TO item")
                    conn.execute("RELEASE item")
                    outcomes.append((future, None, exc))
                else:
                    model.keep_lessons()
                    conn.execute("RELEASE item")
                    outcomes.append((future, result, None))
        finally:
            model.learning = True
            model.lessons = None
        return outcomes

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """Undo the open transaction, and what this process remembers of its writes."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for hook in rollback_hooks:
            hook()
        self.model.rolled_back()

    def _flush(self, conn: sqlite3.Connection, now: bool) -> None:
        """Checkpoint what the recommender learned, when due (`now`: shut-down, a quiet writer)."""
        at = time.monotonic()
        lists = now or at - self._flushed_at >= self.flush_interval
        if not lists and not (self.model.popularity_pending and (
                self._queue.empty() or at - self._popularity_at >= POPULARITY_INTERVAL)):
            return
        if lists:
            self._flushed_at = at
        self._popularity_at = at
        # In a savepoint of its own: a failed checkpoint must not undo the batch's events.
        conn.execute("SAVEPOINT flush")
        try:
            self.model.flush(conn, lists)
        except Exception as exc:
            if storage_problem(exc) or not conn.in_transaction:
                raise  # SQLite may have rolled the whole transaction back: the batch is not kept
            conn.execute("ROLLBACK TO flush")
            log.exception("checkpoint of the recommender failed; will retry")
        conn.execute("RELEASE flush")

    # -- reads ------------------------------------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) in a reader thread, inside one read transaction (one snapshot)."""
        return await self._in_reader(self._run_read, fn, args)

    async def _in_reader(self, run: Callable[[Callable[..., T], tuple[Any, ...]], T], fn: Callable[..., T],
                         args: tuple[Any, ...]) -> T:
        assert self._loop is not None and self._read_pool is not None, "Database.start() was not awaited"
        try:
            return await self._loop.run_in_executor(self._read_pool, run, fn, args)
        except Exception as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            raise ApiError(503, "storage_unavailable", f"database: cannot read ({problem})", "database") from None

    async def read_block(self, fn: Callable[..., T], *args: Any) -> T:
        """The block's read: on the event loop for SQLite (`read_inline`), in a reader thread for
        PostgreSQL, whose every query waits on the network. There each of its one or two queries
        runs on its own (autocommit): a transaction around them would cost two more round trips,
        and each query alone already sees every commit acknowledged before it."""
        if self.postgres:
            return await self._in_reader(self._run_alone, fn, args)
        return self.read_inline(fn, *args)

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._local.conn
        begin_read(conn)
        try:
            return fn(conn, *args)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def _run_alone(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        result: T = fn(self._local.conn, *args)
        return result

    def read_inline(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) on the calling (event-loop) thread, in a snapshot at least as new as
        this process's last commit.

        For small reads bounded by an index and a LIMIT (the block's: one query, two when the
        recommender needs fills): on a one-core server the hop to a reader thread and back costs
        more than such a read. The read transaction stays open between calls
        until this process's writer commits or SNAPSHOT_MAX_AGE passes: a visitor's acknowledged
        event is always in the next block, and a quiet server does not pay for a new snapshot per
        block. When `shared`, another process may have acknowledged it: every call renews.
        Only the loop thread calls this, so nothing else uses the connection meanwhile."""
        conn = self._inline
        assert conn is not None, "Database.start() was not awaited"
        now = time.monotonic()
        if self.shared or self._snapshot_commits != self._commits or now >= self._snapshot_until:
            if conn.in_transaction:
                conn.execute("COMMIT")
            # Read before BEGIN: a commit between the two only makes the next call renew again.
            self._snapshot_commits = self._commits
            self._snapshot_until = now + SNAPSHOT_MAX_AGE
            conn.execute("BEGIN")
            if self._snapshot_timer is None and self._loop is not None:
                self._snapshot_timer = self._loop.call_later(SNAPSHOT_MAX_AGE, self._expire_snapshot)
        try:
            return fn(conn, *args)
        except BaseException:
            self._end_snapshot()
            raise

    def _expire_snapshot(self) -> None:
        # An open read transaction keeps checkpoints from restarting the WAL: end it once blocks
        # stop asking, or the log would grow for as long as only events arrive.
        self._snapshot_timer = None
        remaining = self._snapshot_until - time.monotonic()
        if remaining > 0 and self._loop is not None:
            self._snapshot_timer = self._loop.call_later(remaining, self._expire_snapshot)
        else:
            self._end_snapshot()

    def _end_snapshot(self) -> None:
        self._snapshot_until = 0.0
        conn = self._inline
        if conn is not None and conn.in_transaction:
            conn.execute("ROLLBACK")

    def _reader(self) -> aiosqlite.Connection:
        return self._readers[next(self._next_reader)]

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            return await self.read(_fetchall, sql, params)
        return [tuple(row) for row in await self._reader().execute_fetchall(sql, params)]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


def _fetchall(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def _resolve(outcomes: list[Outcome]) -> None:
    for future, result, exc in outcomes:
        if future.cancelled():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

"""Connections to either database, outside the server's `db.Database`: opening one migrated
(`connect_sync`, for the CLI and the writer thread), a read-only one (`reader_connection`), one
transaction (`transaction`, CLI use), and what a failed write says about the storage
(`storage_problem`: SQLite's full or read-only file, PostgreSQL gone or refusing).

The code calls sqlite3's API on both: a PostgreSQL target gives a `pg.PgConnection`, typed as the
sqlite3 `Connection` subclass it stands in for.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

from .migrations import migrate
from .pg import PgConnection, is_postgres
from .pg import storage_problem as _pg_problem
from .products import ProductCache
from .recommend import Model

T = TypeVar("T")

# WAL pages before an automatic checkpoint copies them into the file (SQLite's default is 1,000):
# a page written by many commits is copied once per checkpoint, so fewer checkpoints copy less.
# Measured on the events benchmark's writes: 1,000 → 10,000 pages saves ~15% of the writer's time;
# the log can reach ~40 MB between checkpoints.
WAL_AUTOCHECKPOINT = 10_000


BUSY_TIMEOUT = 5.0  # seconds a connection waits for another's lock


def _pragmas(conn: sqlite3.Connection, synchronous: str = "NORMAL") -> None:
    _wal(conn)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")


def _wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL, as many processes opening a new file at once may each try to.
    The switch reads the file, then needs it alone: SQLite answers "database is locked" at once,
    without waiting, when another connection's lock is in the way (waiting could deadlock), so
    this waits here, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if (exc.sqlite_errorcode & 0xFF) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


rollback_hooks: list[Callable[[], None]] = []


def on_rollback(hook: Callable[[], None]) -> None:
    """Call `hook` whenever a writer transaction is rolled back whole (memos of what was written)."""
    rollback_hooks.append(hook)


class Connection(sqlite3.Connection):
    """A sqlite3 connection that carries the process's memory of the database: the recommender
    model its writes learn into and the product cache its writes invalidate."""

    dialect = "sqlite"
    model: Model | None = None
    products: ProductCache | None = None

    def select_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[Any]:
        """`sql` run once per parameter row: each run's first row, or None."""
        return [self.execute(sql, row).fetchone() for row in rows]


def connect_sync(path: str, synchronous: str = "NORMAL", model: Model | None = None,
                 products: ProductCache | None = None) -> Connection:
    """A migrated connection in autocommit mode (transactions are explicit), for the CLI and the writer.

    Without `model` the connection gets a model of its own, flushed by `transaction()`; without
    `products`, no product cache (every read goes to the file). `path` may be a postgresql:// URL."""
    if is_postgres(path):
        # One code path for both databases: the code calls sqlite3's API, PgConnection answers it.
        conn = cast(Connection, PgConnection(path))
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=Connection)
        _pragmas(conn, synchronous)
    migrate(conn)
    conn.model = model or Model()
    conn.products = products or ProductCache(ttl=0)
    return conn


def transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run fn(conn, *args) in one immediate transaction (CLI use; the server goes through Database.write).

    What the recommender learned is written in the same transaction, so a CLI run leaves nothing
    in memory only."""
    model = getattr(conn, "model", None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        if model is not None and model.dirty:
            model.flush(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for hook in rollback_hooks:
            hook()
        if model is not None:
            model.rolled_back()
        raise
    if model is not None:
        model.committed()
    return result


# SQLite's primary result codes that mean the file cannot take writes: READONLY, IOERR, FULL, CANTOPEN.
_STORAGE_CODES = {8, 10, 13, 14}


def storage_problem(exc: BaseException) -> str | None:
    """What is wrong with the storage when `exc` says it cannot be written (or, on PostgreSQL,
    reached), else None."""
    if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _STORAGE_CODES:
        return str(exc)
    return _pg_problem(exc)


def begin_read(conn: sqlite3.Connection) -> None:
    """Open a read transaction with one snapshot for all its statements (PostgreSQL's default
    gives each statement its own)."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if getattr(conn, "dialect", "") == "postgresql"
                 else "BEGIN")


def reader_connection(target: str) -> Connection:
    """A read-only connection of its own (the report and export threads), on either database."""
    if is_postgres(target):
        return cast(Connection, PgConnection(target, read_only=True))
    conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, factory=Connection)
    conn.execute("PRAGMA query_only=1")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn

"""A whole database into an empty one, SQLite or PostgreSQL either side (`cartback db copy FROM TO`;
its terminal side is cli/db.py).

FROM is read in one read transaction (SQLite's snapshot; PostgreSQL's REPEATABLE READ), so a server
may keep writing it during the copy and the copy is still the database as it was at one moment.
Nothing is written to FROM but what any server starting on it writes: its schema brought up to
this Cartback's (one newer than this Cartback is refused).

TO is written in one transaction: a copy cut short (Ctrl-C, a full disk, a row PostgreSQL refuses)
leaves TO as empty as it was, so the same command can simply run again; per-table transactions
would leave a half-copied TO that the emptiness check then refuses. The price is SQLite's WAL (or
PostgreSQL's) holding the whole copy until it commits: the size of the data, once.

Every table the migrations create is copied, `meta` too: it holds the server's secret, so visitor
tokens and dashboard sessions keep working on the copy. Identity columns keep their values, and on
PostgreSQL their sequences are moved past them, or the first new event would take id 1 again.
Afterwards both sides are compared: every table's row count, and every shop's report over all the
days that hold data, as JSON (`CopyResult.differences`).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .connection import begin_read, connect_sync, reader_connection, storage_problem
from .migrations import migrate
from .pg import is_postgres
from .report import build_report
from .report.period import FIRST_DATE, LAST_DATE, day_number, day_of, today_utc
from .serve_lock import ServeLock
from .shops import get_shop

# Rows per executemany: large enough that a round trip to PostgreSQL is paid per thousands of rows,
# small enough that a chunk of the widest table stays a few MB in memory.
CHUNK = 5000
# Not data: a server that ran on an empty TO wrote its own secret and versions there; the copy
# replaces them with FROM's.
SERVER_STATE = "meta"
MAX_DIFFERENCES = 20

Progress = Callable[[str, int, int], None]  # (table, rows copied so far in all, rows to copy in all)


class CopyRefused(Exception):
    """The copy did not start, and neither database was written: an unusable FROM or TO, a TO that
    is not empty or is being served."""


@dataclass
class CopyResult:
    rows: dict[str, int]                 # table: rows copied
    shops: list[str]                     # the shops whose reports were compared
    period: tuple[date, date]            # the reports' period, covering every day with data
    seconds: float                       # the copy itself, checks left out
    replaced_state: int = 0              # TO's own meta rows, replaced by FROM's
    differences: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def display(target: str) -> str:
    """A database as messages name it: a PostgreSQL URL without its password."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]*):[^@/]*@", r"\1:***@", target)


@functools.cache
def schema_tables() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(table, its columns) for every table the migrations create, read from a scratch database
    they built: a table added by a later migration is copied with no change here."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return tuple((name, tuple(d[0] for d in conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description))
                     for name in names)
    finally:
        conn.close()


def _same(source: str, target: str) -> bool:
    if is_postgres(source) or is_postgres(target):
        return source == target
    return os.path.realpath(source) == os.path.realpath(target)


def _open(target: str, side: str) -> Any:
    """A migrated connection to one side, or CopyRefused saying what is wrong with it."""
    try:
        return connect_sync(target)
    except (sqlite3.Error, RuntimeError) as exc:  # RuntimeError: a schema newer than this Cartback
        raise CopyRefused(f"{side} {display(target)}: {exc}") from None
    except Exception as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        raise CopyRefused(f"{side} {display(target)}: {problem}") from None


def counts(conn: Any) -> dict[str, int]:
    return {name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name, _ in schema_tables()}


def _check_empty(conn: Any, target: str) -> None:
    found = {name: n for name, n in counts(conn).items() if n and name != SERVER_STATE}
    if found:
        listed = ", ".join(f"{name}: {n:,} row{'' if n == 1 else 's'}" for name, n in found.items())
        raise CopyRefused(f"TO {display(target)} is not empty ({listed}): db copy writes only into an empty "
                          "database; give it a new file or database, or empty this one")


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)  # quoted: `key`, `value`, `day` are words in SQL


def _chunks(conn: Any, table: str, columns: Sequence[str], size: int) -> Iterator[list[Any]]:
    select = f'SELECT {_names(columns)} FROM "{table}"'
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        # A cursor on the server, read in chunks: psycopg's ordinary cursor would bring the whole
        # table into memory at once.
        conn.execute(f"DECLARE cartback_copy NO SCROLL CURSOR FOR {select}")
        try:
            while rows := conn.execute(f"FETCH FORWARD {size} FROM cartback_copy").fetchall():
                yield rows
        finally:
            conn.execute("CLOSE cartback_copy")
        return
    cur = conn.execute(select)  # SQLite steps through the table as rows are fetched
    while rows := cur.fetchmany(size):
        yield rows


_IDENTITY = ("SELECT table_name, column_name FROM information_schema.columns "
             "WHERE table_schema = current_schema() AND is_identity = 'YES'")


def _move_sequences(conn: Any) -> None:
    """PostgreSQL hands out identity values from a sequence that explicit ids do not move."""
    if getattr(conn, "dialect", "sqlite") != "postgresql":
        return  # SQLite's next rowid is the largest one + 1 by itself
    for table, column in conn.execute(_IDENTITY).fetchall():
        conn.execute(f'SELECT setval(pg_get_serial_sequence(?, ?), max("{column}")) FROM "{table}" '
                     f'HAVING max("{column}") IS NOT NULL', (table, column))


def data_period(conn: Any, today: date) -> tuple[date, date]:
    """From the first day anything was recorded (raw events, blocks, rolled-up days) to today, or to
    the last such day when it is later."""
    lo = conn.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    blocks = conn.execute("SELECT min(ts), max(ts) FROM blocks").fetchone()
    days = conn.execute("SELECT min(day), max(day) FROM daily_counts").fetchone()
    firsts = [day_of(t) for t in (lo[0], blocks[0]) if t is not None]
    lasts = [day_of(t) for t in (lo[1], blocks[1]) if t is not None]
    if days[0] is not None:
        firsts.append(day_number(date.fromisoformat(days[0])))
        lasts.append(day_number(date.fromisoformat(days[1])))
    now, end = day_number(today), day_number(LAST_DATE)

    def clamped(n: int) -> date:  # a clock far off in a browser must not overflow Python's dates
        return FIRST_DATE + timedelta(days=min(max(n, 0), end))

    return clamped(min(min(firsts, default=now), now)), clamped(max(max(lasts, default=now), now))


def reports(conn: Any, period: tuple[date, date]) -> dict[str, Any]:
    """Every shop's report over `period`, in the caller's read transaction."""
    found = {}
    for (shop_id,) in conn.execute("SELECT id FROM shops ORDER BY id").fetchall():
        shop = get_shop(conn, shop_id)
        assert shop is not None
        found[shop_id] = build_report(conn, shop, *period)
    return found


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as `path: FROM's value ≠ TO's`."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(a.keys() | b.keys(), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.append(f"{where}: {'missing in FROM' if key not in a else 'missing in TO'}")
            else:
                out += differences(a[key], b[key], where)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
        return [f"{path}: {json.dumps(a)[:80]} ≠ {json.dumps(b)[:80]}"]
    return []


def _compare(expected: dict[str, int], found: dict[str, int], before: dict[str, Any],
             after: dict[str, Any]) -> list[str]:
    out = [f"{name}: {n:,} rows in FROM, {found.get(name, 0):,} in TO"
           for name, n in expected.items() if found.get(name, 0) != n]
    for shop in sorted(before.keys() | after.keys()):
        if shop not in after or shop not in before:
            out.append(f"shop {shop}: no report in {'TO' if shop not in after else 'FROM'}")
            continue
        out += [f"report of shop {shop}: {d}" for d in differences(before[shop], after[shop])]
    return out


def copy_database(source: str, target: str, progress: Progress | None = None, chunk: int = CHUNK,
                  today: date | None = None) -> CopyResult:
    """Copy every row of `source` into the empty `target` (SQLite paths or postgresql:// URLs), then
    compare them. Raises CopyRefused when the copy cannot start; any other error leaves `target` as
    it was (one transaction)."""
    if _same(source, target):
        raise CopyRefused(f"FROM and TO are the same database ({display(source)})")
    if not is_postgres(source) and not os.path.isfile(source):
        raise CopyRefused(f"FROM {display(source)}: no such database file")
    _open(source, "FROM").close()  # brought up to this Cartback's schema, like any server would
    # A server on TO would keep its own secret and caches over the copy: none may start meanwhile.
    lock = None if is_postgres(target) else ServeLock(target)
    if lock is not None:
        try:
            holder = lock.try_acquire()
        except OSError as exc:
            raise CopyRefused(f"TO {display(target)}: {exc.strerror}") from None
        if holder is not None:
            raise CopyRefused(f"TO {display(target)} is being served (pid {holder}): stop that server first")
    try:
        return _copy(source, target, progress, chunk, today or today_utc())
    finally:
        if lock is not None:
            lock.release()


def _copy_rows(src: Any, dst: Any, progress: Progress | None, chunk: int, total: int) -> dict[str, int]:
    copied: dict[str, int] = {}
    done = 0
    for name, columns in schema_tables():
        insert = f'INSERT INTO "{name}" ({_names(columns)}) VALUES ({", ".join("?" * len(columns))})'
        copied[name] = 0
        for rows in _chunks(src, name, columns, chunk):
            dst.executemany(insert, rows)
            copied[name] += len(rows)
            done += len(rows)
            if progress is not None:
                progress(name, done, total)
    return copied


def _copy(source: str, target: str, progress: Progress | None, chunk: int, today: date) -> CopyResult:
    src = reader_connection(source)
    dst = _open(target, "TO")
    try:
        dst.execute("BEGIN IMMEDIATE")  # SQLite: the write lock now, so nothing lands after the check
        try:
            _check_empty(dst, target)
            replaced = dst.execute(f"DELETE FROM {SERVER_STATE}").rowcount
            begin_read(src)
            try:
                expected = counts(src)  # the first read fixes the snapshot every later read sees
                started = time.monotonic()
                copied = _copy_rows(src, dst, progress, chunk, sum(expected.values()))
                _move_sequences(dst)
                seconds = time.monotonic() - started
                period = data_period(src, today)
                before = reports(src, period)
            finally:
                src.execute("COMMIT")
            started = time.monotonic()
            dst.execute("COMMIT")
            seconds += time.monotonic() - started
        except BaseException:
            if dst.in_transaction:
                dst.execute("ROLLBACK")
            raise
    finally:
        src.close()
        dst.close()
    result = CopyResult(copied, sorted(before), period, seconds, replaced)
    try:
        result.differences = _compare(expected, *_read_back(target, period), before)
    except (sqlite3.Error, OSError) as exc:
        result.differences = [f"TO could not be read back: {storage_problem(exc) or exc}"]
    except Exception as exc:
        if storage_problem(exc) is None:
            raise
        result.differences = [f"TO could not be read back: {storage_problem(exc)}"]
    return result


def _read_back(target: str, period: tuple[date, date]) -> tuple[dict[str, int], dict[str, Any]]:
    """TO's counts and reports as a new connection reads them: what was committed, not what one
    connection believes it wrote."""
    conn = reader_connection(target)
    try:
        begin_read(conn)
        try:
            return counts(conn), reports(conn, period)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()

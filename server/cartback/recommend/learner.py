"""Learning once per event when several processes serve one database (`Database(shared=True)`).

In direct mode (model.py) the one serving process learns each event into its memory and
checkpoints it. With other processes writing too, its memory of a visitor's recent products would
be stale, each process would hold only its own events' learning, and their checkpoints would
overwrite each other's lists. So in shared mode:

- `SharedModel.learn` computes an event's pairs and popularity exactly as direct mode does, from
  the visitor's rows read in SQL every time (another process may have written them), and appends
  them to `rec_log` in the event's own transaction: they commit or roll back with the event, so
  each event is learned once, also when a group commit is replayed (db.py `_run_items`).
- One process, the learner, applies the log (`consume`) about every LEARN_EVERY seconds: with
  direct mode's arithmetic into its lists in memory, then the changed lists and the popularity to
  `rec_neighbours` / `rec_products`, the rows it read deleted by id, and `meta('rec:version')`
  moved, all in one transaction. When that transaction rolls back, its memory is dropped and
  reloaded from `rec_neighbours` on use, so nothing counts twice.
- The learner is elected by a lock (`FileLock` beside a SQLite file, `AdvisoryLock` on PostgreSQL)
  held until its process stops or dies; the others try it every LOCK_RETRY seconds, so one of them
  takes over and consumes what is left.
- Every other process loads lists for blocks from `rec_neighbours` on first use and drops them when
  the version moved, which it reads at most every VERSION_CHECK_EVERY seconds (and before loading):
  the learner's lists reach every block within a second of its commit.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..locks import FileLock, advisory_key
from ..shops import VERSION_CHECK_EVERY
from .model import (
    _COUNT_SQL,
    _POPULARITY_SQL,
    _RECENT_SQL,
    BACKWARD,
    RECENT,
    WINDOW,
    Model,
    _pairs,
    _weight,
    write_lists,
)

log = logging.getLogger("cartback")

LEARN_EVERY = 1.0   # seconds between the learner's cycles: blocks see new learning a second late at most
LOCK_RETRY = 2.0    # seconds between other processes' tries of the learner's lock
# Log rows one cycle applies (an event writes one to WINDOW + 1): a cycle holds the writer thread
# and the write lock for about 50 ms (measured with 3,000 products viewed evenly, the most list rows
# touched per log row). A full batch makes the next cycle due at once, so a backlog drains between
# the writer's group commits.
BATCH = 2_000
VERSION_KEY = "rec:version"

# By the number of rows an event logs (1 to WINDOW + 1): one statement, a third cheaper than executemany.
_LOG_SQL = ["INSERT INTO rec_log (shop, product_id, neighbour_id, score) VALUES " + ", ".join(["(?, ?, ?, ?)"] * n)
            for n in range(WINDOW + 2)]
_ANY_SQL = "SELECT 1 FROM rec_log LIMIT 1"
_READ_SQL = "SELECT id, shop, product_id, neighbour_id, score FROM rec_log ORDER BY id LIMIT ?"
_DELETE_SQL = "DELETE FROM rec_log WHERE id IN ({marks})"
_SCORE_SQL = """
INSERT INTO rec_neighbours (shop, product_id, neighbour_id, score) VALUES (?, ?, ?, ?)
ON CONFLICT (shop, product_id, neighbour_id) DO UPDATE SET score = excluded.score
"""
_VERSION_SQL = "SELECT value FROM meta WHERE key = ?"
_MOVE_VERSION_SQL = """
INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""


class SharedModel(Model):
    """A `Model` whose learning goes to `rec_log` and whose lists follow the learner's (see the
    module doc). The process holding the learner's lock (`learner`) applies the log into these
    lists; in any other process they are a cache of `rec_neighbours`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.learner = False
        self._clock = clock
        self._version: str | None = None
        self._checked_at = -math.inf

    def touch(self, conn: Any, shop: str, vid: str, product_id: str, last_at: float) -> None:
        """Nothing kept: another process may write the visitor's next rows, so `learn` reads them."""

    def learn(self, conn: Any, shop: str, vid: str, product_id: str, signal: str, ts: float,
              views: int | None = None) -> None:
        # `self.learning` is not asked: a replayed group commit rolled back the log rows of the calls
        # before the failed one, so they must be written again (direct mode's memory kept them).
        weight = _weight(conn, shop, vid, product_id, signal, views)
        if weight is None:
            return
        rows = conn.execute(_RECENT_SQL, (shop, vid, RECENT)).fetchall()
        # The forward pairs only: each backward one is BACKWARD times its forward one (`consume`).
        forward = _pairs(rows, product_id, weight, ts)[::2]
        params: list[object] = [shop, product_id, None, weight]
        for source, neighbour, w in forward:
            params += (shop, source, neighbour, w)
        conn.execute(_LOG_SQL[1 + len(forward)], params)

    def scores(self, conn: Any, shop: str, weights: dict[str, float], exclude: set[str]) -> dict[str, float]:
        if not self.learner:
            self._follow(conn, shop, weights)
        return super().scores(conn, shop, weights, exclude)

    def _follow(self, conn: Any, shop: str, pids: dict[str, float]) -> None:
        """Drop the lists held when the learner moved the version: read at most every
        VERSION_CHECK_EVERY seconds, and before any list is loaded, through the connection that
        loads it (so a list is never older than the version it is held under)."""
        now = self._clock()
        if now - self._checked_at < VERSION_CHECK_EVERY:
            with self._lock:
                lists = self._lists.get(shop, {})
                empty = self._empty
                if all(pid in lists or (shop, pid) in empty for pid in pids):
                    return
        row = conn.execute(_VERSION_SQL, (VERSION_KEY,)).fetchone()
        version = row[0] if row else None
        with self._lock:
            self._checked_at = now
            if version != self._version:
                self._version = version
                self._lists.clear()
                self._empty.clear()
                self._votes.clear()

    def write_pairs(self, conn: Any, shop: str, pairs: list[tuple[str, str, float]]) -> None:
        """The learner's: add `pairs` to the lists as direct mode does (`add_pairs`), and write what
        changed inside the caller's transaction. Each score that moved is upserted, and the whole list
        of a product whose list was cut: the table holds what memory held before (loaded from it,
        or written by the last cycle), so a cycle writes in proportion to its rows, not to the
        lengths of the lists they touch (rewriting each touched list whole took twice as long on a
        catalog of 3,000 products viewed evenly)."""
        with self._lock:
            lists = self._shop(conn, shop, {source for source, _, _ in pairs})
        # Only this thread changes the lists: read without the lock.
        touched: dict[str, set[str]] = {}
        for source, neighbour, _ in pairs:
            touched.setdefault(source, set()).add(neighbour)
        before: dict[str, tuple[int, int]] = {}  # per source: neighbours held, neighbours new to it
        for source, neighbours in touched.items():
            old = lists.get(source) or {}
            before[source] = (len(old), sum(1 for neighbour in neighbours if neighbour not in old))
        self.add_pairs(conn, shop, pairs)
        cut: list[tuple[str, str, dict[str, float]]] = []
        scores: list[tuple[str, str, str, float]] = []
        counts: list[tuple[str, str, int]] = []
        for source, neighbours in touched.items():
            current = lists[source]
            held, new = before[source]
            if len(current) != held + new:  # a cut removed some: fewer than the old and new ones
                cut.append((shop, source, dict(current)))
                continue
            scores.extend((shop, source, neighbour, current[neighbour]) for neighbour in neighbours)
            if new:
                counts.append((shop, source, len(current)))
        with self._lock:
            self._dirty.pop(shop, None)  # written here, not by `flush`
        write_lists(conn, cut)
        conn.executemany(_SCORE_SQL, scores)
        conn.executemany(_COUNT_SQL, counts)

    def reset(self) -> None:
        """Drop everything held; lists are read again from `rec_neighbours` on use."""
        self.forget()
        with self._lock:
            self._version = None
            self._checked_at = -math.inf

    def lead(self, learner: bool) -> None:
        """This process became (or stopped being) the learner: what it held may be stale either way."""
        with self._lock:
            self.learner = learner
        self.reset()


class LogConflict(RuntimeError):
    """Rows this learner read were deleted by another: two processes believed they were the learner."""


def consume(conn: Any, model: SharedModel, limit: int | None = None) -> int:
    """Apply the oldest rec_log rows (at most `limit`, BATCH by default) to the model and the tables,
    delete them and move the version; returns how many were applied. Runs inside the caller's write
    transaction, in the learner; when that transaction rolls back, call `model.reset()`."""
    rows = conn.execute(_READ_SQL, (limit or BATCH,)).fetchall()
    if not rows:
        return 0
    # In id order (on SQLite the order events were learned in): the same sums and the same cuts as
    # direct mode. On PostgreSQL a row whose id is lower may commit later; it comes in a later batch.
    pairs: dict[str, list[tuple[str, str, float]]] = {}
    popularity: dict[tuple[str, str], float] = {}
    for _, shop, source, neighbour, score in rows:
        if neighbour is None:
            popularity[(shop, source)] = popularity.get((shop, source), 0.0) + score
        else:
            shop_pairs = pairs.setdefault(shop, [])
            shop_pairs.append((source, neighbour, score))
            shop_pairs.append((neighbour, source, BACKWARD * score))
    for shop, shop_pairs in pairs.items():
        model.write_pairs(conn, shop, shop_pairs)
    conn.executemany(_POPULARITY_SQL, [(shop, pid, w) for (shop, pid), w in popularity.items()])
    # By id, not "id <= the last one read": on PostgreSQL a lower id may not have been committed yet.
    ids = [row[0] for row in rows]
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        deleted += conn.execute(_DELETE_SQL.format(marks=",".join("?" * len(chunk))), chunk).rowcount
    if deleted != len(ids):
        raise LogConflict(f"rec_log: {len(ids) - deleted} of the rows read were consumed by another learner")
    conn.execute(_MOVE_VERSION_SQL, (VERSION_KEY, secrets.token_hex(8)))
    return len(rows)


def drain(conn: Any) -> int:
    """Apply what servers in shared mode logged and no learner applied (a database served by one
    process again: direct mode reads no log). Returns the rows applied."""
    if conn.execute(_ANY_SQL).fetchone() is None:
        return 0
    model = SharedModel()
    model.learner = True
    total = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            n = consume(conn, model)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        total += n
        if n < BATCH:
            return total


class Lock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock unless another process holds it; True when this one holds it."""

    def check(self) -> bool:
        """Whether the lock taken is still held."""

    def release(self) -> None: ...


class AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on one connection (the writer's, used by one thread),
    held until released or the session ends, so a dead process's lock goes with its connection.
    `conn.execute(sql, params)` takes `?` placeholders (cartback's PostgreSQL connection)."""

    def __init__(self, conn: Any, key: int | None = None) -> None:
        self.conn = conn
        self.key = advisory_key("learner", conn) if key is None else key
        self._held = False

    def try_acquire(self) -> bool:
        if not self._held:
            self._held = bool(self.conn.execute("SELECT pg_try_advisory_lock(?)", (self.key,)).fetchone()[0])
        return self._held

    def check(self) -> bool:
        # A reconnected session no longer holds it, and another process may have taken it meanwhile.
        if self._held and self.conn.execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
                "AND CAST(classid AS bigint) = ? AND CAST(objid AS bigint) = ? AND objsubid = 1",
                # pg_locks shows a bigint key as its high and low 32 bits, unsigned
                ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF)).fetchone() is None:
            self._held = False
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self.conn.execute("SELECT pg_advisory_unlock(?)", (self.key,))


def learner_lock(db_path: str, conn: Any) -> Lock:
    """The learner's lock for a database: an advisory lock on `conn` for PostgreSQL, else an flock
    on `<db path>.learner-lock`."""
    if db_path.startswith(("postgresql:", "postgres:")):
        return AdvisoryLock(conn)
    return _FileLock(f"{db_path}.learner-lock")


class _FileLock:
    """`locks.FileLock` as the learner asks for it (held or not, no holder's pid)."""

    def __init__(self, path: str) -> None:
        self._file = FileLock(path)

    def try_acquire(self) -> bool:
        return self._file.held or self._file.try_acquire() is None

    def check(self) -> bool:
        return self._file.held

    def release(self) -> None:
        self._file.release()


class Learner:
    """Runs in the writer thread (db.py): each `cycle` tries the lock, or, holding it, consumes the
    log in a transaction of its own. `due_in` says when the next cycle is due."""

    def __init__(self, model: SharedModel, db_path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.db_path = db_path
        self._clock = clock
        self._lock: Lock | None = None
        self._holding = False
        self._next_at = -math.inf  # a starting process tries the lock at once

    def due_in(self) -> float:
        return max(0.0, self._next_at - self._clock())

    def cycle(self, conn: Any) -> int:
        """When due: the rows consumed (0 when none, or when another process is the learner)."""
        if self._clock() < self._next_at:
            return 0
        self._next_at = self._clock() + LEARN_EVERY
        try:
            if not self._elected(conn) or conn.execute(_ANY_SQL).fetchone() is None:
                return 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                n = consume(conn, self.model)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self.model.reset()
                raise
        except Exception:
            log.exception("the recommender's learner failed; it will try again")
            return 0
        if n >= BATCH:
            self._next_at = self._clock()  # a backlog: the next cycle right after the next group commit
        return n

    def _elected(self, conn: Any) -> bool:
        if self._lock is None:
            self._lock = learner_lock(self.db_path, conn)
        if self._holding and not self._lock.check():
            self._holding = False
            self.model.lead(False)
            log.warning("this process lost the recommender's learner lock")
        if not self._holding:
            if not self._lock.try_acquire():
                self._next_at = self._clock() + LOCK_RETRY
                return False
            self._holding = True
            # Learn from the next cycle on: a block's read begun before the previous learner's last
            # commit could still load an older list into memory; none lasts a whole interval.
            return False
        if not self.model.learner:
            self.model.lead(True)
            log.info("this process is the recommender's learner")
        return True

    def close(self) -> None:
        if self._lock is not None:
            try:
                self._lock.release()
            except Exception:  # a lost PostgreSQL session holds no lock any more: the writer closes anyway
                log.exception("releasing the recommender's learner lock failed")
        if self._holding:
            self._holding = False
            self.model.lead(False)

"""Locks that hold across processes and die with the process that holds them.

`FileLock`: an flock on a file of our own beside the database. The kernel drops it when its
holder exits, `kill -9` included, so a crash never leaves a stale lock behind (serve_lock.py is
built on it).

`ShopLocks`: one catalog import per shop at a time, whichever process runs it (an API request in
any `serve --workers` worker, `cartback catalog import`). On SQLite a `FileLock` per shop
(`FileShopLocks`); on PostgreSQL a session advisory lock (`AdvisoryShopLocks`), which the server
drops when the session ends, the same way. A second import is refused with the same error
everywhere (`hold`): 429 `import_running` over HTTP, the same words from the CLI.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from .errors import ApiError


class FileLock:
    """An exclusive, non-blocking flock on `path`, which records the holder's pid."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self, shared: bool = False) -> str | None:
        """None when this object now holds the lock, else the holder's pid as written ("unknown").
        `shared`: held with other shared holders, never beside an exclusive one."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # flock, not fcntl's record locks: closing any descriptor of a file drops the process's
            # record locks on it, SQLite's among them, and record locks never conflict within one
            # process; flocks on separately opened descriptors do, so two imports in one server
            # exclude each other as two servers do.
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            return holder
        os.ftruncate(fd, 0)  # shared holders each write theirs: the file names one of them
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            # Emptied first: a pid left in the file would name a process that no longer holds it.
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # the lock goes with the descriptor
            self._fd = None


def import_running() -> ApiError:
    return ApiError(429, "import_running", "shop: an import for this shop is running; retry when it has finished",
                    "shop")


class ShopLocks:
    """One holder per shop at a time, across processes; `_take`/`_drop` say how. `take` may wait on
    the database (PostgreSQL opens a session): the server calls it from a worker thread."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._guard = threading.Lock()

    def take(self, shop: str) -> None:
        """Hold the shop's lock; ApiError 429 `import_running` when someone else holds it."""
        with self._guard:
            # Checked here too: a PostgreSQL session may take its own advisory lock twice.
            if shop in self._held:
                raise import_running()
            self._held.add(shop)
        try:
            taken = self._take(shop)
        except BaseException:
            self._held.discard(shop)
            raise
        if not taken:
            self._held.discard(shop)
            raise import_running()

    def drop(self, shop: str) -> None:
        try:
            self._drop(shop)
        finally:
            self._held.discard(shop)

    @contextlib.contextmanager
    def hold(self, shop: str) -> Iterator[None]:
        """Run the body holding the shop's lock (`take` … `drop`)."""
        self.take(shop)
        try:
            yield
        finally:
            self.drop(shop)

    def _take(self, shop: str) -> bool:
        raise NotImplementedError

    def _drop(self, shop: str) -> None:
        raise NotImplementedError


class FileShopLocks(ShopLocks):
    """SQLite: `<db>.locks/import-<shop>`, one small file per shop that ever imported (a lock file
    is never deleted: removing it while another process waits on it would let two hold "it")."""

    def __init__(self, db_path: str) -> None:
        super().__init__()
        self.folder = f"{db_path}.locks"
        self._locks: dict[str, FileLock] = {}

    def _take(self, shop: str) -> bool:
        os.makedirs(self.folder, exist_ok=True)
        # Shop ids are [a-z0-9_-] (shops.SHOP_ID), safe in a file name as they are.
        lock = FileLock(os.path.join(self.folder, f"import-{shop}"))
        if lock.try_acquire() is not None:
            return False
        self._locks[shop] = lock
        return True

    def _drop(self, shop: str) -> None:
        lock = self._locks.pop(shop, None)
        if lock is not None:
            lock.release()


def advisory_key(name: str, conn: Any = None) -> int:
    """PostgreSQL's advisory lock key for `name` (every advisory lock Cartback takes is named here,
    so two never share a key): 64 bits of our own, the same in every process, where pg's hashtext()
    is 32 bits. Advisory locks are per database, so the key also names the schema `conn` works in
    (`PgConnection.namespace`): Cartbacks in two schemas of one database lock apart."""
    namespace = getattr(conn, "namespace", "")
    return int.from_bytes(hashlib.sha256(f"cartback.{namespace}.{name}".encode()).digest()[:8], "big", signed=True)


class AdvisoryShopLocks(ShopLocks):
    """PostgreSQL: `pg_try_advisory_lock` on a session of its own per running import, closed when
    the import ends: the lock lives and dies with that session (and with the process holding it)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.sessions: dict[str, Any] = {}

    def _take(self, shop: str) -> bool:
        import psycopg

        from .pg import PgConnection, storage_problem

        try:
            session = PgConnection(self.url)
        except psycopg.Error as exc:
            raise ApiError(503, "storage_unavailable",
                           f"database: cannot take the shop's import lock ({storage_problem(exc) or exc})",
                           "database") from None
        if session.execute("SELECT pg_try_advisory_lock(?)", (advisory_key(f"import:{shop}", session),)).fetchone()[0]:
            self.sessions[shop] = session
            return True
        session.close()
        return False

    def _drop(self, shop: str) -> None:
        session = self.sessions.pop(shop, None)
        if session is not None:
            session.close()  # the server releases a session's advisory locks as it ends


def shop_locks(target: str) -> ShopLocks:
    """The import locks for a database: lock files beside a SQLite file, advisory locks on PostgreSQL."""
    from .pg import is_postgres

    return AdvisoryShopLocks(target) if is_postgres(target) else FileShopLocks(target)

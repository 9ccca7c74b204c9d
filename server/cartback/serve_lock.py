"""One serving process per SQLite file.

The recommender's learned lists and the product, shop, token and ingest caches live in the memory
of the process that serves a database (`db.Database` owns them). A second process on the same file
would answer blocks from its own stale copy and learn every event a second time, so a `Database`
holds an exclusive lock beside the file while it serves, and a second one refuses to start with a
message that says why, rather than run wrong. Other commands (`shop add`, `catalog import`, `report`)
open the file without it: SQLite's own locking keeps their writes safe.
"""

from __future__ import annotations

import fcntl
import os


class AlreadyServed(RuntimeError):
    """Another process serves this database file."""


class ServeLock:
    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.path = f"{db_path}.serve-lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # flock, not fcntl's record locks: closing any descriptor of a file drops the process's
            # record locks on it, SQLite's among them; a lock file of our own touches none of those.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyServed(
                f"{self.db_path} is already served by another cartback process (pid {holder}). A SQLite "
                "database is served by one process: the recommender and the caches live in its memory, and "
                "a second process would show stale blocks and learn every event twice. Stop the other "
                "server, or serve another file.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the lock goes with the descriptor
            self._fd = None

    def probe(self) -> None:
        """Raise AlreadyServed now, before a server starts, when another process holds the file."""
        self.acquire()
        self.release()

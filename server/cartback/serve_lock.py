"""One `cartback serve` per SQLite file.

The recommender's learned lists and the product, shop, token and ingest caches live in the memory
of the processes that serve a database. A second server on the same file would answer blocks from
its own copy and learn every event a second time, so the server holds an exclusive lock beside the
file while it serves (`locks.FileLock`), and a second one refuses to start with a message that says
why, rather than run wrong. `serve --workers N` holds it in the parent for its workers, which run
in shared mode (`Database(shared=True)`: caches that live a second, a fresh snapshot per block).
Other commands (`shop add`, `catalog import`, `report`) open the file without it: SQLite's own
locking keeps their writes safe.
"""

from __future__ import annotations

from .locks import FileLock


class AlreadyServed(RuntimeError):
    """Another process serves this database file."""


class ServeLock(FileLock):
    """`shared`: one of several processes serving the file together in shared mode (the workers
    of `serve --workers N` and their parent). They hold the lock shared, so a server of their kind
    may join them and a server alone may not, nor they beside it."""

    def __init__(self, db_path: str, shared: bool = False) -> None:
        super().__init__(f"{db_path}.serve-lock")
        self.db_path = db_path
        self.shared = shared

    def acquire(self) -> None:
        holder = self.try_acquire(self.shared)
        if holder is None:
            return
        if self.shared:
            raise AlreadyServed(
                f"{self.db_path} is already served by a cartback process that serves it alone (pid {holder}). "
                "Stop it before serving the file with several processes.")
        raise AlreadyServed(
            f"{self.db_path} is already served by another cartback process (pid {holder}). A SQLite "
            "database is served by one `cartback serve` (with as many --workers as it needs): the "
            "recommender and the caches of a server alone live in its memory, and a second server would "
            "show stale blocks and learn every event twice. Stop the other server, or serve another file.")

    def probe(self) -> None:
        """Raise AlreadyServed now, before a server starts, when another process holds the file."""
        self.acquire()
        self.release()

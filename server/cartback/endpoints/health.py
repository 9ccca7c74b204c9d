"""GET /healthz: whether the server can store what it is sent, not only whether it answers.

200 `{"status": "ok", "version"}` when a write commits and the database has room; 503 with the
contract's error shape (`field: "database"`) when the disk or the database's size cap is full, the
file is read-only, or a write was refused in the last STORAGE_MEMORY seconds. A load balancer then
takes the server out before visitors' events are lost quietly.
"""

from __future__ import annotations

import os
import sqlite3
import time

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..connection import storage_problem
from ..errors import ApiError
from ..services import services

STORAGE_MEMORY = 10.0
# Below this much free space (bytes on the disk, or pages under the size cap) a burst of events
# would fail: report it before it happens.
MIN_FREE_BYTES = 8 * 1024 * 1024
MIN_FREE_PAGES = 32


def _probe(conn: sqlite3.Connection) -> tuple[int, int, int]:
    conn.execute("INSERT INTO meta (key, value) VALUES ('healthz', ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (repr(time.time()),))
    if getattr(conn, "dialect", "") == "postgresql":
        return 0, 0, MIN_FREE_PAGES  # no file of ours to watch: PostgreSQL reports a full disk itself (53100)
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
    max_pages = conn.execute("PRAGMA max_page_count").fetchone()[0]
    return page_count, free_pages, max_pages


def _unavailable(problem: str) -> Response:
    return ApiError(503, "storage_unavailable", f"database: {problem}", "database").to_response(
        {"cache-control": "no-store"})


async def healthz(request: Request) -> Response:
    db = services(request).db
    failure = db.storage_failure
    if failure is not None and time.monotonic() - failure[0] < STORAGE_MEMORY:
        return _unavailable(f"a write was refused {time.monotonic() - failure[0]:.0f} s ago ({failure[1]})")
    try:
        page_count, free_pages, max_pages = await db.write(_probe)
    except ApiError as exc:
        return _unavailable(exc.message.removeprefix("database: "))
    except (sqlite3.Error, psycopg.Error) as exc:
        return _unavailable(storage_problem(exc) or f"cannot commit ({exc})")
    if max_pages - page_count + free_pages < MIN_FREE_PAGES:
        return _unavailable(f"full: {page_count} of at most {max_pages} pages used (serve --max-db-mb)")
    try:
        stat = None if db.postgres else os.statvfs(os.path.dirname(os.path.abspath(db.path)))
    except OSError:
        stat = None
    if stat is not None and stat.f_bavail * stat.f_frsize < MIN_FREE_BYTES:
        return _unavailable(f"the disk is full ({stat.f_bavail * stat.f_frsize // 1024} KiB free)")
    return JSONResponse({"status": "ok", "version": __version__}, headers={"cache-control": "no-store"})


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]

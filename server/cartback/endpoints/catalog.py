"""PUT /v1/shops/{shop}/catalog: a merchant uploads products (CSV, JSON lines, Google Merchant XML).

The body is streamed to a spooled temporary file (memory up to SPOOL_IN_MEMORY, then disk; 413
past the limit), then parsed in a worker thread by `cartback.catalog.import_stream`, which writes
each chunk of rows through the shared writer (`Database.write`), so browser events keep flowing
between chunks. One import per shop at a time, whichever process runs it (a `serve --workers`
worker, `cartback catalog import`): a second one gets 429 while the first runs (locks.py).
"""

from __future__ import annotations

import tempfile
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..catalog import CatalogError, import_stream, normalize_format
from ..errors import ApiError, bad_request
from ..services import services
from ..shops import require_merchant

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(name, f"use true or false, not {raw[:20]!r}")


def _upload_limit(request: Request) -> int:
    return int(services(request).settings.extra.get("catalog_max_bytes", MAX_UPLOAD_BYTES))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"body: larger than {limit:,} bytes; split the feed or use the CLI",
                    "body")


async def _spool(request: Request, limit: int) -> tempfile.SpooledTemporaryFile[bytes]:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise bad_request("content-length", "not a number") from None
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, prefix="cartback-catalog-")  # noqa: SIM115 - the caller closes it
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            if size > SPOOL_IN_MEMORY:  # on disk by now: keep the event loop free of file writes
                await anyio.to_thread.run_sync(spool.write, chunk)
            else:
                spool.write(chunk)
        if size == 0:
            raise bad_request("body", "empty; send the product feed as the request body")
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


async def put_catalog(request: Request) -> Response:
    shop = await require_merchant(request, request.path_params["shop"])
    try:
        fmt = normalize_format(request.query_params.get("format"))
    except CatalogError as exc:
        raise ApiError(400, exc.code, exc.message, exc.field) from None
    full = _flag(request, "full")

    state = services(request)
    locks = state.import_locks
    # 429 import_running while another process or request imports. In a thread: on PostgreSQL the
    # lock is a session of its own, and opening one must not stall the event loop.
    await anyio.to_thread.run_sync(locks.take, shop.id)
    try:
        try:
            spool = await _spool(request, _upload_limit(request))
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening; nothing was written
        db = state.db

        def write(fn: Any, *args: Any) -> Any:
            return anyio.from_thread.run(db.write, fn, *args)

        def run() -> Any:
            return import_stream(write, shop.id, spool, fmt=fmt, full=full, default_currency=shop.currency)

        try:
            result = await anyio.to_thread.run_sync(run)
        except CatalogError as exc:
            raise ApiError(400, exc.code, exc.message, exc.field) from None
        finally:
            spool.close()
        if result.created or result.updated or result.unavailable:
            services(request).invalidate_shop(shop.id)
        return JSONResponse(result.to_dict())
    finally:
        await anyio.to_thread.run_sync(locks.drop, shop.id)


routes = [Route("/v1/shops/{shop}/catalog", put_catalog, methods=["PUT"])]

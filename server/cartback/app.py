"""The Starlette application: routes, shared state, start-up and shut-down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import caps, dashboard
from .config import Settings
from .db import Database
from .endpoints import assets, catalog, empty_cart, events, health, shops
from .endpoints import report as report_endpoints
from .endpoints import visitors as visitor_endpoints
from .errors import ApiError, api_error_handler
from .http import AddressLimiter, RateLimiter
from .privacy import retention_loop
from .render import Renderer
from .renders import RenderLog
from .shops import ShopRegistry
from .snippet import Snippet, load_adapters
from .tokens import VisitorTokens

log = logging.getLogger("cartback")


def _ensure_secret(conn: sqlite3.Connection) -> str:
    # Generated once and kept in the database, so tokens survive restarts with no configuration.
    row = conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    if row:
        return str(row[0])
    secret = secrets.token_urlsafe(32)
    conn.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)", (secret,))
    return secret


async def preflight(request: Request) -> Response:
    # The snippet sends text/plain, which needs no preflight; other clients posting JSON do.
    # Whether this origin may call for a given shop is checked on the real request.
    origin = request.headers.get("origin", "")
    return Response(status_code=204, headers={
        "access-control-allow-origin": origin or "*",
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "86400",
        "vary": "Origin",
    })


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return ApiError(exc.status_code, code, f"path: {exc.detail} ({request.method} {request.url.path})",
                    "path").to_response()


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": {"code": "internal", "message": "internal error; see the server log"}},
                        status_code=500)


async def client_disconnect(request: Request, exc: Exception) -> Response:
    # Browsers abort beacons on page unload: nobody to answer, nothing went wrong on our side.
    client = request.client.host if request.client else "?"
    log.warning("client %s left before sending the whole body of %s %s", client, request.method, request.url.path)
    return Response(status_code=400)  # never sent: the client is gone


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = app.state
        max_pages = int(settings.max_db_mb * 1024 * 1024 // 4096) if settings.max_db_mb else None
        db = Database(settings.db_path, readers=settings.readers, max_pages=max_pages)
        await db.start()
        secret = await db.write(_ensure_secret)
        state.db = db
        state.render_log = RenderLog(db)
        state.tokens = VisitorTokens(secret, settings.token_max_age_days * 86400)
        state.confirmer = None
        if settings.confirm_pages:
            from .confirm import PageConfirmer

            state.confirmer = PageConfirmer(db, state.shops)
            state.confirmer.start()
        # Raw events past each shop's retention period: rolled into daily counts, then deleted, daily.
        retention = asyncio.ensure_future(retention_loop(db))
        try:
            yield
        finally:
            retention.cancel()
            await asyncio.gather(retention, return_exceptions=True)
            if state.confirmer is not None:
                await state.confirmer.close()
            await state.render_log.close()
            await db.close()

    asset_routes = assets.routes(settings)
    app = Starlette(
        routes=[
            # The three hot routes first (/snippet.js, then the tracking calls and the block):
            # Starlette tries routes in order, a regex match each.
            *asset_routes[:1],
            *events.routes,
            *empty_cart.routes,
            # Ahead of assets' /healthz (which only says the process answers): this one asks the database.
            *health.routes,
            *asset_routes[1:],
            *catalog.routes,
            *report_endpoints.routes,
            *visitor_endpoints.routes,
            *shops.routes,
            *dashboard.routes,
            Route("/v1/{rest:path}", preflight, methods=["OPTIONS"]),
        ],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error, ClientDisconnect: client_disconnect,
                            Exception: server_error},
        lifespan=lifespan,
    )
    state = app.state
    state.settings = settings
    caps.limits.max_browser_products = settings.max_browser_products
    caps.limits.max_visitors = settings.max_visitors
    caps.limits.max_items_per_visitor = settings.max_visitor_items
    state.snippet = Snippet.load(settings.snippet_path)
    state.snippet_responses = assets.snippet_responses(state.snippet)
    state.adapters = assets.adapter_responses(load_adapters(settings.snippet_path.parent))
    state.renderer = Renderer(settings.templates_dir)
    state.limiter = RateLimiter(settings.rate_limit_per_minute)
    state.shops = ShopRegistry(_LazyDb(app))
    # Calls per client address (events and the block, token or not), and wrong API keys per address.
    state.address_limiter = AddressLimiter(settings.address_limit_per_minute)
    state.shops.key_failures = AddressLimiter(settings.key_failures_per_minute, "wrong API keys", "authorization")

    def invalidate_shop(shop_id: str) -> None:
        state.shops.forget(shop_id)
        db = getattr(state, "db", None)
        if db is not None:
            db.products.invalidate(shop_id)

    state.invalidate_shop = invalidate_shop
    return app


class _LazyDb:
    """The registry is built before start-up opens the database."""

    def __init__(self, app: Starlette) -> None:
        self._app = app

    async def fetchone(self, sql: str, params: Any = ()) -> tuple[Any, ...] | None:
        db: Database = self._app.state.db
        return await db.fetchone(sql, params)

"""The Starlette application: routes, error answers, and the lifespan that starts `services.Services`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import dashboard
from .config import Settings
from .endpoints import assets, catalog, empty_cart, events, health, shops
from .endpoints import report as report_endpoints
from .endpoints import visitors as visitor_endpoints
from .errors import ApiError, api_error_handler
from .services import Services

log = logging.getLogger("cartback")


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
        app.state.services = await Services.start(settings)
        try:
            yield
        finally:
            await app.state.services.close()

    asset_routes = assets.routes(settings)
    app = Starlette(
        routes=[
            # The busiest routes first (/snippet.js, then the tracking calls and the block):
            # Starlette tries routes in order.
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
    return app

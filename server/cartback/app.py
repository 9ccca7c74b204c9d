"""The Starlette application: routes, error answers, and the lifespan that starts `services.Services`;
`app_from_env`, the same app in each `serve --workers` worker."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import dashboard
from .config import WORKER_SETTINGS_ENV, Settings
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


def _on_dashboard(request: Request) -> bool:
    # A marketer's browser, which would show the API's JSON as a wall of text.
    path = request.url.path
    return path == "/dashboard" or path.startswith("/dashboard/")


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if _on_dashboard(request):
        return dashboard.error_page(request, exc.status, exc.message)
    return await api_error_handler(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return await api_error(request, ApiError(
        exc.status_code, code, f"path: {exc.detail} ({request.method} {request.url.path})", "path"))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _on_dashboard(request):
        return dashboard.error_page(request, 500, "internal error; see the server log")
    return JSONResponse({"error": {"code": "internal", "message": "internal error; see the server log"}},
                        status_code=500)


async def client_disconnect(request: Request, exc: Exception) -> Response:
    # Browsers abort beacons on page unload: nobody to answer, nothing went wrong on our side.
    client = request.client.host if request.client else "?"
    log.warning("client %s left before sending the whole body of %s %s", client, request.method, request.url.path)
    return Response(status_code=400)  # never sent: the client is gone


Endpoint = Callable[[Request], Awaitable[Response]]


class Cartback(Starlette):
    """Starlette, with the busiest paths sent straight to their endpoints, ahead of the middleware and
    the router: those measured a fifth of GET /snippet.js (every page view of every shop) and of the
    tracking calls, and 6 % of the block, which rides along for free (bench/README.md). The endpoints
    are the same functions the router holds, which serves every other method and HEAD; their errors
    get the answers the app's handlers give."""

    def __init__(self, *args: Any, front: dict[tuple[str, str], Endpoint], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.front = front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.front.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if endpoint is None or scope.get("root_path"):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except ApiError as exc:
            response = await api_error_handler(request, exc)
        except ClientDisconnect as exc:
            response = await client_disconnect(request, exc)
        except Exception as exc:
            # As ServerErrorMiddleware does: log, answer 500, re-raise for the server's own log.
            await (await server_error(request, exc))(scope, receive, send)
            raise
        await response(scope, receive, send)


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
    app = Cartback(
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
        exception_handlers={ApiError: api_error, HTTPException: http_error, ClientDisconnect: client_disconnect,
                            Exception: server_error},
        lifespan=lifespan,
        front={("GET", "/snippet.js"): assets.snippet_js, ("POST", "/v1/events"): events.post_events,
               ("GET", "/v1/empty-cart"): empty_cart.empty_cart},
    )
    return app


def app_from_env() -> Starlette:
    """The app of one `serve --workers N` worker: uvicorn's factory, called in each worker process
    with the Settings the parent put in the environment (server.run; `shared` is set there)."""
    from .server import follow_parent

    follow_parent()
    return create_app(Settings.from_json(os.environ[WORKER_SETTINGS_ENV]))

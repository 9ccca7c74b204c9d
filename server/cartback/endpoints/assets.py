"""Public, cacheable surfaces: /snippet.js, /snippet/<platform>.js, /v1/config, /healthz, /static."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..config import Settings
from ..errors import ApiError
from ..http import client_address
from ..services import services


def _pick(prepared: dict[str, Response], etag: str, if_none_match: str | None, accept_encoding: str) -> Response:
    if if_none_match == etag:
        return prepared["not_modified"]
    return prepared["gzip" if "gzip" in accept_encoding else "plain"]


async def snippet_js(request: Request) -> Response:
    state = services(request)
    return _pick(state.snippet_responses, state.snippet.etag, request.headers.get("if-none-match"),
                 request.headers.get("accept-encoding", ""))


async def adapter_js(request: Request) -> Response:
    """GET and HEAD /snippet/<platform>.js: a built platform adapter. Immutable when asked for by
    the URL /v1/config gives (its current hash); an old or missing ?v= gets the core's short
    caching, so a page that kept an old config never pins today's bytes under yesterday's URL."""
    adapters = services(request).adapters
    name = request.path_params["name"]
    if name not in adapters:
        raise ApiError(404, "not_found", f"path: no snippet adapter {name!r} (GET {request.url.path})", "path")
    snippet, immutable, short = adapters[name]
    prepared = immutable if request.query_params.get("v") == snippet.version else short
    return _pick(prepared, snippet.etag, request.headers.get("if-none-match"),
                 request.headers.get("accept-encoding", ""))


def adapter_url(request: Request, platform: str | None) -> str | None:
    """The platform's adapter on this server's own origin, as the browser reached it (the base URL
    keeps a root_path), or None when the platform has no built adapter (ga4, none)."""
    adapters = services(request).adapters
    if not platform or platform not in adapters:
        return None
    return f"{str(request.base_url).rstrip('/')}/snippet/{platform}.js?v={adapters[platform][0].version}"


async def shop_config(request: Request) -> Response:
    # Public and uncached by curl: counted per address like the other browser calls.
    services(request).address_limiter.check(client_address(request.scope))
    shop = await services(request).shops.require(request.query_params.get("shop"))
    settings = shop.settings
    # .get: shops stored before these settings existed have none of them.
    platform = settings.get("platform")
    return JSONResponse(
        {"shop": shop.id, "selector": shop.selector_css, "locale": shop.locale, "platform": platform,
         "id_field": settings.get("id_field") or "product", "restore_url": settings.get("restore_url"),
         "adapter": adapter_url(request, platform)},
        headers={"cache-control": "public, max-age=300", "access-control-allow-origin": "*"},
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        Route("/snippet.js", snippet_js, methods=["GET", "HEAD"]),
        Route("/snippet/{name}.js", adapter_js, methods=["GET", "HEAD"]),
        Route("/v1/config", shop_config, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static"),
    ]

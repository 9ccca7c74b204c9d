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
from ..snippet import Snippet

# The core's URL is pasted into shops' pages and never changes: short enough that a new version
# reaches shops within minutes; the ETag makes rechecks cheap.
SHORT_CACHE = "public, max-age=300, stale-while-revalidate=86400"
# An adapter's URL carries its content hash (/v1/config names it), so a new build is a new URL.
IMMUTABLE = "public, max-age=31536000, immutable"


def snippet_responses(snippet: Snippet, cache_control: str = SHORT_CACHE) -> dict[str, Response]:
    """The three answers a built file can get, made once at start-up: a Response holds no
    per-request state, so one instance answers every request."""
    common = {
        "etag": snippet.etag,
        "cache-control": cache_control,
        "vary": "Accept-Encoding",
        "access-control-allow-origin": "*",
    }
    js = "application/javascript; charset=utf-8"
    return {
        "gzip": Response(snippet.gzipped, headers={**common, "content-encoding": "gzip"}, media_type=js),
        "plain": Response(snippet.plain, headers=common, media_type=js),
        "not_modified": Response(status_code=304, headers=common),
    }


def _pick(prepared: dict[str, Response], etag: str, if_none_match: str | None, accept_encoding: str) -> Response:
    if if_none_match == etag:
        return prepared["not_modified"]
    return prepared["gzip" if "gzip" in accept_encoding else "plain"]


async def snippet_js(request: Request) -> Response:
    state = request.app.state
    return _pick(state.snippet_responses, state.snippet.etag, request.headers.get("if-none-match"),
                 request.headers.get("accept-encoding", ""))


async def adapter_js(request: Request) -> Response:
    """GET and HEAD /snippet/<platform>.js: a built platform adapter. Immutable when asked for by
    the URL /v1/config gives (its current hash); an old or missing ?v= gets the core's short
    caching, so a page that kept an old config never pins today's bytes under yesterday's URL."""
    adapters = request.app.state.adapters
    name = request.path_params["name"]
    if name not in adapters:
        raise ApiError(404, "not_found", f"path: no snippet adapter {name!r} (GET {request.url.path})", "path")
    snippet, immutable, short = adapters[name]
    prepared = immutable if request.query_params.get("v") == snippet.version else short
    return _pick(prepared, snippet.etag, request.headers.get("if-none-match"),
                 request.headers.get("accept-encoding", ""))


AdapterResponses = tuple[Snippet, dict[str, Response], dict[str, Response]]


def adapter_responses(adapters: dict[str, Snippet]) -> dict[str, AdapterResponses]:
    return {name: (snippet, snippet_responses(snippet, IMMUTABLE), snippet_responses(snippet))
            for name, snippet in adapters.items()}


def adapter_url(request: Request, platform: str | None) -> str | None:
    """The platform's adapter on this server's own origin, as the browser reached it (the base URL
    keeps a root_path), or None when the platform has no built adapter (ga4, none)."""
    adapters = request.app.state.adapters
    if not platform or platform not in adapters:
        return None
    return f"{str(request.base_url).rstrip('/')}/snippet/{platform}.js?v={adapters[platform][0].version}"


async def shop_config(request: Request) -> Response:
    # Public and uncached by curl: counted per address like the other browser calls.
    request.app.state.address_limiter.check(client_address(request.scope))
    shop = await request.app.state.shops.require(request.query_params.get("shop"))
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

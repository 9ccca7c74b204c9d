"""Public, cacheable surfaces: /snippet.js, /snippet/<platform>.js, /v1/config, /healthz, /static."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..config import Settings
from ..errors import ApiError


class _Prepared(Response):
    """A response whose status, headers and body were all computed once, at start-up."""

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body
        self.background = None


# The core's URL is pasted into shops' pages and never changes: short enough that a new version
# reaches shops within minutes; the ETag makes rechecks cheap.
SHORT_CACHE = "public, max-age=300, stale-while-revalidate=86400"
# An adapter's URL carries its content hash (/v1/config names it), so a new build is a new URL.
IMMUTABLE = "public, max-age=31536000, immutable"


def snippet_responses(snippet, cache_control: str = SHORT_CACHE) -> dict[str, _Prepared]:
    common = {
        "etag": snippet.etag,
        "cache-control": cache_control,
        "vary": "Accept-Encoding",
        "access-control-allow-origin": "*",
    }

    def raw(extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
        return [(k.encode(), v.encode()) for k, v in {**common, **extra}.items()]

    js = "application/javascript; charset=utf-8"
    return {
        "gzip": _Prepared(200, raw({"content-type": js, "content-encoding": "gzip",
                                    "content-length": str(len(snippet.gzipped))}), snippet.gzipped),
        "plain": _Prepared(200, raw({"content-type": js, "content-length": str(len(snippet.plain))}), snippet.plain),
        "not_modified": _Prepared(304, raw({}), b""),
    }


def _pick(prepared: dict[str, _Prepared], etag: str, if_none_match: str | None, accept_encoding: str) -> _Prepared:
    if if_none_match == etag:
        return prepared["not_modified"]
    return prepared["gzip" if "gzip" in accept_encoding else "plain"]


async def snippet_js(request: Request) -> Response:
    state = request.app.state
    return _pick(state.snippet_responses, state.snippet.etag, request.headers.get("if-none-match"),
                 request.headers.get("accept-encoding", ""))


class SnippetJs:
    """GET and HEAD /snippet.js as a raw ASGI handler, dispatched by app.HotRoutes: requested on
    every page view of every shop, and its three possible answers are prepared once, so Starlette's
    router, Request and Response were most of its cost (bench/README.md)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        if_none_match, accept_encoding = None, None
        for name, value in scope["headers"]:  # lowercase names (ASGI); the first of repeated ones
            if name == b"if-none-match":
                if if_none_match is None:
                    if_none_match = value.decode("latin-1")
            elif name == b"accept-encoding":
                if accept_encoding is None:
                    accept_encoding = value.decode("latin-1")
        answer = _pick(state.snippet_responses, state.snippet.etag, if_none_match, accept_encoding or "")
        await send({"type": "http.response.start", "status": answer.status_code, "headers": answer.raw_headers})
        await send({"type": "http.response.body", "body": answer.body})


snippet = SnippetJs()


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


def adapter_responses(adapters: dict) -> dict[str, tuple]:
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


def routes(settings: Settings) -> list:
    return [
        Route("/snippet.js", snippet_js, methods=["GET", "HEAD"]),
        Route("/snippet/{name}.js", adapter_js, methods=["GET", "HEAD"]),
        Route("/v1/config", shop_config, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static"),
    ]

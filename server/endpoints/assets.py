"""Public, cacheable surfaces: /snippet.js, /v1/config, /healthz, /static."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..config import Settings


async def snippet_js(request: Request) -> Response:
    snippet = request.app.state.snippet
    headers = {
        "etag": snippet.etag,
        # Short enough that a new version reaches shops within minutes; the ETag makes rechecks cheap.
        "cache-control": "public, max-age=300, stale-while-revalidate=86400",
        "vary": "Accept-Encoding",
        "access-control-allow-origin": "*",
    }
    if request.headers.get("if-none-match") == snippet.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        body = snippet.gzipped
    else:
        body = snippet.plain
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)


async def shop_config(request: Request) -> Response:
    shop = await request.app.state.shops.require(request.query_params.get("shop"))
    return JSONResponse(
        {"shop": shop.id, "selector": shop.selector_css, "locale": shop.locale},
        headers={"cache-control": "public, max-age=300", "access-control-allow-origin": "*"},
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


def routes(settings: Settings) -> list:
    return [
        Route("/snippet.js", snippet_js, methods=["GET", "HEAD"]),
        Route("/v1/config", shop_config, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static"),
    ]

"""The demo shop's language (`?lang=`, then a cookie) and the middleware that keeps one origin and
clean URLs in front of its pages."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import Receive, Scope, Send

from ..i18n import LOCALES
from .cart import CartStore

LANG_COOKIE = "kovan_lang"
LOOPBACK = ("127.0.0.1", "localhost")


def locale_of(request: Request) -> str:
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LOCALES:
            return value
    return "tr"


class DemoMiddleware:
    """Two small duties around the shop app:

    - `?lang=tr|en` stores the language in a cookie and redirects to the clean URL;
    - a loopback alias (localhost vs 127.0.0.1) redirects to the origin the catalog URLs use, so a
      visitor's cart cookie, favourites and Cartback id (all kept per origin) stay one.
    """

    def __init__(self, app: Starlette, store: CartStore, canonical_origin: str | None) -> None:
        self.app = app
        self.store = store
        self.canonical = canonical_origin.rstrip("/") if canonical_origin else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            origin = f"{request.url.scheme}://{request.url.netloc}"
            if (self.canonical and origin != self.canonical and request.url.hostname in LOOPBACK
                    and self.canonical.split("://", 1)[1].split(":")[0] in LOOPBACK):
                await RedirectResponse(self.canonical + str(request.url).split(origin, 1)[1],
                                       status_code=307)(scope, receive, send)
                return
            lang = request.query_params.get("lang")
            if lang in LOCALES and request.method == "GET" and not request.url.path.startswith("/static"):
                params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
                target = request.url.path + ("?" + urlencode(params) if params else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

"""The demo toolbar on every page of the demo shop: "24 hours later" moves the shop's clock a day
ahead for this visitor (so the shop's server expires the cart), and "reset" makes a new visitor."""

from __future__ import annotations

import html
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .cart import CART_COOKIE, CLOCK_COOKIE, DAY, CartStore, clock_offset
from .cart_api import read_params

NOTICE_COOKIE = "kovan_notice"  # one-shot message after a demo toolbar action


def local_path(value: str | None) -> str:
    """A same-site path to go back to after a toolbar action; anything else is the home page."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


# The reset's answer: a page without the snippet that forgets this browser's visitor (Cartback's
# token, the wishlist), then goes on. Clearing on the old page alone raced with its snippet: an
# answer still on its way when the form was sent stored the old token again.
_RESET_PAGE = """<!doctype html><meta charset="utf-8"><title>Demo</title>
<script>
try {{
  localStorage.removeItem('kovan:favs');
  for (var i = localStorage.length - 1; i >= 0; i--) {{
    var k = localStorage.key(i);
    if (k && k.indexOf('cartback') === 0) localStorage.removeItem(k);
  }}
}} catch (e) {{}}
location.replace({target});
</script>
<noscript><meta http-equiv="refresh" content="0; url={path}"></noscript>
"""


def toolbar_routes(store: CartStore) -> list[Route]:
    async def forward(request: Request) -> Response:
        form = await read_params(request)
        response = RedirectResponse(local_path(form.get("next")), status_code=303)
        response.set_cookie(CLOCK_COOKIE, str(clock_offset(request) + DAY), max_age=30 * DAY, samesite="lax")
        return response

    async def reset(request: Request) -> Response:
        form = await read_params(request)
        cart, _ = store.find(request)
        if cart is not None:
            store.forget(cart)
        path = local_path(form.get("next"))
        target = json.dumps(path).replace("<", "\\u003c")  # no `</script>` from a crafted path
        response = HTMLResponse(_RESET_PAGE.format(target=target, path=html.escape(path)),
                                headers={"cache-control": "no-store"})
        # Cartback's own cookie (cartback_<shop>, where storage fails) goes too.
        for name in [CART_COOKIE, CLOCK_COOKIE, *(c for c in request.cookies if c.startswith("cartback"))]:
            response.delete_cookie(name)
        response.set_cookie(NOTICE_COOKIE, "reset", max_age=60, samesite="lax")
        return response

    return [Route("/demo/forward", forward, methods=["POST"]),
            Route("/demo/reset", reset, methods=["POST"])]

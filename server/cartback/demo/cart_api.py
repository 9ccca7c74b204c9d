"""Shopify's AJAX cart API on the demo shop: `/cart.js` (and `.json`), `/cart/add`, `/cart/change`,
`/cart/update`, `/cart/clear`, each with and without `.js`, answering with Shopify's JSON shapes.

Parameters are read as Shopify reads them and as Dawn's theme script sends them
(github.com/Shopify/dawn, assets/product-form.js: FormData to routes.cart_add_url = "/cart/add" with
Accept: application/javascript; assets/cart.js: JSON {line, quantity} to routes.cart_change_url =
"/cart/change" with Accept: application/json).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .cart import CART_COOKIE, DAY, Cart, CartError, CartStore, qty, sold_out

Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


async def read_params(request: Request) -> dict[str, Any]:
    """The request's parameters as Shopify reads them: a JSON body, or form fields (urlencoded or
    multipart, as a FormData body is), or the query string. Form keys like `updates[4470]` become
    a dict under `updates`; `items[0][id]` is not needed by any theme here."""
    body = await request.body()
    ctype = request.headers.get("content-type", "").lower()
    if "json" in ctype:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    pairs: list[tuple[str, str]] = list(request.query_params.multi_items())
    if ctype.startswith("application/x-www-form-urlencoded"):
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    elif ctype.startswith("multipart/form-data"):
        # The stdlib's MIME parser reads a browser's FormData body; no extra dependency for a demo.
        message = BytesParser(policy=email_policy).parsebytes(
            b"Content-Type: " + request.headers["content-type"].encode("latin-1") + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name and isinstance(name, str):
                payload = part.get_payload(decode=True)
                pairs.append((name, part.get_content() if part.get_content_maintype() == "text"
                              else payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""))
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key.startswith("updates[") and key.endswith("]"):
            out.setdefault("updates", {})[key[8:-1]] = value
        else:
            out[key] = value
    return out


def wants_json(request: Request) -> bool:
    """Dawn posts to /cart/add and /cart/change (no .js) and asks for JSON with its Accept header;
    a plain form post (no script) gets the cart page, as on Shopify."""
    accept = request.headers.get("accept", "")
    return ("javascript" in accept or "json" in accept
            or request.headers.get("x-requested-with", "").lower() == "xmlhttprequest")


def _endpoint(handler: Handler, always_json: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not always_json and not wants_json(request):
            # A form without a script (no JS): do it and show the cart page.
            try:
                response: Response | None = await handler(request, await read_params(request))
            except CartError:
                response = None
            redirect = RedirectResponse("/cart", status_code=302)
            if response is not None and "set-cookie" in response.headers:
                redirect.raw_headers += [h for h in response.raw_headers if h[0] == b"set-cookie"]
            return redirect
        try:
            return await handler(request, await read_params(request))
        except CartError as exc:
            return exc.response()
    return endpoint


def cart_routes(store: CartStore) -> list[Route]:
    """The cart API's routes on `store`."""

    def answer(request: Request, body: Any, cart: Cart) -> Response:
        response = JSONResponse(body)
        response.headers["cache-control"] = "no-store"
        if request.cookies.get(CART_COOKIE) != cart.token:
            response.set_cookie(CART_COOKIE, cart.token, max_age=14 * DAY, samesite="lax")
        return response

    async def cart_js(request: Request) -> Response:
        cart, _ = store.find(request)
        response = JSONResponse(store.cart_json(request, cart))
        response.headers["cache-control"] = "no-store"
        return response

    async def add(request: Request, params: dict[str, Any]) -> Response:
        cart = store.open(request)
        if isinstance(params.get("items"), list):
            # {items: [{id, quantity}]}: all or nothing, as Shopify does.
            wanted = [(it.get("id"), qty(it.get("quantity"), 1)) for it in params["items"] if isinstance(it, dict)]
            for variant, _ in wanted:
                p = store.variant(variant)
                if not p["in_stock"]:
                    raise sold_out(p)
            added = [store.add(request, cart, variant, n) for variant, n in wanted]
            body: Any = {"items": [store.line_json(request, v, cart.quantity_of(v)) for v in dict.fromkeys(added)]}
        else:
            v = store.add(request, cart, params.get("id"), qty(params.get("quantity"), 1))
            body = store.line_json(request, v, cart.quantity_of(v))
        return answer(request, body, cart)

    async def change(request: Request, params: dict[str, Any]) -> Response:
        cart, _ = store.find(request)
        cart = cart or store.open(request)
        quantity = qty(params.get("quantity"))
        if params.get("line") not in (None, ""):
            try:
                n = int(params["line"])
            except (TypeError, ValueError):
                n = 0
            if not 1 <= n <= len(cart.lines):
                raise CartError(400, "Line is out of range")
            variant = cart.lines[n - 1][0]
        else:
            variant = store.variant_id(params.get("id", ""))
            if not cart.quantity_of(variant):
                raise CartError(400, "Cannot find line item")
        store.set(request, cart, [(variant, quantity)])
        return answer(request, store.cart_json(request, cart), cart)

    async def update(request: Request, params: dict[str, Any]) -> Response:
        cart = store.open(request)
        updates = params.get("updates")
        pairs: list[tuple[int, Any]]
        if isinstance(updates, list):  # quantities by line, in order
            pairs = [(cart.lines[i][0], q) for i, q in enumerate(updates) if i < len(cart.lines)]
        elif isinstance(updates, dict):
            pairs = [(store.variant_id(k), q) for k, q in updates.items()]
        else:
            pairs = []
        store.set(request, cart, pairs)
        return answer(request, store.cart_json(request, cart), cart)

    async def clear(request: Request, params: dict[str, Any]) -> Response:
        cart = store.open(request)
        cart.lines = []
        cart.updated = store.now(request)
        return answer(request, store.cart_json(request, cart), cart)

    routes = [Route("/cart.js", cart_js), Route("/cart.json", cart_js)]
    for name, handler in (("add", add), ("change", change), ("update", update), ("clear", clear)):
        routes += [Route(f"/cart/{name}.js", _endpoint(handler, True), methods=["POST"]),
                   Route(f"/cart/{name}", _endpoint(handler, False), methods=["POST"])]
    return routes

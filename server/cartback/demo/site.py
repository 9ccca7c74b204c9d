"""The demo shop's web app: its pages (Jinja2 templates from `demo_site/templates/`, static files from
`demo_site/static/`), checkout, and the routes of the cart API and the demo toolbar.

The demo shop behaves like a Shopify Online Store 2.0 shop on the Dawn theme, so the snippet and
its Shopify adapter meet what they meet in the field: the cart lives on the shop's server behind a
`cart` cookie and is reached through Shopify's AJAX cart API (same paths, same JSON shapes), the
cart page is rendered by the server with Dawn's empty-cart markup, and the cart expires on the
shop's server. Nothing in the shop tells Cartback anything: its pages carry only the install tag.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..render import format_price
from .cart import Cart, CartStore, clock_offset
from .cart_api import cart_routes
from .catalog import SITE_DIR
from .middleware import DemoMiddleware, locale_of
from .seed import SHOP_ID
from .shop import DemoShop, cents, script_json, shop_path
from .toolbar import NOTICE_COOKIE, toolbar_routes

FREE_SHIPPING_FROM = 750
SHIPPING = 49.9


def _shipping(subtotal: float) -> float:
    return 0 if subtotal >= FREE_SHIPPING_FROM else SHIPPING


def create_demo_app(products: list[dict[str, Any]], *, widget_port: int, canonical_origin: str | None = None,
                    site_dir: Path | None = None, clock: Callable[[], float] = time.time) -> DemoMiddleware:
    """The demo shop. `products` carry absolute URLs, a Shopify `product_id` and `variant_id`;
    `widget_port` is where the widget server listens on the same host name the browser used for
    the shop; `clock` is the machine's time (tests move it)."""
    site_dir = site_dir or SITE_DIR
    texts = json.loads((site_dir / "texts.json").read_text(encoding="utf-8"))
    shop = DemoShop(products, texts)
    store = CartStore(shop, clock)
    templates = Jinja2Templates(directory=str(site_dir / "templates"))
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True

    def cart_view(request: Request, cart: Cart | None, locale: str) -> dict[str, Any]:
        lines: list[dict[str, Any]] = []
        for n, (variant, qty) in enumerate(cart.lines if cart else [], start=1):
            p = shop.view(shop.by_variant[variant], locale)
            lines.append({"line": n, "qty": qty, "p": p,
                          "total_text": format_price(p["price"] * qty, p["currency"], locale)})
        subtotal = round(sum(ln["p"]["price"] * ln["qty"] for ln in lines), 2)
        shipping = _shipping(subtotal)
        return {"lines": lines, "count": sum(ln["qty"] for ln in lines),
                "subtotal_text": format_price(subtotal, "TRY", locale),
                "shipping_text": format_price(shipping, "TRY", locale) if shipping else None,
                "total_text": format_price(subtotal + shipping, "TRY", locale)}

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        locale = locale_of(request)
        widget = f"{request.url.scheme}://{request.url.hostname}:{widget_port}"
        cart, expired = store.find(request)
        notice = "expired" if expired else request.cookies.get(NOTICE_COOKIE)
        base = {
            "locale": locale,
            "t": texts["ui"][locale],
            "widget": widget,
            "dashboard": widget + "/dashboard",
            "shop_id": SHOP_ID,
            "client_data": shop.client_data(locale),
            "categories": [{"slug": v["slug"], "label": v[locale]} for v in shop.categories.values()],
            "path": request.url.path,
            "here": request.url.path + ("?" + request.url.query if request.url.query else ""),
            "current_category": None,
            "cart": cart_view(request, cart, locale),
            "clock_hours": clock_offset(request) // 3600,
            "notice": notice if notice in ("expired", "reset") else None,
            "shopify": script_json({"shop": "kovan-cicek.myshopify.com", "locale": locale,
                                    "currency": {"active": "TRY", "rate": "1.0"}, "country": "TR",
                                    "routes": {"root": "/"}}),
        }
        response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
        response.headers["cache-control"] = "no-store"
        if NOTICE_COOKIE in request.cookies:
            response.delete_cookie(NOTICE_COOKIE)
        return response

    # -- pages -------------------------------------------------------------------------------------

    async def home(request: Request) -> Response:
        locale = locale_of(request)
        slug = request.query_params.get("c")
        items = [shop.view(p, locale) for p in shop.products]
        current = None
        if slug:
            items = [p for p in items if p["category_slug"] == slug] or items
            current = next((c for c in shop.categories.values() if c["slug"] == slug), None)
        return page(request, "home.html", products=items,
                    current_category=current["slug"] if current else None,
                    heading=current[locale] if current else texts["ui"][locale]["grid_title"])

    async def product(request: Request) -> Response:
        p = shop.by_slug.get(request.path_params["slug"])
        if p is None:
            raise HTTPException(404)
        locale = locale_of(request)
        v = shop.view(p, locale)
        json_ld = {
            "@context": "https://schema.org",
            "@type": "Product",
            "@id": p["url"],
            "sku": p["id"],
            "productID": p["id"],
            "name": p["name"],
            "image": p["image"],
            "url": p["url"],
            "category": p["category"],
            "description": v["description"],
            "brand": {"@type": "Brand", "name": shop.name},
            "offers": {
                "@type": "Offer",
                "url": p["url"],
                "sku": p["id"],
                "price": f"{p['price']:.2f}",
                "priceCurrency": p["currency"],
                "availability": "https://schema.org/" + ("InStock" if p["in_stock"] else "OutOfStock"),
            },
        }
        view_item = {"event": "view_item", "ecommerce": {"currency": p["currency"], "value": p["price"],
                                                         "items": [shop.ga4_item(p)]}}
        # What Shopify prints on every product page (ShopifyAnalytics.meta): ids and prices in cents.
        meta = {"product": {"id": p["product_id"], "gid": f"gid://shopify/Product/{p['product_id']}",
                            "vendor": shop.name, "type": p["category"],
                            "variants": [{"id": p["variant_id"], "price": cents(p["price"]), "name": p["name"],
                                          "public_title": None, "sku": p["id"]}]},
                "page": {"pageType": "product", "resourceType": "product", "resourceId": p["product_id"]}}
        return page(request, "product.html", p=v, current_category=v["category_slug"],
                    json_ld=script_json(json_ld), view_item=script_json(view_item), meta=script_json(meta))

    async def product_js(request: Request) -> Response:
        """Shopify's /products/<handle>.js: the product with its variants, prices in cents."""
        p = shop.by_slug.get(request.path_params["slug"])
        if p is None:
            return JSONResponse({"status": 404, "message": "Not Found", "description": "Not Found"}, 404)
        price = cents(p["price"])
        return JSONResponse({
            "id": p["product_id"], "title": p["name"], "handle": request.path_params["slug"],
            "vendor": shop.name, "type": p["category"], "price": price,
            "available": p["in_stock"], "url": shop_path(p["url"]),
            "featured_image": p["image"], "images": [p["image"]],
            "variants": [{"id": p["variant_id"], "title": "Default Title", "sku": p["id"], "price": price,
                          "available": p["in_stock"], "name": p["name"]}],
        })

    async def cart_page(request: Request) -> Response:
        # Dawn re-renders the cart's contents with the Section Rendering API after a change.
        if request.query_params.get("section_id") == "main-cart-items":
            locale = locale_of(request)
            cart, _ = store.find(request)
            response = templates.TemplateResponse(
                request, "_cart_items.html", {"t": texts["ui"][locale], "cart": cart_view(request, cart, locale)})
            response.headers["cache-control"] = "no-store"
            return response
        return page(request, "cart.html")

    async def favorites(request: Request) -> Response:
        locale = locale_of(request)
        return page(request, "favorites.html", products=[shop.view(p, locale) for p in shop.products])

    async def order_page(request: Request) -> Response:
        order = store.orders.get(request.path_params["order"])
        if order is None:
            raise HTTPException(404)
        # A GA4 tag sends the purchase once, on the first view of the thank-you page.
        first = not order["seen"]
        order["seen"] = True
        return page(request, "order.html", order=order,
                    purchase=script_json(order["purchase"]) if first else None)

    async def checkout(request: Request) -> Response:
        cart, _ = store.find(request)
        if cart is None or not cart.lines:
            return RedirectResponse("/cart", status_code=303)
        order_id = "KC-" + secrets.token_hex(4).upper()
        items = [(shop.by_variant[v], q) for v, q in cart.lines]
        subtotal = round(sum(p["price"] * q for p, q in items), 2)
        shipping = _shipping(subtotal)
        store.orders[order_id] = {"id": order_id, "seen": False, "purchase": {"event": "purchase", "ecommerce": {
            "transaction_id": order_id, "value": round(subtotal + shipping, 2), "shipping": shipping,
            "currency": "TRY", "items": [shop.ga4_item(p, q) for p, q in items]}}}
        store.forget(cart)
        return RedirectResponse(f"/siparis/{order_id}", status_code=303)

    async def moved(request: Request) -> Response:
        """Paths of the demo shop before it became Shopify-like (old bookmarks)."""
        path = request.url.path
        target = "/cart" if path == "/sepet" else "/products/" + path.rsplit("/", 1)[-1]
        return RedirectResponse(target, status_code=301)

    async def not_found(request: Request, exc: Exception) -> Response:
        return page(request, "404.html", status=404)

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/products/{slug}.js", product_js),
            Route("/products/{slug}", product),
            *cart_routes(store),
            Route("/cart", cart_page),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/siparis/{order}", order_page),
            Route("/favoriler", favorites),
            *toolbar_routes(store),
            Route("/sepet", moved),
            Route("/p/{slug}", moved),
            Mount("/static", StaticFiles(directory=str(site_dir / "static")), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    app.state.store = store
    return DemoMiddleware(app, store, canonical_origin)

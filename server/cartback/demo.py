"""`cartback demo`: the widget server and a small honey shop on another origin, with sample data.

The shop ("Kovan & Çiçek", made up) is what marketers use to preview the block and what QA and the
browser tests drive. It behaves like a Shopify shop on the Dawn theme: product pages with schema.org
JSON-LD and GA4 dataLayer pushes, a cart kept on the shop's server behind Shopify's AJAX cart API
that expires after 24 hours on the shop's clock, a GA4-tagged wishlist, a checkout, and a demo
toolbar that moves the shop's clock 24 hours ahead. Its pages carry only Cartback's install tag:
the snippet and its Shopify adapter must find out everything themselves, as on a real shop.

Pages are rendered here with Jinja2 from `demo_site/templates/`; everything the browser runs or
shows lives in `demo_site/static/`. Both servers run in one asyncio loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Iterable
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from babel.numbers import format_decimal
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import i18n
from .config import Settings, asset_dir
from .render import format_price

SHOP_ID = "demo"
SITE_DIR = Path(os.environ.get("CARTBACK_DEMO_SITE") or asset_dir("demo_site"))
LOCALES = ("tr", "en")
LANG_COOKIE = "kovan_lang"
LOOPBACK = ("127.0.0.1", "localhost")
SAMPLE_PREFIX = "sample-"


# --- catalog --------------------------------------------------------------------------------------

# What the merchant's product feed carries. The catalog file also holds each product's Shopify
# `product_id` and `variant_id`, which only the shop's own cart uses: the feed's id is the SKU.
FEED_FIELDS = ("id", "name", "price", "currency", "url", "image", "category", "in_stock")


def load_catalog(path: Path | None = None) -> list[dict[str, Any]]:
    """The demo products as stored: relative `url` and `image` paths."""
    path = path or SITE_DIR / "catalog.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def expand_urls(products: Iterable[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    """Absolute `url` and `image` on the demo shop's origin (what a real feed carries)."""
    origin = origin.rstrip("/")
    out = []
    for p in products:
        q = dict(p)
        for key in ("url", "image"):
            if q.get(key, "").startswith("/"):
                q[key] = origin + q[key]
        out.append(q)
    return out


def import_catalog(conn: sqlite3.Connection, shop: str, products: list[dict[str, Any]]) -> int:
    """Import the demo products as the shop's catalog, through the merchant's import path
    (`cartback.catalog.import_stream`, JSON lines, full feed: a product dropped from the file becomes
    unavailable). Returns the number of products imported."""
    from .catalog import import_stream

    feed = "".join(json.dumps({k: p[k] for k in FEED_FIELDS if k in p}, ensure_ascii=False) + "\n"
                   for p in products).encode("utf-8")
    result = import_stream(conn, shop, io.BytesIO(feed), fmt="jsonl", full=True)
    if result.rejected:
        raise RuntimeError(f"demo catalog rejected: {result.rejections}")
    return result.created + result.updated


# --- shop and sample data -------------------------------------------------------------------------

def shop_origins(host: str, shop_port: int) -> list[str]:
    hosts = [h for h in (host, "localhost", "127.0.0.1") if h not in ("0.0.0.0", "::", "")]
    return list(dict.fromkeys(f"http://{h}:{shop_port}" for h in hosts))


# The demo shop is a Shopify shop whose catalog (and JSON-LD) uses SKUs as ids: the Shopify adapter
# tracks the theme's own cart and reports SKUs, and the empty cart is found by Shopify's preset.
PLATFORM_SETTINGS: dict[str, Any] = {"platform": "shopify", "id_field": "sku"}
# A marketer previewing the block must always see it: no control group in the demo (one can still
# turn it on with `cartback shop set demo holdout_share=0.1`). `--simulate` keeps the default share,
# since its uplift report needs a holdout group.
DEMO_SETTINGS: dict[str, Any] = {"holdout_share": 0}


def ensure_shop(conn: sqlite3.Connection, origins: list[str],
                settings: dict[str, Any] | None = DEMO_SETTINGS) -> str | None:
    """Create the shop `demo` when missing (returns its new API key); otherwise make sure the
    current origins are allowed (the ports may differ from the last run) and return None.
    `settings` (and PLATFORM_SETTINGS, always) are applied at creation, and later only where the
    shop has no value of its own."""
    from .db import transaction
    from .shops import create_shop, get_shop, normalize_origin, update_settings

    settings = {**PLATFORM_SETTINGS, **(settings or {})}
    shop = get_shop(conn, SHOP_ID)
    if shop is None:
        return transaction(conn, create_shop, SHOP_ID, origins, None, "tr", "TRY", settings)
    stored = json.loads(conn.execute("SELECT settings FROM shops WHERE id = ?", (SHOP_ID,)).fetchone()[0])
    missing_settings = {k: v for k, v in settings.items() if k not in stored}
    if missing_settings:
        transaction(conn, update_settings, SHOP_ID, missing_settings)
    wanted = [normalize_origin(o) for o in origins]
    missing = [o for o in wanted if o and o not in shop.origins]
    if missing:
        # shops.py has no origin editor yet; the demo only ever adds its own loopback origins.
        merged = sorted(set(shop.origins) | set(missing))
        transaction(conn, lambda c: c.execute("UPDATE shops SET origins = ? WHERE id = ?",
                                              (json.dumps(merged), SHOP_ID)))
    return None


# Shoppers who came before: they give "you may also like" something to learn from and the report
# something to show. Groups of products people tend to look at together.
_INTERESTS = [
    (["KB-1003", "KB-2001", "KB-4002", "KB-1004", "KB-3002"], 5),   # breakfast table
    (["KB-1001", "KB-1002", "KB-2002", "KB-1008"], 4),              # dark, strong honey
    (["KB-3001", "KB-3004", "KB-3002", "KB-1007", "KB-3003"], 3),   # health shelf
    (["KB-4001", "KB-4002", "KB-1005", "KB-1006"], 2),              # gifts
]


def seed_sample_shoppers(conn: sqlite3.Connection, shop_id: str, products: list[dict[str, Any]], *,
                         visitors: int = 90, days: int = 14, seed: int = 7, now: float | None = None) -> int:
    """Browsing histories of made-up earlier visitors (vid `sample-NNN`), written through the same
    ingest code as real events. Runs once per database; returns the number of events written."""
    from .db import transaction
    from .ingest import apply_events
    from .shops import get_shop
    from .validation import parse_event

    if conn.execute("SELECT 1 FROM visitors WHERE shop = ? AND vid LIKE ? LIMIT 1",
                    (shop_id, SAMPLE_PREFIX + "%")).fetchone():
        return 0
    shop = get_shop(conn, shop_id)
    assert shop is not None
    rng = random.Random(seed)
    now = now or time.time()
    price = {p["id"]: p["price"] for p in products}
    product_ids = list(price)
    known = set(product_ids)
    groups = [([p for p in ids if p in known], w) for ids, w in _INTERESTS]
    groups = [(ids, w) for ids, w in groups if ids]
    weights = [w for _, w in groups]

    def write_all(c: sqlite3.Connection) -> int:
        count = 0
        for n in range(visitors):
            ids = rng.choices(groups, weights)[0][0]
            seen = rng.sample(ids, k=min(len(ids), rng.randint(2, 4)))
            if rng.random() < 0.3:
                seen.append(rng.choice(product_ids))
            ts = now - rng.uniform(3600, days * 86400)
            raw: list[dict[str, Any]] = []
            for pid in dict.fromkeys(seen):
                ts += rng.uniform(20, 240)
                raw.append({"type": "view", "product": pid, "ts": ts})
            carted = {e["product"]: rng.choice([1, 1, 1, 2]) for e in raw if rng.random() < 0.4}
            for pid, qty in carted.items():
                ts += rng.uniform(10, 60)
                raw.append({"type": "add", "product": pid, "qty": qty, "ts": ts})
            if raw and rng.random() < 0.2:
                ts += 30
                raw.append({"type": "favorite", "product": raw[0]["product"], "ts": ts})
            if carted and rng.random() < 0.35:
                ts += rng.uniform(60, 600)
                items = [{"id": pid, "qty": qty, "price": price[pid]} for pid, qty in carted.items()]
                raw.append({"type": "purchase", "order_id": f"SAMPLE-{n:04d}", "currency": "TRY", "ts": ts,
                            "total": round(sum(i["price"] * i["qty"] for i in items), 2), "items": items})
            events = [parse_event(r, f"sample[{i}]", shop, []) for i, r in enumerate(raw)]
            apply_events(c, shop_id, f"{SAMPLE_PREFIX}{n:03d}", events, ts, new_visitor=True, trust_ts=True)
            count += len(events)
        return count

    return transaction(conn, write_all)


# --- the shop's web app ---------------------------------------------------------------------------
#
# The demo shop behaves like a Shopify Online Store 2.0 shop on the Dawn theme, so the snippet and
# its Shopify adapter meet what they meet in the field: the cart lives on the shop's server behind a
# `cart` cookie and is reached through Shopify's AJAX cart API (same paths, same JSON shapes), the
# cart page is rendered by the server with Dawn's empty-cart markup, and the cart expires on the
# shop's server. Nothing in the shop tells Cartback anything: its pages carry only the install tag.
#
# Shapes follow Shopify's Cart API reference (https://shopify.dev/docs/api/ajax/reference/cart) and
# what Dawn's theme script sends (github.com/Shopify/dawn, assets/product-form.js: FormData to
# routes.cart_add_url = "/cart/add" with Accept: application/javascript; assets/cart.js: JSON
# {line, quantity} to routes.cart_change_url = "/cart/change" with Accept: application/json).

DAY = 24 * 3600
CART_COOKIE = "cart"            # Shopify's name: the token of a cart kept on the server
CLOCK_COOKIE = "kovan_clock"    # the demo toolbar's shift of the shop's clock, in seconds
NOTICE_COOKIE = "kovan_notice"  # one-shot message after a demo toolbar action
MAX_QTY = 99


def _money_template(locale: str, currency: str = "TRY") -> str:
    """How the shop's script formats an amount: `₺{n}` with the number in the locale's digits."""
    sample = format_price(1234.5, currency, locale)
    number = format_decimal(1234.5, format="#,##0.00", locale=i18n.BABEL_LOCALES.get(locale, locale))
    return sample.replace(number, "{n}") if number in sample else "{n} " + currency


def _cents(amount: float) -> int:
    return int(round(amount * 100))


class DemoShop:
    """Catalog, texts and page context for the demo shop."""

    def __init__(self, products: list[dict[str, Any]], texts: dict[str, Any]) -> None:
        self.products = products
        self.by_slug = {p["url"].rstrip("/").rsplit("/", 1)[-1]: p for p in products}
        self.by_variant = {int(p["variant_id"]): p for p in products}
        self.texts = texts
        self.categories = texts["categories"]

    def category_label(self, name: str, locale: str) -> str:
        return self.categories.get(name, {}).get(locale, name)

    def view(self, p: dict[str, Any], locale: str) -> dict[str, Any]:
        """A product with what the templates show: local path, price text, labels."""
        path = "/" + p["url"].split("://", 1)[-1].split("/", 1)[-1]
        return {
            **p,
            "path": path,
            "slug": path.rsplit("/", 1)[-1],
            "price_text": format_price(p["price"], p["currency"], locale),
            "category_label": self.category_label(p["category"], locale),
            "category_slug": self.categories.get(p["category"], {}).get("slug", ""),
            "description": self.texts["products"].get(p["id"], {}).get(locale, ""),
        }

    def ga4_item(self, p: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
        """A GA4 ecommerce item as a GA4 tag on Shopify sends it: the SKU as item_id, the variant id
        (GA4's "unique code" of the variant) as item_variant."""
        return {"item_id": p["id"], "item_name": p["name"], "item_variant": str(p["variant_id"]),
                "item_category": p["category"], "price": p["price"], "quantity": quantity}

    def client_data(self, locale: str) -> str:
        """The JSON the shop's script reads: texts, money format, and what the wishlist app needs."""
        catalog = {
            str(p["variant_id"]): {"sku": p["id"], "name": p["name"], "price": p["price"],
                                   "currency": p["currency"], "category": p["category"]}
            for p in self.products
        }
        data = {"locale": locale, "money": _money_template(locale), "t": self.texts["ui"][locale],
                "variants": catalog}
        return _script_json(data)


def _script_json(data: Any) -> str:
    # Safe inside <script>: no "</script>" can appear.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _locale_of(request: Request) -> str:
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LOCALES:
            return value
    return "tr"


def _clock_offset(request: Request) -> int:
    try:
        value = int(request.cookies.get(CLOCK_COOKIE, "0"))
    except ValueError:
        return 0
    return value if 0 <= value <= 365 * DAY else 0


def _local_path(value: str | None) -> str:
    """A same-site path to go back to after a toolbar action; anything else is the home page."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


async def _read_params(request: Request) -> dict[str, Any]:
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
            if name:
                pairs.append((name, part.get_content() if part.get_content_maintype() == "text"
                              else part.get_payload(decode=True).decode("utf-8", "replace")))
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key.startswith("updates[") and key.endswith("]"):
            out.setdefault("updates", {})[key[8:-1]] = value
        else:
            out[key] = value
    return out


class CartError(Exception):
    """Shopify's cart error body: {status, message, description}."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description

    def response(self) -> Response:
        return JSONResponse({"status": self.status, "message": "Cart Error", "description": self.description},
                            status_code=self.status)


def _qty(value: Any, default: int | None = None) -> int:
    try:
        n = int(str(value).strip()) if value is not None and str(value).strip() != "" else default
    except ValueError:
        n = None
    if n is None or n < 0:
        raise CartError(422, "Quantity must be a whole number of 0 or more")
    return min(n, MAX_QTY)


class Cart:
    """One shopper's cart on the shop's server. Lines are [variant_id, quantity], newest first, as
    Shopify lists them."""

    def __init__(self, token: str, now: float) -> None:
        self.token = token
        self.lines: list[list[int]] = []
        self.updated = now

    def quantity_of(self, variant: int) -> int:
        return next((q for v, q in self.lines if v == variant), 0)

    def set(self, variant: int, quantity: int) -> None:
        for line in self.lines:
            if line[0] == variant:
                line[1] = quantity
                break
        else:
            if quantity > 0:
                self.lines.insert(0, [variant, quantity])
        self.lines = [line for line in self.lines if line[1] > 0]


class CartStore:
    """Every visitor's cart, kept in memory by the shop's server and found by the `cart` cookie.

    A cart untouched for 24 hours on the shop's clock is gone, as shop carts do expire; the clock is
    the machine's plus the demo toolbar's offset (a cookie), so "24 hours later" is real to the shop."""

    def __init__(self, shop: DemoShop, clock=time.time) -> None:
        self.shop = shop
        self.clock = clock
        self.carts: dict[str, Cart] = {}
        self.orders: dict[str, dict[str, Any]] = {}

    def now(self, request: Request) -> float:
        return self.clock() + _clock_offset(request)

    def find(self, request: Request) -> tuple[Cart | None, bool]:
        """The visitor's cart (None when there is none) and whether it expired just now."""
        token = request.cookies.get(CART_COOKIE)
        cart = self.carts.get(token) if token else None
        if cart is not None and self.now(request) - cart.updated >= DAY:
            del self.carts[cart.token]
            return None, True
        return cart, False

    def open(self, request: Request) -> Cart:
        cart, _ = self.find(request)
        if cart is None:
            cart = Cart(secrets.token_hex(16), self.now(request))
            self.carts[cart.token] = cart
        return cart

    def variant(self, value: Any) -> dict[str, Any]:
        try:
            p = self.shop.by_variant.get(int(str(value).strip()))
        except ValueError:
            p = None
        if p is None:
            # Shopify answers an unknown variant with a Cart Error too (404 "Cannot find variant");
            # the demo keeps one status for "cannot be added", as themes only read `status` as truthy.
            raise CartError(422, "Cannot find variant")
        return p

    def add(self, request: Request, cart: Cart, variant: Any, quantity: int) -> int:
        p = self.variant(variant)
        if not p["in_stock"]:
            raise CartError(422, f"The product '{p['name']}' is already sold out.")
        v = int(p["variant_id"])
        cart.set(v, min(MAX_QTY, cart.quantity_of(v) + quantity))
        cart.updated = self.now(request)
        return v

    # -- Shopify's JSON ----------------------------------------------------------------------------

    def line_json(self, request: Request, variant: int, quantity: int) -> dict[str, Any]:
        p = self.shop.by_variant[variant]
        origin = f"{request.url.scheme}://{request.url.netloc}"
        path = "/" + p["url"].split("://", 1)[-1].split("/", 1)[-1]
        image = p["image"] if "://" in p["image"] else origin + p["image"]
        price = _cents(p["price"])
        return {
            "id": variant, "properties": {}, "quantity": quantity, "variant_id": variant,
            "key": f"{variant}:{hashlib.md5(str(variant).encode()).hexdigest()}",
            "title": p["name"], "price": price, "original_price": price, "discounted_price": price,
            "line_price": price * quantity, "original_line_price": price * quantity,
            "final_price": price, "final_line_price": price * quantity, "total_discount": 0, "discounts": [],
            "sku": p["id"], "grams": 0, "vendor": self.shop.texts["ui"]["tr"]["shop_name"], "taxable": True,
            "product_id": int(p["product_id"]), "product_has_only_default_variant": True, "gift_card": False,
            "url": f"{path}?variant={variant}", "image": image,
            "featured_image": {"url": image, "alt": p["name"], "aspect_ratio": 1.0},
            "handle": path.rsplit("/", 1)[-1], "requires_shipping": True, "product_type": p["category"],
            "product_title": p["name"], "variant_title": None, "variant_options": ["Default Title"],
            "options_with_values": [{"name": "Title", "value": "Default Title"}],
        }

    def cart_json(self, request: Request, cart: Cart | None) -> dict[str, Any]:
        items = [self.line_json(request, v, q) for v, q in (cart.lines if cart else [])]
        total = sum(i["line_price"] for i in items)
        return {
            "token": cart.token if cart else request.cookies.get(CART_COOKIE) or "",
            "note": None, "attributes": {}, "original_total_price": total, "total_price": total,
            "total_discount": 0, "total_weight": 0, "item_count": sum(i["quantity"] for i in items),
            "items": items, "requires_shipping": bool(items), "currency": "TRY",
            "items_subtotal_price": total, "cart_level_discount_applications": [],
        }


def _wants_json(request: Request) -> bool:
    """Dawn posts to /cart/add and /cart/change (no .js) and asks for JSON with its Accept header;
    a plain form post (no script) gets the cart page, as on Shopify."""
    accept = request.headers.get("accept", "")
    return ("javascript" in accept or "json" in accept
            or request.headers.get("x-requested-with", "").lower() == "xmlhttprequest")


def create_demo_app(products: list[dict[str, Any]], *, widget_port: int, canonical_origin: str | None = None,
                    site_dir: Path | None = None, clock=time.time) -> Starlette:
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
        lines = []
        for n, (variant, qty) in enumerate(cart.lines if cart else [], start=1):
            p = shop.view(shop.by_variant[variant], locale)
            lines.append({"line": n, "qty": qty, "p": p,
                          "total_text": format_price(p["price"] * qty, p["currency"], locale)})
        subtotal = round(sum(ln["p"]["price"] * ln["qty"] for ln in lines), 2)
        shipping = 0 if subtotal >= 750 else 49.9
        return {"lines": lines, "count": sum(ln["qty"] for ln in lines),
                "subtotal_text": format_price(subtotal, "TRY", locale),
                "shipping_text": format_price(shipping, "TRY", locale) if shipping else None,
                "total_text": format_price(subtotal + shipping, "TRY", locale)}

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        locale = _locale_of(request)
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
            "clock_hours": _clock_offset(request) // 3600,
            "notice": notice if notice in ("expired", "reset") else None,
            "shopify": _script_json({"shop": "kovan-cicek.myshopify.com", "locale": locale,
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
        locale = _locale_of(request)
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
        locale = _locale_of(request)
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
            "brand": {"@type": "Brand", "name": texts["ui"]["tr"]["shop_name"]},
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
                            "vendor": texts["ui"]["tr"]["shop_name"], "type": p["category"],
                            "variants": [{"id": p["variant_id"], "price": _cents(p["price"]), "name": p["name"],
                                          "public_title": None, "sku": p["id"]}]},
                "page": {"pageType": "product", "resourceType": "product", "resourceId": p["product_id"]}}
        return page(request, "product.html", p=v, current_category=v["category_slug"],
                    json_ld=_script_json(json_ld), view_item=_script_json(view_item), meta=_script_json(meta))

    async def product_js(request: Request) -> Response:
        """Shopify's /products/<handle>.js: the product with its variants, prices in cents."""
        p = shop.by_slug.get(request.path_params["slug"])
        if p is None:
            return JSONResponse({"status": 404, "message": "Not Found", "description": "Not Found"}, 404)
        price = _cents(p["price"])
        return JSONResponse({
            "id": p["product_id"], "title": p["name"], "handle": request.path_params["slug"],
            "vendor": texts["ui"]["tr"]["shop_name"], "type": p["category"], "price": price,
            "available": p["in_stock"], "url": "/" + p["url"].split("://", 1)[-1].split("/", 1)[-1],
            "featured_image": p["image"], "images": [p["image"]],
            "variants": [{"id": p["variant_id"], "title": "Default Title", "sku": p["id"], "price": price,
                          "available": p["in_stock"], "name": p["name"]}],
        })

    async def cart_page(request: Request) -> Response:
        # Dawn re-renders the cart's contents with the Section Rendering API after a change.
        if request.query_params.get("section_id") == "main-cart-items":
            locale = _locale_of(request)
            cart, _ = store.find(request)
            response = templates.TemplateResponse(
                request, "_cart_items.html", {"t": texts["ui"][locale], "cart": cart_view(request, cart, locale)})
            response.headers["cache-control"] = "no-store"
            return response
        return page(request, "cart.html")

    async def favorites(request: Request) -> Response:
        locale = _locale_of(request)
        return page(request, "favorites.html", products=[shop.view(p, locale) for p in shop.products])

    async def order_page(request: Request) -> Response:
        order = store.orders.get(request.path_params["order"])
        if order is None:
            raise HTTPException(404)
        # A GA4 tag sends the purchase once, on the first view of the thank-you page.
        first = not order["seen"]
        order["seen"] = True
        return page(request, "order.html", order=order,
                    purchase=_script_json(order["purchase"]) if first else None)

    # -- the AJAX cart API -------------------------------------------------------------------------

    def api(handler, always_json: bool):
        async def endpoint(request: Request) -> Response:
            if not always_json and not _wants_json(request):
                # A form without a script (no JS): do it and show the cart page.
                try:
                    response = await handler(request, await _read_params(request))
                except CartError:
                    response = None
                redirect = RedirectResponse("/cart", status_code=302)
                if response is not None and "set-cookie" in response.headers:
                    redirect.raw_headers += [h for h in response.raw_headers if h[0] == b"set-cookie"]
                return redirect
            try:
                return await handler(request, await _read_params(request))
            except CartError as exc:
                return exc.response()
        return endpoint

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
            wanted = [(it.get("id"), _qty(it.get("quantity"), 1)) for it in params["items"] if isinstance(it, dict)]
            for variant, _ in wanted:
                p = store.variant(variant)
                if not p["in_stock"]:
                    raise CartError(422, f"The product '{p['name']}' is already sold out.")
            added = [store.add(request, cart, variant, qty) for variant, qty in wanted]
            body: Any = {"items": [store.line_json(request, v, cart.quantity_of(v)) for v in dict.fromkeys(added)]}
        else:
            v = store.add(request, cart, params.get("id"), _qty(params.get("quantity"), 1))
            body = store.line_json(request, v, cart.quantity_of(v))
        return answer(request, body, cart)

    async def change(request: Request, params: dict[str, Any]) -> Response:
        cart, _ = store.find(request)
        cart = cart or store.open(request)
        quantity = _qty(params.get("quantity"))
        if params.get("line") not in (None, ""):
            try:
                n = int(params["line"])
            except (TypeError, ValueError):
                n = 0
            if not 1 <= n <= len(cart.lines):
                raise CartError(400, "Line is out of range")
            variant = cart.lines[n - 1][0]
        else:
            key = str(params.get("id", "")).split(":", 1)[0]
            variant = int(store.variant(key)["variant_id"])
            if not cart.quantity_of(variant):
                raise CartError(400, "Cannot find line item")
        p = shop.by_variant[variant]
        if quantity > cart.quantity_of(variant) and not p["in_stock"]:
            raise CartError(422, f"The product '{p['name']}' is already sold out.")
        cart.set(variant, quantity)
        cart.updated = store.now(request)
        return answer(request, store.cart_json(request, cart), cart)

    async def update(request: Request, params: dict[str, Any]) -> Response:
        cart = store.open(request)
        updates = params.get("updates")
        if isinstance(updates, list):  # quantities by line, in order
            pairs = [(cart.lines[i][0], q) for i, q in enumerate(updates) if i < len(cart.lines)]
        elif isinstance(updates, dict):
            pairs = [(int(store.variant(str(k).split(":", 1)[0])["variant_id"]), q) for k, q in updates.items()]
        else:
            pairs = []
        for variant, q in pairs:
            qty = _qty(q)
            if qty > cart.quantity_of(variant) and not shop.by_variant[variant]["in_stock"]:
                raise CartError(422, f"The product '{shop.by_variant[variant]['name']}' is already sold out.")
        for variant, q in pairs:
            cart.set(variant, _qty(q))
        cart.updated = store.now(request)
        return answer(request, store.cart_json(request, cart), cart)

    async def clear(request: Request, params: dict[str, Any]) -> Response:
        cart = store.open(request)
        cart.lines = []
        cart.updated = store.now(request)
        return answer(request, store.cart_json(request, cart), cart)

    # -- checkout and the demo toolbar -------------------------------------------------------------

    async def checkout(request: Request) -> Response:
        cart, _ = store.find(request)
        if cart is None or not cart.lines:
            return RedirectResponse("/cart", status_code=303)
        order_id = "KC-" + secrets.token_hex(4).upper()
        items = [(shop.by_variant[v], q) for v, q in cart.lines]
        subtotal = round(sum(p["price"] * q for p, q in items), 2)
        shipping = 0 if subtotal >= 750 else 49.9
        store.orders[order_id] = {"id": order_id, "seen": False, "purchase": {"event": "purchase", "ecommerce": {
            "transaction_id": order_id, "value": round(subtotal + shipping, 2), "shipping": shipping,
            "currency": "TRY", "items": [shop.ga4_item(p, q) for p, q in items]}}}
        del store.carts[cart.token]
        return RedirectResponse(f"/siparis/{order_id}", status_code=303)

    async def demo_forward(request: Request) -> Response:
        form = await _read_params(request)
        response = RedirectResponse(_local_path(form.get("next")), status_code=303)
        response.set_cookie(CLOCK_COOKIE, str(_clock_offset(request) + DAY), max_age=30 * DAY, samesite="lax")
        return response

    async def demo_reset(request: Request) -> Response:
        form = await _read_params(request)
        cart, _ = store.find(request)
        if cart is not None:
            del store.carts[cart.token]
        response = RedirectResponse(_local_path(form.get("next")), status_code=303)
        # Cartback's own cookie (cartback_<shop>, where storage fails) goes too; the page's script
        # clears localStorage before the form is sent.
        for name in [CART_COOKIE, CLOCK_COOKIE, *(c for c in request.cookies if c.startswith("cartback"))]:
            response.delete_cookie(name)
        response.set_cookie(NOTICE_COOKIE, "reset", max_age=60, samesite="lax")
        return response

    async def moved(request: Request) -> Response:
        """Paths of the demo shop before it became Shopify-like (old bookmarks)."""
        path = request.url.path
        target = "/cart" if path == "/sepet" else "/products/" + path.rsplit("/", 1)[-1]
        return RedirectResponse(target, status_code=301)

    async def not_found(request: Request, exc: Exception) -> Response:
        return page(request, "404.html", status=404)

    cart_routes = []
    for name, handler in (("add", add), ("change", change), ("update", update), ("clear", clear)):
        cart_routes += [Route(f"/cart/{name}.js", api(handler, True), methods=["POST"]),
                        Route(f"/cart/{name}", api(handler, False), methods=["POST"])]
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/products/{slug}.js", product_js),
            Route("/products/{slug}", product),
            Route("/cart.js", cart_js),
            Route("/cart.json", cart_js),
            *cart_routes,
            Route("/cart", cart_page),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/siparis/{order}", order_page),
            Route("/favoriler", favorites),
            Route("/demo/forward", demo_forward, methods=["POST"]),
            Route("/demo/reset", demo_reset, methods=["POST"]),
            Route("/sepet", moved),
            Route("/p/{slug}", moved),
            Mount("/static", StaticFiles(directory=str(site_dir / "static")), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    app.state.store = store
    return _DemoMiddleware(app, canonical_origin)


class _DemoMiddleware:
    """Two small duties around the shop app:

    - `?lang=tr|en` stores the language in a cookie and redirects to the clean URL;
    - a loopback alias (localhost vs 127.0.0.1) redirects to the origin the catalog URLs use, so a
      visitor's cart cookie, favourites and Cartback id (all kept per origin) stay one.
    """

    def __init__(self, app: Starlette, canonical_origin: str | None) -> None:
        self.app = app
        self.canonical = canonical_origin.rstrip("/") if canonical_origin else None

    @property
    def store(self) -> CartStore:
        return self.app.state.store

    async def __call__(self, scope, receive, send) -> None:
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


# --- `cartback demo` ------------------------------------------------------------------------------

def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, uvicorn on a socket handed over under plain asyncio
    # waits on Nagle + delayed ACK: ~40 ms a request instead of under 1 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # now, so a second bind to the same port fails here, not in uvicorn
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _public_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cartback demo",
                                description="Run the widget server and the demo honey shop (another origin).")
    p.add_argument("--host", default="127.0.0.1", help="address both servers listen on; default %(default)s")
    p.add_argument("--port", type=int, default=8000, help="widget server port (0 = any free); default %(default)s")
    p.add_argument("--shop-port", type=int, default=8001,
                   help="demo shop port, a different origin (0 = any free); default %(default)s")
    p.add_argument("--db", default="cartback-demo.db", help="SQLite file (created when missing); default %(default)s")
    p.add_argument("--log-level", default="warning", help="uvicorn log level; default %(default)s")
    p.add_argument("--simulate", nargs="?", type=int, const=3000, metavar="VISITORS",
                   help="fill the demo shop with a simulated quarter of traffic through the HTTP API "
                        "(VISITORS shoppers, default 3000; a new database only)")
    return p


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal handling: the demo stops both servers on one Ctrl-C."""

    def capture_signals(self):  # type: ignore[override]
        return contextlib.nullcontext()


async def _run(widget_app, shop_app, widget_sock: socket.socket, shop_sock: socket.socket,
               log_level: str, banner: str) -> None:
    servers = [
        _Server(uvicorn.Config(widget_app, log_level=log_level, access_log=log_level == "debug",
                               timeout_graceful_shutdown=3)),
        _Server(uvicorn.Config(shop_app, log_level=log_level, access_log=log_level == "debug", lifespan="off",
                               timeout_graceful_shutdown=3)),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    tasks = [asyncio.ensure_future(servers[0].serve(sockets=[widget_sock])),
             asyncio.ensure_future(servers[1].serve(sockets=[shop_sock]))]
    while not all(s.started for s in servers):
        done = [t for t in tasks if t.done()]
        if done:
            stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                t.result()
            raise RuntimeError("a server stopped during start-up")
        await asyncio.sleep(0.02)
    print(banner, flush=True)
    await asyncio.gather(*tasks)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `cartback demo -- --port …` (argparse REMAINDER keeps the separator)
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    from .app import create_app
    from .db import connect_sync

    try:
        widget_sock = _bind(args.host, args.port)
        shop_sock = _bind(args.host, args.shop_port)
    except OSError as exc:
        print(f"cartback demo: error: cannot listen on {args.host}: {exc} (try --port / --shop-port)", file=sys.stderr)
        return 1
    port, shop_port = widget_sock.getsockname()[1], shop_sock.getsockname()[1]
    public = _public_host(args.host)
    shop_url = f"http://{public}:{shop_port}"
    widget_url = f"http://{public}:{port}"

    conn = connect_sync(args.db)
    try:
        api_key = ensure_shop(conn, shop_origins(args.host, shop_port), {} if args.simulate else DEMO_SETTINGS)
        catalog = expand_urls(load_catalog(), shop_url)
        imported = import_catalog(conn, SHOP_ID, catalog)
        sampled = seed_sample_shoppers(conn, SHOP_ID, catalog)
    finally:
        conn.close()

    if api_key:
        print(f"Shop {SHOP_ID!r} created. API key (shown once, keep it secret):\n{api_key}")
    else:
        print(f"Shop {SHOP_ID!r} already exists in {args.db} (its API key was printed when it was created).")
    print(f"Catalog: {imported} products." + (f" Sample shoppers: {sampled} events." if sampled else ""))
    if args.simulate:
        from .simulate import start_in_background
        start_in_background(widget_url, SHOP_ID, api_key, visitors=args.simulate, dashboard_url=f"{widget_url}/dashboard")

    settings = Settings(db_path=args.db, host=args.host, port=port, count_bots=True)
    widget_app = create_app(settings)
    shop_app = create_demo_app(catalog, widget_port=port, canonical_origin=shop_url)
    banner = (f"\nDemo shop:     {shop_url}/\n"
              f"Widget server: {widget_url}\n"
              f"Dashboard:     {widget_url}/dashboard\n"
              f"Press Ctrl-C to stop.")
    try:
        asyncio.run(_run(widget_app, shop_app, widget_sock, shop_sock, args.log_level, banner))
    except KeyboardInterrupt:
        pass
    finally:
        widget_sock.close()
        shop_sock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

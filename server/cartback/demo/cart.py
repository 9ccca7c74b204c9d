"""The demo shop's server-side cart, as a Shopify shop keeps it: found by the `cart` cookie, gone
after 24 hours untouched on the shop's clock, and answered in Shopify's cart JSON.

Shapes follow Shopify's Cart API reference (https://shopify.dev/docs/api/ajax/reference/cart).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .shop import DemoShop, cents, shop_path

DAY = 24 * 3600
CART_COOKIE = "cart"            # Shopify's name: the token of a cart kept on the server
CLOCK_COOKIE = "kovan_clock"    # the demo toolbar's shift of the shop's clock, in seconds
MAX_QTY = 99


def clock_offset(request: Request) -> int:
    """The demo toolbar's shift of the shop's clock for this visitor (0 when missing or odd)."""
    try:
        value = int(request.cookies.get(CLOCK_COOKIE, "0"))
    except ValueError:
        return 0
    return value if 0 <= value <= 365 * DAY else 0


class CartError(Exception):
    """Shopify's cart error body: {status, message, description}."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description

    def response(self) -> Response:
        return JSONResponse({"status": self.status, "message": "Cart Error", "description": self.description},
                            status_code=self.status)


def sold_out(p: dict[str, Any]) -> CartError:
    return CartError(422, f"The product '{p['name']}' is already sold out.")


def qty(value: Any, default: int | None = None) -> int:
    """A quantity as Shopify reads one (a number or its text), capped; anything else is a 422."""
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

    def __init__(self, shop: DemoShop, clock: Callable[[], float] = time.time) -> None:
        self.shop = shop
        self.clock = clock
        self.carts: dict[str, Cart] = {}
        self.orders: dict[str, dict[str, Any]] = {}

    def now(self, request: Request) -> float:
        return self.clock() + clock_offset(request)

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

    def forget(self, cart: Cart) -> None:
        del self.carts[cart.token]

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

    def variant_id(self, key: Any) -> int:
        """The variant of a line key (`4470:abc…`) or a bare variant id."""
        return int(self.variant(str(key).split(":", 1)[0])["variant_id"])

    def add(self, request: Request, cart: Cart, variant: Any, quantity: int) -> int:
        p = self.variant(variant)
        if not p["in_stock"]:
            raise sold_out(p)
        v = int(p["variant_id"])
        cart.set(v, min(MAX_QTY, cart.quantity_of(v) + quantity))
        cart.updated = self.now(request)
        return v

    def set(self, request: Request, cart: Cart, changes: list[tuple[int, Any]]) -> None:
        """New quantities (as sent) by variant, all or nothing: a bad quantity, or more of a sold-out
        product, refuses them all."""
        for variant, quantity in changes:
            p = self.shop.by_variant[variant]
            if qty(quantity) > cart.quantity_of(variant) and not p["in_stock"]:
                raise sold_out(p)
        for variant, quantity in changes:
            cart.set(variant, qty(quantity))
        cart.updated = self.now(request)

    # -- Shopify's JSON ----------------------------------------------------------------------------

    def line_json(self, request: Request, variant: int, quantity: int) -> dict[str, Any]:
        p = self.shop.by_variant[variant]
        origin = f"{request.url.scheme}://{request.url.netloc}"
        path = shop_path(p["url"])
        image = p["image"] if "://" in p["image"] else origin + p["image"]
        price = cents(p["price"])
        return {
            "id": variant, "properties": {}, "quantity": quantity, "variant_id": variant,
            "key": f"{variant}:{hashlib.md5(str(variant).encode()).hexdigest()}",
            "title": p["name"], "price": price, "original_price": price, "discounted_price": price,
            "line_price": price * quantity, "original_line_price": price * quantity,
            "final_price": price, "final_line_price": price * quantity, "total_discount": 0, "discounts": [],
            "sku": p["id"], "grams": 0, "vendor": self.shop.name, "taxable": True,
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

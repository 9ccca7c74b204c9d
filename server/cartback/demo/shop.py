"""The demo shop's catalog as its pages and scripts see it: products by handle and by variant, texts,
prices in the visitor's language, GA4 items, and the JSON the shop's own script reads."""

from __future__ import annotations

import json
from typing import Any

from babel.numbers import format_decimal

from .. import i18n
from ..render import format_price


def money_template(locale: str, currency: str = "TRY") -> str:
    """How the shop's script formats an amount: `₺{n}` with the number in the locale's digits."""
    sample = format_price(1234.5, currency, locale)
    number = format_decimal(1234.5, format="#,##0.00", locale=i18n.BABEL_LOCALES.get(locale, locale))
    return sample.replace(number, "{n}") if number in sample else "{n} " + currency


def cents(amount: float) -> int:
    """Shopify's amounts: whole cents."""
    return round(amount * 100)


def script_json(data: Any) -> str:
    """JSON to print inside a <script>: no "</script>" can appear in it."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def shop_path(url: str) -> str:
    """`https://shop.example/products/x` → `/products/x`: the shop's own link to a catalog URL."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


class DemoShop:
    """Catalog, texts and page context for the demo shop."""

    def __init__(self, products: list[dict[str, Any]], texts: dict[str, Any]) -> None:
        self.products = products
        self.by_slug = {p["url"].rstrip("/").rsplit("/", 1)[-1]: p for p in products}
        self.by_variant = {int(p["variant_id"]): p for p in products}
        self.texts = texts
        self.categories: dict[str, dict[str, str]] = texts["categories"]

    @property
    def name(self) -> str:
        """The shop's name, as Shopify's `vendor` and the JSON-LD brand carry it (always Turkish)."""
        name: str = self.texts["ui"]["tr"]["shop_name"]
        return name

    def category_label(self, name: str, locale: str) -> str:
        return self.categories.get(name, {}).get(locale, name)

    def view(self, p: dict[str, Any], locale: str) -> dict[str, Any]:
        """A product with what the templates show: local path, price text, labels."""
        path = shop_path(p["url"])
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
        data = {"locale": locale, "money": money_template(locale), "t": self.texts["ui"][locale],
                "variants": catalog}
        return script_json(data)

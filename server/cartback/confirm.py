"""Confirming browser-reported products from the shop's own page (`serve --confirm-pages`, issue 12).

A browser's report of a product outside the catalog is shown only to that visitor (store.py). With
this on, the server fetches the product's URL, which validation already holds to the shop's own
origins, and reads the page's JSON-LD the way the snippet does (snippet/src/products.js: a
schema.org Product whose sku, productID or @id is the product's id). What the page says becomes
the product's details for every visitor (`products.source = 'page'`; never over a catalog row).

Bounded everywhere: one attempt per product a day, a queue of QUEUE products (more are dropped,
to be tried when reported again), WORKERS fetches at a time, TIMEOUT seconds and MAX_BYTES per
page, no redirects (a page that moved is not the page the browser reported).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

import httpx

from .cache import BoundedCache
from .errors import ApiError
from .shops import Shop, normalize_origin
from .validation import MAX_CATEGORY, MAX_NAME, MAX_URL, has_surrogate

log = logging.getLogger("cartback")

QUEUE = 1000
WORKERS = 2
TIMEOUT = 5.0
MAX_BYTES = 1024 * 1024
RETRY_AFTER = 86400.0
SEEN_LIMIT = 100_000

_LD_JSON = re.compile(rb'<script[^>]+type\s*=\s*["\']application/ld\+json["\'][^>]*>(.*?)</script>', re.S | re.I)

_UPSERT_PAGE = """
INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'page', ?10)
ON CONFLICT (shop, id) DO UPDATE SET
    name = excluded.name, price = excluded.price, currency = excluded.currency, url = excluded.url,
    image = excluded.image, category = excluded.category,
    restocked_at = CASE WHEN excluded.in_stock = 1 AND products.in_stock = 0 THEN excluded.updated_at
                        ELSE products.restocked_at END,
    in_stock = excluded.in_stock, source = 'page', updated_at = excluded.updated_at
WHERE products.source != 'catalog'
"""


def _text(value: Any) -> str | None:
    value = value[0] if isinstance(value, list) and value else value
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl") or value.get("name")
    return value if isinstance(value, str) else None


def _products(node: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(node, list):
        for item in node:
            _products(item, out)
    elif isinstance(node, dict):
        _products(node.get("@graph"), out)
        kind = node.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(isinstance(k, str) and re.search(r"\bProduct\b", k) for k in kinds):
            out.append(node)


def read_page(html: bytes, pid: str, page_url: str, shop: Shop) -> dict[str, Any] | None:
    """The details the page's JSON-LD gives for product `pid`, checked like a browser's; None when
    the page does not describe it."""
    found: list[dict[str, Any]] = []
    for raw in _LD_JSON.findall(html):
        try:
            _products(json.loads(raw.decode("utf-8", "replace")), found)
        except (ValueError, RecursionError):
            continue
    for node in found:
        ident = node.get("sku") or node.get("productID") or node.get("@id")
        if ident is None or str(ident) != pid:
            continue
        name = _text(node.get("name"))
        if not name or len(name) > MAX_NAME or has_surrogate(name):
            return None
        offers = node.get("offers")
        offer = (offers[0] if isinstance(offers, list) and offers else offers) or {}
        offer = offer if isinstance(offer, dict) else {}
        price: float | None
        try:
            price = float(offer.get("price", offer.get("lowPrice")))  # type: ignore[arg-type]  # any JSON: caught
            price = price if 0 <= price < 1e9 else None
        except (TypeError, ValueError):
            price = None
        currency = _text(offer.get("priceCurrency"))
        currency = currency.upper() if currency and re.fullmatch(r"[A-Za-z]{3}", currency) else None
        availability = _text(offer.get("availability"))
        image = _text(node.get("image"))
        if image is not None:
            image = httpx.URL(page_url).join(image).__str__() if len(image) <= MAX_URL else None
            if image is not None and normalize_origin(image) not in shop.asset_origins:
                image = None
        category = _text(node.get("category"))
        category = category if category and len(category) <= MAX_CATEGORY and not has_surrogate(category) else None
        return {"name": name.strip(), "price": price, "currency": currency, "url": page_url, "image": image,
                "category": category,
                "in_stock": 0 if availability and re.search(r"Out|Disc", availability) else 1}
    return None


class PageConfirmer:
    def __init__(self, db: Any, shops: Any) -> None:
        self.db, self.shops = db, shops
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue(QUEUE)
        # Products checked in the last RETRY_AFTER seconds (or waiting in the queue).
        self.seen: BoundedCache[tuple[str, str], bool] = BoundedCache(SEEN_LIMIT, ttl=RETRY_AFTER)
        self.workers: list[asyncio.Task[None]] = []
        self.client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                                        headers={"user-agent": "Cartback product check (+docs/DEPLOY.md)"})
        self.workers = [asyncio.ensure_future(self._work()) for _ in range(WORKERS)]

    async def close(self) -> None:
        for task in self.workers:
            task.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    def reported(self, shop: str, pid: str, url: str | None) -> None:
        """A browser reported product `pid` of `shop` at `url` (on the shop's origins): check the page
        unless it was checked in the last day."""
        if not url:
            return
        key = (shop, pid)
        if self.seen.has(key):
            return
        self.seen.put(key, True)
        try:
            self.queue.put_nowait((shop, pid, url))
        except asyncio.QueueFull:
            self.seen.pop(key)  # tried again when reported again

    async def _work(self) -> None:
        while True:
            shop_id, pid, url = await self.queue.get()
            try:
                await self._confirm(shop_id, pid, url)
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, ApiError, OSError, ValueError) as exc:
                log.info("product page %s not confirmed: %s", url, exc)
            except Exception:  # a bug here must not stop the worker
                log.exception("product page check of %s failed", url)

    async def _confirm(self, shop_id: str, pid: str, url: str) -> None:
        shop = await self.shops.get(shop_id)
        if shop is None or normalize_origin(url) not in shop.origins:
            return
        row = await self.db.fetchone("SELECT source FROM products WHERE shop = ? AND id = ?", (shop_id, pid))
        if row is not None and row[0] == "catalog":
            return
        assert self.client is not None
        async with self.client.stream("GET", url) as response:
            if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
                return
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    return
        details = read_page(body, pid, url, shop)
        if details is None:
            return

        def write(conn: Any) -> None:
            cur = conn.execute(_UPSERT_PAGE, (shop_id, pid, details["name"], details["price"], details["currency"],
                                              details["url"], details["image"], details["category"],
                                              details["in_stock"], time.time()))
            if cur.rowcount:
                conn.products.invalidate(shop_id, [pid])

        await self.db.write(write)

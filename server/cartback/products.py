"""Product display fields for the block, kept in memory for a few seconds.

Why: every block shows products the visitor touched, and reading their rows joined to the
visitor's history costs more than reading the history itself, while products change rarely.
Changes this process makes drop the entries at once: a browser's product report (ingest), a
catalog upload (the catalog endpoint); catalog imports from anywhere are seen within
CATALOG_CHECK_EVERY seconds (below); a write that bypasses both (SQL by hand) shows within TTL
seconds, and within SHARED_TTL when other serving processes write the database too (a browser's
report taken by another `serve --workers` worker, a page confirmed there).

Entries loaded while a change is being written could hold the old row; the generation counter
keeps such a load out of the cache, and the TTL bounds what slips through.

Another process (the CLI importing a feed) cannot drop this process's entries, so every catalog
write also moves the shop's catalog version in `meta` (`bump_catalog`), and blocks compare it
(`check_catalog`, one primary-key read) at most every CATALOG_CHECK_EVERY seconds per shop: stock
and prices are re-checked against the catalog within half a second of an import, whoever wrote it,
and a busy shop pays one read per half second instead of one per block.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from .cache import BoundedCache

COLUMNS = "id, name, price, currency, url, image, category, in_stock, restocked_at, source"
TTL = 10.0
# Entries' lifetime when other serving processes write the database too (Database.shared): a browser's
# product report taken by another worker drops nothing here, so it shows within a second.
SHARED_TTL = 1.0
CATALOG_CHECK_EVERY = 0.5
LIMIT = 200_000  # products remembered; the oldest go first
SHOPS_LIMIT = 10_000


def product_dict(row: Sequence[Any]) -> dict[str, Any]:
    pid, name, price, currency, url, image, category, in_stock, restocked_at, source = row
    return {"id": pid, "name": name, "price": price, "currency": currency, "url": url, "image": image,
            "category": category, "in_stock": in_stock, "restocked_at": restocked_at, "source": source}


# Sources whose details every visitor may see: the merchant's catalog, and the shop's own product
# page read by the server (confirm.py); `browser` rows are only ever one client's word.
CONFIRMED = ("catalog", "page")
# The same rule in SQL, on `products p`.
CONFIRMED_SQL = f"p.source IN ({', '.join(repr(s) for s in CONFIRMED)})"


def showable(product: dict[str, Any] | None) -> bool:
    """A product that can be shown as a card: it has a name and a link, and it is in stock.

    The one rule for the block's sections (block.py) and the recommender (recommend/similar.py).
    Stock: `in_stock` 0 or false hides it; a dict without the key counts as in stock. Every
    `products` row has the column (NOT NULL DEFAULT 1, holding 0 or 1) and every visitor's own
    report sets it, so the missing key only arises for dicts built by hand, and "truthy" gives
    the same answer as the SQL `in_stock != 0` below for every real row."""
    return bool(product and product.get("name") and product.get("url") and product.get("in_stock", 1))


# `showable` in SQL, on `products p`: keep the two in step (tests/test_products.py checks they agree).
SHOWABLE_SQL = "p.in_stock != 0 AND p.name IS NOT NULL AND p.name != '' AND p.url IS NOT NULL AND p.url != ''"


def recommendable(product: dict[str, Any]) -> bool:
    """Showable, and details every visitor may see: the recommender offers catalog (or confirmed
    page) products only; browser-reported details are for the reporting visitor's own cards (issue 12)."""
    return showable(product) and product.get("source") in CONFIRMED

_OWN_FIELDS = ("name", "price", "currency", "url", "image", "category")


def own_details(pid: str, raw: str | None) -> dict[str, Any] | None:
    """A visitor's own report of a product (visitor_items.details) as a display dict, or None.

    Browser-reported details are shown only to the visitor whose browser reported them: the shop's
    `products` row for a product outside the catalog holds whatever the last browser said, which
    could be anyone (issue 12)."""
    if not raw:
        return None
    key = (pid, raw)
    hit = _own_cache.get(key)
    if hit is not None:
        return hit  # never mutated (as the cache's dicts); a block reads the same rows again and again
    product = _parse_own(pid, raw)
    if product is not None:
        with _own_lock:
            _own_cache.put(key, product)
    return product


# Parsed own details by (product id, stored JSON): a shop without a catalog would otherwise parse
# the same JSON for every row of every block. Keyed by content, so it is never stale.
OWN_CACHE_LIMIT = 50_000
_own_cache: BoundedCache[tuple[str, str], dict[str, Any]] = BoundedCache(OWN_CACHE_LIMIT)
_own_lock = threading.Lock()  # reader threads parse too


def _parse_own(pid: str, raw: str) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    product: dict[str, Any] = {"id": pid, "restocked_at": None, "source": "visitor"}
    for name in _OWN_FIELDS:
        product[name] = data.get(name)
    in_stock = data.get("in_stock")
    product["in_stock"] = 1 if in_stock is None else int(bool(in_stock))
    return product


def _now() -> float:
    return time.monotonic()  # looked up per call, so a test can move `products.time`


class ProductCache:
    """(shop, id) → the product's display fields as a dict (never mutated), or None when the shop
    has no row for it. `ttl=0` caches nothing (connections outside the server); `shared` keeps
    entries SHARED_TTL at most."""

    def __init__(self, ttl: float = TTL, shared: bool = False) -> None:
        self.ttl = ttl = min(ttl, SHARED_TTL) if shared else ttl
        self._entries: BoundedCache[tuple[str, str], dict[str, Any] | None] = BoundedCache(
            LIMIT, ttl=ttl, clock=_now)
        # Bumped by every invalidation: rows read before one are not cached after it.
        self._generation = 0
        self._lock = threading.Lock()
        self._versions: BoundedCache[str, str | None] = BoundedCache(SHOPS_LIMIT)
        self._checked: BoundedCache[str, bool] = BoundedCache(SHOPS_LIMIT, ttl=CATALOG_CHECK_EVERY, clock=_now)

    def get_many(self, conn: Any, shop: str, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        found: dict[str, dict[str, Any] | None] = {}
        missing: list[str] = []
        entries = self._entries
        for pid in ids:
            key = (shop, pid)
            hit = entries.get(key)
            if hit is not None or entries.has(key):
                found[pid] = hit
            else:
                missing.append(pid)
        if missing:
            generation = self._generation
            marks = ",".join("?" * len(missing))
            loaded = {r[0]: product_dict(r) for r in conn.execute(
                f"SELECT {COLUMNS} FROM products WHERE shop = ? AND id IN ({marks})", (shop, *missing))}
            with self._lock:
                keep = self.ttl > 0 and generation == self._generation
                for pid in missing:
                    product = loaded.get(pid)
                    found[pid] = product
                    if keep:
                        entries.put((shop, pid), product)
        return found

    def check_catalog(self, conn: Any, shop: str) -> None:
        """Drop the shop's entries when its catalog version moved since the last look."""
        if self.ttl <= 0 or self._checked.has(shop):
            return
        self._checked.put(shop, True)
        row = conn.execute(_VERSION_SQL, (_version_key(shop),)).fetchone()
        version = row[0] if row else None
        if self._versions.has(shop) and self._versions.get(shop) != version:
            self.invalidate(shop)
        self._versions.put(shop, version)

    def invalidate(self, shop: str, ids: Iterable[str] | None = None) -> None:
        """Drop the given products of a shop (all of them when `ids` is None)."""
        with self._lock:
            self._generation += 1
            if ids is None:
                self._entries.discard_where(lambda key: key[0] == shop)
            else:
                for pid in ids:
                    self._entries.pop((shop, pid))


_VERSION_SQL = "SELECT value FROM meta WHERE key = ?"
_BUMP_SQL = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"


def _version_key(shop: str) -> str:
    return f"catalog:{shop}"


def bump_catalog(conn: Any, shop: str) -> None:
    """Record, in the caller's transaction, that the shop's catalog changed (for every process's cache)."""
    conn.execute(_BUMP_SQL, (_version_key(shop), uuid.uuid4().hex))


def products_of(conn: Any) -> ProductCache:
    cache = getattr(conn, "products", None)
    if cache is None:
        cache = ProductCache(ttl=0)
    return cache

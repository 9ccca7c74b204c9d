"""What a purchase is worth: its lines, its total, and which prices are believed (docs/REPORT.md,
"Which prices count"). Also used by erasure (privacy.py), which freezes an order's total."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from typing import Any

# A browser-reported order whose total is more than this many times its lines' catalog value is an
# outlier (a fake or broken funnel): it counts at its lines' value and the report's notes say so.
OUTLIER_FACTOR = 2.0

Item = dict[str, Any]  # one purchase line as the event stored it: id, price, qty


class Prices:
    """What a purchase line is worth: the catalog's price where the catalog has one (a browser's
    price is whatever the browser says), else the price sent with the line, else a browser-reported
    product price."""

    def __init__(self, conn: sqlite3.Connection, shop: str) -> None:
        self.conn, self.shop = conn, shop
        self.known: dict[str, float | None] = {}
        self.catalog: dict[str, float] = {}

    def prefetch(self, ids: Iterable[str]) -> None:
        missing = sorted({i for i in ids if i not in self.known})
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            rows = self.conn.execute(
                f"SELECT id, price, source FROM products WHERE shop = ? AND id IN ({','.join('?' * len(chunk))})",
                (self.shop, *chunk)).fetchall()
            found = {pid: (price, source) for pid, price, source in rows}
            for pid in chunk:
                price, source = found.get(pid, (None, None))
                self.known[pid] = price
                if source in ("catalog", "page") and price is not None:  # the shop's own word
                    self.catalog[pid] = price

    def line(self, item: Item, trusted: bool = False) -> float:
        """The line's value; `trusted` (a merchant-confirmed order): its own price first."""
        pid = str(item.get("id"))
        price = item.get("price") if trusted else self.catalog.get(pid)
        if price is None:
            price = item.get("price")
        if price is None:
            price = self.known.get(pid)
        qty = item.get("qty", 1)
        return float(price or 0.0) * float(qty if qty is not None else 1)

    def all_in_catalog(self, items: list[Item]) -> bool:
        return bool(items) and all(str(i.get("id")) in self.catalog for i in items)


def purchase_confirmed(data: str | None) -> bool:
    """Whether the merchant's back end posted (or confirmed) this order with the shop's API key."""
    return data is not None and '"confirmed":true' in data  # ingest writes it compact, never inside an id


def purchase_items(data: str | None) -> list[Item]:
    try:
        parsed = json.loads(data or "{}")
    except ValueError:
        return []
    items = parsed.get("items") if isinstance(parsed, dict) else None
    return [i for i in items if isinstance(i, dict) and "id" in i] if isinstance(items, list) else []


def order_total(value: float | None, items: list[Item], prices: Prices) -> float:
    """The order's total as sent; without one, the sum of its lines."""
    if value is not None:
        return float(value)
    return math.fsum(prices.line(i) for i in items)

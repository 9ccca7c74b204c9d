"""Reads the block needs, as plain functions of a sqlite3 connection: the server runs
`compute_sections` in one reader-thread hop (`Database.read`), and the offline evaluation calls the
same function, so what is measured offline is what visitors get.

Cost per block: one query for the visitor's own rows (bounded), the recommender's neighbour
query, one query for the details of the recommended products. None of them grows with the total
number of events stored.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

from . import recommend
from .block import HistoryItem, Section, build_sections

# The most recent rows of one visitor are plenty for four sections of at most eight cards.
HISTORY_LIMIT = 200
PRODUCT_COLUMNS = "id, name, price, currency, url, image, category, in_stock"

_HISTORY_SQL = f"""
SELECT vi.product_id, vi.viewed_at, vi.views, vi.carted_at, vi.in_cart, vi.fav_at, vi.bought_at, vi.last_at,
       p.{', p.'.join(PRODUCT_COLUMNS.split(', '))}
FROM visitor_items vi
LEFT JOIN products p ON p.shop = vi.shop AND p.id = vi.product_id
WHERE vi.shop = ? AND vi.vid = ?
ORDER BY vi.last_at DESC
LIMIT {HISTORY_LIMIT}
"""


def product_dict(row: Sequence[Any]) -> dict[str, Any]:
    pid, name, price, currency, url, image, category, in_stock = row
    return {"id": pid, "name": name, "price": price, "currency": currency, "url": url, "image": image,
            "category": category, "in_stock": in_stock}


def load_history(conn: sqlite3.Connection, shop: str, vid: str) -> list[HistoryItem]:
    rows = conn.execute(_HISTORY_SQL, (shop, vid)).fetchall()
    return [
        HistoryItem(
            product_id=r[0], viewed_at=r[1], views=r[2], carted_at=r[3], in_cart=bool(r[4]), fav_at=r[5],
            bought_at=r[6], last_at=r[7], product=product_dict(r[8:]) if r[8] is not None else None,
        )
        for r in rows
    ]


def load_products(conn: sqlite3.Connection, shop: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE shop = ? AND id IN ({marks})",
                        (shop, *ids)).fetchall()
    return {r[0]: product_dict(r) for r in rows}


def compute_sections(conn: sqlite3.Connection, shop: str, vid: str, settings: dict[str, Any]) -> list[Section]:
    history = load_history(conn, shop, vid)
    if not history:
        return []
    room = _similar_room(history, settings)
    if room <= 0:
        return build_sections(history, [], settings)
    signals = [(i.product_id, i.last_at, _strongest(i)) for i in history]
    # The recommender returns showable products only; a small margin covers what the rules drop.
    ids = recommend.similar(conn, shop, signals, {i.product_id for i in history}, room + 2)
    details = load_products(conn, shop, ids)
    similar = [details[i] for i in ids if i in details]
    return build_sections(history, similar, settings)


def _similar_room(history: list[HistoryItem], settings: dict[str, Any]) -> int:
    """How many "you may also like" cards can still be shown, so only those are looked up."""
    order = list(settings.get("sections", []))
    if "similar" not in order:
        return 0
    cap = int(settings.get("max_per_section", {}).get("similar", settings.get("max_block", 8)))
    if order[-1] != "similar":
        return cap  # sections after it take what it leaves: no shortcut
    shown = sum(len(s.products) for s in build_sections(history, [], settings))
    return min(cap, int(settings.get("max_block", 8)) - shown)


def _strongest(item: HistoryItem) -> str:
    if item.bought_at is not None:
        return "purchase"
    if item.carted_at is not None:
        return "add"
    if item.fav_at is not None:
        return "favorite"
    return "view"


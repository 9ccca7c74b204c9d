"""Reads the block needs, as plain functions of a sqlite3 connection: the server runs
`compute_sections` on its event loop (`Database.read_inline`), and the offline evaluation calls
the same function, so what is measured offline is what visitors get.

Cost per block: one query for the visitor's own rows (bounded), a primary-key read of the shop's
catalog version at most every half second; product details from the product cache (a query for the ones it misses), the
learned neighbours from memory (recommend.Model), asked for only when the history sections leave
room. None of them grows with the total number of events stored.
"""

from __future__ import annotations

import sqlite3
from operator import itemgetter
from typing import Any

from . import recommend
from .block import HistoryItem, Section, build_sections
from .products import CONFIRMED, own_details, products_of

# The most recent rows of one visitor are plenty for four sections of at most eight cards.
HISTORY_LIMIT = 200

_COLUMNS = ("product_id, viewed_at, views, carted_at, in_cart, fav_at, bought_at, last_at, "
            "cart_qty, cart_variant, cart_price, details")
# Sorted here, not by SQLite: its sorter costs about as much as reading the rows. The primary key
# bounds the read to the visitor; one row past the limit says when the visitor has more than the
# limit, and only then does SQLite pick the newest.
_HISTORY_SQL = f"SELECT {_COLUMNS} FROM visitor_items WHERE shop = ? AND vid = ? LIMIT {HISTORY_LIMIT + 1}"
_NEWEST_SQL = f"""
SELECT {_COLUMNS} FROM visitor_items WHERE shop = ? AND vid = ?
ORDER BY last_at DESC, product_id
LIMIT {HISTORY_LIMIT}
"""
_LAST_AT = itemgetter(7)


def load_history(conn: sqlite3.Connection, shop: str, vid: str) -> list[HistoryItem]:
    """The visitor's products, newest first (equal times: by product id), at most HISTORY_LIMIT."""
    rows = conn.execute(_HISTORY_SQL, (shop, vid)).fetchall()
    if not rows:
        return []
    if len(rows) > HISTORY_LIMIT:
        rows = conn.execute(_NEWEST_SQL, (shop, vid)).fetchall()
    else:
        # The rows come in primary-key order (product id); a stable sort keeps it for equal times.
        rows.sort(key=_LAST_AT, reverse=True)
    products = products_of(conn)
    products.check_catalog(conn, shop)
    details = products.get_many(conn, shop, [r[0] for r in rows])
    # tuple.__new__ directly: HistoryItem._make is a Python-level wrapper around it (24 rows a block).
    new, get = tuple.__new__, details.get
    items = []
    for r in rows:
        product = get(r[0])
        if product is None or product["source"] not in CONFIRMED:
            # Not in the catalog nor on the shop's page: what this visitor's own browser reported,
            # never another's.
            product = own_details(r[0], r[11])
        items.append(new(HistoryItem, (*r[:8], product, *r[8:11])))
    return items


def compute_sections(conn: sqlite3.Connection, shop: str, vid: str, settings: dict[str, Any]) -> list[Section]:
    return compute_block(conn, shop, vid, settings)[0]


def compute_block(conn: sqlite3.Connection, shop: str, vid: str,
                  settings: dict[str, Any]) -> tuple[list[Section], bool]:
    """The block's sections, and whether the server still believed something was in the cart (the
    page that asks shows an empty cart: the caller records that the shop emptied it)."""
    history = load_history(conn, shop, vid)
    if not history:
        return [], False
    stale_cart = any(i.in_cart for i in history)

    def similar(room: int) -> list[dict[str, Any]]:
        recent = history[:recommend.HISTORY]
        signals = [(i.product_id, i.last_at, _strongest(i)) for i in recent]
        categories = {i.product_id: i.product["category"] if i.product else None for i in recent}
        # The recommender returns showable products only; a small margin covers what the rules drop.
        return recommend.similar_products(conn, shop, signals, {i.product_id for i in history}, room + 2, categories)

    return build_sections(history, similar, settings), stale_cart


def _strongest(item: HistoryItem) -> str:
    if item.bought_at is not None:
        return "purchase"
    if item.carted_at is not None:
        return "add"
    if item.fav_at is not None:
        return "favorite"
    return "view"

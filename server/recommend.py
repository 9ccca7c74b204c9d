"""Interim "you may also like": the shop's most viewed and bought products the visitor has not seen.

(The learned-neighbour recommender replaces this module; its interface stays the same.)
"""

from __future__ import annotations

import sqlite3
import time

_POPULAR_TTL = 60.0
_popular: dict[tuple[int, str], tuple[float, list[str]]] = {}

_POPULAR_SQL = """
SELECT s.product_id FROM product_stats s
JOIN products p ON p.shop = s.shop AND p.id = s.product_id
WHERE s.shop = ? AND p.in_stock = 1 AND p.name IS NOT NULL AND p.url IS NOT NULL
ORDER BY s.views + 3 * s.carts + 2 * s.favs + 5 * s.purchases DESC, s.product_id
LIMIT 100
"""


def learn(conn: sqlite3.Connection, shop: str, vid: str, product_id: str, signal: str, ts: float) -> None:
    return None


async def similar(reader, shop: str, history: list[tuple[str, float, str]], exclude: set[str], k: int) -> list[str]:
    key = (id(reader), shop)
    hit = _popular.get(key)
    now = time.monotonic()
    if hit is None or hit[0] < now:
        rows = await reader.fetchall(_POPULAR_SQL, (shop,))
        hit = (now + _POPULAR_TTL, [r[0] for r in rows])
        _popular[key] = hit
    return [pid for pid in hit[1] if pid not in exclude][:k]

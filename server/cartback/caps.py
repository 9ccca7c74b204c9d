"""Per-shop caps on what browsers create: products outside the catalog and visitors (issue 12).

Anyone can invent product ids and visitors (a view with a new id, a call without a token), so each
shop keeps at most `max_browser_products` browser-reported products and `max_visitors` visitors;
past a cap the oldest (products by their last report, visitors by their last visit) are evicted,
with what hangs off them (their learned neighbours; the visitor's history rows). Catalog products
are never evicted: the merchant controls those. Events stay (the report counts them).

The check runs in the writer's transaction once every `check_every` new reports or visitors of a
shop (an index-only count), and evicts at most twice that many at a time, so the file stays
within a few percent of the cap and no single transaction holds the writer for long. When a shop
first reaches a cap, `meta('cap:<kind>:<shop>')` records it and the report's notes say so.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field

from .cache import BoundedCache

DEFAULT_BROWSER_PRODUCTS = 50_000
DEFAULT_VISITORS = 2_000_000
# Per visitor: products remembered (visitor_items rows). The block reads the newest 200; a visitor
# who views a million invented ids keeps the newest of them only. Checked every ITEM_CHECK new ones.
MAX_ITEMS_PER_VISITOR = 1_000
ITEM_CHECK = 100


@dataclass
class Caps:
    max_browser_products: int = DEFAULT_BROWSER_PRODUCTS
    max_visitors: int = DEFAULT_VISITORS
    max_items_per_visitor: int = MAX_ITEMS_PER_VISITOR
    _since_check: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, shop): few
    # New products per visitor since the last check; a miss only delays a check.
    _new_items: BoundedCache[tuple[str, str], int] = field(default_factory=lambda: BoundedCache(100_000))

    def check_every(self, cap: int) -> int:
        return max(1, min(1000, cap // 20))


limits = Caps()  # the server sets its own (services.Services.start); CLI runs keep the defaults


def _due(kind: str, shop: str, cap: int) -> bool:
    if cap <= 0:
        return False
    key = (kind, shop)
    n = limits._since_check.get(key, 0) + 1
    if n >= limits.check_every(cap):
        limits._since_check[key] = 0
        return True
    limits._since_check[key] = n
    return False


def _record(conn: sqlite3.Connection, kind: str, shop: str, cap: int, evicted: int) -> None:
    key = f"cap:{kind}:{shop}"
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    before = json.loads(row[0]) if row else {"since": time.time(), "evicted": 0}
    before.update(cap=cap, evicted=before.get("evicted", 0) + evicted, last=time.time())
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, json.dumps(before)))


def _oldest_past_cap(conn: sqlite3.Connection, kind: str, shop: str, cap: int, count_sql: str,
                     oldest_sql: str) -> list[str]:
    """When a check is due and the shop has more than `cap` rows (`count_sql`), the ids of the oldest
    (`oldest_sql`), at most two check intervals' worth at once so one write never stalls on a purge."""
    if not _due(kind, shop, cap):
        return []
    n = conn.execute(count_sql, (shop,)).fetchone()[0]
    if n <= cap:
        return []
    excess = min(n - cap, 2 * limits.check_every(cap))
    return [r[0] for r in conn.execute(oldest_sql, (shop, excess))]


def product_reported(conn: sqlite3.Connection, shop: str) -> None:
    """A browser wrote a product row of `shop` (new or changed)."""
    cap = limits.max_browser_products
    ids = _oldest_past_cap(conn, "products", shop, cap,
                           "SELECT count(*) FROM products WHERE shop = ? AND source = 'browser'",
                           "SELECT id FROM products WHERE shop = ? AND source = 'browser' ORDER BY updated_at LIMIT ?")
    if not ids:
        return
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM products WHERE shop = ? AND source = 'browser' AND id IN ({marks})", (shop, *chunk))
        conn.execute(f"DELETE FROM rec_neighbours WHERE shop = ? AND product_id IN ({marks})", (shop, *chunk))
        conn.execute(f"DELETE FROM rec_products WHERE shop = ? AND product_id IN ({marks})", (shop, *chunk))
    from . import ingest, recommend
    from .products import products_of

    recommend.model_of(conn).forget_products(shop, ids)
    products_of(conn).invalidate(shop, ids)
    ingest.memo.forget_products(shop, ids)
    _record(conn, "products", shop, cap, len(ids))


def item_created(conn: sqlite3.Connection, shop: str, vid: str) -> None:
    """The visitor's first view of a product (a new visitor_items row, or a first view)."""
    cap = limits.max_items_per_visitor
    if cap <= 0:
        return
    counts = limits._new_items
    key = (shop, vid)
    n = (counts.get(key) or 0) + 1
    if n < ITEM_CHECK:
        counts.put(key, n)
        return
    counts.pop(key)
    rows = conn.execute("SELECT product_id FROM visitor_items WHERE shop = ? AND vid = ? "
                        "ORDER BY last_at DESC LIMIT -1 OFFSET ?", (shop, vid, cap)).fetchall()
    for start in range(0, len(rows), 500):
        chunk = [r[0] for r in rows[start:start + 500]]
        conn.execute(f"DELETE FROM visitor_items WHERE shop = ? AND vid = ? AND product_id IN "
                     f"({','.join('?' * len(chunk))})", (shop, vid, *chunk))
    if rows:
        from . import recommend

        recommend.model_of(conn).forget_visitor(shop, vid)  # its recent products are read again


def visitor_created(conn: sqlite3.Connection, shop: str) -> None:
    """`shop` got a new visitor row."""
    cap = limits.max_visitors
    vids = _oldest_past_cap(conn, "visitors", shop, cap, "SELECT count(*) FROM visitors WHERE shop = ?",
                            "SELECT vid FROM visitors WHERE shop = ? ORDER BY last_seen LIMIT ?")
    if not vids:
        return
    from . import ingest, recommend

    model = recommend.model_of(conn)
    for start in range(0, len(vids), 500):
        chunk = vids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM visitor_items WHERE shop = ? AND vid IN ({marks})", (shop, *chunk))
        conn.execute(f"DELETE FROM visitors WHERE shop = ? AND vid IN ({marks})", (shop, *chunk))
    for vid in vids:
        model.forget_visitor(shop, vid)
        ingest.memo.forget_visitor(shop, vid)
    _record(conn, "visitors", shop, cap, len(vids))


def notes(conn: sqlite3.Connection, shop: str) -> list[str]:
    """The report's notes for the caps this shop has reached."""
    out = []
    words = {"products": ("browser-reported products (outside the catalog)", "least recently reported",
                          "--max-browser-products"),
             "visitors": ("visitors", "least recently seen, with their history", "--max-visitors")}
    for kind, (what, which, option) in words.items():
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (f"cap:{kind}:{shop}",)).fetchone()
        if not row:
            continue
        try:
            info = json.loads(row[0])
        except ValueError:
            continue
        since = time.strftime("%Y-%m-%d", time.gmtime(info.get("since", 0)))
        out.append(f"this shop reached the cap of {int(info.get('cap', 0)):,} {what} on {since}: the "
                   f"{which} are evicted ({int(info.get('evicted', 0)):,} so far; serve {option})")
    return out

"""Applying validated events. Runs in the writer thread, inside the group-commit transaction.

The `events` table is the log of what a visitor did with the block, to their cart and favourites,
and bought (reports and exports read it); `visitor_items` is the state the block reads, one row per
visitor and product; `recommend.learn` keeps the learned neighbours current as each event arrives
(in memory, checkpointed by the writer).

Views are not logged as rows: they are most of the traffic, and nothing reads them one by one.
The block, the export and the recommender use what `visitor_items` keeps per product (the last
view, the number of views), so a year of someone's browsing is not kept a second time (data
minimisation), and a view costs one statement, the `visitor_items` upsert, instead of a log row
and its index entries as well.

Two writes are skipped when they would change nothing: a browser's product details identical to
what this process last wrote for that product, and the visitor's `last_seen` when this process
moved it less than LAST_SEEN_STEP seconds ago (retention counts in days). When other serving
processes write the database too (`serve --workers N`), what this process remembers of the file
is kept SHARED_TTL at most (`memo.configure`): their writes (an erasure, a report of the same
product) go unseen here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from . import caps, recommend
from .cache import BoundedCache
from .connection import on_rollback
from .products import products_of
from .validation import Event, Product

# Browser-reported product details fill gaps; they never overwrite catalog rows, and a later
# browser report without a field keeps what an earlier one said.
_UPSERT_BROWSER_PRODUCT = """
INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, coalesce(?9, 1), 'browser', ?10)
ON CONFLICT (shop, id) DO UPDATE SET
    name = coalesce(excluded.name, products.name),
    price = coalesce(excluded.price, products.price),
    currency = coalesce(excluded.currency, products.currency),
    url = coalesce(excluded.url, products.url),
    image = coalesce(excluded.image, products.image),
    category = coalesce(excluded.category, products.category),
    in_stock = CASE WHEN CAST(?11 AS INTEGER) IS NULL THEN products.in_stock ELSE excluded.in_stock END,
    restocked_at = CASE WHEN ?11 = 1 AND products.in_stock = 0 THEN excluded.updated_at
                        ELSE products.restocked_at END,
    updated_at = excluded.updated_at
WHERE products.source = 'browser'
"""

_LOG = """
INSERT INTO events (shop, vid, ts, type, product_id, qty, block_id, section, order_id, value, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_TOUCH_ITEM = """
INSERT INTO visitor_items (shop, vid, product_id, last_at) VALUES (?, ?, ?, ?)
ON CONFLICT (shop, vid, product_id) DO UPDATE SET last_at = max(visitor_items.last_at, excluded.last_at)
RETURNING last_at
"""

# View, add and favourite: one upsert each, whether the visitor's row exists or not.
_VIEW_ITEM = """
INSERT INTO visitor_items (shop, vid, product_id, viewed_at, views, last_at, details)
VALUES (?1, ?2, ?3, ?4, 1, ?4, ?5)
ON CONFLICT (shop, vid, product_id) DO UPDATE SET
    viewed_at = excluded.viewed_at, views = visitor_items.views + 1,
    last_at = max(visitor_items.last_at, excluded.last_at),
    details = coalesce(excluded.details, visitor_items.details)
RETURNING last_at, views
"""
# The right-hand sides read the row as it was: a product already in the cart adds to its quantity,
# one put back in starts again. RETURNING cart_qty = the quantity added says it was not in the cart.
# The line keeps its variant and the price it had when it went in (the catalog's, else the page's):
# the block puts that variant back and says when the price has fallen since.
_ADD_ITEM = """
INSERT INTO visitor_items (shop, vid, product_id, carted_at, in_cart, cart_qty, last_at, cart_variant, cart_price,
                           details)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?4, ?6, coalesce(
    (SELECT price FROM products WHERE shop = ?1 AND id = ?3 AND source = 'catalog'), ?7), ?8)
ON CONFLICT (shop, vid, product_id) DO UPDATE SET
    carted_at = excluded.carted_at, in_cart = 1,
    cart_qty = CASE WHEN visitor_items.in_cart = 1 THEN coalesce(visitor_items.cart_qty, 0) + excluded.cart_qty
                    ELSE excluded.cart_qty END,
    cart_variant = coalesce(excluded.cart_variant, visitor_items.cart_variant),
    cart_price = CASE WHEN visitor_items.in_cart = 1 AND visitor_items.cart_price IS NOT NULL
                      THEN visitor_items.cart_price ELSE excluded.cart_price END,
    last_at = max(visitor_items.last_at, excluded.last_at),
    details = coalesce(excluded.details, visitor_items.details)
RETURNING last_at, cart_qty
"""
# A whole cart's line: one that was already in the cart keeps its moment and price.
_CART_LINE = """
UPDATE visitor_items SET in_cart = 1, cart_qty = ?4,
    carted_at = CASE WHEN ?6 = 1 THEN coalesce(carted_at, ?5) ELSE ?5 END,
    cart_variant = coalesce(?7, cart_variant),
    cart_price = CASE WHEN ?6 = 1 AND cart_price IS NOT NULL THEN cart_price ELSE coalesce(
        (SELECT price FROM products WHERE shop = ?1 AND id = ?3 AND source = 'catalog'), ?8) END
WHERE shop = ?1 AND vid = ?2 AND product_id = ?3
"""
# A favourite keeps the moment it was first made (until unfavourited): fav_at = this event's time
# says it is new.
_FAV_ITEM = """
INSERT INTO visitor_items (shop, vid, product_id, fav_at, last_at, details) VALUES (?1, ?2, ?3, ?4, ?4, ?5)
ON CONFLICT (shop, vid, product_id) DO UPDATE SET
    fav_at = coalesce(visitor_items.fav_at, excluded.fav_at), last_at = max(visitor_items.last_at, excluded.last_at),
    details = coalesce(excluded.details, visitor_items.details)
RETURNING last_at, fav_at
"""

_TOUCH_VISITOR = """
INSERT INTO visitors (shop, vid, first_seen, last_seen) VALUES (?, ?, ?, ?)
ON CONFLICT (shop, vid) DO UPDATE SET last_seen = max(visitors.last_seen, excluded.last_seen)
"""

LAST_SEEN_STEP = 300.0
_MEMO_LIMIT = 100_000
SHARED_TTL = 1.0


class _Memo:
    """What this process last wrote, to skip writes that would change nothing. A miss only costs
    the write it would have skipped; cleared whenever a write may not have reached the file
    (rolled back). Used by the writer thread only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.last_seen: BoundedCache[tuple[str, str], float] = BoundedCache(_MEMO_LIMIT, clock=clock)
        self.products: BoundedCache[tuple[str, str], tuple[Any, ...]] = BoundedCache(_MEMO_LIMIT, clock=clock)
        # visitors.first_eligible_at as last written
        self.eligible: BoundedCache[tuple[str, str], float] = BoundedCache(_MEMO_LIMIT, clock=clock)

    def seen_recently(self, shop: str, vid: str, now: float) -> bool:
        key = (shop, vid)
        before = self.last_seen.get(key)
        if before is not None and before <= now < before + LAST_SEEN_STEP:
            return True
        self.last_seen.put(key, now)
        return False

    def product_unchanged(self, shop: str, fields: tuple[Any, ...]) -> bool:
        key = (shop, fields[0])
        if self.products.get(key) == fields:
            return True
        self.products.put(key, fields)
        return False

    def eligible_since(self, shop: str, vid: str, ts: float) -> bool:
        """Whether this process already stored a first eligible moment at or before `ts` for the
        visitor (a block recorded later changes nothing); remembers `ts` when not."""
        key = (shop, vid)
        before = self.eligible.get(key)
        if before is not None and before <= ts:
            return True
        self.eligible.put(key, ts)
        return False

    def configure(self, shared: bool) -> None:
        """Set by the server as it starts (services.Services): entries live SHARED_TTL seconds when
        other processes write the database too (db.Database.shared), for ever otherwise."""
        self.clear()
        for cache in (self.last_seen, self.products, self.eligible):
            cache.ttl = SHARED_TTL if shared else None

    def forget_visitor(self, shop: str, vid: str) -> None:
        self.last_seen.pop((shop, vid))
        self.eligible.pop((shop, vid))

    def forget_products(self, shop: str, ids: list[str]) -> None:
        for pid in ids:
            self.products.pop((shop, pid))

    def clear(self) -> None:
        self.last_seen.clear()
        self.products.clear()
        self.eligible.clear()


memo = _Memo()
on_rollback(memo.clear)


@dataclass
class Applied:
    accepted: int
    duplicates: int
    products_changed: bool


def ensure_visitor(conn: sqlite3.Connection, shop: str, vid: str, now: float) -> None:
    if conn.execute("INSERT OR IGNORE INTO visitors (shop, vid, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                    (shop, vid, now, now)).rowcount:
        caps.visitor_created(conn, shop)


def apply_events(conn: sqlite3.Connection, shop: str, vid: str, events: list[Event], now: float,
                 new_visitor: bool = False, trust_ts: bool = False) -> Applied:
    """Write one request's events. `trust_ts` honours event timestamps (merchant-authenticated calls only)."""
    try:
        return _apply(conn, shop, vid, events, now, new_visitor, trust_ts)
    except BaseException:
        # The caller rolls this call back: what the memos saw may not be stored.
        memo.clear()
        recommend.model_of(conn).forget_visitors()
        raise


def _apply(conn: sqlite3.Connection, shop: str, vid: str, events: list[Event], now: float,
           new_visitor: bool, trust_ts: bool) -> Applied:
    if new_visitor:
        ensure_visitor(conn, shop, vid, now)
    duplicates = 0
    products_changed = False
    for index, event in enumerate(events):
        # One batch shares a clock reading; a microsecond step keeps "newest first" in event order.
        ts = event.ts if (trust_ts and event.ts is not None) else now + index * 1e-6
        if event.product is not None:
            products_changed |= _save_product(conn, shop, event.product, ts)
        if event.type == "purchase":
            if not _purchase(conn, shop, vid, event, ts, confirmed=trust_ts):
                duplicates += 1  # an order id already stored
        else:
            _HANDLERS[event.type](conn, shop, vid, event, ts)
    if not new_visitor and events and not memo.seen_recently(shop, vid, now):
        # An upsert, not an update: a valid token whose visitor was erased or aged out by retention
        # starts a fresh, empty visitor row (server/cartback/privacy.py forgets the memo on erasure).
        conn.execute(_TOUCH_VISITOR, (shop, vid, now, now))
    return Applied(accepted=len(events) - duplicates, duplicates=duplicates, products_changed=products_changed)


def _save_product(conn: sqlite3.Connection, shop: str, p: Product, ts: float) -> bool:
    if p.name is None and p.price is None and p.url is None and p.image is None and p.category is None \
            and p.in_stock is None:
        return False
    in_stock = None if p.in_stock is None else int(p.in_stock)
    if memo.product_unchanged(shop, (p.id, p.name, p.price, p.currency, p.url, p.image, p.category, in_stock)):
        return False  # this process wrote exactly these details already; a catalog row ignores them anyway
    cur = conn.execute(_UPSERT_BROWSER_PRODUCT, (shop, p.id, p.name, p.price, p.currency, p.url, p.image,
                                                 p.category, in_stock, ts, in_stock))  # ?11: in_stock again
    if cur.rowcount > 0:
        products_of(conn).invalidate(shop, [p.id])
        caps.product_reported(conn, shop)
        return True
    return False


def _log(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float, *, data: object = None,
         value: float | None = None) -> None:
    conn.execute(_LOG, (shop, vid, ts, e.type, e.product_id, e.qty, e.block, e.section, e.order_id, value,
                        None if data is None else json.dumps(data, separators=(",", ":"))))


def _touch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Run an upsert of a visitor_items row that RETURNs its last_at (first); tell the recommender."""
    row: tuple[Any, ...] = conn.execute(sql, params).fetchone()
    recommend.touch(conn, params[0], params[1], params[2], row[0])
    return row


def _product_id(e: Event) -> str:
    assert e.product_id is not None, "validation requires an id for this type"
    return e.product_id


def _own(p: Product | None) -> str | None:
    """The details this visitor's browser reported, for this visitor's own cards (products.own_details)."""
    if p is None or (p.name is None and p.price is None and p.url is None and p.image is None
                     and p.category is None and p.in_stock is None):
        return None
    fields = {"name": p.name, "price": p.price, "currency": p.currency, "url": p.url, "image": p.image,
              "category": p.category, "in_stock": p.in_stock}
    return orjson.dumps({k: v for k, v in fields.items() if v is not None}).decode()


def _view(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    _, views = _touch(conn, _VIEW_ITEM, (shop, vid, e.product_id, ts, _own(e.product)))
    if views == 1:
        caps.item_created(conn, shop, vid)
    recommend.learn(conn, shop, vid, _product_id(e), "view", ts, views)


def _add(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    _log(conn, shop, vid, e, ts)
    qty = e.qty or 1
    p = e.product
    _, cart_qty = _touch(conn, _ADD_ITEM, (shop, vid, e.product_id, ts, qty, p and p.variant, p and p.price,
                                           _own(p)))
    # As with views and whole carts: one more of what is already in the cart teaches nothing new.
    if cart_qty == qty:
        recommend.learn(conn, shop, vid, _product_id(e), "add", ts)


def _remove(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    # An explicit removal is the visitor's choice: it leaves the cart history too.
    _log(conn, shop, vid, e, ts)
    conn.execute("UPDATE visitor_items SET carted_at = NULL, in_cart = 0, cart_qty = NULL "
                 "WHERE shop = ? AND vid = ? AND product_id = ?", (shop, vid, e.product_id))


def _cart(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    # The shop's cart as it is now. Products that left it stay in the cart history: shops clear
    # carts on their own (after 24 hours in the case), and that history is what the block shows.
    _log(conn, shop, vid, e, ts, data=[{"id": pid, "qty": qty} for pid, qty, _, _ in e.items])
    in_cart = "SELECT product_id FROM visitor_items WHERE shop = ? AND vid = ? AND in_cart = 1"
    before = {r[0] for r in conn.execute(in_cart, (shop, vid))}
    conn.execute("UPDATE visitor_items SET in_cart = 0 WHERE shop = ? AND vid = ? AND in_cart = 1", (shop, vid))
    for pid, qty, price, variant in e.items:
        if qty <= 0:
            continue
        _touch(conn, _TOUCH_ITEM, (shop, vid, pid, ts))
        conn.execute(_CART_LINE, (shop, vid, pid, qty, ts, pid in before, variant, price))
        if pid not in before:
            # A shop that reports only whole carts still teaches what goes together.
            recommend.learn(conn, shop, vid, pid, "add", ts)


def empty_cart(conn: sqlite3.Connection, shop: str, vid: str, now: float) -> None:
    """The page shows an empty cart: what the server still thought was in it becomes cart history
    (the moment, quantity, variant and price it went in with are kept). Logged as the empty
    `cart` event a shop would have sent, had it told anyone it cleared the cart."""
    if conn.execute("SELECT 1 FROM visitor_items WHERE shop = ? AND vid = ? AND in_cart = 1 LIMIT 1",
                    (shop, vid)).fetchone():
        _cart(conn, shop, vid, Event(type="cart"), now)


def _favorite(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    _log(conn, shop, vid, e, ts)
    _, fav_at = _touch(conn, _FAV_ITEM, (shop, vid, e.product_id, ts, _own(e.product)))
    if fav_at == ts:
        recommend.learn(conn, shop, vid, _product_id(e), "favorite", ts)


def _unfavorite(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    _log(conn, shop, vid, e, ts)
    conn.execute("UPDATE visitor_items SET fav_at = NULL WHERE shop = ? AND vid = ? AND product_id = ?",
                 (shop, vid, e.product_id))


# Only purchases carry an order id. Naming the type as well made SQLite search events_by_type, every
# purchase of the shop for each new one, instead of events_by_order (bench/volume.py found it).
ORDER_SQL = "SELECT id, data FROM events WHERE shop = ? AND order_id = ? LIMIT 1"


def _purchase(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float, confirmed: bool = False) -> bool:
    """`confirmed`: posted with the shop's API key (its back end), so the report trusts its figures."""
    items = [{"id": pid, "qty": qty, "price": price} for pid, qty, price, _ in e.items]
    data: dict[str, Any] = {"currency": e.currency, "items": items}
    if confirmed:
        data["confirmed"] = True
    # A shop's thank-you page is often reloaded: one order id counts once.
    row = conn.execute(ORDER_SQL, (shop, e.order_id)).fetchone()
    if row is not None:
        if not confirmed or '"confirmed":true' in (row[1] or ""):
            return False
        # The back end confirms an order a browser reported: its figures replace the browser's, and
        # the browser's visitor (who clicked, hence the attribution) and moment stay.
        conn.execute("UPDATE events SET value = ?, data = ? WHERE shop = ? AND id = ?",
                     (e.total, json.dumps(data, separators=(",", ":")), shop, row[0]))
        return True
    _log(conn, shop, vid, e, ts, value=e.total, data=data)
    for pid, _, _, _ in e.items:
        _touch(conn, _TOUCH_ITEM, (shop, vid, pid, ts))
        # carted_at stays: block.py decides whether a bought product may return to the cart history.
        conn.execute("UPDATE visitor_items SET bought_at = ?, in_cart = 0, cart_qty = NULL "
                     "WHERE shop = ? AND vid = ? AND product_id = ?", (ts, shop, vid, pid))
        recommend.learn(conn, shop, vid, pid, "purchase", ts)
    return True


def _log_only(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    _log(conn, shop, vid, e, ts)


def _restore(conn: sqlite3.Connection, shop: str, vid: str, e: Event, ts: float) -> None:
    # Which lines went back into the shop's cart from a block (the report counts restores and the
    # orders after them); the cart itself is reported by the platform's own cart events.
    _log(conn, shop, vid, e, ts, data={"items": [{"id": pid, "qty": qty} for pid, qty, _, _ in e.items]})


_HANDLERS: dict[str, Callable[[sqlite3.Connection, str, str, Event, float], None]] = {
    "view": _view, "add": _add, "remove": _remove, "cart": _cart, "favorite": _favorite,
    "unfavorite": _unfavorite, "impression": _log_only, "click": _log_only,
    "restore": _restore,
}

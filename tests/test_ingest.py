"""ingest.py applied in a real SQLite file, one transaction per call as connection.transaction runs it:
what each event leaves in `visitor_items`, `events` and `products`, and `empty_cart`.

The same through HTTP (views counted, not logged; the catalog's word shown) is in test_endpoints_events.py."""

from __future__ import annotations

import json

import pytest
from cartback.connection import transaction
from cartback.ingest import apply_events, empty_cart, memo
from cartback.validation import Event, Product

from tests.conftest import UNIT_SHOP, put_products, sqlite_only

VID = "v1"


@pytest.fixture
def catalog(unit_db):
    """Catalog rows, written to the `conn` fixture's file by another connection (as an import does)."""
    return lambda rows: put_products(unit_db, UNIT_SHOP, rows)


@pytest.fixture
def apply(conn):
    """apply(*events, at=…, trust_ts=False) -> Applied, in a transaction of its own."""
    def run(*events: Event, at: float = 1000.0, trust_ts: bool = False, vid: str = VID):
        return transaction(conn, apply_events, UNIT_SHOP, vid, list(events), at, False, trust_ts)
    return run


def view(pid: str, **details) -> Event:
    return Event("view", pid, Product(pid, **details))


def add(pid: str, qty: int = 1, **details) -> Event:
    return Event("add", pid, Product(pid, **details), qty=qty)


def cart(*lines: tuple) -> Event:
    return Event("cart", items=[(pid, qty, price, variant) for pid, qty, price, variant in lines])


def item(conn, pid: str, columns: str = "in_cart, cart_qty, carted_at, cart_variant, cart_price") -> tuple:
    return conn.execute(f"SELECT {columns} FROM visitor_items WHERE shop = ? AND vid = ? AND product_id = ?",
                        (UNIT_SHOP, VID, pid)).fetchone()


def logged(conn) -> list[tuple]:
    return conn.execute("SELECT type, product_id, data FROM events WHERE shop = ? ORDER BY id", (UNIT_SHOP,)).fetchall()


def product_row(conn, pid: str) -> tuple:
    return conn.execute("SELECT name, price, url, in_stock, source, restocked_at FROM products "
                        "WHERE shop = ? AND id = ?", (UNIT_SHOP, pid)).fetchone()


def test_a_batch_keeps_its_order_within_one_clock_reading(conn, apply):
    applied = apply(view("a"), view("b"), add("c"))
    assert (applied.accepted, applied.duplicates) == (3, 0)
    rows = conn.execute("SELECT product_id, last_at FROM visitor_items WHERE vid = ? ORDER BY last_at DESC",
                        (VID,)).fetchall()
    assert [r[0] for r in rows] == ["c", "b", "a"] and rows[0][1] - rows[2][1] == pytest.approx(2e-6)
    assert conn.execute("SELECT last_seen FROM visitors WHERE vid = ?", (VID,)).fetchone() == (1000.0,)


def test_trusted_timestamps_are_kept_only_when_trusted(conn, apply):
    apply(Event("favorite", "a", Product("a"), ts=500.0), trust_ts=True)
    apply(Event("favorite", "b", Product("b"), ts=500.0))
    assert item(conn, "a", "fav_at") == (500.0,) and item(conn, "b", "fav_at") == (1000.0,)


def test_browser_details_fill_gaps_and_never_touch_a_catalog_row(conn, apply, catalog):
    catalog([{"id": "cat", "name": "Kestane balı", "price": 399.0, "url": "https://s/cat"}])
    applied = apply(view("cat", name="FAKE", price=1.0), view("b", name="Çam balı", price=10.0, in_stock=False))
    assert applied.products_changed
    assert product_row(conn, "cat")[:3] == ("Kestane balı", 399.0, "https://s/cat")
    assert product_row(conn, "cat")[4] == "catalog"
    # A later report without a field keeps the earlier word; stock coming back is dated.
    apply(view("b", url="https://s/b", in_stock=True), at=2000.0)
    assert product_row(conn, "b") == ("Çam balı", 10.0, "https://s/b", 1, "browser", 2000.0)
    # What the visitor's own browser said stays with the visitor, for their own cards.
    own = json.loads(item(conn, "cat", "details")[0])
    assert own == {"name": "FAKE", "price": 1.0}


def test_the_same_details_again_write_nothing(conn, apply):
    assert apply(view("p", name="Bal")).products_changed
    assert not apply(view("p", name="Bal")).products_changed
    assert not apply(view("p")).products_changed  # an id alone says nothing of the product
    memo.clear()  # what a rolled-back write does: the next report is written again
    assert apply(view("p", name="Bal")).products_changed


def test_views_count_per_product_and_adds_and_favourites_are_logged(conn, apply):
    apply(view("a"), view("a"), Event("favorite", "a", Product("a")), add("b", 2))
    assert item(conn, "a", "views, fav_at IS NOT NULL") == (2, 1)
    assert [(t, p) for t, p, _ in logged(conn)] == [("favorite", "a"), ("add", "b")]
    apply(Event("unfavorite", "a"), Event("remove", "b"))
    assert item(conn, "a", "fav_at") == (None,)
    assert item(conn, "b") == (0, None, None, None, None)  # removed on purpose: out of the history too


def test_adds_sum_while_in_the_cart_and_keep_the_first_price_and_variant(conn, apply, catalog):
    catalog([{"id": "c", "name": "Bal", "price": 100.0}])
    apply(add("c", 1, price=80.0, variant="500g"))
    apply(add("c", 2, price=60.0), at=1100.0)
    # The catalog's price at the first add, not the page's, and not the later one.
    assert item(conn, "c") == (1, 3, 1100.0, "500g", 100.0)


def test_a_whole_cart_replaces_the_lines_and_keeps_the_ones_still_in_it(conn, apply):
    apply(add("a", price=10.0), add("b", price=20.0))
    apply(cart(("a", 5, 9.0, "v2"), ("c", 1, 30.0, None)), at=2000.0)
    assert item(conn, "a") == (1, 5, 1000.0, "v2", 10.0)  # still in: its moment and price stay
    assert item(conn, "b")[:3] == (0, 1, 1000.0 + 1e-6)  # left the cart: kept as history
    assert item(conn, "c") == (1, 1, 2000.0, None, 30.0)
    assert logged(conn)[-1] == ("cart", None, '[{"id":"a","qty":5},{"id":"c","qty":1}]')


def test_empty_cart_turns_the_cart_into_history_once(conn, apply):
    apply(add("a", 2, price=10.0, variant="v"), add("b"))
    before = len(logged(conn))
    transaction(conn, empty_cart, UNIT_SHOP, VID, 3000.0)
    assert item(conn, "a") == (0, 2, 1000.0, "v", 10.0)
    assert item(conn, "b")[0] == 0
    assert logged(conn)[before:] == [("cart", None, "[]")]  # the event a shop would have sent
    transaction(conn, empty_cart, UNIT_SHOP, VID, 3100.0)  # nothing in the cart: nothing written
    assert len(logged(conn)) == before + 1


def test_an_order_counts_once_and_the_shops_back_end_confirms_it(conn, apply):
    order = Event("purchase", order_id="o1", total=999.0, currency="TRY", items=[("a", 1, 999.0, None)])
    apply(add("a"))
    assert apply(order).accepted == 1
    assert item(conn, "a", "in_cart, cart_qty, bought_at, carted_at") == (0, None, 1000.0, 1000.0)
    again = apply(order)  # the thank-you page reloaded
    assert (again.accepted, again.duplicates) == (0, 1)
    confirmed = Event("purchase", order_id="o1", total=120.0, currency="TRY", items=[("a", 1, 100.0, None)])
    assert apply(confirmed, trust_ts=True, vid="backend").accepted == 1
    rows = conn.execute("SELECT vid, value, data FROM events WHERE type = 'purchase'").fetchall()
    assert len(rows) == 1 and rows[0][:2] == (VID, 120.0)  # the clicking visitor stays, the figures change
    assert json.loads(rows[0][2])["confirmed"] is True
    assert apply(order).duplicates == 1  # a browser cannot undo the confirmation
    assert apply(confirmed, trust_ts=True, vid="backend").duplicates == 1


def test_impressions_clicks_and_restores_are_logged_as_sent(conn, apply):
    apply(Event("impression", block="b1"), Event("click", "a", block="b1", section="viewed"),
          Event("restore", block="b1", items=[("a", 2, None, "v")]))
    rows = conn.execute("SELECT type, product_id, block_id, section, data FROM events ORDER BY id").fetchall()
    assert rows == [("impression", None, "b1", None, None), ("click", "a", "b1", "viewed", None),
                    ("restore", None, "b1", None, '{"items":[{"id":"a","qty":2}]}')]


def test_a_failing_batch_leaves_nothing_and_forgets_what_it_saw(conn, apply):
    broken = Event("teleport", "b", Product("b", name="Bal"))  # no handler: the write raises mid-batch
    with pytest.raises(KeyError):
        apply(view("a", name="Bal"), broken)
    assert conn.execute("SELECT count(*) FROM visitor_items").fetchone() == (0,)
    assert product_row(conn, "a") is None
    assert apply(view("a", name="Bal")).products_changed  # not skipped as "already written"


@sqlite_only  # SQLite's query planner
def test_a_repeated_order_id_is_found_through_the_order_index_not_among_all_purchases(conn):
    # With the type named too, SQLite chose events_by_type and read every purchase of the shop for
    # each new one: at 500,000 orders, most of the tracking calls' time (bench/volume.py).
    from cartback.ingest import ORDER_SQL

    plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + ORDER_SQL, ("s", "A-1"))]
    assert plan == ["SEARCH events USING INDEX events_by_order (shop=? AND order_id=?)"], plan


def test_the_memo_keeps_what_it_saw_a_second_when_other_processes_write_too():
    from cartback.ingest import SHARED_TTL, _Memo

    from tests.conftest import FakeClock

    clock = FakeClock(100.0)
    fields = ("p", "Bal", 1.0, "TRY", None, None, None, None)
    shared = _Memo(clock=clock)
    shared.configure(True)
    assert not shared.product_unchanged("s", fields) and shared.product_unchanged("s", fields)
    assert not shared.seen_recently("s", "v", 100.0) and shared.seen_recently("s", "v", 100.0)
    # Another worker may have written the product or erased the visitor since: written again.
    clock.now += SHARED_TTL
    assert not shared.product_unchanged("s", fields)
    assert not shared.seen_recently("s", "v", 101.0)
    alone = _Memo(clock=clock)
    alone.configure(False)  # the only serving process: what it wrote stays true
    alone.product_unchanged("s", fields)
    clock.now += 3600
    assert alone.product_unchanged("s", fields)

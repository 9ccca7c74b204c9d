"""Product display fields (server/cartback/products.py): the cache's lifetime, what drops it, what a
card is made of, and the one rule for a product that can be shown (block and recommender alike)."""

from __future__ import annotations

import io

import pytest
from cartback import products, store
from cartback.catalog import import_stream
from cartback.connection import connect_sync, transaction
from cartback.ingest import apply_events
from cartback.products import SHOWABLE_SQL, ProductCache, product_dict, showable
from cartback.recommend import similar_products
from cartback.shops import DEFAULT_SETTINGS
from cartback.validation import Event, Product

from tests.conftest import UNIT_SHOP, FakeClock

SHOP = UNIT_SHOP
T0 = 1_700_000_000.0


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(1000.0)  # stands in for the `time` module inside cartback.products
    monkeypatch.setattr(products, "time", fake)
    return fake


@pytest.fixture
def cached(conn, unit_db):
    """A second connection to the same file with the server's cache (10 s), as Database gives it."""
    c = connect_sync(unit_db, model=conn.model, products=ProductCache())
    yield c
    c.close()


def put(conn, pid: str, name: str | None = "Honey", url: str | None = "https://shop.test/p", in_stock: int = 1,
        category: str | None = "bal", price: float | None = 10.0) -> None:
    def write(c):
        c.execute(
            "INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, "
            "updated_at) VALUES (?, ?, ?, ?, 'TRY', ?, 'https://cdn.test/i.jpg', ?, ?, 'catalog', 0) "
            "ON CONFLICT (shop, id) DO UPDATE SET name = excluded.name, url = excluded.url, "
            "in_stock = excluded.in_stock, category = excluded.category, price = excluded.price",
            (SHOP, pid, name, price, url, category, in_stock))
    transaction(conn, write)


def name_of(cached, pid: str) -> str | None:
    found = cached.products.get_many(cached, SHOP, [pid])[pid]
    return None if found is None else found["name"]


def test_a_card_is_made_of_the_display_fields(cached):
    put(cached, "honey", name="Çiçek Balı", price=249.9)
    got = cached.products.get_many(cached, SHOP, ["honey", "nothing"])
    assert got["nothing"] is None  # the shop has no row for it
    assert got["honey"] == {"id": "honey", "name": "Çiçek Balı", "price": 249.9, "currency": "TRY",
                            "url": "https://shop.test/p", "image": "https://cdn.test/i.jpg", "category": "bal",
                            "in_stock": 1, "restocked_at": None, "source": "catalog"}


@pytest.mark.parametrize(("shared", "ttl"), [(False, 10.0), (True, 1.0)], ids=["alone", "shared"])
def test_entries_last_ten_seconds_or_one_when_other_processes_write_too(conn, unit_db, clock, shared, ttl):
    # serve --workers N: another worker's write to a product drops nothing in this process's cache.
    cached = connect_sync(unit_db, model=conn.model, products=ProductCache(shared=shared))
    assert cached.products.ttl == ttl == (products.SHARED_TTL if shared else products.TTL)
    put(conn, "honey", name="Old")
    assert name_of(cached, "honey") == "Old"
    # Written by hand (SQL around every code path that drops entries): seen only once the entry expires.
    conn.execute("UPDATE products SET name = 'New' WHERE shop = ? AND id = 'honey'", (SHOP,))
    clock.now += ttl - 0.1
    assert name_of(cached, "honey") == "Old"
    clock.now += 0.2
    assert name_of(cached, "honey") == "New"
    cached.close()


def test_this_processs_own_writes_drop_entries_at_once(cached, clock):
    # A browser's report of a product outside the catalog (ingest) ...
    view = Event(type="view", product_id="jar", product=Product(id="jar", name="Jar from the page"), ts=T0)
    transaction(cached, apply_events, SHOP, "v", [view], T0, True, True)
    assert name_of(cached, "jar") == "Jar from the page"
    again = Event(type="view", product_id="jar", product=Product(id="jar", name="Jar, renamed"), ts=T0 + 1)
    transaction(cached, apply_events, SHOP, "v", [again], T0 + 1, False, True)
    assert name_of(cached, "jar") == "Jar, renamed"
    # ... and a catalog import through this connection: no clock moved, the new rows show.
    import_stream(cached, SHOP, io.BytesIO(b"id,name,in_stock\njar,Catalog jar,no\n"), default_currency="TRY")
    got = cached.products.get_many(cached, SHOP, ["jar"])["jar"]
    assert got is not None and (got["name"], got["in_stock"], got["source"]) == ("Catalog jar", 0, "catalog")


def test_an_import_by_another_process_shows_within_half_a_second(conn, cached, clock):
    put(conn, "honey", name="Old")
    cached.products.check_catalog(cached, SHOP)  # the version this process has seen
    assert name_of(cached, "honey") == "Old"
    # `conn` has no cache of `cached`'s: like the CLI in another process, only the version in meta moves.
    import_stream(conn, SHOP, io.BytesIO(b"id,name\nhoney,New\n"))
    cached.products.check_catalog(cached, SHOP)
    assert name_of(cached, "honey") == "Old"  # checked less than CATALOG_CHECK_EVERY ago: not yet
    clock.now += products.CATALOG_CHECK_EVERY
    cached.products.check_catalog(cached, SHOP)
    assert name_of(cached, "honey") == "New"


# -- a product that can be shown ----------------------------------------------------------------

UNSHOWABLE = {"gone": {"in_stock": 0}, "nameless": {"name": None}, "blank-name": {"name": ""},
              "linkless": {"url": None}, "blank-link": {"url": ""}}


def test_the_rule_in_python_and_in_sql_agree_on_real_rows(conn):
    put(conn, "good")
    for pid, changes in UNSHOWABLE.items():
        put(conn, pid, **changes)
    rows = conn.execute(f"SELECT {products.COLUMNS} FROM products WHERE shop = ?", (SHOP,)).fetchall()
    in_python = {r[0] for r in rows if showable(product_dict(r))}
    in_sql = {r[0] for r in conn.execute(f"SELECT p.id FROM products p WHERE p.shop = ? AND {SHOWABLE_SQL}", (SHOP,))}
    assert in_python == in_sql == {"good"}


def test_a_dict_without_in_stock_counts_as_in_stock():
    assert showable({"id": "a", "name": "A", "url": "https://shop.test/a"})
    assert not showable({"id": "a", "name": "A", "url": "https://shop.test/a", "in_stock": False})
    assert not showable(None)


def test_block_and_recommendations_agree_on_what_can_be_shown(conn):
    put(conn, "seed")
    put(conn, "good")
    for pid, changes in UNSHOWABLE.items():
        put(conn, pid, **changes)
    others = ["good", *UNSHOWABLE]
    # One visitor views them all: "recently viewed" shows what can be shown, and the recommender
    # learns that each goes with "seed".
    views = [Event(type="view", product_id=pid, ts=T0 + n) for n, pid in enumerate(["seed", *others])]
    transaction(conn, apply_events, SHOP, "v", views, T0, True, True)
    viewed = {p["id"] for s in store.compute_sections(conn, SHOP, "v", DEFAULT_SETTINGS) for p in s.products}
    assert viewed == {"seed", "good"}
    # Another visitor who viewed only "seed" is offered its neighbours and the category's fills
    # (Python and SQL paths of the recommender): the same products pass.
    offered = similar_products(conn, SHOP, [("seed", T0, "view")], {"seed"}, 8)
    assert [p["id"] for p in offered] == ["good"]
    assert viewed - {"seed"} == {p["id"] for p in offered}

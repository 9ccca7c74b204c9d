"""server/cartback/demo/seed.py and catalog.py: what `cartback demo` writes to Cartback's database before
serving (the shop `demo`, its catalog, sample shoppers), and that a second start on the same file
keeps what is there."""

from __future__ import annotations

import json

import pytest
from cartback import demo
from cartback.connection import connect_sync
from cartback.shops import SELECTOR_PRESETS, get_shop

from tests.conftest import new_database

ORIGIN = "http://127.0.0.1:8001"
CATALOG = demo.expand_urls(demo.load_catalog(), ORIGIN)
BY_SKU = {p["id"]: p for p in CATALOG}


@pytest.fixture
def conn(tmp_path):
    c = connect_sync(new_database(tmp_path, "d.db"))
    yield c
    c.close()


def test_the_demo_shop_is_a_shopify_shop_with_skus(conn):
    assert demo.ensure_shop(conn, [ORIGIN])
    shop = get_shop(conn, demo.SHOP_ID)
    assert shop.settings["platform"] == "shopify" and shop.settings["id_field"] == "sku"
    assert shop.selector_css == SELECTOR_PRESETS["shopify"]
    assert demo.import_catalog(conn, demo.SHOP_ID, CATALOG) == len(CATALOG)
    ids = {r[0] for r in conn.execute("SELECT id FROM products WHERE shop = ?", (demo.SHOP_ID,))}
    assert ids == set(BY_SKU)


def test_catalog_urls_are_absolute_on_the_shops_origin():
    cam = BY_SKU["KB-1001"]
    assert cam["url"] == ORIGIN + "/products/cam-bali-850g"
    assert cam["image"] == ORIGIN + "/static/img/cam-bali.svg"
    assert demo.load_catalog()[0]["url"].startswith("/"), "the file itself keeps relative paths"


def test_a_second_start_keeps_the_shop_and_allows_its_new_port(conn):
    assert demo.ensure_shop(conn, [ORIGIN]).startswith("cb_")
    assert demo.ensure_shop(conn, ["http://127.0.0.1:9001"]) is None, "the key is printed once, at creation"
    origins = get_shop(conn, demo.SHOP_ID).origins
    assert {ORIGIN, "http://127.0.0.1:9001"} <= set(origins)


def test_sample_shoppers_are_written_once(conn):
    demo.ensure_shop(conn, [ORIGIN])
    demo.import_catalog(conn, demo.SHOP_ID, CATALOG)
    written = demo.seed_sample_shoppers(conn, demo.SHOP_ID, CATALOG)
    assert written > 0
    visitors = conn.execute("SELECT count(*) FROM visitors WHERE shop = ? AND vid LIKE 'sample-%'",
                            (demo.SHOP_ID,)).fetchone()[0]
    assert visitors == 90
    assert demo.seed_sample_shoppers(conn, demo.SHOP_ID, CATALOG) == 0, "a second start adds nobody"


def test_prepare_for_a_simulation_keeps_the_default_holdout(tmp_path):
    db = new_database(tmp_path, "sim.db")
    seeded = demo.prepare(db, [ORIGIN], ORIGIN, simulate=True)
    assert seeded.api_key and seeded.imported == len(CATALOG) and seeded.sampled > 0
    conn = connect_sync(db)
    try:
        settings = json.loads(conn.execute("SELECT settings FROM shops WHERE id = ?", (demo.SHOP_ID,)).fetchone()[0])
    finally:
        conn.close()
    assert "holdout_share" not in settings, "the simulated report needs its control group"
    again = demo.prepare(db, [ORIGIN], ORIGIN, simulate=False)
    assert again.api_key is None and again.sampled == 0

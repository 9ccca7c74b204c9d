"""shops.py: shop records and keys in a real SQLite file, settings validation, platform presets,
the registry's cache. The same settings over HTTP are in test_endpoints_empty_cart.py; the CLI's in test_cli.py."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from cartback.errors import ApiError
from cartback.shops import (
    DEFAULT_SETTINGS,
    SELECTOR_PRESETS,
    Shop,
    ShopRegistry,
    create_shop,
    get_shop,
    normalize_origin,
    rotate_key,
    update_settings,
    validate_settings,
)

from tests.conftest import UNIT_SHOP, FakeClock


def refused(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def shop_with(selector: str | None = None, **settings) -> Shop:
    return Shop("s", "", ["https://bal.example"], selector, "tr", "TRY", {**DEFAULT_SETTINGS, **settings})


# -- records and keys ------------------------------------------------------------------------------------

def test_a_new_shop_keeps_only_a_hash_of_its_key_and_normalized_origins(conn):
    key = create_shop(conn, "bal", ["https://Bal.example:443/shop", "http://bal.example", "https://bal.example"],
                      locale="en", currency="EUR", settings={"max_block": 6})
    assert key.startswith("cb_") and len(key) > 30
    row = conn.execute("SELECT api_key_hash, origins FROM shops WHERE id = 'bal'").fetchone()
    assert row == (hashlib.sha256(key.encode()).hexdigest(), '["http://bal.example", "https://bal.example"]')
    assert key not in str(conn.execute("SELECT * FROM shops").fetchall())
    shop = get_shop(conn, "bal")
    assert shop is not None and shop.check_key(key) and not shop.check_key(key + "x")
    assert (shop.locale, shop.currency, shop.settings["max_block"], shop.settings["min_block"]) == ("en", "EUR", 6, 1)


@pytest.mark.parametrize("args, field", [
    (("Bal", ["https://b.example"]), "shop"),
    (("-bal", ["https://b.example"]), "shop"),
    (("b" * 64, ["https://b.example"]), "shop"),
    (("bal", []), "origin"),
    (("bal", ["b.example"]), "origin"),
    (("bal", ["ftp://b.example"]), "origin"),
    (("bal", ["https://b.example"], None, "de"), "locale"),
    (("bal", ["https://b.example"], None, "tr", "try"), "currency"),
    (("bal", ["https://b.example"], None, "tr", "TRY", {"max_block": 0}), "settings.max_block"),
])
def test_bad_shop_fields_are_refused_by_name_and_nothing_is_stored(conn, args, field):
    error = refused(create_shop, conn, *args)
    assert (error.status, error.field) == (400, field) and error.message.startswith(field + ": ")
    assert get_shop(conn, "bal") is None


def test_a_second_shop_of_the_same_id_is_a_conflict(conn):
    error = refused(create_shop, conn, UNIT_SHOP, ["https://other.example"])
    assert (error.status, error.code, error.field) == (409, "shop_exists", "shop")


def test_rotating_the_key_ends_the_old_one(conn):
    first = create_shop(conn, "bal", ["https://bal.example"])
    second = rotate_key(conn, "bal")
    shop = get_shop(conn, "bal")
    assert shop is not None and second != first and shop.check_key(second) and not shop.check_key(first)
    assert refused(rotate_key, conn, "nope").status == 404


def test_origins_normalize_to_scheme_host_and_a_port_other_than_the_default():
    assert normalize_origin("HTTPS://Shop.Example:443/path?q") == "https://shop.example"
    assert normalize_origin("http://shop.example:8080") == "http://shop.example:8080"
    assert normalize_origin("http://[::1]:80/") == "http://[::1]"
    for bad in ("shop.example", "javascript:alert(1)", "http://", "http://x:99999", "null"):
        assert normalize_origin(bad) is None, bad
    shop = shop_with(image_origins=["https://CDN.example/"])
    assert shop.allows_origin("https://bal.example:443") and not shop.allows_origin("https://cdn.example")
    assert shop.asset_origins == ["https://bal.example", "https://cdn.example"]


# -- settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"colour": "red"}, "settings.colour"),
    ({"sections": []}, "settings.sections"),
    ({"sections": ["cart", "cart"]}, "settings.sections"),
    ({"titles": {"de": {"cart": "Warenkorb"}}}, "settings.titles"),
    ({"titles": {"tr": {"cart": "x" * 81}}}, "settings.titles"),
    ({"max_per_section": {"viewed": 25}}, "settings.max_per_section"),
    ({"min_block": True}, "settings.min_block"),
    ({"rebuy_in_cart_history": "yes"}, "settings.rebuy_in_cart_history"),
    ({"attribution_days": 91}, "settings.attribution_days"),
    ({"retention_days": 0}, "settings.retention_days"),
    ({"holdout_share": 0.6}, "settings.holdout_share"),
    ({"image_origins": ["cdn.example"]}, "settings.image_origins"),
    ({"titles": {"tr": {"cart": "Sepet\ud800"}}}, "settings.titles"),
    ({"restore_url": "/cart/add?id={id}\n"}, "settings.restore_url"),
    ({"restore_url": "https://bal.example/add"}, "settings.restore_url"),
])
def test_settings_are_refused_by_name(changes, field):
    error = refused(validate_settings, changes)
    assert (error.status, error.field) == (400, field) and error.message.startswith(field + ": ")
    assert refused(validate_settings, ["max_block", 6]).field == "settings"


def test_good_settings_pass_as_given():
    changes = {"sections": ["viewed", "cart"], "titles": {"en": {"viewed": "Seen", "title": "For you"}},
               "max_per_section": {"similar": 0}, "holdout_share": 0, "image_origins": ["https://cdn.example"],
               "platform": None, "restore_url": "https://bal.example/add?v={variant}&q={qty}"}
    assert validate_settings(changes) is changes


def test_settings_changes_merge_and_a_new_holdout_share_is_dated(conn):
    shop = update_settings(conn, UNIT_SHOP, {"max_per_section": {"viewed": 2}})
    assert shop.settings["max_per_section"] == {**DEFAULT_SETTINGS["max_per_section"], "viewed": 2}
    assert "holdout_changed_at" not in shop.settings
    assert "holdout_changed_at" not in update_settings(conn, UNIT_SHOP, {"holdout_share": 0.10}).settings
    assert update_settings(conn, UNIT_SHOP, {"holdout_share": 0.2}).settings["holdout_changed_at"] > 0
    assert refused(update_settings, conn, "nope", {"max_block": 6}).status == 404


def test_a_surrogate_stored_before_they_were_refused_reads_as_a_replacement_character(conn):
    conn.execute("UPDATE shops SET settings = ? WHERE id = ?", ('{"titles": {"tr": {"cart": "Sepet\\ud800"}}}',
                                                                UNIT_SHOP))
    shop = get_shop(conn, UNIT_SHOP)
    assert shop is not None and shop.settings["titles"]["tr"]["cart"] == "Sepet\ufffd"


# -- platforms -----------------------------------------------------------------------------------------

def test_a_platform_names_its_empty_cart_preset_unless_the_shop_set_a_selector():
    assert shop_with(platform="woocommerce").selector_css == SELECTOR_PRESETS["woocommerce"]
    assert shop_with("#empty", platform="woocommerce").selector_css == "#empty"
    assert shop_with("magento").selector_css == SELECTOR_PRESETS["magento"]  # a preset named as the selector
    assert shop_with(platform="ga4").selector_css is None and shop_with().selector_css is None


@pytest.mark.parametrize("settings, restores", [
    ({}, False), ({"platform": "ga4"}, False), ({"platform": "shopify"}, True), ({"platform": "prestashop"}, True),
    ({"restore_url": "/cart/add?id={id}"}, True), ({"platform": "ga4", "restore_url": "/add/{variant}"}, True),
])
def test_can_restore_with_a_cart_api_or_a_restore_url(settings, restores):
    assert shop_with(**settings).can_restore is restores


# -- the registry --------------------------------------------------------------------------------------

class CountingDb:
    """Reads from the file, counting the shop lookups (the version row's reads apart)."""

    def __init__(self, conn) -> None:
        self.conn, self.queries, self.version_reads = conn, 0, 0

    async def fetchone(self, sql: str, params=()):
        if "FROM meta" in sql:
            self.version_reads += 1
        else:
            self.queries += 1
        return self.conn.execute(sql, params).fetchone()


def test_the_registry_asks_the_file_once_per_shop_until_told_or_expired(conn):
    db = CountingDb(conn)
    shops = ShopRegistry(db, ttl=30, clock=FakeClock(0.0))  # a still clock: no version read is due

    async def scenario() -> None:
        assert shops.fresh(UNIT_SHOP) is None and shops.fresh([UNIT_SHOP]) is None
        first = await shops.get(UNIT_SHOP)
        assert first is not None and shops.fresh(UNIT_SHOP) is first and await shops.get(UNIT_SHOP) is first
        assert db.queries == 1
        assert await shops.get("Not An Id") is None and await shops.get(42) is None and db.queries == 1
        assert await shops.get("missing") is None and await shops.get("missing") is None and db.queries == 2
        update_settings(conn, UNIT_SHOP, {"max_block": 5})
        shops.forget(UNIT_SHOP)
        changed = await shops.get(UNIT_SHOP)
        assert changed is not None and changed.settings["max_block"] == 5 and db.queries == 3
        for value, field in ((None, "shop"), ("", "shop"), (7, "shop"), ("missing", "shop")):
            with pytest.raises(ApiError) as caught:
                await shops.require(value)
            assert caught.value.field == field
        assert (await shops.require(UNIT_SHOP)).id == UNIT_SHOP
        expired = ShopRegistry(db, ttl=0)
        await expired.require(UNIT_SHOP)
        assert expired.fresh(UNIT_SHOP) is None

    asyncio.run(scenario())


def test_a_change_by_another_process_reaches_the_registry_within_its_version_check(conn, unit_db):
    from cartback.connection import connect_sync, transaction
    from cartback.shops import VERSION_CHECK_EVERY

    clock = FakeClock(100.0)
    db = CountingDb(conn)
    shops = ShopRegistry(db, ttl=30, clock=clock)
    other = connect_sync(unit_db)  # the CLI, say

    async def scenario() -> None:
        before = await shops.require(UNIT_SHOP)
        transaction(other, update_settings, UNIT_SHOP, {"max_block": 5})
        clock.now += VERSION_CHECK_EVERY / 2
        assert shops.fresh(UNIT_SHOP) is before  # not yet looked at
        clock.now += VERSION_CHECK_EVERY / 2
        assert shops.fresh(UNIT_SHOP) is None  # the version is due: ask again
        after = await shops.require(UNIT_SHOP)
        assert after.settings["max_block"] == 5 and shops.fresh(UNIT_SHOP) is after
        reads = db.version_reads
        clock.now += VERSION_CHECK_EVERY
        assert (await shops.require(UNIT_SHOP)) is after and db.version_reads == reads + 1, "unchanged: kept"

    asyncio.run(scenario())
    other.close()

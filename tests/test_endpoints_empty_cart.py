"""GET /v1/empty-cart against a running server: the four sections of the case and their rules."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.conftest import eventually, query
from tests.test_endpoints_events import ORIGIN, post, product, track


def sections(api, shop, vid, **params) -> list[tuple[str, list[str]]]:
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid, **params})
    if r.status_code == 204:
        return []
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    out = []
    for key, body in re.findall(r'data-section="(\w+)">(.*?)</section>', r.text, re.S):
        out.append((key, re.findall(r'data-cartback-product="([^"]+)"', body)))
    return out


def test_four_sections_in_order_each_product_once(api, make_shop, seed_catalog):
    shop = make_shop()
    seed_catalog(shop, [product(p) for p in ("pop1", "pop2")])
    other = track(api, shop, [{"type": "view", "product": product("pop1")},
                              {"type": "add", "product": product("pop2")}])
    assert other
    vid = track(api, shop, [
        {"type": "view", "product": product("v1")},
        {"type": "add", "product": product("c1")},
        {"type": "view", "product": product("v2")},
        {"type": "add", "product": product("c2")},
        {"type": "favorite", "product": product("f1")},
        {"type": "view", "product": product("c1")},  # carted and viewed: shown once, in the cart section
        {"type": "cart", "items": []},              # the shop cleared the cart
    ])
    expected = [
        ("cart", ["c2", "c1"]),
        ("viewed", ["v2", "v1"]),
        ("favorites", ["f1"]),
        ("similar", ["pop2", "pop1"]),
    ]
    assert eventually(lambda: sections(api, shop, vid), expected) == expected


def test_nothing_worth_showing_is_204_never_filler(api, make_shop, seed_catalog):
    shop = make_shop()
    seed_catalog(shop, [product(f"pop{i}") for i in range(5)])
    fresh = post(api, {"shop": shop.id, "events": []}).json()["vid"]
    assert api.get("/v1/empty-cart", params={"shop": shop.id, "vid": fresh}).status_code == 204
    assert api.get("/v1/empty-cart", params={"shop": shop.id}).status_code == 204
    # A visitor whose only product has no name or link: nothing to show, popular items are not padding.
    vid = track(api, shop, [{"type": "view", "product": {"id": "nameless"}}])
    assert sections(api, shop, vid) == []


def test_current_cart_bought_removed_and_out_of_stock_are_left_out(api, make_shop, seed_catalog):
    shop = make_shop()
    seed_catalog(shop, [product("gone", in_stock=False)])
    vid = track(api, shop, [
        {"type": "add", "product": product("keep")},
        {"type": "add", "product": product("incart")},
        {"type": "add", "product": product("removed")},
        {"type": "add", "product": product("bought")},
        {"type": "view", "product": product("gone")},
        {"type": "view", "product": product("stockout", in_stock=False)},
        {"type": "remove", "id": "removed"},
        {"type": "purchase", "order_id": "o1", "total": 249.9, "currency": "TRY",
         "items": [{"id": "bought", "price": 249.9, "qty": 1}]},
        {"type": "cart", "items": [{"id": "incart", "qty": 1}]},
    ])
    # "incart" was still in the cart as far as the server knew, but the page asking shows an empty
    # cart: it is cart history now, beside "keep".
    assert sections(api, shop, vid) == [("cart", ["incart", "keep"])]


def test_rebuy_setting_keeps_bought_products_in_the_cart_history(api, make_shop):
    shop = make_shop(settings={"rebuy_in_cart_history": True})
    vid = track(api, shop, [
        {"type": "add", "product": product("honey")},
        {"type": "purchase", "order_id": "o1", "items": [{"id": "honey", "qty": 1}]},
    ])
    assert sections(api, shop, vid) == [("cart", ["honey"])]


def test_locale_texts_and_prices(api, make_shop):
    shop = make_shop()
    vid = track(api, shop, [{"type": "view", "product": product("a", price=1249.9)}])
    tr = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}).text
    assert "Son baktıklarınız" in tr and "₺1.249,90" in tr and 'lang="tr"' in tr
    en = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid, "locale": "en"}).text
    assert "Recently viewed" in en and "₺1,249.90" in en and 'lang="en"' in en
    odd = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid, "locale": "xx"}).text
    assert "Son baktıklarınız" in odd  # unknown locale falls back to the shop's


def test_unknown_shop_and_other_origins(api, make_shop):
    r = api.get("/v1/empty-cart", params={"shop": "nope", "vid": "x"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "shop"
    r = api.get("/v1/empty-cart", params={"vid": "x"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "shop"
    shop = make_shop()
    r = api.get("/v1/empty-cart", params={"shop": shop.id}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403


def test_per_shop_order_limits_and_titles(api, make_shop):
    shop = make_shop(settings={"sections": ["viewed", "cart"], "max_per_section": {"viewed": 2},
                               "titles": {"tr": {"viewed": "Göz attıklarınız"}}})
    vid = track(api, shop, [{"type": "view", "product": product(f"v{i}")} for i in range(4)]
                + [{"type": "add", "product": product("c")}, {"type": "cart", "items": []}])
    assert sections(api, shop, vid) == [("viewed", ["v3", "v2"]), ("cart", ["c"])]
    assert "Göz attıklarınız" in api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}).text


@pytest.mark.parametrize("minimum, expected", [(1, [("viewed", ["a"])]), (2, [])])
def test_min_products_hides_thin_sections(api, make_shop, minimum, expected):
    shop = make_shop(settings={"min_per_section": minimum})
    vid = track(api, shop, [{"type": "view", "product": product("a")}])
    assert sections(api, shop, vid) == expected


def test_merchants_change_settings_over_http(api, make_shop):
    shop = make_shop()
    auth = {"authorization": f"Bearer {shop.api_key}"}
    assert api.get(f"/v1/shops/{shop.id}/settings").status_code == 401
    assert api.get(f"/v1/shops/{shop.id}/settings", headers={"authorization": "Bearer wrong"}).status_code == 403
    r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth, json={"sections": ["viewed", "bogus"]})
    assert r.status_code == 400 and r.json()["error"]["field"] == "settings.sections"
    r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth, json={"colour": "red"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "settings.colour"
    for bad in ({"platform": "wix"}, {"id_field": "ean"}, {"restore_url": "javascript:alert(1)//{id}"},
                {"restore_url": "/cart/add?qty={qty}"}, {"restore_url": "//evil.test/{id}"}):
        r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth, json=bad)
        name = next(iter(bad))
        assert r.status_code == 400 and r.json()["error"]["field"] == f"settings.{name}", bad
    r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth,
                  json={"platform": "woocommerce", "id_field": "sku",
                        "restore_url": "/?add-to-cart={id}&quantity={qty}"})
    assert r.status_code == 200
    assert {k: r.json()["settings"][k] for k in ("platform", "id_field", "restore_url")} == {
        "platform": "woocommerce", "id_field": "sku", "restore_url": "/?add-to-cart={id}&quantity={qty}"}
    r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth,
                  json={"sections": ["viewed"], "titles": {"en": {"viewed": "Seen lately"}}})
    assert r.status_code == 200 and r.json()["settings"]["sections"] == ["viewed"]
    vid = track(api, shop, [{"type": "add", "product": product("c")}, {"type": "view", "product": product("v")},
                            {"type": "cart", "items": []}])
    html = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid, "locale": "en"}).text
    assert "Seen lately" in html and 'data-section="cart"' not in html


def test_a_cart_the_shop_cleared_silently_comes_back_with_the_four_kinds(api, make_shop, seed_catalog,
                                                                        cartback_server):
    # The case: the shop empties carts on its own server after 24 hours and tells nobody. The page
    # only carried the tag: no cartback('cart', []) ever came.
    shop = make_shop(settings={"platform": "shopify"})
    seed_catalog(shop, [product("jar", price=300.0), product("pop")])
    track(api, shop, [{"type": "view", "product": product("pop")}, {"type": "add", "product": product("pop")}])
    vid = track(api, shop, [
        {"type": "view", "product": product("jar")},
        {"type": "add", "product": {**product("jar"), "variant": "4711"}, "qty": 2},
        {"type": "view", "product": product("fav")},
        {"type": "favorite", "product": product("fav")},  # favourited on its own page: viewed too
        {"type": "view", "product": product("seen")},
    ])
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid})
    assert r.status_code == 200
    expected = [("cart", ["jar"]), ("viewed", ["seen"]), ("favorites", ["fav"]), ("similar", ["pop"])]
    assert eventually(lambda: sections(api, shop, vid), expected) == expected
    # The restore button carries the line as it went in: variant and quantity.
    restore = re.search(r'data-cartback-restore="([^"]+)"', r.text)
    assert restore and json.loads(html.unescape(restore.group(1))) == [{"id": "jar", "variant": "4711", "qty": 2}]
    # Recorded: the cart is empty now (for every later block and the report), the line is kept.
    row = query(cartback_server.db_path,
                "SELECT in_cart, cart_qty, cart_variant, cart_price, carted_at IS NOT NULL FROM visitor_items "
                "WHERE shop = ? AND product_id = 'jar' AND vid = (SELECT vid FROM events WHERE shop = ? AND "
                "type = 'add' AND product_id = 'jar')", (shop.id, shop.id))
    assert row == [(0, 2, "4711", 300.0, 1)]
    emptied = query(cartback_server.db_path, "SELECT data FROM events WHERE shop = ? AND type = 'cart'", (shop.id,))
    assert emptied == [("[]",)]


def test_cart_card_shows_a_lower_price_struck_through_and_back_in_stock(api, make_shop):
    shop = make_shop(locale="en")

    def import_feed(jar_price: str, pollen_stock: str) -> None:
        # Through the merchant's catalog import: it is what notices a product coming back.
        feed = ("id,name,price,currency,url,in_stock\n"
                f"jar,Jar,{jar_price},TRY,{ORIGIN}/p/jar,true\npollen,Pollen,100,TRY,{ORIGIN}/p/pollen,{pollen_stock}\n")
        r = api.put(f"/v1/shops/{shop.id}/catalog", content=feed.encode(),
                    headers={"authorization": f"Bearer {shop.api_key}"})
        assert r.status_code == 200, r.text

    import_feed("300", "false")
    vid = track(api, shop, [{"type": "add", "product": product("jar")}, {"type": "add", "product": product("pollen")}])
    import_feed("240", "true")
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid, "locale": "en"})
    assert r.status_code == 200
    jar = re.search(r'data-cartback-product="jar".*?</a>', r.text, re.S).group(0)
    assert re.search(r'<s class="cartback__was">.*₺300\.00</s>.*₺240\.00', jar, re.S)
    pollen = re.search(r'data-cartback-product="pollen".*?</a>', r.text, re.S).group(0)
    assert "Back in stock" in pollen and "cartback__was" not in pollen
    # A shop with no way to put products back in its cart gets no restore button.
    assert "data-cartback-restore" not in r.text


def test_a_platform_brings_its_empty_cart_preset_unless_the_shop_set_one(api, make_shop):
    magento = make_shop(settings={"platform": "magento"})
    assert api.get("/v1/config", params={"shop": magento.id}).json()["selector"] == ".checkout-cart-index .cart-empty"
    own = make_shop(selector="#my-empty-cart", settings={"platform": "shopify"})
    assert api.get("/v1/config", params={"shop": own.id}).json()["selector"] == "#my-empty-cart"
    ga4 = make_shop(settings={"platform": "ga4"})
    assert api.get("/v1/config", params={"shop": ga4.id}).json()["selector"] is None

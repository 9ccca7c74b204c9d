"""GET /v1/empty-cart against a running server: the four sections of the case and their rules."""

from __future__ import annotations

import re

import pytest

from tests.test_api_events import ORIGIN, post, product, track


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
    other = track(api, shop, [{"type": "view", "product": product("pop1")}, {"type": "add", "product": product("pop2")}])
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
    assert sections(api, shop, vid) == [
        ("cart", ["c2", "c1"]),
        ("viewed", ["v2", "v1"]),
        ("favorites", ["f1"]),
        ("similar", ["pop2", "pop1"]),
    ]


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
    assert sections(api, shop, vid) == [("cart", ["keep"])]


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
    r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth,
                  json={"sections": ["viewed"], "titles": {"en": {"viewed": "Seen lately"}}})
    assert r.status_code == 200 and r.json()["settings"]["sections"] == ["viewed"]
    vid = track(api, shop, [{"type": "add", "product": product("c")}, {"type": "view", "product": product("v")},
                            {"type": "cart", "items": []}])
    html = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid, "locale": "en"}).text
    assert "Seen lately" in html and 'data-section="cart"' not in html

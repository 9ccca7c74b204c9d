"""POST /v1/events against a running server: what it accepts, what it refuses, what it keeps.

The pure parsing behind the refusals has its own tests (test_validation.py); here, the answers."""

from __future__ import annotations

import json
import time

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import add_shop, query

ORIGIN = "http://shop.test"


def product(pid: str, **extra) -> dict:
    return {"id": pid, "name": f"Bal {pid}", "price": 249.9, "currency": "TRY", "url": f"{ORIGIN}/p/{pid}", **extra}


def post(api, body, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return api.post("/v1/events", content=data, headers={"content-type": "text/plain", **kw.pop("headers", {})}, **kw)


def track(api, shop, events, vid=None):
    r = post(api, {"shop": shop.id, "vid": vid, "events": events})
    assert r.status_code == 200, r.text
    return r.json()["vid"]


def block_ids(api, shop, vid) -> list[str]:
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid})
    if r.status_code == 204:
        return []
    assert r.status_code == 200
    import re

    return re.findall(r'data-cartback-product="([^"]+)"', r.text)


def test_first_call_issues_a_token_and_later_calls_keep_the_visitor(api, make_shop):
    shop = make_shop()
    vid = track(api, shop, [{"type": "view", "product": product("a")}])
    vid2 = track(api, shop, [{"type": "view", "product": product("b")}], vid)
    assert vid.split(".")[0] == vid2.split(".")[0]
    assert block_ids(api, shop, vid2) == ["b", "a"]


def test_json_content_type_is_accepted_too(api, make_shop):
    shop = make_shop()
    r = api.post("/v1/events", json={"shop": shop.id, "events": [{"type": "view", "product": "x"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        (b"{not json", 400, "invalid_json", "body"),
        (b"", 400, "invalid_json", "body"),
        (b"\xff\xfe\x00", 400, "invalid_json", "body"),
        (b"[1, 2]", 400, "bad_request", "body"),
        ({"events": []}, 400, "bad_request", "shop"),
        ({"shop": 12, "events": []}, 400, "bad_request", "shop"),
        ({"shop": "no-such-shop", "events": []}, 404, "unknown_shop", "shop"),
        ({"shop": "{shop}", "events": {"type": "view"}}, 400, "bad_request", "events"),
        ({"shop": "{shop}", "vid": 42, "events": []}, 400, "bad_request", "vid"),
        ({"shop": "{shop}", "events": [{"type": "teleport"}]}, 400, "bad_request", "events[0].type"),
        ({"shop": "{shop}", "events": ["view"]}, 400, "bad_request", "events[0]"),
        ({"shop": "{shop}", "events": [{"type": "view"}]}, 400, "bad_request", "events[0].product"),
        ({"shop": "{shop}", "events": [{"type": "view", "product": {"id": "x" * 10_000}}]}, 400, "bad_request",
         "events[0].product.id"),
        ({"shop": "{shop}", "events": [{"type": "add", "product": "p", "qty": 1.5}]}, 400, "bad_request",
         "events[0].qty"),
        ({"shop": "{shop}", "events": [{"type": "cart", "items": "p1"}]}, 400, "bad_request", "events[0].items"),
        ({"shop": "{shop}", "events": [{"type": "purchase", "total": 10}]}, 400, "bad_request",
         "events[0].order_id"),
        ({"shop": "{shop}", "events": [{"type": "purchase", "order_id": "o", "currency": "lira"}]}, 400,
         "bad_request", "events[0].currency"),
        ({"shop": "{shop}", "events": [{"type": "click", "block": "b", "id": "p", "section": "nope"}]}, 400,
         "bad_request", "events[0].section"),
        ({"shop": "{shop}", "events": [{"type": "view", "product": "ok"}, {"type": "view", "product": {"id": None}}]},
         400, "bad_request", "events[1].product.id"),
        ({"shop": "{shop}", "events": [{"type": "add", "product": {"id": "p", "variant": {"id": 1}}}]}, 400,
         "bad_request", "events[0].product.variant"),
        ({"shop": "{shop}", "events": [{"type": "cart", "items": [{"id": "p", "variant": "v" * 65}]}]}, 400,
         "bad_request", "events[0].items[0].variant"),
        ({"shop": "{shop}", "events": [{"type": "cart", "items": [{"id": "p", "price": -1}]}]}, 400,
         "bad_request", "events[0].items[0].price"),
        ({"shop": "{shop}", "events": [{"type": "restore", "items": [{"id": "p", "qty": 1}]}]}, 400,
         "bad_request", "events[0].block"),
        ({"shop": "{shop}", "events": [{"type": "restore", "block": "b", "items": [{"qty": 1}]}]}, 400,
         "bad_request", "events[0].items[0].id"),
    ],
)
def test_bad_input_gets_a_clear_error_naming_the_field(api, make_shop, body, status, code, field):
    shop = make_shop()
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace("{shop}", shop.id))
    r = post(api, body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert field in error["message"]


def test_too_many_events_and_huge_bodies_are_refused_before_reading_them_whole(api, make_shop):
    shop = make_shop()
    many = {"shop": shop.id, "events": [{"type": "view", "product": "p"}] * 101}
    r = post(api, many)
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_events"

    hundred_thousand = {"shop": shop.id, "events": [{"type": "view", "product": "p"}] * 100_000}
    r = post(api, hundred_thousand)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    ten_mb = b'{"shop": "' + shop.id.encode() + b'", "events": [], "pad": "' + b"x" * 10_000_000 + b'"}'
    r = post(api, ten_mb)
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit must hold on the streamed bytes too
        yield b'{"shop": "x", "pad": "'
        for _ in range(200):
            yield b"y" * 65536
        yield b'"}'

    r = api.post("/v1/events", content=chunks(), headers={"content-type": "text/plain"})
    assert r.status_code == 413


def test_bad_requests_lose_nothing_already_stored(api, make_shop):
    shop = make_shop()
    vid = track(api, shop, [{"type": "view", "product": product("a")}, {"type": "add", "product": product("b")},
                            {"type": "cart", "items": []}])
    before = block_ids(api, shop, vid)
    assert before == ["b", "a"]
    for bad in (b"{", {"shop": shop.id, "vid": vid, "events": [{"type": "view", "product": "ok"}, {"type": 1}]},
                {"shop": shop.id, "vid": vid, "events": [{"type": "remove"}]}):
        assert post(api, bad).status_code == 400
    # The valid first event of the refused batch was not half-written either.
    assert block_ids(api, shop, vid) == before


def test_untrusted_display_fields_are_dropped_not_the_event(api, make_shop, cartback_server):
    shop = make_shop()
    r = post(api, {"shop": shop.id, "events": [{"type": "view", "product": {
        "id": "p1", "name": "<img src=x onerror=alert(1)>", "url": "javascript:alert(1)",
        "image": "https://evil.example/x.png"}}, {"type": "view", "product": product("p2")}]})
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 2
    assert {i["field"] for i in body["ignored"]} == {"events[0].product.url", "events[0].product.image"}
    row = query(cartback_server.db_path, "SELECT url, image FROM products WHERE shop = ? AND id = 'p1'", (shop.id,))
    assert row == [(None, None)]
    # p1 has no link, so the block shows only p2 and the markup never carries the script.
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": body["vid"]})
    assert "onerror" not in r.text and "<img src=x" not in r.text
    assert block_ids(api, shop, body["vid"]) == ["p2"]


def test_bad_display_fields_are_named_and_dropped_but_the_view_is_kept(api, make_shop, cartback_server):
    shop = make_shop()
    r = post(api, {"shop": shop.id, "events": [{"type": "view", "product": {
        "id": "p", "name": "n" * 400, "price": "cheap", "currency": "TL", "category": 5.5, "in_stock": "yes",
        "url": f"{ORIGIN}/p"}}, {"type": "view", "product": {"id": "q", "price": -1}}]})
    assert r.status_code == 200 and r.json()["accepted"] == 2
    named = {i["field"] for i in r.json()["ignored"]}
    assert named == {"events[0].product.name", "events[0].product.price", "events[0].product.currency",
                     "events[0].product.category", "events[0].product.in_stock", "events[1].product.price"}
    row = query(cartback_server.db_path,
                "SELECT name, price, currency, url FROM products WHERE shop = ? AND id = 'p'", (shop.id,))
    assert row == [(None, None, None, f"{ORIGIN}/p")]


def test_views_are_kept_per_product_and_the_rest_in_the_log(api, make_shop, cartback_server):
    shop = make_shop()
    vid = track(api, shop, [{"type": "view", "product": product("a")}, {"type": "view", "product": product("b")}])
    vid = track(api, shop, [{"type": "view", "product": product("a")}, {"type": "add", "product": product("b")},
                            {"type": "favorite", "product": product("a")}], vid)
    key = (shop.id, vid.split(".")[0])
    items = query(cartback_server.db_path, "SELECT product_id, views, viewed_at IS NOT NULL FROM visitor_items "
                  "WHERE shop = ? AND vid = ? ORDER BY product_id", key)
    assert items == [("a", 2, 1), ("b", 1, 1)]
    logged = query(cartback_server.db_path,
                   "SELECT type, product_id FROM events WHERE shop = ? AND vid = ? ORDER BY id", key)
    assert logged == [("add", "b"), ("favorite", "a")]


def test_browser_reports_never_override_the_catalog(api, make_shop, seed_catalog):
    shop = make_shop()
    seed_catalog(shop, [{"id": "c1", "name": "Kestane Balı", "price": 399.0, "url": f"{ORIGIN}/p/c1"}])
    vid = track(api, shop, [{"type": "view", "product": product("c1", name="FAKE", price=1)}])
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid})
    assert "Kestane Balı" in r.text and "₺399,00" in r.text and "FAKE" not in r.text


def test_cors_only_for_the_shops_origins(api, make_shop):
    shop = make_shop(origins=["https://bal.example"])
    ok = post(api, {"shop": shop.id, "events": []}, headers={"origin": "https://bal.example"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://bal.example"
    other = post(api, {"shop": shop.id, "events": []}, headers={"origin": "https://evil.example"})
    assert other.status_code == 403 and other.json()["error"]["field"] == "origin"
    assert "access-control-allow-origin" not in other.headers
    pre = api.options("/v1/events", headers={"origin": "https://bal.example",
                                              "access-control-request-method": "POST"})
    assert pre.status_code == 204


def _secret(db_path) -> str:
    return query(db_path, "SELECT value FROM meta WHERE key = 'secret'")[0][0]


def test_forged_expired_and_foreign_tokens_get_a_fresh_visitor(api, make_shop, cartback_server):
    shop, other = make_shop(), make_shop()
    victim = track(api, shop, [{"type": "view", "product": product("secret-item")}])
    victim_id = victim.split(".")[0]
    assert block_ids(api, shop, victim) == ["secret-item"]

    forged = victim_id + ".AAAAAA.forgedsignature"
    tampered = victim[:-2] + ("AA" if not victim.endswith("AA") else "BB")
    other_shops = track(api, other, [], None)
    foreign = other_shops.split(".")[0] and TimestampSigner(_secret(cartback_server.db_path),
                                                             salt=f"cartback.visitor:{other.id}").sign(victim_id).decode()

    class Old(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 401 * 86400

    expired = Old(_secret(cartback_server.db_path), salt=f"cartback.visitor:{shop.id}").sign(victim_id).decode()

    for token in (forged, tampered, foreign, expired, "x" * 5000):
        assert block_ids(api, shop, token) == [], token
        fresh = post(api, {"shop": shop.id, "vid": token, "events": []}).json()["vid"]
        assert fresh.split(".")[0] != victim_id
        assert block_ids(api, shop, fresh) == []


def test_bots_are_not_tracked(local_server):
    server = local_server()  # without count_bots
    shop = add_shop(server.db_path, [ORIGIN])
    body = json.dumps({"shop": shop.id, "events": [{"type": "view", "product": product("p")}]})
    bot = server.client.post("/v1/events", content=body, headers={"user-agent": "Googlebot/2.1"})
    assert bot.status_code == 200 and bot.json()["accepted"] == 0
    human = server.client.post("/v1/events", content=body,
                               headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"})
    assert human.json()["accepted"] == 1


def test_rate_limit_answers_429_per_visitor(local_server):
    server = local_server(rate_limit_per_minute=5)
    client = server.client
    shop = add_shop(server.db_path, [ORIGIN])
    first = client.post("/v1/events", json={"shop": shop.id, "events": []}).json()["vid"]
    codes = [client.post("/v1/events", json={"shop": shop.id, "vid": first, "events": [
        {"type": "view", "product": "p"}]}).status_code for _ in range(7)]
    # The token-issuing call counted too: 5 calls a minute in all.
    assert codes == [200] * 4 + [429] * 3
    other = client.post("/v1/events", json={"shop": shop.id, "events": []})
    assert other.status_code == 200

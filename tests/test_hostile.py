"""Hostile traffic against the real server (issue 12): malformed input gets a 4xx naming the field
and disturbs nobody else's commits; a client that leaves mid-body is one quiet line."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time

import httpx
import pytest

from conftest import ServerProcess, add_shop

POISON = [
    # (body, the field the answer must name)
    ('{"shop":"%s","events":[{"type":"view","product":{"id":"a\\ud800"}}]}', "events[0].product.id"),
    ('{"shop":"%s","events":[{"type":"view","product":{"id":"a","name":"x\\udfff"}}]}', "events[0].product.name"),
    ('{"shop":"%s","events":[{"type":"cart","items":[{"id":"\\udc00","qty":1}]}]}', "events[0].items[0].id"),
    ('{"shop":"%s","events":[{"type":"add","product":"a","qty":NaN}]}', "events[0].qty"),
    ('{"shop":"%s","events":[{"type":"add","product":"a","qty":Infinity}]}', "events[0].qty"),
    ('{"shop":"%s","events":[{"type":"add","product":"a","qty":-Infinity}]}', "events[0].qty"),
    ('{"shop":"%s","events":[{"type":"add","product":"a","qty":1e999}]}', "events[0].qty"),
    ('{"shop":"%s","events":[{"type":"add","product":"a","qty":1' + "0" * 5000 + '}]}', "events[0].qty"),
    ('{"shop":"%s","events":[{"type":"purchase","order_id":"o","total":1' + "0" * 400 + '}]}', "events[0].total"),
    ('{"shop":"%s","events":[{"type":"purchase","order_id":"o","total":1e309}]}', "events[0].total"),
    ('{"shop":"%s","events":[{"type":"view","product":{"id":"a"},"ts":1' + "0" * 4400 + '}]}', "events[0].ts"),
    ('{"shop":"%s","events":[{"type":"view","product":{"id":1' + "0" * 4400 + '}}]}', "events[0].product.id"),
]


@pytest.fixture
def own_server(tmp_path):
    """A server of the test's own, whose log the test reads after stopping it."""
    server = ServerProcess(tmp_path / "own.db", "--rate-limit", "0", "--log-level", "info")
    server.start()
    yield server
    server.stop()


def server_log(server: ServerProcess) -> str:
    server.stop()
    assert server.proc is not None and server.proc.stdout is not None
    return server.proc.stdout.read().decode(errors="replace")


@pytest.mark.parametrize("body,field", POISON, ids=[f"{i}-{f}" for i, (_, f) in enumerate(POISON)])
def test_malformed_numbers_and_surrogates_are_named(api, make_shop, body, field):
    shop = make_shop()
    r = api.post("/v1/events", content=(body % shop.id).encode(), headers={"content-type": "text/plain"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == field


def test_poison_next_to_good_traffic_loses_no_good_event(own_server):
    shop = add_shop(own_server.db_path, ["http://shop.test"], settings={"holdout_share": 0})
    results: dict[str, list] = {"good": [], "bad": []}

    def good(n: int) -> None:
        with httpx.Client(base_url=own_server.url, timeout=20) as client:
            for i in range(25):
                r = client.post("/v1/events", json={"shop": shop.id, "events": [
                    {"type": "view", "product": {"id": f"g{n}-{i}", "name": "Bal"}}]})
                results["good"].append((r.status_code, r.json().get("accepted")))

    def bad() -> None:
        with httpx.Client(base_url=own_server.url, timeout=20) as client:
            for i in range(25):
                body, field = POISON[i % len(POISON)]
                r = client.post("/v1/events", content=(body % shop.id).encode())
                results["bad"].append((r.status_code, r.json()["error"].get("field"), field))

    threads = [threading.Thread(target=good, args=(n,)) for n in range(4)] + [threading.Thread(target=bad)
                                                                             for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["good"] == [(200, 1)] * 100
    assert all(status == 400 and got == want for status, got, want in results["bad"]) and len(results["bad"]) == 50
    with sqlite3.connect(own_server.db_path) as conn:
        stored = conn.execute("SELECT count(*) FROM visitor_items WHERE shop = ?", (shop.id,)).fetchone()[0]
    assert stored == 100
    log = server_log(own_server)
    assert "Traceback" not in log and "unhandled" not in log, log[-3000:]


def test_client_leaving_mid_body_logs_one_quiet_line(own_server):
    shop = add_shop(own_server.db_path, ["http://shop.test"])
    for path, method in (("/v1/events", "POST"), (f"/v1/shops/{shop.id}/settings", "PATCH")):
        with socket.create_connection(("127.0.0.1", own_server.port)) as s:
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                      f"Authorization: Bearer {shop.api_key}\r\nContent-Length: 5000\r\n\r\n".encode()
                      + b'{"shop": "' + shop.id.encode())
            time.sleep(0.3)
    assert httpx.get(own_server.url + "/healthz").status_code == 200
    log = server_log(own_server)
    assert "Traceback" not in log and "unhandled" not in log, log[-3000:]
    assert log.count("left before sending the whole body") == 2, log[-3000:]


def test_surrogate_in_settings_refused_and_one_already_stored_is_harmless(api, make_shop, cartback_server):
    shop = make_shop()
    auth = {"authorization": f"Bearer {shop.api_key}"}
    r = api.patch(f"/v1/shops/{shop.id}/settings", headers=auth,
                  content=b'{"titles": {"tr": {"cart": "Sepet\\ud800"}}}')
    assert r.status_code == 400 and r.json()["error"]["field"] == "settings.titles.tr.cart", r.text

    # One stored before the server refused them (json.dumps escapes it, so SQLite took it).
    stored = make_shop()
    with sqlite3.connect(cartback_server.db_path) as conn:
        conn.execute("UPDATE shops SET settings = ? WHERE id = ?",
                     (json.dumps({"holdout_share": 0, "titles": {"tr": {"viewed": "Gezdikleriniz\ud800"}}}),
                      stored.id))
    r = api.get(f"/v1/shops/{stored.id}/settings", headers={"authorization": f"Bearer {stored.api_key}"})
    assert r.status_code == 200 and r.json()["settings"]["titles"]["tr"]["viewed"] == "Gezdikleriniz\ufffd"
    vid = api.post("/v1/events", json={"shop": stored.id, "events": [
        {"type": "view", "product": {"id": "p1", "name": "Bal", "price": 10, "url": "http://shop.test/p1"}}]}).json()["vid"]
    r = api.get("/v1/empty-cart", params={"shop": stored.id, "vid": vid})
    assert r.status_code == 200 and "Gezdikleriniz\ufffd" in r.text


def test_surrogate_catalog_row_is_a_rejection_with_its_line(api, make_shop):
    shop = make_shop()
    feed = b'{"id": "p1", "name": "Bal", "price": 3}\n{"id": "p2", "name": "Re\\udbff\xc3\xa7el", "price": 3}\n' \
           b'{"id": "p3\\ud800", "price": 3}\n{"id": "p4", "price": 1' + b"0" * 5000 + b'}\n'
    r = api.put(f"/v1/shops/{shop.id}/catalog?format=jsonl", content=feed,
                headers={"authorization": f"Bearer {shop.api_key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == 1 and body["rejected"] == 3
    assert [(x["line"], x["field"]) for x in body["rejections"][:2]] == [(2, "name"), (3, "id")]
    assert body["rejections"][2]["line"] == 4


@pytest.mark.parametrize("query,field", [("from=9999-12-31", "from"), ("to=0001-01-01", "to"),
                                         ("from=0001-01-01&to=0001-01-02", "from"), ("from=9000-12-31", None)])
def test_out_of_range_report_dates(api, make_shop, query, field):
    shop = make_shop()
    auth = {"authorization": f"Bearer {shop.api_key}"}
    for fmt in ("", "&format=csv"):
        r = api.get(f"/v1/shops/{shop.id}/report?{query}{fmt}", headers=auth)
        if field is None:
            assert r.status_code == 200, r.text
        else:
            assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text


def test_out_of_range_dashboard_dates_fall_back_to_the_default(cartback_server, make_shop):
    shop = make_shop()
    with httpx.Client(base_url=cartback_server.url, timeout=10) as browser:
        r = browser.post("/dashboard/login", data={"shop": shop.id, "key": shop.api_key})
        assert r.status_code == 303
        for query in ("from=9999-12-31", "to=0001-01-01", "from=0001-01-01&to=9999-12-31", "days=" + "9" * 5000,
                      "days=%C2%B2"):
            page = browser.get("/dashboard?" + query)
            assert page.status_code == 200, (query, page.text[:300])
            csv = browser.get("/dashboard/export.csv?" + query)
            assert csv.status_code == 200 and csv.text.startswith("shop,"), (query, csv.text[:300])

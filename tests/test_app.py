"""server/cartback/app.py: routing, the front door and the app's error answers, as a client sees them.

Routing (405 for other methods, OPTIONS preflight), the error shape and CORS headers on errors
(the front door's paths and the router's alike),
repeated query parameters and headers, the answers' headers, bots, and an unexpected error's 500.
"""

from __future__ import annotations

import json
import socket

from tests.conftest import add_shop

ORIGIN = "http://shop.test"


def post(api, body, **headers):
    return api.post("/v1/events", content=json.dumps(body), headers={"content-type": "text/plain", **headers})


def view(pid: str) -> dict:
    return {"type": "view", "product": {"id": pid, "name": f"Bal {pid}", "url": f"{ORIGIN}/p/{pid}"}}


def visitor_with_history(api, shop) -> str:
    r = post(api, {"shop": shop.id, "events": [view("a"), view("b")]})
    assert r.status_code == 200, r.text
    return r.json()["vid"]


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_other_methods_get_405_in_the_error_shape_and_preflight_still_answers(api):
    for method, path in (("GET", "/v1/events"), ("PUT", "/v1/events"), ("POST", "/v1/empty-cart"),
                         ("DELETE", "/v1/empty-cart")):
        r = api.request(method, path)
        assert r.status_code == 405, (method, path)
        assert r.json()["error"]["code"] == "method_not_allowed" and r.json()["error"]["field"] == "path"
        assert path in r.json()["error"]["message"]
    for path, asked in (("/v1/events", "POST"), ("/v1/empty-cart", "GET")):
        pre = api.options(path, headers={"origin": ORIGIN, "access-control-request-method": asked})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ORIGIN


def test_a_chunked_body_over_the_limit_gets_413_naming_body(api, make_shop, cartback_server):
    shop = make_shop()

    def chunks():  # no Content-Length: the limit holds on the streamed bytes
        yield b'{"shop": "' + shop.id.encode() + b'", "events": [], "pad": "'
        for _ in range(3):
            yield b"y" * 30_000
        yield b'"}'

    r = api.post("/v1/events", content=chunks(), headers={"content-type": "text/plain", "origin": ORIGIN})
    assert r.status_code == 413
    assert r.json()["error"] == {"code": "body_too_large", "message": "body: larger than 65536 bytes",
                                 "field": "body"}

    # Just under the limit, in many small chunks: read whole, and accepted.
    def small():
        yield b'{"shop": "' + shop.id.encode() + b'", "events": [], "pad": "'
        for _ in range(60):
            yield b"y" * 1000
        yield b'"}'

    r = api.post("/v1/events", content=small(), headers={"content-type": "text/plain"})
    assert r.status_code == 200 and r.json()["accepted"] == 0

    # A declared length over the limit is refused before any of the body is sent.
    head = (f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {10 ** 9}\r\n"
            "Connection: close\r\n\r\n").encode()
    answer = raw_request(cartback_server.url, head)
    assert answer.startswith(b"HTTP/1.1 413") and b'"field":"body"' in answer


def test_errors_from_the_hot_endpoints_carry_the_cors_headers(api, make_shop):
    shop = make_shop()
    cors = {"origin": ORIGIN}
    r = post(api, {"shop": shop.id, "events": [{"type": "teleport"}]}, **cors)
    assert r.status_code == 400 and r.json()["error"]["field"] == "events[0].type"
    assert r.headers["access-control-allow-origin"] == ORIGIN and r.headers["vary"] == "Origin"

    r = post(api, {"shop": shop.id, "events": []}, authorization="Bearer wrong", **cors)
    assert r.status_code == 403 and r.json()["error"]["field"] == "authorization"
    assert r.headers["access-control-allow-origin"] == ORIGIN

    bad_ts = {"shop": shop.id, "vid": "x", "ts": "soon"}
    r = api.get("/v1/empty-cart", params=bad_ts, headers={"authorization": f"Bearer {shop.api_key}", **cors})
    assert r.status_code == 400 and r.json()["error"]["field"] == "ts"
    assert r.headers["access-control-allow-origin"] == ORIGIN

    # Before the shop (and so its origins) is known, and for an origin not allowed: no CORS headers.
    r = post(api, {"shop": "no-such-shop", "events": []}, **cors)
    assert r.status_code == 404 and "access-control-allow-origin" not in r.headers
    r = api.get("/v1/empty-cart", params={"shop": shop.id}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in r.headers


def test_answers_have_the_headers_starlette_gave_them(api, make_shop):
    shop = make_shop()
    r = post(api, {"shop": shop.id, "events": [view("a")]}, origin=ORIGIN)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.content == json.dumps(r.json(), ensure_ascii=False, separators=(",", ":")).encode()
    vid = r.json()["vid"]

    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}, headers={"origin": ORIGIN})
    assert r.status_code == 200 and "data-cartback-product" in r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["cache-control"] == "no-store" and r.headers["access-control-allow-origin"] == ORIGIN

    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": "forged"}, headers={"origin": ORIGIN})
    assert r.status_code == 204 and r.content == b""
    assert r.headers["cache-control"] == "no-store" and r.headers["access-control-allow-origin"] == ORIGIN
    assert "content-type" not in r.headers


def test_repeated_query_parameters_and_headers_read_as_before(api, make_shop):
    shop = make_shop()
    vid = visitor_with_history(api, shop)
    # Query parameters: the last of repeated ones (Starlette's QueryParams.get).
    r = api.get(f"/v1/empty-cart?shop=nope&shop={shop.id}&vid=junk&vid={vid}")
    assert r.status_code == 200
    r = api.get(f"/v1/empty-cart?shop={shop.id}&shop=nope&vid={vid}")
    assert r.status_code == 404
    r = api.get(f"/v1/empty-cart?shop={shop.id}&vid={vid}&vid=")
    assert r.status_code == 204
    # Headers: the first of repeated ones (Starlette's Headers.get).
    first_ok = [("origin", ORIGIN), ("origin", "https://evil.example")]
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}, headers=first_ok)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}, headers=first_ok[::-1])
    assert r.status_code == 403


def test_bots_get_no_block_and_are_not_tracked(local_server):
    server = local_server()  # without count_bots
    shop = add_shop(server.db_path, [ORIGIN], settings={"holdout_share": 0})
    api = server.client
    api.headers["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
    vid = visitor_with_history(api, shop)
    assert api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}).status_code == 200
    bot = {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": vid}, headers=bot)
    assert r.status_code == 204 and r.headers["cache-control"] == "no-store"
    r = post(api, {"shop": shop.id, "vid": vid, "events": [view("c")]}, **bot)
    assert r.status_code == 200 and r.json()["accepted"] == 0
    assert r.json()["ignored"] == [{"field": "user-agent", "message": "bots are not tracked"}]


def test_head_and_other_methods_of_the_snippet(cartback_server):
    answer = raw_request(cartback_server.url, b"HEAD /snippet.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                                              b"Connection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-encoding: gzip" in head.lower() and body == b""
    answer = raw_request(cartback_server.url, b"POST /snippet.js HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                              b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405")


def test_block_ids_sort_by_time_and_do_not_repeat():
    import time

    from cartback.endpoints.empty_cart import new_block_id

    first = new_block_id()
    time.sleep(0.002)
    ids = [new_block_id() for _ in range(5000)]
    assert len(set(ids)) == 5000 and all(len(i) == 23 for i in ids)
    assert all(first < i for i in ids)


def test_an_unexpected_error_gets_the_error_shape_500_and_reaches_the_log(tmp_path, monkeypatch, caplog):
    from cartback.app import create_app
    from cartback.config import Settings
    from cartback.endpoints import events
    from starlette.testclient import TestClient

    from tests.conftest import add_shop, new_database

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(events, "apply_events", broken)
    db = new_database(tmp_path)
    app = create_app(Settings(db_path=db, count_bots=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        shop = add_shop(db, [ORIGIN])
        r = post(client, {"shop": shop.id, "events": [view("a")]})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal", "message": "internal error; see the server log"}}
    assert any("unhandled error on POST /v1/events" in rec.getMessage() for rec in caplog.records)


def test_a_workers_app_comes_from_the_settings_in_its_environment(tmp_path, monkeypatch):
    import warnings

    from cartback.app import app_from_env
    from cartback.config import WORKER_SETTINGS_ENV, Settings
    from cartback.ingest import SHARED_TTL, memo
    from cartback.serve_lock import AlreadyServed, ServeLock

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from starlette.testclient import TestClient

    db = str(tmp_path / "w.db")
    monkeypatch.setenv(WORKER_SETTINGS_ENV, Settings(db_path=db, shared=True, count_bots=True).to_json())
    parent = ServeLock(db, shared=True)
    parent.acquire()  # the parent `cartback serve --workers N` holds it shared, as its workers do
    try:
        with TestClient(app_from_env()) as client:
            services = client.app.state.services
            assert services.db.shared and services.db.products.ttl == 1.0 and memo.products.ttl == SHARED_TTL
            shop = add_shop(tmp_path / "w.db", [ORIGIN])
            assert post(client, {"shop": shop.id, "events": [view("a")]}).status_code == 200
        try:
            ServeLock(db).probe()
        except AlreadyServed:
            pass
        else:
            raise AssertionError("a server alone could start beside the workers")
    finally:
        parent.release()
        memo.configure(False)

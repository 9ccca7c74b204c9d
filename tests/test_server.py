"""`cartback serve` against slow and stalled clients, behind a proxy, with a full disk (issue 12;
server/cartback/server.py, endpoints/health.py). What needs uvicorn runs a server of its own on
127.0.0.1; the rest runs the app in process (conftest.LocalServer)."""

from __future__ import annotations

import os
import re
import socket
import time

import httpx
import pytest

from tests.conftest import ServerProcess, add_shop, new_database, sqlite_only


@pytest.fixture
def serve(tmp_path):
    started: list[ServerProcess] = []

    def start(*extra: str) -> ServerProcess:
        server = ServerProcess(new_database(tmp_path, f"s{len(started)}.db"), *extra)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def open_fds(server: ServerProcess) -> int:
    assert server.proc is not None
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.mark.slow  # 80 sockets and a header deadline of 1.5 s
@pytest.mark.timeout(60)
def test_slow_header_clients_are_cut_off_and_cannot_take_all_connections(serve):
    server = serve("--max-connections", "40", "--header-timeout", "1.5")
    baseline = open_fds(server)
    slow: list[socket.socket] = []
    try:
        for _ in range(80):  # twice the cap, each sending a request line and then nothing
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        time.sleep(0.3)
        # Past the cap, connections are closed on arrival: the process never holds more sockets.
        assert open_fds(server) <= baseline + 40 + 2
        # The header deadline holds however slowly the headers trickle.
        trickling = slow[0]
        for _ in range(4):
            try:
                trickling.sendall(b"X")
            except OSError:
                break
            time.sleep(0.5)
        assert all(closed_by_server(s, 3.0) for s in slow)
        # And the server answers again as soon as they are gone.
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    finally:
        for s in slow:
            s.close()


@pytest.mark.slow  # a socket-level stall; test_http.py checks the 408 in process
@pytest.mark.timeout(60)
def test_a_body_that_stalls_gets_408_and_a_good_request_still_works(serve):
    server = serve("--body-timeout", "1", "--rate-limit", "0")
    shop = add_shop(server.db_path, ["http://shop.test"])
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\n"
                  b'{"shop": ')
        s.settimeout(5)
        answer = b""
        while b"}}" not in answer:  # the status line and the body may come in separate segments
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"field":"body"' in answer
    r = httpx.post(server.url + "/v1/events", json={"shop": shop.id, "events": [{"type": "view", "product": "p"}]})
    assert r.status_code == 200


def _login(client: httpx.Client, shop, **headers) -> httpx.Response:
    return client.post("/dashboard/login", data={"shop": shop.id, "key": shop.api_key}, headers=headers)


def test_forwarded_headers_count_only_from_a_trusted_proxy(serve):
    plain = serve("--address-limit", "5")
    shop = add_shop(plain.db_path, ["http://shop.test"])
    with httpx.Client(base_url=plain.url, timeout=10) as client:
        # Rotating X-Forwarded-For buys nothing when no proxy is trusted: one address, one allowance.
        statuses = [client.get("/v1/empty-cart", params={"shop": shop.id},
                               headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code for i in range(7)]
        assert statuses[:5] == [204] * 5 and statuses[5:] == [429, 429]
        # Nor does a forged X-Forwarded-Proto earn a Secure cookie.
        r = _login(client, shop, **{"x-forwarded-proto": "https"})
        assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()

    proxied = serve("--address-limit", "5", "--trusted-proxy", "127.0.0.1")
    shop = add_shop(proxied.db_path, ["http://shop.test"])
    with httpx.Client(base_url=proxied.url, timeout=10) as client:
        statuses = [client.get("/v1/empty-cart", params={"shop": shop.id},
                               headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code for i in range(7)]
        assert statuses == [204] * 7  # seven visitors behind the proxy
        r = _login(client, shop, **{"x-forwarded-proto": "https"})
        assert r.status_code == 303
        cookies = r.headers.get_list("set-cookie")
        assert cookies and all("secure" in c.lower() for c in cookies), cookies


def test_sign_out_ends_the_session_on_the_server(local_server):
    server = local_server()
    shop = add_shop(server.db_path, ["http://shop.test"])
    browser = server.client
    assert _login(browser, shop).status_code == 303
    stolen = browser.cookies.get("cartback_session")

    def copy_of_the_cookie() -> None:
        browser.cookies.clear()
        browser.cookies.set("cartback_session", stolen)

    copy_of_the_cookie()
    page = browser.get("/dashboard")
    assert page.status_code == 200  # the copy works while the session lives
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert browser.post("/dashboard/logout", data={"csrf": csrf}).status_code == 303
    copy_of_the_cookie()
    r = browser.get("/dashboard")
    assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/login")
    assert browser.get(f"/v1/shops/{shop.id}/report").status_code == 401


@sqlite_only  # --max-db-mb caps a SQLite file's pages; PostgreSQL's disk is its operator's
@pytest.mark.timeout(120)
def test_a_full_database_answers_503_and_healthz_says_so(local_server):
    server = local_server(max_db_mb=1, rate_limit_per_minute=0)
    client = server.client
    shop = add_shop(server.db_path, ["http://shop.test"], settings={"holdout_share": 0})
    first = client.post("/v1/events", json={"shop": shop.id, "events": [
        {"type": "view", "product": {"id": "keep", "name": "Bal", "url": "http://shop.test/keep"}}]}).json()["vid"]
    assert client.get("/healthz").status_code == 200
    answer = None
    for n in range(200):  # ~100 KB a request: a 1 MiB cap is full long before the end
        events = [{"type": "view", "product": {"id": f"p{n}-{i}", "name": "x" * 290, "category": "y" * 190}}
                  for i in range(100)]
        answer = client.post("/v1/events", json={"shop": shop.id, "events": events})
        if answer.status_code != 200:
            break
    assert answer is not None and answer.status_code == 503, answer and answer.text
    error = answer.json()["error"]
    assert error["code"] == "storage_unavailable" and error["field"] == "database"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["error"]["field"] == "database", health.text
    assert "full" in health.json()["error"]["message"]
    # What was acknowledged before is still there and still served.
    assert client.get("/v1/empty-cart", params={"shop": shop.id, "vid": first}).status_code == 200


def test_visitor_tokens_stay_out_of_the_access_log(tmp_path):
    server = ServerProcess(new_database(tmp_path, "log.db"), "--log-level", "debug", log=tmp_path / "serve.log").start()
    try:
        shop = add_shop(server.db_path, ["http://shop.test"])
        vid = httpx.post(server.url + "/v1/events", json={"shop": shop.id, "events": []}).json()["vid"]
        assert httpx.get(server.url + "/v1/empty-cart", params={"shop": shop.id, "vid": vid}).status_code == 204
    finally:
        server.stop()
    log = server.output()
    assert "/v1/empty-cart?shop=" in log, log[-2000:]
    assert vid not in log and vid.split(".")[0] not in log

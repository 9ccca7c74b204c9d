"""Browser fixtures: one headless Chromium per session, a fresh context per test, and the shop's own
pages served from another origin than the widget server (as on a real shop).

Fixtures other browser tests may use (names are kept stable):
- `browser`: the session's Chromium (sync Playwright).
- `page`: a page in a fresh browser context (own storage and cookies), closed after the test.
- `page_errors`: uncaught errors and unhandled rejections raised in `page`.
- `static_site`: tests/browser/pages on a free 127.0.0.1 port; `static_site.page(name, **params)`;
  GET /cart/* there is a fake cart API (`cart_calls` records, `cart_refuses` makes it answer 409).
- `traffic`: every request `page`'s context makes, with helpers for the snippet's wire traffic.
- `dead_endpoint` / `silent_endpoint`: a closed port, and a port that accepts and never answers.

Pages are templates: `{{name}}` is the HTML-escaped query parameter `name`, `{{!name}}` the raw one
(for JSON-LD), `{{snippet}}` the install tag built from `widget`, `shop`, and optional `endpoint`,
`consent`, `locale`; `{{stub}}` the inline queue stub. A `csp` parameter adds a strict
Content-Security-Policy that allows only the page itself and the widget host.
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CARTBACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAGES = Path(__file__).resolve().parent / "pages"
STUB = "<script>window.cartback=window.cartback||function(){(cartback.q=cartback.q||[]).push(arguments)}</script>"


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install it (apt-get install chromium) or set CARTBACK_CHROMIUM")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(20_000)  # generous: CI machines run other suites alongside
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_errors(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


# ---------------------------------------------------------------- the shop's site


def snippet_tag(params: dict[str, str]) -> str:
    attrs = [f'src="{html.escape(params.get("widget", ""))}/snippet.js"',
             f'data-shop="{html.escape(params.get("shop", ""))}"']
    for name in ("endpoint", "consent", "locale"):
        if params.get(name):
            attrs.append(f'data-{name}="{html.escape(params[name])}"')
    return f"<script async {' '.join(attrs)}></script>"


def csp_header(widget: str) -> str:
    return (f"default-src 'self'; script-src {widget}; connect-src {widget}; style-src 'self' {widget}; "
            f"img-src 'self' {widget}")


def render_page(text: str, params: dict[str, str]) -> str:
    def fill(m: re.Match) -> str:
        raw, name = m.group(1) == "!", m.group(2)
        if name == "snippet":
            return snippet_tag(params)
        if name == "stub":
            return STUB
        value = params.get(name, "")
        # Raw values go inside <script> elements: only a closing tag could break out.
        return value.replace("</", "<\\/") if raw else html.escape(value)

    return re.sub(r"\{\{(!?)(\w+)\}\}", fill, text)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path.startswith("/cart/"):
            self._cart(parts.path, params)
            return
        name = parts.path.lstrip("/") or "index.html"
        path = (PAGES / name).resolve()
        if PAGES not in path.parents or not path.is_file():
            self._send(404, b"not found", "text/plain")
            return
        body = path.read_bytes()
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = {}
        if path.suffix == ".html":
            body = render_page(body.decode("utf-8"), params).encode("utf-8")
            ctype = "text/html; charset=utf-8"
            if "csp" in params:
                headers["Content-Security-Policy"] = csp_header(params.get("widget", ""))
        self._send(200, body, ctype, headers)

    def _cart(self, path: str, params: dict[str, str]) -> None:
        """The shop's own cart API, as a restore_url template calls it: recorded, and refused (409)
        when a query value is in `cart_refuses`."""
        site = self.server.site
        site.cart_calls.append({"path": path, "query": params, "cookie": self.headers.get("Cookie", "")})
        refused = any(v in site.cart_refuses for v in params.values())
        self._send(409 if refused else 200, b'{"ok": false}' if refused else b'{"ok": true}', "application/json")

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class StaticSite:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.site = self
        # /cart/*: a fake cart API (tests of the restore button reset these).
        self.cart_calls: list[dict] = []
        self.cart_refuses: set[str] = set()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, name: str, /, **params) -> str:
        return f"{self.url}/{name}" + ("?" + urlencode(params) if params else "")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def static_site():
    site = StaticSite()
    yield site
    site.close()


# ---------------------------------------------------------------- widget endpoints that misbehave


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_endpoint() -> str:
    """An origin whose port nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture
def silent_endpoint():
    """An origin that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


# ---------------------------------------------------------------- what the page sends


class Traffic:
    """Requests seen by one browser context, in the order the browser issued them."""

    def __init__(self, page) -> None:
        self.page = page
        self.log: list[tuple[str, object]] = []  # ("request" | "finished" | "failed", Request)
        page.context.on("request", lambda r: self.log.append(("request", r)))
        page.context.on("requestfinished", lambda r: self.log.append(("finished", r)))
        page.context.on("requestfailed", lambda r: self.log.append(("failed", r)))

    @property
    def requests(self) -> list:
        return [r for kind, r in self.log if kind == "request"]

    def to(self, origin: str) -> list:
        """Requests to an origin, the snippet's own download excepted."""
        return [r for r in self.requests if r.url.startswith(origin + "/") and "/snippet.js" not in r.url]

    def posts(self) -> list:
        return [r for r in self.requests if r.method == "POST" and urlsplit(r.url).path == "/v1/events"]

    @staticmethod
    def body(request) -> dict:
        return json.loads(request.post_data)

    def events(self) -> list[dict]:
        return [e for r in self.posts() for e in self.body(r)["events"]]

    def events_of(self, kind: str) -> list[dict]:
        return [e for e in self.events() if e["type"] == kind]

    def block_requests(self) -> list:
        return [r for r in self.requests if urlsplit(r.url).path == "/v1/empty-cart"]

    def finished(self, request) -> bool:
        return ("finished", request) in self.log or ("failed", request) in self.log

    def index(self, kind: str, request) -> int:
        return next(i for i, (k, r) in enumerate(self.log) if k == kind and r is request)

    def wait(self, predicate, timeout: float = 15.0, what: str = "condition"):
        """Poll `predicate` while letting the browser's events through; its first truthy value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                seen = [(k, r.method, r.url) for k, r in self.log]
                raise AssertionError(f"timed out waiting for {what}; traffic: {seen}")
            self.page.wait_for_timeout(20)

    def wait_events(self, count: int, kind: str | None = None, timeout: float = 15.0) -> list[dict]:
        pick = (lambda: self.events_of(kind)) if kind else self.events
        self.wait(lambda: len(pick()) >= count, timeout, f"{count} {kind or ''} event(s)")
        return pick()

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until every request seen so far has finished or failed."""
        self.wait(lambda: all(self.finished(r) for r in self.requests), timeout, "requests to finish")


@pytest.fixture
def traffic(page) -> Traffic:
    return Traffic(page)


# ---------------------------------------------------------------- a shop using the widget


class Storefront:
    """One shop on the real widget server, with its pages on the static site."""

    def __init__(self, page, site: StaticSite, widget: str, shop) -> None:
        self.page, self.site, self.widget, self.shop = page, site, widget, shop
        self.token_key = f"cartback:{shop.id}"

    def url(self, name: str, /, **params) -> str:
        return self.site.page(name, widget=self.widget, shop=self.shop.id, **params)

    def open(self, name: str, /, **params):
        self.page.goto(self.url(name, **params))
        return self.page

    def product(self, pid: str, **fields) -> dict:
        return {"id": pid, "name": f"Bal {pid}", "price": 249.9, "currency": "TRY",
                "url": f"{self.site.url}/product.html?id={pid}", "image": f"{self.site.url}/img/product.svg",
                "category": "Bal", "in_stock": True, **fields}

    def token(self) -> str | None:
        return self.page.evaluate("k => { try { return localStorage.getItem(k) } catch (e) { return null } }",
                                  self.token_key)

    def wait_token(self) -> str:
        self.page.wait_for_function("k => localStorage.getItem(k)", arg=self.token_key)
        return self.token()

    def browse(self, *products: dict) -> str:
        """Views products on a plain page the way a product page would; returns the visitor token."""
        self.open("blank.html")
        with self.page.expect_response(lambda r: r.url.endswith("/v1/events") and r.request.method == "POST") as info:
            self.page.evaluate("ps => ps.forEach(p => cartback('view', p))", list(products))
        answer = info.value.json()
        assert answer["accepted"] == len(products), answer
        return self.wait_token()


@pytest.fixture
def storefront(page, static_site, cartback_server, make_shop):
    """storefront(selector=None, locale='tr', settings=None) -> Storefront; no holdout unless asked."""

    def make(selector: str | None = None, locale: str = "tr", settings: dict | None = None) -> Storefront:
        shop = make_shop(origins=[static_site.url], selector=selector, locale=locale,
                         settings={"holdout_share": 0, **(settings or {})})
        return Storefront(page, static_site, cartback_server.url, shop)

    return make

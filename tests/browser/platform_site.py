"""A fake shop of one platform for the adapter tests: its pages (tests/browser/pages/platforms/) and
the part of its cart API an adapter talks to, on one 127.0.0.1 origin, as on a real shop.

Each test module gives the platform's routes: `api(site, request) -> (status, body, headers) | None`.
The cart lives in `site.cart` (whatever shape the platform needs); `site.requests` logs every API
call the browser made ((method, path, query, body, headers)), so tests can assert what a restore
posted. Pages are templates as in conftest.render_page, plus `{{!state}}`: the site's
`page_state()` JSON (the platform's cart as the page would embed it). pages/platforms/vendor/
holds the platforms' scripts: jQuery 3.6.1 (MIT, as Debian's libjs-jquery ships it), which
WooCommerce, Magento and PrestaShop themes run on and the adapters must work with, and small
stand-ins for platform modules (Magento's customer-data).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.browser.conftest import render_page

PAGES = Path(__file__).resolve().parent / "pages"
PLATFORM_PAGES = PAGES / "platforms"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """A urlencoded or multipart (FormData) body as a dict."""
        ctype = self.headers.get("content-type", "")
        if "multipart/form-data" in ctype:
            boundary = ctype.split("boundary=")[1].encode()
            fields = {}
            for part in self.body.split(b"--" + boundary):
                head, _, value = part.partition(b"\r\n\r\n")
                name = re.search(rb'name="([^"]+)"', head)
                if name:
                    fields[name.group(1).decode()] = value.rstrip(b"\r\n").decode()
            return fields
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Site:
    api: Callable[[Site, Request], tuple | None]
    page_state: Callable[[Site], Any] = lambda site: None
    cart: Any = None
    extra: dict = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, path_part: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_part in r.path]


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), body,
                              {k.lower(): v for k, v in self.headers.items()})
            if parts.path.endswith(".html"):
                return self._page(parts.path, request.query)
            if parts.path.startswith("/img/"):
                return self._send(200, (PAGES / "img" / "product.svg").read_bytes(), {"Content-Type": "image/svg+xml"})
            if parts.path.startswith("/vendor/"):  # the platforms' own libraries (jQuery)
                return self._send(200, (PLATFORM_PAGES / parts.path.lstrip("/")).read_bytes(),
                                  {"Content-Type": "text/javascript"})
            with site.lock:
                site.requests.append(request)
                answer = site.api(site, request)
            if answer is None:
                return self._send(404, b'{"code":"not_found"}', {"Content-Type": "application/json"})
            status, body, *more = answer
            headers = more[0] if more else {}
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            self._send(status, body.encode() if isinstance(body, str) else body,
                       {"Content-Type": "application/json", **headers})

        def _page(self, path: str, params: dict[str, str]) -> None:
            file = (PLATFORM_PAGES / path.lstrip("/")).resolve()
            if PLATFORM_PAGES not in file.parents or not file.is_file():
                return self._send(404, b"not found", {"Content-Type": "text/plain"})
            with site.lock:
                state = json.dumps(site.page_state(site))
            text = render_page(file.read_text("utf-8").replace("{{!state}}", state.replace("</", "<\\/")), params)
            self._send(200, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, *args) -> None:
            pass

    return Handler


class PlatformSite:
    """The fake shop on a free port; a context manager that stops it."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
        self.server.daemon_threads = True
        site.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self) -> Site:
        return self.site

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Flow:
    """One shop of a platform on the real widget server, its pages on the fake site."""

    BLOCK = ".cartback[data-cartback-block]"

    def __init__(self, page, traffic, site: Site, widget: str, make_shop, seed_catalog, platform: str,
                 products: dict[str, tuple[str, float]]) -> None:
        self.page, self.traffic, self.site, self.widget = page, traffic, site, widget
        self.make_shop, self.seed_catalog, self.platform, self.products = make_shop, seed_catalog, platform, products
        self.shop = None

    def make(self, catalog_id=lambda pid: pid, selector: str | None = None, **settings):
        """The shop names its platform (and maybe an id_field); its catalog, imported as usual, is
        keyed by catalog_id(product id) (a SKU for id_field=sku)."""
        self.shop = self.make_shop(origins=[self.site.url], selector=selector, locale="en",
                                   settings={"platform": self.platform, **settings})
        self.seed_catalog(self.shop, [
            {"id": catalog_id(pid), "name": name, "price": price, "currency": "TRY",
             "url": f"{self.site.url}/products/{pid}", "image": f"{self.site.url}/img/{pid}.svg", "in_stock": True}
            for pid, (name, price) in self.products.items()])
        return self.shop

    def url(self, name: str, /, **params) -> str:
        return f"{self.site.url}/{name}?" + urlencode({"widget": self.widget, "shop": self.shop.id, **params})

    def adapter_ready(self, condition: str = "!/native code/.test(window.fetch.toString())") -> None:
        """The adapter was fetched (the config named it) and has run (what it hooks is hooked)."""
        self.traffic.wait(lambda: any(f"/snippet/{self.platform}.js" in r.url and self.traffic.finished(r)
                                      for r in self.traffic.requests), what=f"the {self.platform} adapter")
        self.page.wait_for_function(condition)

    def wait_block(self):
        self.page.wait_for_selector(self.BLOCK, state="attached")
        return self.page.locator(self.BLOCK)

    def section_ids(self, key: str) -> list[str]:
        return self.page.locator(f'{self.BLOCK} [data-section="{key}"] [data-cartback-product]').evaluate_all(
            "cards => cards.map(c => c.dataset.cartbackProduct)")

    def sent(self) -> None:
        """Every event POST so far answered: a first visitor's token arrives with the first answer,
        and leaving the page before it would make the next page a stranger's."""
        self.traffic.wait(lambda: all(self.traffic.finished(r) for r in self.traffic.posts()), what="events sent")

    def goto(self, name: str, /, **params) -> None:
        """Go to another page of the shop, as a visitor would, once what this page sent has arrived."""
        self.sent()
        self.page.goto(self.url(name, **params))

"""`cartback demo`: the widget server and a small honey shop on another origin, with sample data.

The shop ("Kovan & Çiçek", made up) is what marketers use to preview the block and what QA and the
browser tests drive: product pages with schema.org JSON-LD, a client-side cart that expires after
24 hours, favourites, a checkout, and a demo toolbar that moves the shop's clock 24 hours ahead.

Pages are rendered here with Jinja2 from `demo_site/templates/`; everything the browser runs or
shows lives in `demo_site/static/`. Both servers run in one asyncio loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlencode

import uvicorn

from babel.numbers import format_decimal
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import i18n
from .config import Settings, asset_dir
from .render import format_price

SHOP_ID = "demo"
SITE_DIR = Path(os.environ.get("CARTBACK_DEMO_SITE") or asset_dir("demo_site"))
LOCALES = ("tr", "en")
LANG_COOKIE = "kovan_lang"
LOOPBACK = ("127.0.0.1", "localhost")
SAMPLE_PREFIX = "sample-"


# --- catalog --------------------------------------------------------------------------------------

def load_catalog(path: Path | None = None) -> list[dict[str, Any]]:
    """The demo products as stored: relative `url` and `image` paths."""
    path = path or SITE_DIR / "catalog.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def expand_urls(products: Iterable[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    """Absolute `url` and `image` on the demo shop's origin (what a real feed carries)."""
    origin = origin.rstrip("/")
    out = []
    for p in products:
        q = dict(p)
        for key in ("url", "image"):
            if q.get(key, "").startswith("/"):
                q[key] = origin + q[key]
        out.append(q)
    return out


def import_catalog(conn: sqlite3.Connection, shop: str, products: list[dict[str, Any]]) -> int:
    """Import the demo products as the shop's catalog, through the merchant's import path
    (`cartback.catalog.import_stream`, JSON lines, full feed: a product dropped from the file becomes
    unavailable). Returns the number of products imported."""
    from .catalog import import_stream

    feed = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in products).encode("utf-8")
    result = import_stream(conn, shop, io.BytesIO(feed), fmt="jsonl", full=True)
    if result.rejected:
        raise RuntimeError(f"demo catalog rejected: {result.rejections}")
    return result.created + result.updated


# --- shop and sample data -------------------------------------------------------------------------

def shop_origins(host: str, shop_port: int) -> list[str]:
    hosts = [h for h in (host, "localhost", "127.0.0.1") if h not in ("0.0.0.0", "::", "")]
    return list(dict.fromkeys(f"http://{h}:{shop_port}" for h in hosts))


# A marketer previewing the block must always see it: no control group in the demo (one can still
# turn it on with `cartback shop set demo holdout_share=0.1`). `--simulate` keeps the default share,
# since its uplift report needs a holdout group.
DEMO_SETTINGS: dict[str, Any] = {"holdout_share": 0}


def ensure_shop(conn: sqlite3.Connection, origins: list[str],
                settings: dict[str, Any] | None = DEMO_SETTINGS) -> str | None:
    """Create the shop `demo` when missing (returns its new API key); otherwise make sure the
    current origins are allowed (the ports may differ from the last run) and return None.
    `settings` are applied at creation, and later only where the shop has no value of its own."""
    from .db import transaction
    from .shops import create_shop, get_shop, normalize_origin, update_settings

    shop = get_shop(conn, SHOP_ID)
    if shop is None:
        return transaction(conn, create_shop, SHOP_ID, origins, None, "tr", "TRY", settings or {})
    stored = json.loads(conn.execute("SELECT settings FROM shops WHERE id = ?", (SHOP_ID,)).fetchone()[0])
    missing_settings = {k: v for k, v in (settings or {}).items() if k not in stored}
    if missing_settings:
        transaction(conn, update_settings, SHOP_ID, missing_settings)
    wanted = [normalize_origin(o) for o in origins]
    missing = [o for o in wanted if o and o not in shop.origins]
    if missing:
        # shops.py has no origin editor yet; the demo only ever adds its own loopback origins.
        merged = sorted(set(shop.origins) | set(missing))
        transaction(conn, lambda c: c.execute("UPDATE shops SET origins = ? WHERE id = ?",
                                              (json.dumps(merged), SHOP_ID)))
    return None


# Shoppers who came before: they give "you may also like" something to learn from and the report
# something to show. Groups of products people tend to look at together.
_INTERESTS = [
    (["KB-1003", "KB-2001", "KB-4002", "KB-1004", "KB-3002"], 5),   # breakfast table
    (["KB-1001", "KB-1002", "KB-2002", "KB-1008"], 4),              # dark, strong honey
    (["KB-3001", "KB-3004", "KB-3002", "KB-1007", "KB-3003"], 3),   # health shelf
    (["KB-4001", "KB-4002", "KB-1005", "KB-1006"], 2),              # gifts
]


def seed_sample_shoppers(conn: sqlite3.Connection, shop_id: str, products: list[dict[str, Any]], *,
                         visitors: int = 90, days: int = 14, seed: int = 7, now: float | None = None) -> int:
    """Browsing histories of made-up earlier visitors (vid `sample-NNN`), written through the same
    ingest code as real events. Runs once per database; returns the number of events written."""
    from .db import transaction
    from .ingest import apply_events
    from .shops import get_shop
    from .validation import parse_event

    if conn.execute("SELECT 1 FROM visitors WHERE shop = ? AND vid LIKE ? LIMIT 1",
                    (shop_id, SAMPLE_PREFIX + "%")).fetchone():
        return 0
    shop = get_shop(conn, shop_id)
    assert shop is not None
    rng = random.Random(seed)
    now = now or time.time()
    price = {p["id"]: p["price"] for p in products}
    product_ids = list(price)
    known = set(product_ids)
    groups = [([p for p in ids if p in known], w) for ids, w in _INTERESTS]
    groups = [(ids, w) for ids, w in groups if ids]
    weights = [w for _, w in groups]

    def write_all(c: sqlite3.Connection) -> int:
        count = 0
        for n in range(visitors):
            ids = rng.choices(groups, weights)[0][0]
            seen = rng.sample(ids, k=min(len(ids), rng.randint(2, 4)))
            if rng.random() < 0.3:
                seen.append(rng.choice(product_ids))
            ts = now - rng.uniform(3600, days * 86400)
            raw: list[dict[str, Any]] = []
            for pid in dict.fromkeys(seen):
                ts += rng.uniform(20, 240)
                raw.append({"type": "view", "product": pid, "ts": ts})
            carted = {e["product"]: rng.choice([1, 1, 1, 2]) for e in raw if rng.random() < 0.4}
            for pid, qty in carted.items():
                ts += rng.uniform(10, 60)
                raw.append({"type": "add", "product": pid, "qty": qty, "ts": ts})
            if raw and rng.random() < 0.2:
                ts += 30
                raw.append({"type": "favorite", "product": raw[0]["product"], "ts": ts})
            if carted and rng.random() < 0.35:
                ts += rng.uniform(60, 600)
                items = [{"id": pid, "qty": qty, "price": price[pid]} for pid, qty in carted.items()]
                raw.append({"type": "purchase", "order_id": f"SAMPLE-{n:04d}", "currency": "TRY", "ts": ts,
                            "total": round(sum(i["price"] * i["qty"] for i in items), 2), "items": items})
            events = [parse_event(r, f"sample[{i}]", shop, []) for i, r in enumerate(raw)]
            apply_events(c, shop_id, f"{SAMPLE_PREFIX}{n:03d}", events, ts, new_visitor=True, trust_ts=True)
            count += len(events)
        return count

    return transaction(conn, write_all)


# --- the shop's web app ---------------------------------------------------------------------------

def _money_template(locale: str, currency: str = "TRY") -> str:
    """How the shop's script formats an amount: `₺{n}` with the number in the locale's digits."""
    sample = format_price(1234.5, currency, locale)
    number = format_decimal(1234.5, format="#,##0.00", locale=i18n.BABEL_LOCALES.get(locale, locale))
    return sample.replace(number, "{n}") if number in sample else "{n} " + currency


class DemoShop:
    """Catalog, texts and page context for the demo shop."""

    def __init__(self, products: list[dict[str, Any]], texts: dict[str, Any]) -> None:
        self.products = products
        self.by_slug = {p["url"].rstrip("/").rsplit("/", 1)[-1]: p for p in products}
        self.texts = texts
        self.categories = texts["categories"]

    def category_label(self, name: str, locale: str) -> str:
        return self.categories.get(name, {}).get(locale, name)

    def view(self, p: dict[str, Any], locale: str) -> dict[str, Any]:
        """A product with what the templates show: local path, price text, labels."""
        path = "/" + p["url"].split("://", 1)[-1].split("/", 1)[-1]
        return {
            **p,
            "path": path,
            "slug": path.rsplit("/", 1)[-1],
            "price_text": format_price(p["price"], p["currency"], locale),
            "category_label": self.category_label(p["category"], locale),
            "category_slug": self.categories.get(p["category"], {}).get("slug", ""),
            "description": self.texts["products"].get(p["id"], {}).get(locale, ""),
        }

    def client_data(self, locale: str) -> str:
        """The JSON the shop's script reads: catalog, texts and money format."""
        catalog = {
            p["id"]: {k: p[k] for k in ("id", "name", "price", "currency", "url", "image", "category", "in_stock")}
            | {"price_text": format_price(p["price"], p["currency"], locale)}
            for p in self.products
        }
        data = {"locale": locale, "money": _money_template(locale), "t": self.texts["ui"][locale],
                "catalog": catalog}
        # Safe inside <script type="application/json">: no "</script>" can appear.
        return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _locale_of(request: Request) -> str:
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LOCALES:
            return value
    return "tr"


def create_demo_app(products: list[dict[str, Any]], *, widget_port: int, canonical_origin: str | None = None,
                    site_dir: Path | None = None) -> Starlette:
    """The demo shop. `products` carry absolute URLs; `widget_port` is where the widget server
    listens on the same host name the browser used for the shop."""
    site_dir = site_dir or SITE_DIR
    texts = json.loads((site_dir / "texts.json").read_text(encoding="utf-8"))
    shop = DemoShop(products, texts)
    templates = Jinja2Templates(directory=str(site_dir / "templates"))
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        locale = _locale_of(request)
        widget = f"{request.url.scheme}://{request.url.hostname}:{widget_port}"
        base = {
            "locale": locale,
            "t": texts["ui"][locale],
            "widget": widget,
            "dashboard": widget + "/dashboard",
            "shop_id": SHOP_ID,
            "client_data": shop.client_data(locale),
            "categories": [{"slug": v["slug"], "label": v[locale]} for v in shop.categories.values()],
            "path": request.url.path,
            "current_category": None,
        }
        response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
        response.headers["cache-control"] = "no-store"
        return response

    async def home(request: Request) -> Response:
        locale = _locale_of(request)
        slug = request.query_params.get("c")
        items = [shop.view(p, locale) for p in shop.products]
        current = None
        if slug:
            items = [p for p in items if p["category_slug"] == slug] or items
            current = next((c for c in shop.categories.values() if c["slug"] == slug), None)
        return page(request, "home.html", products=items,
                    current_category=current["slug"] if current else None,
                    heading=current[locale] if current else texts["ui"][locale]["grid_title"])

    async def product(request: Request) -> Response:
        p = shop.by_slug.get(request.path_params["slug"])
        if p is None:
            raise HTTPException(404)
        locale = _locale_of(request)
        v = shop.view(p, locale)
        json_ld = {
            "@context": "https://schema.org",
            "@type": "Product",
            "@id": p["url"],
            "sku": p["id"],
            "productID": p["id"],
            "name": p["name"],
            "image": p["image"],
            "url": p["url"],
            "category": p["category"],
            "description": v["description"],
            "brand": {"@type": "Brand", "name": texts["ui"]["tr"]["shop_name"]},
            "offers": {
                "@type": "Offer",
                "url": p["url"],
                "price": f"{p['price']:.2f}",
                "priceCurrency": p["currency"],
                "availability": "https://schema.org/" + ("InStock" if p["in_stock"] else "OutOfStock"),
            },
        }
        return page(request, "product.html", p=v, current_category=v["category_slug"],
                    json_ld=json.dumps(json_ld, ensure_ascii=False).replace("<", "\\u003c"))

    async def cart(request: Request) -> Response:
        return page(request, "cart.html")

    async def favorites(request: Request) -> Response:
        locale = _locale_of(request)
        return page(request, "favorites.html", products=[shop.view(p, locale) for p in shop.products])

    async def old_cart_path(request: Request) -> Response:
        return RedirectResponse("/sepet", status_code=301)

    async def not_found(request: Request, exc: Exception) -> Response:
        return page(request, "404.html", status=404)

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/p/{slug}", product),
            Route("/sepet", cart),
            Route("/cart", old_cart_path),
            Route("/favoriler", favorites),
            Mount("/static", StaticFiles(directory=str(site_dir / "static")), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    return _DemoMiddleware(app, canonical_origin)


class _DemoMiddleware:
    """Two small duties around the shop app:

    - `?lang=tr|en` stores the language in a cookie and redirects to the clean URL;
    - a loopback alias (localhost vs 127.0.0.1) redirects to the origin the catalog URLs use, so a
      visitor's cart, favourites and Cartback id (all in that origin's localStorage) stay one.
    """

    def __init__(self, app: Starlette, canonical_origin: str | None) -> None:
        self.app = app
        self.canonical = canonical_origin.rstrip("/") if canonical_origin else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            origin = f"{request.url.scheme}://{request.url.netloc}"
            if (self.canonical and origin != self.canonical and request.url.hostname in LOOPBACK
                    and self.canonical.split("://", 1)[1].split(":")[0] in LOOPBACK):
                await RedirectResponse(self.canonical + str(request.url).split(origin, 1)[1],
                                       status_code=307)(scope, receive, send)
                return
            lang = request.query_params.get("lang")
            if lang in LOCALES and request.method == "GET" and not request.url.path.startswith("/static"):
                params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
                target = request.url.path + ("?" + urlencode(params) if params else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- `cartback demo` ------------------------------------------------------------------------------

def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, uvicorn on a socket handed over under plain asyncio
    # waits on Nagle + delayed ACK: ~40 ms a request instead of under 1 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # now, so a second bind to the same port fails here, not in uvicorn
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _public_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cartback demo",
                                description="Run the widget server and the demo honey shop (another origin).")
    p.add_argument("--host", default="127.0.0.1", help="address both servers listen on; default %(default)s")
    p.add_argument("--port", type=int, default=8000, help="widget server port (0 = any free); default %(default)s")
    p.add_argument("--shop-port", type=int, default=8001,
                   help="demo shop port, a different origin (0 = any free); default %(default)s")
    p.add_argument("--db", default="cartback-demo.db", help="SQLite file (created when missing); default %(default)s")
    p.add_argument("--log-level", default="warning", help="uvicorn log level; default %(default)s")
    p.add_argument("--simulate", nargs="?", type=int, const=3000, metavar="VISITORS",
                   help="fill the demo shop with a simulated quarter of traffic through the HTTP API "
                        "(VISITORS shoppers, default 3000; a new database only)")
    return p


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal handling: the demo stops both servers on one Ctrl-C."""

    def capture_signals(self):  # type: ignore[override]
        return contextlib.nullcontext()


async def _run(widget_app, shop_app, widget_sock: socket.socket, shop_sock: socket.socket,
               log_level: str, banner: str) -> None:
    servers = [
        _Server(uvicorn.Config(widget_app, log_level=log_level, access_log=log_level == "debug",
                               timeout_graceful_shutdown=3)),
        _Server(uvicorn.Config(shop_app, log_level=log_level, access_log=log_level == "debug", lifespan="off",
                               timeout_graceful_shutdown=3)),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    tasks = [asyncio.ensure_future(servers[0].serve(sockets=[widget_sock])),
             asyncio.ensure_future(servers[1].serve(sockets=[shop_sock]))]
    while not all(s.started for s in servers):
        done = [t for t in tasks if t.done()]
        if done:
            stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                t.result()
            raise RuntimeError("a server stopped during start-up")
        await asyncio.sleep(0.02)
    print(banner, flush=True)
    await asyncio.gather(*tasks)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `cartback demo -- --port …` (argparse REMAINDER keeps the separator)
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    from .app import create_app
    from .db import connect_sync

    try:
        widget_sock = _bind(args.host, args.port)
        shop_sock = _bind(args.host, args.shop_port)
    except OSError as exc:
        print(f"cartback demo: cannot listen on {args.host}: {exc} (try --port / --shop-port)", file=sys.stderr)
        return 1
    port, shop_port = widget_sock.getsockname()[1], shop_sock.getsockname()[1]
    public = _public_host(args.host)
    shop_url = f"http://{public}:{shop_port}"
    widget_url = f"http://{public}:{port}"

    conn = connect_sync(args.db)
    try:
        api_key = ensure_shop(conn, shop_origins(args.host, shop_port), {} if args.simulate else DEMO_SETTINGS)
        catalog = expand_urls(load_catalog(), shop_url)
        imported = import_catalog(conn, SHOP_ID, catalog)
        sampled = seed_sample_shoppers(conn, SHOP_ID, catalog)
    finally:
        conn.close()

    if api_key:
        print(f"Shop {SHOP_ID!r} created. API key (shown once, keep it secret):\n{api_key}")
    else:
        print(f"Shop {SHOP_ID!r} already exists in {args.db} (its API key was printed when it was created).")
    print(f"Catalog: {imported} products." + (f" Sample shoppers: {sampled} events." if sampled else ""))
    if args.simulate:
        from .simulate import start_in_background
        start_in_background(widget_url, SHOP_ID, api_key, visitors=args.simulate, dashboard_url=f"{widget_url}/dashboard")

    settings = Settings(db_path=args.db, host=args.host, port=port, count_bots=True)
    widget_app = create_app(settings)
    shop_app = create_demo_app(catalog, widget_port=port, canonical_origin=shop_url)
    banner = (f"\nDemo shop:     {shop_url}/\n"
              f"Widget server: {widget_url}\n"
              f"Dashboard:     {widget_url}/dashboard\n"
              f"Press Ctrl-C to stop.")
    try:
        asyncio.run(_run(widget_app, shop_app, widget_sock, shop_sock, args.log_level, banner))
    except KeyboardInterrupt:
        pass
    finally:
        widget_sock.close()
        shop_sock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

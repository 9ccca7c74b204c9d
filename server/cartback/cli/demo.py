"""`cartback demo`: the widget server and a small honey shop on another origin, with sample data.

Its options, its messages and its banner (the URLs to open, which tests read back); the shop itself
is `cartback.demo`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..config import Settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cartback demo",
                                description="Run the widget server and the demo honey shop (another origin).")
    p.add_argument("--host", default="127.0.0.1", help="address both servers listen on; default %(default)s")
    p.add_argument("--port", type=int, default=8000, help="widget server port (0 = any free); default %(default)s")
    p.add_argument("--shop-port", type=int, default=8001,
                   help="demo shop port, a different origin (0 = any free); default %(default)s")
    p.add_argument("--db", default="cartback-demo.db",
                   help="SQLite file (created when missing) or a postgresql:// URL; default %(default)s")
    p.add_argument("--log-level", default="warning", help="uvicorn log level; default %(default)s")
    p.add_argument("--simulate", nargs="?", type=int, const=3000, metavar="VISITORS",
                   help="fill the demo shop with a simulated quarter of traffic through the HTTP API "
                        "(VISITORS shoppers, default 3000; a new database only)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `cartback demo -- --port …` (argparse REMAINDER keeps the separator)
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    from ..app import create_app
    from ..demo import SHOP_ID, create_demo_app, prepare, shop_origins
    from ..demo.servers import bind, public_host, serve_both
    from ..pg import is_postgres
    from ..serve_lock import AlreadyServed, ServeLock

    if not is_postgres(args.db):  # PostgreSQL takes any number of servers (docs/SCALING.md)
        try:
            ServeLock(args.db).probe()
        except AlreadyServed as exc:
            print(f"cartback demo: error: {exc}", file=sys.stderr)
            return 2
    try:
        widget_sock = bind(args.host, args.port)
        shop_sock = bind(args.host, args.shop_port)
    except OSError as exc:
        print(f"cartback demo: error: cannot listen on {args.host}: {exc} (try --port / --shop-port)", file=sys.stderr)
        return 1
    port, shop_port = widget_sock.getsockname()[1], shop_sock.getsockname()[1]
    public = public_host(args.host)
    shop_url = f"http://{public}:{shop_port}"
    widget_url = f"http://{public}:{port}"

    seeded = prepare(args.db, shop_origins(args.host, shop_port), shop_url, simulate=bool(args.simulate))
    if seeded.api_key:
        print(f"Shop {SHOP_ID!r} created. API key (shown once, keep it secret):\n{seeded.api_key}")
    else:
        print(f"Shop {SHOP_ID!r} already exists in {args.db} (its API key was printed when it was created).")
    print(f"Catalog: {seeded.imported} products."
          + (f" Sample shoppers: {seeded.sampled} events." if seeded.sampled else ""))
    if args.simulate:
        from ..simulate import start_in_background

        start_in_background(widget_url, SHOP_ID, seeded.api_key, visitors=args.simulate,
                            dashboard_url=f"{widget_url}/dashboard", out=lambda line: print(line, flush=True))

    settings = Settings(db_path=args.db, host=args.host, port=port, count_bots=True)
    widget_app = create_app(settings)
    shop_app = create_demo_app(seeded.catalog, widget_port=port, canonical_origin=shop_url)
    banner = (f"\nDemo shop:     {shop_url}/\n"
              f"Widget server: {widget_url}\n"
              f"Dashboard:     {widget_url}/dashboard\n"
              f"Press Ctrl-C to stop.")
    try:
        asyncio.run(serve_both(widget_app, shop_app, widget_sock, shop_sock, args.log_level,
                               lambda: print(banner, flush=True)))
    except KeyboardInterrupt:
        pass
    finally:
        widget_sock.close()
        shop_sock.close()
    return 0

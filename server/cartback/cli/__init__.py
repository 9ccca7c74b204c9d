"""`cartback …`: serve, shop, catalog, report, db, demo, evaluate."""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sqlite3
import sys
from collections.abc import Callable

from ..config import REPO_ROOT, Settings
from ..connection import connect_sync, storage_problem, transaction
from ..errors import ApiError
from ..pg import is_postgres
from ..shops import ID_FIELDS, PLATFORMS

DEFAULT_DB = "cartback.db"


def _fail(prog: str, message: str) -> None:
    """Every command's errors in argparse's own form, `PROG: error: MESSAGE`."""
    print(f"{prog}: error: {message}", file=sys.stderr)


def _existing(path: str) -> str:
    """Commands that work on existing shops never create an empty database by mistake (a wrong
    --db or working folder would otherwise answer "no shop" and leave a stray file behind)."""
    if path != ":memory:" and not is_postgres(path) and not os.path.isfile(path):
        raise ApiError(404, "no_database", f"--db: no database at {os.path.abspath(path)!r} (create a shop with "
                                           "`cartback shop add`, or pass the right --db)", "db")
    return path


def _serve(args: argparse.Namespace) -> int:
    from ..serve_lock import AlreadyServed, ServeLock
    from ..server import run

    if args.workers < 1:
        raise ApiError(400, "bad_request", f"--workers: at least 1, not {args.workers}", "workers")
    settings = Settings(db_path=args.db, host=args.host, port=args.port, templates_dir=args.templates,
                        count_bots=args.count_bots, rate_limit_per_minute=args.rate_limit,
                        address_limit_per_minute=args.address_limit,
                        key_failures_per_minute=args.key_failure_limit, max_db_mb=args.max_db_mb,
                        body_timeout=args.body_timeout, max_browser_products=args.max_browser_products,
                        max_visitors=args.max_visitors, max_visitor_items=args.max_visitor_items,
                        confirm_pages=args.confirm_pages)
    # PostgreSQL takes any number of servers; a SQLite file one `cartback serve` (with its workers).
    lock = None if is_postgres(args.db) else ServeLock(args.db, shared=args.workers > 1)
    try:
        if lock is not None:
            lock.acquire()
    except AlreadyServed as exc:
        _fail("cartback serve", str(exc))
        return 2
    try:
        if args.workers == 1 and lock is not None:
            lock.release()  # the one serving process takes it again as its database starts (db.Database)
        else:
            # Held here (shared, as the workers hold it) for the whole run: no server alone starts
            # on the file between two workers' lives. The schema is brought up to date here once:
            # workers starting together would each try.
            try:
                connect_sync(args.db).close()
            except Exception as exc:
                if not isinstance(exc, sqlite3.Error) and storage_problem(exc) is None:
                    raise
                _fail("cartback serve", f"--db: cannot open {args.db}: {storage_problem(exc) or exc}")
                return 2
        workers = f", {args.workers} workers" if args.workers > 1 else ""
        print(f"Cartback on http://{args.host}:{args.port}  (database {args.db}{workers})", flush=True)
        if args.workers > 1 and (args.rate_limit or args.address_limit or args.key_failure_limit):
            # Sharing the counts would put a write on every request (docs/SCALING.md).
            print(f"Rate limits are counted in each worker: a client whose requests reach all {args.workers} "
                  f"may get up to {args.workers} times --rate-limit, --address-limit and --key-failure-limit.",
                  flush=True)
        return run(settings, args.log_level, args.trusted_proxy, args.max_connections, args.header_timeout,
                   args.workers)
    finally:
        if lock is not None:
            lock.release()


def _shop_add(args: argparse.Namespace) -> int:
    from ..shops import create_shop

    conn = connect_sync(args.db)
    settings = {"platform": args.platform} if args.platform else {}
    if args.id_field:
        settings["id_field"] = args.id_field
    key = transaction(conn, create_shop, args.shop, args.origin, args.selector, args.locale, args.currency, settings)
    print(f"Shop {args.shop!r} created. API key (shown once, keep it secret):")
    print(key)
    return 0


def _shop_key(args: argparse.Namespace) -> int:
    from ..shops import rotate_key

    if not args.rotate:
        # Only a hash is stored: nobody, the server included, can show the key again.
        _fail("cartback shop key", f"the API key of {args.shop!r} cannot be shown again (only its hash is "
                                   "stored); run with --rotate for a new one (the old one stops working)")
        return 2
    key = transaction(connect_sync(_existing(args.db)), rotate_key, args.shop)
    print(f"New API key for shop {args.shop!r} (shown once; the old key and its dashboard sessions no longer work):")
    print(key)
    return 0


def _shop_set(args: argparse.Namespace) -> int:
    from ..shops import update_settings

    changes = {}
    for pair in args.settings:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ApiError(400, "bad_request", f"setting: write NAME=VALUE, not {pair!r}", "setting")
        try:
            changes[name] = json.loads(raw)
        except json.JSONDecodeError:
            changes[name] = raw
    shop = transaction(connect_sync(_existing(args.db)), update_settings, args.shop, changes)
    print(json.dumps(shop.settings, indent=2, ensure_ascii=False))
    return 0


def _catalog_import(args: argparse.Namespace) -> int:
    from .catalog import cli_import

    return cli_import(_existing(args.db), args.shop, args.file, args.format, args.full)


def _report(args: argparse.Namespace) -> int:
    from .report import cli_report

    _existing(args.db)
    return cli_report(args)


def _db_copy(args: argparse.Namespace) -> int:
    from .db import cli_copy

    return cli_copy(args.source, args.target)


def _forward(target: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if target == "demo":
            from .demo import main as demo_main

            return demo_main(args.rest)
        script = REPO_ROOT / "bench" / "evaluate.py"
        if not script.is_file():  # an installed wheel: the evaluation and its click logs are not shipped
            _fail("cartback evaluate", f"runs from a source checkout ({script} is missing)")
            return 2
        module = runpy.run_path(str(script), run_name="cartback_evaluate")
        return int(module["main"](args.rest))
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cartback", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", default=DEFAULT_DB, help="SQLite file (created when missing) or a postgresql:// URL; "
                                                     "default %(default)s")
        return p

    serve = with_db(sub.add_parser("serve", help="run the widget server"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--templates", help="folder of templates overriding the built-in ones by name")
    serve.add_argument("--count-bots", action="store_true",
                       help="track self-declared bots and headless browsers (for your own browser tests)")
    serve.add_argument("--rate-limit", type=int, default=600, help="browser calls per visitor a minute; 0 = off")
    serve.add_argument("--address-limit", type=int, default=3000,
                       help="browser calls (events, blocks) per client address a minute, token or not; 0 = off")
    serve.add_argument("--key-failure-limit", type=int, default=20,
                       help="wrong API keys per client address a minute before it gets 429; 0 = off")
    serve.add_argument("--trusted-proxy", action="append", metavar="ADDR",
                       help="a reverse proxy (address or CIDR, repeatable) whose X-Forwarded-For and "
                            "X-Forwarded-Proto are believed; nobody's are without it (docs/DEPLOY.md)")
    serve.add_argument("--max-connections", type=int,
                       help="open connections at most (default 1000, always below the descriptor limit)")
    serve.add_argument("--header-timeout", type=float, default=10.0,
                       help="seconds a request's headers may take to arrive (slow clients); default %(default)s")
    serve.add_argument("--body-timeout", type=float, default=15.0,
                       help="seconds a request's body may take to arrive; default %(default)s")
    serve.add_argument("--max-browser-products", type=int, default=50_000,
                       help="per shop: products outside the catalog that browsers may create; the least "
                            "recently reported are evicted past it (default %(default)s; 0 = no cap)")
    serve.add_argument("--max-visitors", type=int, default=2_000_000,
                       help="per shop: visitors kept; the least recently seen are evicted past it "
                            "(default %(default)s; 0 = no cap)")
    serve.add_argument("--max-visitor-items", type=int, default=1_000,
                       help="per visitor: products remembered; the least recent are dropped past it "
                            "(default %(default)s; the block reads the newest 200)")
    serve.add_argument("--confirm-pages", action="store_true",
                       help="fetch the shop's own page of a product a browser reports (outside the catalog) and "
                            "show its JSON-LD details to every visitor; without it they stay the reporter's")
    serve.add_argument("--max-db-mb", type=float,
                       help="cap the database file at this many MiB; past it writes answer 503 (default: no cap)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes on the one port (default %(default)s): more use more cores; "
                            "the parent supervises them and restarts one that dies (docs/DEPLOY.md)")
    serve.add_argument("--log-level", default="warning")
    serve.set_defaults(func=_serve)

    shop = sub.add_parser("shop", help="manage shops").add_subparsers(dest="shop_command", required=True)
    add = with_db(shop.add_parser("add", help="create a shop and print its API key"))
    add.add_argument("shop")
    add.add_argument("--origin", action="append", required=True, help="allowed page origin (repeatable)")
    add.add_argument("--selector", help="empty-cart CSS selector, or a preset: shopify, woocommerce, magento, "
                                        "prestashop, opencart")
    add.add_argument("--platform", choices=PLATFORMS,
                     help="track the platform's own cart with no code (and use its empty-cart preset)")
    add.add_argument("--id-field", choices=ID_FIELDS, help="which id the catalog uses (default: product)")
    add.add_argument("--locale", default="tr", choices=["tr", "en"])
    add.add_argument("--currency", default="TRY")
    add.set_defaults(func=_shop_add)
    key = with_db(shop.add_parser("key", help="a new API key for a lost or leaked one (--rotate)"))
    key.add_argument("shop")
    key.add_argument("--rotate", action="store_true", help="make a new key; the old one stops working")
    key.set_defaults(func=_shop_key)
    setp = with_db(shop.add_parser("set", help="change per-shop settings, e.g. max_block=6 sections='[\"viewed\"]'"))
    setp.add_argument("shop")
    setp.add_argument("settings", nargs="+", metavar="NAME=VALUE")
    setp.set_defaults(func=_shop_set)

    cat = sub.add_parser("catalog", help="the merchant's products").add_subparsers(dest="catalog_command",
                                                                                   required=True)
    imp = with_db(cat.add_parser("import", help="import CSV, JSON lines or a Google Merchant feed"))
    imp.add_argument("shop")
    imp.add_argument("file")
    imp.add_argument("--format", choices=["csv", "jsonl", "xml"])
    imp.add_argument("--full", action="store_true", help="a full feed: products missing from it become unavailable")
    imp.set_defaults(func=_catalog_import)

    rep = with_db(sub.add_parser("report", help="measured results in the terminal"))
    rep.add_argument("shop")
    rep.add_argument("--from", dest="date_from")
    rep.add_argument("--to", dest="date_to")
    rep.add_argument("--csv", action="store_true", help="CSV instead of a table")
    rep.set_defaults(func=_report)

    dbp = sub.add_parser("db", help="the database as a whole").add_subparsers(dest="db_command", required=True)
    copy = dbp.add_parser("copy", help="copy a whole database into an empty one: SQLite to PostgreSQL or back",
                          description="Copy every row of FROM into TO, which must be empty, then compare their "
                                      "row counts and every shop's report. FROM may be served meanwhile: it is "
                                      "read as one snapshot. Exit 0 equal, 1 failed or different, 2 refused.")
    copy.add_argument("source", metavar="FROM", help="SQLite file or postgresql:// URL")
    copy.add_argument("target", metavar="TO", help="SQLite file (created when missing) or postgresql:// URL")
    copy.set_defaults(func=_db_copy)

    for name, text in (("demo", "widget server and demo shop with sample data"),
                       ("evaluate", "replay the real click logs and print HR@8 / MRR@8")):
        p = sub.add_parser(name, help=text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=_forward(name))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # demo and evaluate own their options; argparse.REMAINDER would not pass options that come first.
    if argv[:1] in (["demo"], ["evaluate"]):
        return _forward(argv[0])(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ApiError as exc:
        _fail("cartback", exc.message)
        return 2
    except KeyboardInterrupt:
        return 130

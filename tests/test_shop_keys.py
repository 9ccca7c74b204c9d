"""Every row belongs to a shop, and every statement on those rows says which (issue 11: the tables can
be distributed by shop, e.g. with Citus, and no query of the serving paths runs across shops).

The schema: every table but `shops` and `meta` has a `shop` column, and every index leads with it.
The statements: everything the ingest, the block, the render log, the report, the visitor export
and erasure, retention, a catalog import and the dashboard's lockout ran on a real file, traced,
names the shop.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time

from cartback.catalog import import_stream
from cartback.connection import transaction
from cartback.dashboard import lockout
from cartback.ingest import apply_events, empty_cart
from cartback.privacy import erase_visitor, export_visitor, run_retention
from cartback.renders import record_blocks
from cartback.report import build_report
from cartback.shops import get_shop, update_settings
from cartback.store import compute_block
from cartback.validation import parse_batch

from tests.conftest import POSTGRES, UNIT_SHOP, sqlite_only, table_names

SHOP_TABLES = ("events", "blocks", "visitor_items", "visitors", "products", "rec_neighbours", "rec_products",
               "daily_counts", "rec_log", "sign_in_failures")
ORIGIN = "http://shop.test"


def _columns_and_index_leads(conn, table: str) -> tuple[list[str], dict[str, str]]:
    """The table's columns, and the first column of each index but a single-column primary key's
    (blocks.id: SQLite's automatic index, PostgreSQL's <table>_pkey)."""
    if not POSTGRES:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        indexes = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                              "AND name NOT LIKE 'sqlite_autoindex%'", (table,))]
        return columns, {index: conn.execute(f"PRAGMA index_info({index})").fetchone()[2] for index in indexes}
    columns = [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_schema = current_schema() AND table_name = ?", (table,))]
    leads = conn.execute(
        "SELECT i.relname, a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
        "WHERE t.relname = ? AND t.relnamespace = CAST(current_schema() AS regnamespace) "
        "AND NOT (x.indisprimary AND x.indnatts = 1)", (table,)).fetchall()
    return columns, dict(leads)


def test_every_table_but_the_shop_list_is_keyed_by_shop_and_every_index_leads_with_it(conn):
    # cartback_schema: the schema's version on PostgreSQL (SQLite's PRAGMA user_version).
    assert [t for t in table_names(conn) if t != "cartback_schema"] == sorted((*SHOP_TABLES, "shops", "meta"))
    for table in SHOP_TABLES:
        columns, leads = _columns_and_index_leads(conn, table)
        assert "shop" in columns, table
        for index, first in leads.items():
            assert first == "shop", (table, index)


def _events(n: int) -> list[dict]:
    pid = f"p{n}"
    return [
        {"type": "view", "product": {"id": pid, "name": "Bal", "url": f"{ORIGIN}/{pid}", "price": 10}},
        {"type": "add", "product": pid, "qty": 2},
        {"type": "favorite", "product": pid},
        {"type": "unfavorite", "id": pid},
        {"type": "cart", "items": [{"id": pid, "qty": 1}]},
        {"type": "remove", "id": pid},
        {"type": "impression", "block": "b" * 23},
        {"type": "click", "block": "b" * 23, "id": pid, "section": "cart"},
        {"type": "restore", "block": "b" * 23, "items": [{"id": pid, "qty": 1}]},
        {"type": "purchase", "order_id": "A-1", "total": 10, "currency": "TRY",
         "items": [{"id": pid, "qty": 1, "price": 10}]},
    ]


@sqlite_only  # traced with SQLite's trace callback; the SQL is the same on PostgreSQL
def test_every_statement_on_a_shops_rows_names_the_shop(conn):
    shop = get_shop(conn, UNIT_SHOP)
    assert shop is not None
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    now = time.time()
    conn.execute("BEGIN")
    for n in range(3):
        vid = f"v{n}"
        batch = parse_batch({"shop": shop.id, "events": _events(n)}, shop, 100)
        apply_events(conn, shop.id, vid, batch.events, now, True, False)
        # The order again, from the shop's back end: it confirms the browser's figures.
        apply_events(conn, shop.id, vid, batch.events[-1:], now, False, True)
        apply_events(conn, shop.id, vid, parse_batch({"shop": shop.id, "events": [{"type": "add", "product": "q"}]},
                                                     shop, 100).events, now, False, False)
        empty_cart(conn, shop.id, vid, now)
        record_blocks(conn, [(f"{n:023d}", shop.id, vid, now, "tr", 0, '[{"key":"cart","ids":["q"]}]')])
    conn.execute("COMMIT")
    compute_block(conn, shop.id, "v0", shop.settings)
    today = dt.datetime.now(dt.UTC).date()
    build_report(conn, shop, today - dt.timedelta(days=30), today)
    export_visitor(conn, shop.id, "v1")
    transaction(conn, erase_visitor, shop.id, "v1")
    transaction(conn, update_settings, shop.id, {"retention_days": 30})
    transaction(conn, run_retention, now + 100 * 86400)
    import_stream(conn, shop.id, io.BytesIO(b"id,name,price\np0,Bal,10\nnew,Yeni,5\n"), default_currency="TRY",
                  full=True)
    for device in (None, "d1"):  # a wrong key on the dashboard, then a sign-in
        attempt = lockout.Attempt.of("secret", shop.id, "192.0.2.1", device)
        lockout.locked_for(conn, attempt, now)
        transaction(conn, lockout.fail, attempt, now)
        transaction(conn, lockout.succeed, attempt)
    conn.set_trace_callback(None)

    # Values left out (the trace shows them bound): a key such as 'cap:products:s1' names no table.
    plain = [re.sub(r"'(?:[^']|'')*'", "?", " ".join(s.split())) for s in statements]
    touched = [s for s in plain if any(re.search(rf"\b{t}\b", s) for t in SHOP_TABLES)
               and not s.upper().startswith(("CREATE", "DROP", "PRAGMA"))]
    assert len(touched) > 100
    without = sorted({s[:160] for s in touched if not re.search(r"\bshop\b", s)})
    assert without == [], without
    # A row named by its id alone would be found on any shop's node.
    by_id = sorted({s[:160] for s in touched if re.search(r"WHERE id = ", s)})
    assert by_id == [], by_id

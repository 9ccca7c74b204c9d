"""Writing an import's rows: 500-row upserts in the writer's transactions, the feed's ids kept in a
temp table (duplicates, `full`), and `full=True` marking the shop's absent catalog products out of
stock. Runs in the server's writer thread or the CLI's transaction."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any

from ..connection import Connection, transaction
from ..products import bump_catalog, products_of
from .fields import UpsertParams

# One row on its way to the writer: (line, id, the upsert's values; None for a rejected row whose
# id still counts as present in the feed).
PendingRow = tuple[int, str, UpsertParams | None]
# (line, id, line of the id's first row) of an id the feed had already given.
Duplicate = tuple[int, str, int]

_UPSERT = """
INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, group_id, source, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'catalog', ?11)
ON CONFLICT (shop, id) DO UPDATE SET
    name = CASE WHEN ?12 = 1 THEN excluded.name ELSE products.name END,
    price = CASE WHEN ?13 = 1 THEN excluded.price ELSE products.price END,
    currency = CASE WHEN ?13 = 1 THEN excluded.currency ELSE products.currency END,
    url = CASE WHEN ?14 = 1 THEN excluded.url ELSE products.url END,
    image = CASE WHEN ?15 = 1 THEN excluded.image ELSE products.image END,
    category = CASE WHEN ?16 = 1 THEN excluded.category ELSE products.category END,
    group_id = CASE WHEN ?17 = 1 THEN excluded.group_id ELSE products.group_id END,
    in_stock = excluded.in_stock,
    restocked_at = CASE WHEN excluded.in_stock = 1 AND products.in_stock = 0 THEN excluded.updated_at
                        ELSE products.restocked_at END,
    source = 'catalog',
    updated_at = excluded.updated_at
"""


def create_seen(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(f"CREATE TEMP TABLE {table} (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")


def drop_seen(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def write_chunk(conn: Connection, shop: str, table: str, items: list[PendingRow],
                now: float) -> tuple[int, int, int, list[Duplicate]]:
    """Returns (created, updated, ids new to this feed, duplicates). A few batches per chunk, not a
    statement per row: on PostgreSQL each statement would be a round trip."""
    ids = list(dict.fromkeys(pid for _, pid, _ in items))
    # The first row of an id wins; later ones are duplicates, whether in this chunk or an earlier one.
    found = conn.select_each(f"SELECT line FROM temp.{table} WHERE id = ?", [(pid,) for pid in ids])
    first_line = {pid: row[0] for pid, row in zip(ids, found, strict=True) if row is not None}
    fresh: list[PendingRow] = []
    duplicates: list[Duplicate] = []
    for line, pid, params in items:
        if pid in first_line:
            if params is not None:  # a rejected row was reported as rejected already
                duplicates.append((line, pid, first_line[pid]))
            continue
        first_line[pid] = line
        fresh.append((line, pid, params))
    conn.executemany(f"INSERT INTO temp.{table} (id, line) VALUES (?, ?)", [(pid, line) for line, pid, _ in fresh])
    valid = [(pid, params) for _, pid, params in fresh if params is not None]
    existing = sum(row is not None for row in conn.select_each(
        "SELECT 1 FROM products WHERE shop = ? AND id = ?", [(shop, pid) for pid, _ in valid]))
    conn.executemany(_UPSERT, [(shop, *params[:9], now, *params[9:]) for _, params in valid])
    products_of(conn).invalidate(shop, [pid for pid, _ in valid])
    bump_catalog(conn, shop)
    return len(valid) - existing, existing, len(fresh), duplicates


def mark_unavailable(conn: sqlite3.Connection, shop: str, table: str, expected: int, now: float) -> int:
    held = conn.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
    if held != expected:  # the ids were not all kept (chunks written on another connection?): do not guess
        return -1
    absent = f"shop = ? AND source = 'catalog' AND id NOT IN (SELECT id FROM temp.{table})"
    count: int = conn.execute(f"SELECT count(*) FROM products WHERE {absent}", (shop,)).fetchone()[0]
    conn.execute(f"UPDATE products SET in_stock = 0, updated_at = ? WHERE {absent} AND in_stock != 0", (now, shop))
    products_of(conn).invalidate(shop)
    bump_catalog(conn, shop)
    return count


Writer = Callable[..., Any]


def connection_writer(conn: sqlite3.Connection) -> Writer:
    """A writer over a plain connection (CLI, tests): each call is one immediate transaction."""
    return functools.partial(transaction, conn)

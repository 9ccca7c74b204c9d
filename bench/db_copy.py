"""`cartback db copy` between SQLite and PostgreSQL, both ways, on a generated database (issue 11).

    python bench/db_copy.py                      # 1,000,000 events; PostgreSQL at 127.0.0.1:5432, trust auth
    python bench/db_copy.py --events 200000 --pg postgresql://user@host/postgres

Writes a scratch SQLite file (one shop, `--events` events over 90 days, a visitor per 10 events, a
block per 10 events, three visitor_items per visitor) straight with executemany, creates a
PostgreSQL database of its own, copies SQLite → PostgreSQL → a second SQLite file with
`dbcopy.copy_database`, and prints per direction the rows copied, the copy's rows/s, and the
check's seconds (row counts and the shop's report on both sides). Everything is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time

from cartback.connection import connect_sync, transaction
from cartback.dbcopy import copy_database
from cartback.shops import create_shop
from pgscratch import scratch_database

TYPES = ["add", "add", "cart", "impression", "impression", "click", "remove", "purchase"]


def generate(path: str, events: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    conn = connect_sync(path)
    transaction(conn, create_shop, "bench", ["https://bench.example"])
    now = time.time()
    start = now - 90 * 86400
    visitors, products = max(events // 10, 1), 2000
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO products (shop, id, name, price, currency, url, source, updated_at) "
                     "VALUES ('bench', ?, ?, ?, 'TRY', ?, 'catalog', ?)",
                     [(f"p{n}", f"Product {n}", 10 + n % 500, f"https://bench.example/p/{n}", now)
                      for n in range(products)])
    conn.executemany("INSERT INTO visitors (shop, vid, first_seen, last_seen) VALUES ('bench', ?, ?, ?)",
                     [(f"v{n}", start, now) for n in range(visitors)])
    conn.executemany("INSERT INTO visitor_items (shop, vid, product_id, views, last_at) VALUES ('bench', ?, ?, 1, ?)",
                     [(f"v{n}", f"p{(n * 7 + k) % products}", now) for n in range(visitors) for k in range(3)])
    conn.executemany("INSERT INTO blocks (id, shop, vid, ts, locale, sections) VALUES (?, 'bench', ?, ?, 'tr', ?)",
                     [(f"b{n}", f"v{n % visitors}", start + n * 777 % (90 * 86400),
                       '[{"key": "cart", "ids": ["p1", "p2"]}]') for n in range(events // 10)])
    rows = []
    for n in range(events):
        kind = TYPES[n % len(TYPES)]
        pid = f"p{rng.randrange(products)}"
        ts = start + rng.random() * 90 * 86400
        block = f"b{rng.randrange(max(events // 10, 1))}" if kind in ("impression", "click") else None
        order = f"o{n}" if kind == "purchase" else None
        value = 100.0 if kind == "purchase" else None
        data = json.dumps({"items": [{"id": pid, "qty": 1}]}) if kind == "purchase" else None
        rows.append((f"v{rng.randrange(visitors)}", ts, kind, pid, 1, block, "cart" if block else None, order,
                     value, data))
        if len(rows) == 50_000:
            conn.executemany("INSERT INTO events (shop, vid, ts, type, product_id, qty, block_id, section, order_id, "
                             "value, data) VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows.clear()
    if rows:
        conn.executemany("INSERT INTO events (shop, vid, ts, type, product_id, qty, block_id, section, order_id, "
                         "value, data) VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()


def timed_copy(source: str, target: str, label: str) -> None:
    started = time.monotonic()
    result = copy_database(source, target)
    total = time.monotonic() - started
    print(f"{label}: {result.total:,} rows ({result.rows['events']:,} events) copied in {result.seconds:.1f} s = "
          f"{result.total / result.seconds:,.0f} rows/s; with the check {total:.1f} s; "
          f"differences: {len(result.differences)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://root@127.0.0.1:5432/postgres", help="an admin URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first, back = os.path.join(tmp, "source.db"), os.path.join(tmp, "back.db")
        started = time.monotonic()
        generate(first, args.events)
        print(f"generated {first}: {os.path.getsize(first) / 2**20:.0f} MiB in {time.monotonic() - started:.1f} s",
              flush=True)
        with scratch_database(args.pg, "cartback_bench_copy") as url:
            timed_copy(first, url, "SQLite -> PostgreSQL")
            timed_copy(url, back, "PostgreSQL -> SQLite")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A catalog import's rows per second on SQLite and on PostgreSQL, side by side.

    python bench/catalog_import.py                     # 20,000 products; PostgreSQL at 127.0.0.1:5432
    python bench/catalog_import.py --rows 100000 --pg postgresql://user@host/postgres

Writes a CSV feed like a honey shop's (ten columns, one product in seven out of stock), imports it
into an empty SQLite file and an empty PostgreSQL database of its own (every product created), then
again with `full=True` (every product updated, none missing), and prints rows/s for each and
PostgreSQL's time as a ratio to SQLite's. Everything is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from cartback.catalog import import_stream
from cartback.connection import connect_sync, transaction
from cartback.shops import create_shop
from pgscratch import scratch_database


def write_feed(path: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,name,price,currency,url,image,category,in_stock,group_id,description\n")
        for i in range(n):
            f.write(f'P{i:06d},"Çiçek Balı {i} – 850 g",{100 + i % 900}.90,TRY,https://shop.test/p/{i},'
                    f'https://cdn.shop.test/img/{i}.jpg,Bal > Çiçek,{"yes" if i % 7 else "no"},G{i // 4},'
                    f'"Doğal süzme bal, katkısız. Ürün no {i}."\n')


def run(target: str, feed: str, rows: int) -> tuple[float, float]:
    conn = connect_sync(target)
    try:
        transaction(conn, create_shop, "bench", ["https://shop.test"])
        timings = []
        for full in (False, True):
            started = time.perf_counter()
            with open(feed, "rb") as f:
                result = import_stream(conn, "bench", f, default_currency="TRY", full=full)
            timings.append(time.perf_counter() - started)
            assert result.rows == rows and result.rejected == 0, result.to_dict()
        return timings[0], timings[1]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--pg", default="postgresql://root@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database where this user may create another")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cartback-bench-") as folder:
        feed = os.path.join(folder, "feed.csv")
        write_feed(feed, args.rows)
        lite = run(os.path.join(folder, "bench.db"), feed, args.rows)
        with scratch_database(args.pg) as url:
            pg = run(url, feed, args.rows)
    print(f"{args.rows:,} products (CSV), python {sys.version.split()[0]}")
    print(f"{'':24}{'SQLite rows/s':>15}{'PostgreSQL rows/s':>20}{'PG time / SQLite':>18}")
    for label, a, b in (("first import (created)", lite[0], pg[0]), ("again, full (updated)", lite[1], pg[1])):
        print(f"{label:24}{args.rows / a:>15,.0f}{args.rows / b:>20,.0f}{b / a:>18.2f}")


if __name__ == "__main__":
    main()

"""The block's cost as the database grows (issue 11): the same visitors' blocks over a file holding
10 thousand stored events and over one holding 10 million, CPU per block, side by side.

    python bench/volume.py                                # 10,000 and 10,000,000 stored events
    python bench/volume.py --sizes 10000,1000000 --keep /tmp/volume   # keep the files
    python bench/volume.py --sizes 10000,1000000 --db postgresql://root@127.0.0.1:5432/postgres

For each size, a new database through the real migrations (a SQLite file; with --db, a PostgreSQL
database created from that server's admin database and dropped afterwards): the shop and
200-product catalog of bench/throughput.py, then `size` events from filler visitors of 20 events
each (15 views, 3 cart adds, 1 favourite, 1 purchase of an added product; a year of timestamps),
parsed by `validation.parse_batch` and written by `ingest.apply_events` as the server writes them,
then the 200 probe visitors of throughput.py (47 views, 2 adds, the cart emptied). The probes' blocks
are then computed as GET /v1/empty-cart computes them, in this process: `Database.read_block(
store.compute_block)` (on the calling thread for SQLite, in a reader thread for PostgreSQL) and
`Renderer.block`, one after the other in rounds over all 200. Per round: the CPU per block (this
process, plus on PostgreSQL its backends for this database) and the wall time per block; the
medians of the rounds are printed. The HTTP part of a request does not depend on the database's
size and is left out. The fill takes a few minutes for 10 million events in SQLite (about 34,000 a
second); PostgreSQL fills several times slower (one round trip per statement).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "bench")]

import throughput as tp  # noqa: E402 - bench/ is on the path only now
from cartback.connection import connect_sync  # noqa: E402
from cartback.db import Database  # noqa: E402
from cartback.ingest import apply_events  # noqa: E402
from cartback.render import Renderer  # noqa: E402
from cartback.shops import get_shop  # noqa: E402
from cartback.store import compute_block  # noqa: E402
from cartback.validation import parse_batch  # noqa: E402
from workers import backend_cpu, no_backends, postgres_target  # noqa: E402

YEAR = 365 * 86400.0
FILLER_EVENTS = 20
PROBES = 200


def filler_session(rng: random.Random, products: list[dict[str, Any]], start: float) -> list[dict[str, Any]]:
    in_stock = [p for p in products if p["in_stock"]]
    seen = rng.sample(products, 15)
    carted = rng.sample(in_stock, 3)
    ts = start
    events: list[dict[str, Any]] = []
    for p in seen:
        ts += rng.uniform(10, 120)
        events.append({**tp.view_event(p), "ts": ts})
    for p in carted:
        ts += rng.uniform(10, 60)
        events.append({"type": "add", "product": p["id"], "qty": 1, "ts": ts})
    events.append({"type": "favorite", "product": rng.choice(seen)["id"], "ts": ts + 5})
    bought = carted[0]
    events.append({"type": "purchase", "order_id": f"o{start:.3f}-{rng.random():.9f}", "total": bought["price"],
                   "currency": "TRY", "items": [{"id": bought["id"], "qty": 1, "price": bought["price"]}],
                   "ts": ts + 600})
    return events


def fill(target: str, size: int, products: list[dict[str, Any]], seed: int) -> list[str]:
    """The database: `size` filler events, then the probes; returns the probes' visitor ids."""
    tp.create_shop_and_catalog(target, products)
    conn = connect_sync(target, synchronous="OFF")
    shop = get_shop(conn, tp.SHOP)
    assert shop is not None
    rng = random.Random(seed)
    now = time.time()
    visitors = max(1, size // FILLER_EVENTS)
    started = time.monotonic()
    per_transaction = 2000
    for first in range(0, visitors, per_transaction):
        conn.execute("BEGIN")
        for n in range(first, min(visitors, first + per_transaction)):
            raw = filler_session(rng, products, now - YEAR + YEAR * n / visitors)
            batch = parse_batch({"shop": tp.SHOP, "events": raw}, shop, 100)
            apply_events(conn, tp.SHOP, f"f{n}", batch.events, now, True, True)
        conn.model.flush(conn)
        conn.execute("COMMIT")
        if first and first % 100_000 == 0:
            done = first * FILLER_EVENTS
            print(f"  {done:,} events in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    probes = []
    conn.execute("BEGIN")
    for i in range(PROBES):
        batch = parse_batch({"shop": tp.SHOP, "events": tp.visitor_session(rng, products)}, shop, 100)
        apply_events(conn, tp.SHOP, f"probe{i}", batch.events, now - 3600 + i, True, False)
        probes.append(f"probe{i}")
    conn.model.flush(conn)
    conn.execute("COMMIT")
    stored = conn.execute("SELECT (SELECT count(*) FROM events) + (SELECT sum(views) FROM visitor_items)").fetchone()
    if conn.dialect == "postgresql":
        megabytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
    else:
        megabytes = Path(target).stat().st_size / 2**20
    conn.close()
    print(f"  filled in {time.monotonic() - started:.0f} s: {stored[0]:,} events stored (views counted in "
          f"visitor_items), {megabytes:,.0f} MB", file=sys.stderr, flush=True)
    return probes


async def measure(target: str, probes: list[str], rounds: int,
                  db_cpu: Callable[[], dict[int, float]]) -> tuple[float, float, int]:
    """Medians over rounds of the CPU µs per block (this process and `db_cpu`'s database backends)
    and of the wall µs per block, and the cards in the first block."""
    db = Database(target)
    await db.start()
    renderer = Renderer()
    try:
        conn = connect_sync(target)
        shop = get_shop(conn, tp.SHOP)
        conn.close()
        assert shop is not None

        async def block(vid: str) -> str:
            sections, _ = await db.read_block(compute_block, shop.id, vid, shop.settings)
            return renderer.block(shop.id, "b" * 23, sections, "tr", None, shop.can_restore)

        cards = (await block(probes[0])).count("data-cartback-product=")
        for vid in probes:  # warm-up: the product cache, the card cache, the database's pages
            await block(vid)
        cpu_rounds, wall_rounds = [], []
        for _ in range(rounds):
            backends, cpu, wall = db_cpu(), time.process_time(), time.monotonic()
            for vid in probes:
                await block(vid)
            wall = time.monotonic() - wall
            cpu = time.process_time() - cpu + sum(t - backends.get(pid, 0.0) for pid, t in db_cpu().items())
            cpu_rounds.append(cpu / len(probes) * 1e6)
            wall_rounds.append(wall / len(probes) * 1e6)
        return statistics.median(cpu_rounds), statistics.median(wall_rounds), cards
    finally:
        await db.close()


@contextlib.contextmanager
def sqlite_file(folder: Path, size: int, keep: bool) -> Iterator[str]:
    path = folder / f"volume-{size}.db"
    for leftover in folder.glob(f"volume-{size}.db*"):
        leftover.unlink()
    yield str(path)
    if not keep:
        for f in folder.glob(f"volume-{size}.db*"):
            f.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,10000000", help="stored events per file, comma-separated")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="folder for the SQLite files (kept); default: a temporary one")
    parser.add_argument("--db", metavar="URL", help="a PostgreSQL server's admin database (postgresql://…/postgres): "
                                                    "each size gets a database of its own there, dropped afterwards")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    products = tp.make_catalog(random.Random(1))
    results = []
    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cartback-volume-")))
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            with postgres_target(args.db) if args.db else sqlite_file(folder, size, args.keep is not None) as target:
                print(f"{size:,} stored events: filling {target}", file=sys.stderr, flush=True)
                probes = fill(target, size, products, seed=size)
                db_cpu = backend_cpu(args.db, target) if args.db else no_backends
                results.append((size, *asyncio.run(measure(target, probes, args.rounds, db_cpu))))
    print(f"{'stored events':>14}  {'µs CPU/block':>12}  {'µs wall/block':>13}  {'cards':>5}  ratio to the first "
          "(CPU, wall)")
    for size, cpu, wall, cards in results:
        print(f"{size:>14,}  {cpu:>12.0f}  {wall:>13.0f}  {cards:>5}  {cpu / results[0][1]:.2f}, "
              f"{wall / results[0][2]:.2f}")
    worst = max(cpu for _, cpu, _, _ in results) / results[0][1]
    return 0 if worst <= 1.15 else 1


if __name__ == "__main__":
    sys.exit(main())

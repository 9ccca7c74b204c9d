"""PostgreSQL drivers for Cartback's two hot statements, side by side (issue 11: choose by measurement).

    pip install asyncpg 'psycopg[binary]'          # bench-only: neither is a dependency yet
    python bench/pg_drivers.py                      # PostgreSQL at 127.0.0.1:5432, trust authentication
    python bench/pg_drivers.py --dsn postgresql://user@host/postgres --ops 20000

Creates a database of its own (dropped at the end) with a `visitor_items` table shaped as
Cartback's, keyed by shop first, and runs, for each driver, in this order:
- write: the tracking call's statement, an upsert of one view that RETURNs the row's views, 100 to a
  transaction, as the server's group commit runs them (one writer);
- read: the block's statement, one visitor's rows (25 of them) by (shop, vid).
Drivers: psycopg 3 (sync, as the server's writer thread and the read functions are written today),
psycopg 3 async, asyncpg. Each op's wall time and this process's CPU time (the driver's own cost)
are printed per operation, with ratios to the first driver. PostgreSQL's own CPU is the same for
all and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

UPSERT = """
INSERT INTO visitor_items (shop, vid, product_id, viewed_at, views, last_at) VALUES ($1, $2, $3, $4, 1, $4)
ON CONFLICT (shop, vid, product_id) DO UPDATE SET viewed_at = excluded.viewed_at,
    views = visitor_items.views + 1, last_at = GREATEST(visitor_items.last_at, excluded.last_at)
RETURNING views"""
HISTORY = "SELECT product_id, viewed_at, views, last_at FROM visitor_items WHERE shop = $1 AND vid = $2 LIMIT 201"
SCHEMA = """
CREATE TABLE visitor_items (
    shop TEXT NOT NULL, vid TEXT NOT NULL, product_id TEXT NOT NULL,
    viewed_at DOUBLE PRECISION, views INTEGER NOT NULL DEFAULT 0, last_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (shop, vid, product_id))"""


def psycopg_sql(sql: str) -> str:
    """$1 … as psycopg's named placeholders (a number may be used twice, as $4 is)."""
    for n in range(9, 0, -1):
        sql = sql.replace(f"${n}", f"%(p{n})s")
    return sql


def named(params: tuple[Any, ...]) -> dict[str, Any]:
    return {f"p{i}": v for i, v in enumerate(params, start=1)}


def workload(ops: int, seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    rng = random.Random(seed)
    now = time.time()
    writes = [("bench", f"v{rng.randrange(2000)}", f"p{rng.randrange(200)}", now + i * 1e-3) for i in range(ops)]
    reads = [("bench", f"r{rng.randrange(200)}") for _ in range(ops)]
    return writes, reads


def timed(run: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


async def atimed(run: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return time.perf_counter() - wall, time.process_time() - cpu


Figures = dict[str, tuple[float, float]]


def bench_psycopg_sync(dsn: str, writes: list[tuple[Any, ...]], reads: list[tuple[str, str]]) -> Figures:
    import psycopg

    upsert, history = psycopg_sql(UPSERT), psycopg_sql(HISTORY)
    with psycopg.connect(dsn, autocommit=True) as conn:
        def write() -> None:
            for i in range(0, len(writes), 100):
                with conn.transaction():
                    for params in writes[i:i + 100]:
                        conn.execute(upsert, named(params), prepare=True).fetchone()

        def read() -> None:
            for params in reads:
                conn.execute(history, named(params), prepare=True).fetchall()

        return {"write": timed(write), "read": timed(read)}


async def bench_psycopg_async(dsn: str, writes: list[tuple[Any, ...]],
                              reads: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    import psycopg

    upsert, history = psycopg_sql(UPSERT), psycopg_sql(HISTORY)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        async def write() -> None:
            for i in range(0, len(writes), 100):
                async with conn.transaction():
                    for params in writes[i:i + 100]:
                        await (await conn.execute(upsert, named(params), prepare=True)).fetchone()

        async def read() -> None:
            for params in reads:
                await (await conn.execute(history, named(params), prepare=True)).fetchall()

        return {"write": await atimed(write), "read": await atimed(read)}


async def bench_asyncpg(dsn: str, writes: list[tuple[Any, ...]],
                        reads: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        upsert, history = await conn.prepare(UPSERT), await conn.prepare(HISTORY)

        async def write() -> None:
            for i in range(0, len(writes), 100):
                async with conn.transaction():
                    for params in writes[i:i + 100]:
                        await upsert.fetchval(*params)

        async def read() -> None:
            for params in reads:
                await history.fetch(*params)

        return {"write": await atimed(write), "read": await atimed(read)}
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an existing database to connect to first; default %(default)s")
    parser.add_argument("--ops", type=int, default=10_000, help="statements of each kind per driver")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import asyncpg  # noqa: F401
        import psycopg
    except ImportError as exc:
        print(f"pg_drivers.py: {exc}; run: pip install asyncpg 'psycopg[binary]'", file=sys.stderr)
        return 2
    from pgscratch import scratch_database

    with scratch_database(args.dsn, "cartback_drivers") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
            rng = random.Random(7)
            with conn.transaction():
                for v in range(200):  # the readers' visitors: 25 products each
                    for p in rng.sample(range(200), 25):
                        conn.execute("INSERT INTO visitor_items VALUES (%s, %s, %s, %s, 1, %s)",
                                     ("bench", f"r{v}", f"p{p}", 1.0, 1.0))
        drivers: dict[str, Callable[[list[tuple[Any, ...]], list[tuple[str, str]]], dict[str, tuple[float, float]]]] = {
            "psycopg 3 (sync)": lambda w, r: bench_psycopg_sync(dsn, w, r),
            "psycopg 3 (async)": lambda w, r: asyncio.run(bench_psycopg_async(dsn, w, r)),
            "asyncpg": lambda w, r: asyncio.run(bench_asyncpg(dsn, w, r)),
        }
        results: dict[str, dict[str, list[tuple[float, float]]]] = {d: {"write": [], "read": []} for d in drivers}
        for n in range(args.rounds):
            writes, reads = workload(args.ops, seed=n)
            for driver, run in drivers.items():  # interleaved: drift spreads over all drivers
                for op, figures in run(writes, reads).items():
                    results[driver][op].append(figures)
        print(f"{args.ops:,} statements per op and driver, median of {args.rounds} rounds; µs per statement")
        print(f"{'driver':20s} {'op':6s} {'wall':>7s} {'CPU':>7s}  wall, CPU vs the first")
        first = next(iter(drivers))
        for op in ("write", "read"):
            base_wall = statistics.median(w for w, _ in results[first][op])
            base_cpu = statistics.median(c for _, c in results[first][op])
            for driver in drivers:
                wall = statistics.median(w for w, _ in results[driver][op])
                cpu = statistics.median(c for _, c in results[driver][op])
                print(f"{driver:20s} {op:6s} {wall / args.ops * 1e6:7.1f} {cpu / args.ops * 1e6:7.1f}  "
                      f"{wall / base_wall:.2f}, {cpu / base_cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

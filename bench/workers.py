"""Requests per second of the tracking call and the block with 1 and 2 `serve --workers`, on SQLite
and on PostgreSQL, as ratios to a bare endpoint under the same server (issue 11).

    python bench/workers.py [--duration 10] [--runs 3] [--backends sqlite,postgresql] [--workers 1,2]

For each backend and each number of workers, from scratch: a new database (a temporary SQLite file;
on PostgreSQL a database created for the run and dropped after it), the shop and 200-product catalog
of throughput.py, then a server started as `cartback serve --workers N` starts it (server.run: one
process for N = 1; uvicorn's supervisor and N worker processes in shared mode otherwise, as on
PostgreSQL always), with throughput.py's `GET /__bare` added in every process by `bench_app`, the
app factory each of them imports. The visitors are prepared through the real API
(throughput.prepare, which checks that each of the 200 block visitors gets 8 cards). All the
servers stay up; after a warm-up, each run measures every server in turn, each one's rows one after
the other, with wrk and throughput.lua:

    bare        GET /__bare
    events      POST /v1/events   (1 view, rotating over 1000 visitors)
    block-many  GET /v1/empty-cart (rotating over 200 visitors, 8 cards each; anything but 200 fails)

Nothing is pinned: on a 2-core machine 2 workers, wrk and PostgreSQL share both cores as the
scheduler sees fit, and 1 worker gets the same freedom, so the two differ only in the number of
workers (--pin: 1 worker's server on CPU 0 and wrk on CPU 1, as in throughput.py). The table shows,
per backend, workers and row: the median req/s; the median over runs of the ratio to the same run's
bare req/s; the median over runs of the ratio to the same run's req/s with 1 worker; CPU per request
of Cartback's processes and of PostgreSQL's backends for this database; and what every other
process on the machine used meanwhile, as a share of all its cores.

It is a benchmark, not a test: exit 0 when it ran, 2 when it could not (wrong statuses, socket
errors, a server that died, no wrk, no PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import throughput as tp  # bench/ is this script's folder, first on the path (and the workers')
from pgscratch import scratch_database

ROWS = ("bare", "events", "block-many")
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"


def bench_app():
    """uvicorn's app factory in every process of the measured server: the process's app (built from
    the settings server.run put in the environment) plus throughput.py's /__bare."""
    from cartback.app import app_from_env

    return tp.add_bare(app_from_env())


def serve_child(target: str, port: int, workers: int) -> int:
    from cartback.server import run

    # Imported by its name in each process: bench/ is on their path as on this one's.
    return run(tp.bench_settings(target, port), "warning", workers=workers, factory="workers:bench_app")


# -- databases --------------------------------------------------------------------------------------

@contextlib.contextmanager
def sqlite_target(workdir: Path) -> Iterator[str]:
    yield str(workdir / "bench.db")


def backend_cpu(admin_url: str, target: str) -> Callable[[], dict[int, float]]:
    """CPU seconds of each PostgreSQL backend connected to `target`'s database, by pid."""
    import psycopg

    name = target.rsplit("/", 1)[1]

    def read() -> dict[int, float]:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            pids = [r[0] for r in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
        return {pid: tp.process_cpu([pid]) for pid in pids}

    return read


def no_backends() -> dict[int, float]:
    return {}


# -- measuring --------------------------------------------------------------------------------------

@dataclass
class Sample:
    m: tp.Measurement
    db_us: float  # PostgreSQL backends' CPU per request
    others: float  # share of all cores used by other processes (not the server, wrk, the backends)


@dataclass
class Setup:
    """One server under test, its data prepared, and what it measured."""

    backend: str
    workers: int
    rig: tp.Rig
    endpoints: list[tp.Endpoint]
    db_cpu: Callable[[], dict[int, float]]
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def rps(self, row: str) -> float:
        return statistics.median(s.m.rps for s in self.samples[row])

    def ratios(self, row: str) -> list[float]:
        return [s.m.rps / b.m.rps for s, b in zip(self.samples[row], self.samples["bare"], strict=True)]


def measure(rig: tp.Rig, endpoint: tp.Endpoint, duration: float, db_cpu: Callable[[], dict[int, float]]) -> Sample:
    cores = os.cpu_count() or 1
    db0, (busy0, _), t0 = db_cpu(), tp._cpu_busy(""), time.monotonic()
    m = tp.run_wrk(rig, endpoint, duration)
    db1, (busy1, _), t1 = db_cpu(), tp._cpu_busy(""), time.monotonic()
    db = sum(cpu - db0.get(pid, 0.0) for pid, cpu in db1.items())
    ours = (m.server_cpu + m.wrk_cpu) * m.wall + db
    return Sample(m, db / max(1, m.requests) * 1e6, max(0.0, (busy1 - busy0 - ours) / (t1 - t0) / cores))


def set_up(args: argparse.Namespace, wrk: str, backend: str, workers: int, tmp: Path,
           stack: contextlib.ExitStack) -> Setup:
    """A new database and its server (stopped, and the database dropped, when `stack` closes)."""
    workdir = tmp / f"{backend}-{workers}"
    workdir.mkdir()
    pin = workers == 1 and args.pin and {0, 1} <= set(os.sched_getaffinity(0))
    rng = random.Random(args.seed)  # the same data for every server
    products = tp.make_catalog(rng)
    target = stack.enter_context(sqlite_target(workdir) if backend == "sqlite" else scratch_database(args.pg))
    tp.create_shop_and_catalog(target, products)
    server = tp.Server(target, 0 if pin else None, workdir / "server.log", script=tp.SCRIPT.parent / "workers.py",
                       extra=(str(workers),))
    stack.callback(server.stop)
    server.start()
    t = time.monotonic()
    lines = tp.prepare(server.port, products, args.block_visitors, rng)
    print(f"{backend}, {workers} worker(s): prepared in {time.monotonic() - t:.0f} s; blocks: "
          f"{'; '.join(lines['compositions'])}; {'server on CPU 0, wrk on CPU 1' if pin else 'nothing pinned'}",
          flush=True)
    rig = tp.Rig(wrk, server, workdir, args.connections, args.threads, 0 if pin else None, 1 if pin else None, False)
    return Setup(backend, workers, rig, [e for e in tp.make_endpoints(lines, args.block_visitors) if e.name in ROWS],
                 backend_cpu(args.pg, target) if backend == "postgresql" else no_backends)


def run_all(args: argparse.Namespace, setups: list[Setup]) -> None:
    """Every server in turn within each run, so the machine's drift spreads over all of them; each
    server's rows one after the other, so its ratios to bare compare measurements seconds apart."""
    for setup in setups:
        for e in setup.endpoints:
            tp.run_wrk(setup.rig, e, args.warmup)
    for run in range(1, args.runs + 1):
        for setup in setups:
            for e in setup.endpoints:
                s = measure(setup.rig, e, args.duration, setup.db_cpu)
                setup.samples.setdefault(e.name, []).append(s)
                print(f"run {run}/{args.runs} {setup.backend:<10} {setup.workers}w {e.name:<10} {s.m.rps:>7,.0f} req/s"
                      f"  server {s.m.cpu_us:>5,.0f} µs/req  db {s.db_us:>4,.0f} µs/req  others {s.others:4.0%} "
                      "of the machine", flush=True)


def report(setups: list[Setup]) -> None:
    """The table: `x 1 worker` is the median over runs of this row's req/s over the same run's
    1-worker req/s (same backend, same row)."""
    print(f"\n{'backend':<11} {'workers':>7} {'row':<10} {'req/s':>7} {'ratio':>6} {'(min-max)':>10} "
          f"{'x 1 worker':>10} {'µs server':>9} {'µs db':>6} {'others':>6}")
    one = {(r.backend, row): samples for r in setups if r.workers == 1 for row, samples in r.samples.items()}
    for r in setups:
        for row, samples in r.samples.items():
            ratios = r.ratios(row)
            base = one.get((r.backend, row))
            versus = f"{statistics.median(s.m.rps / b.m.rps for s, b in zip(samples, base, strict=True)):.2f}" \
                if base else "-"
            spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
            db = f"{statistics.median(s.db_us for s in samples):,.0f}" if r.backend == "postgresql" else "-"
            print(f"{r.backend:<11} {r.workers:>7} {row:<10} {r.rps(row):>7,.0f} {statistics.median(ratios):>6.2f} "
                  f"{spread:>10} {versus:>10} {statistics.median(s.m.cpu_us for s in samples):>9,.0f} {db:>6} "
                  f"{statistics.median(s.others for s in samples):>6.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="whole seconds per measurement (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every row; medians are shown (default 3)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both (the default)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load per row before run 1")
    parser.add_argument("--block-visitors", type=int, default=200, help="visitors rotated in block-many")
    parser.add_argument("--pin", action="store_true", help="1 worker: the server on CPU 0, wrk on CPU 1")
    parser.add_argument("--pg", default=PG_ADMIN, help="a PostgreSQL database to create the benchmark's from "
                                                       "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-child", nargs=3, metavar=("DB", "PORT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        return serve_child(args.serve_child[0], int(args.serve_child[1]), int(args.serve_child[2]))

    backends = [b.strip() for b in args.backends.split(",")]
    if set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"--backends: sqlite and/or postgresql, not {args.backends!r}")
    try:
        counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers: whole numbers, comma-separated, not {args.workers!r}")
    if min(counts) < 1 or args.runs < 1 or args.duration < 1:
        parser.error("--workers, --runs and --duration must be at least 1")
    wrk = shutil.which("wrk")
    if wrk is None:
        print(tp.WRK_INSTALL, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, tp._interrupted)  # stops the server this script started, as Ctrl-C does
    tmp = Path(tempfile.mkdtemp(prefix="cartback-workers-"))
    load = os.getloadavg()
    print(f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs", flush=True)
    try:
        with contextlib.ExitStack() as stack:
            setups = [set_up(args, wrk, b, n, tmp, stack) for b in backends for n in counts]
            run_all(args, setups)
        report(setups)
        load = os.getloadavg()
        print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        return 0
    except tp.BenchError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""A/B: the hot endpoints of two code versions, loaded at the same time, compared per request.

    python bench/ab.py HEAD~1                    # HEAD~1 against the working tree
    python bench/ab.py HEAD~1 HEAD --rows events,block-many,bare --rounds 6 --duration 5

Why not two runs of throughput.py: on a shared VM the same code moves by 10-20 % from one minute to
the next, more than most changes are worth. Here both servers (each its own code, schema and
database, prepared as throughput.py prepares one) run on CPU 0 at the same time, each driven by its
own wrk on CPU 1, and each server's CPU per request is taken over the same seconds: whatever the
machine does to one, it does to the other. Each round prints both and their difference; the end
prints, per row, the median of the per-round differences and their range. `bare` is the control:
its difference should stay within a few µs.

Absolute figures are higher than throughput.py's (two servers share a core, and switch between
them); the differences are what this is for. Needs wrk, and root for --priority (the default).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ROWS = ("bare", "snippet", "events", "block", "block-many")


def checkout(rev: str | None, into: Path) -> Path:
    """The tree of a git revision (None: the working tree as it is, uncommitted changes included)."""
    if rev is None:
        return REPO
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def load_bench(tree: Path, name: str) -> ModuleType:
    """That tree's own bench/throughput.py, importing that tree's `cartback` package (in server/)."""
    spec = importlib.util.spec_from_file_location(name, tree / "bench" / "throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path[:0] = [str(tree), str(tree / "server")]
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.path[:2]
    return module


class Side:
    def __init__(self, label: str, tree: Path, workdir: Path, wrk: str, priority: bool) -> None:
        self.label = label
        self.bench = load_bench(tree, f"throughput_{label}")
        workdir.mkdir(parents=True, exist_ok=True)
        db = workdir / "bench.db"
        # The database is created by the tree's own code in a process of its own: each side's schema
        # (migrations) is its own version's.
        code = ("import random, sys; from pathlib import Path; "
                "sys.path[:0] = [sys.argv[1] + '/server', sys.argv[1] + '/bench']; import throughput as t; "
                "t.create_shop_and_catalog(Path(sys.argv[2]), t.make_catalog(random.Random(1)))")
        subprocess.run([sys.executable, "-c", code, str(tree), str(db)], check=True)
        rng = random.Random(1)
        products = self.bench.make_catalog(rng)
        self.server = self.bench.Server(db, 0, workdir / "server.log", priority).start()
        lines = self.bench.prepare(self.server.port, products, 200, rng)
        self.rig = self.bench.Rig(wrk, self.server, workdir, 32, 1, 0, 1, priority)
        Endpoint, api = self.bench.Endpoint, [f"Origin: {self.bench.ORIGIN}"]
        self.endpoints = {
            "bare": Endpoint("bare", "", None, ["GET\t/__bare"]),
            "snippet": Endpoint("snippet", "", 0.8, ["GET\t/snippet.js"]),
            "events": Endpoint("events", "", 0.4, lines["events"], ["Content-Type: text/plain;charset=UTF-8", *api]),
            "block": Endpoint("block", "", 0.2, lines["block"], api),
            "block-many": Endpoint("block-many", "", 0.2, lines["block-many"], api),
        }

    def measure(self, row: str, duration: float):
        return self.bench.run_wrk(self.rig, self.endpoints[row], duration)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="git revision A (the baseline)")
    parser.add_argument("b", nargs="?", help="git revision B (default: the working tree)")
    parser.add_argument("--rows", default="events,block-many,bare", help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round and row")
    parser.add_argument("--no-priority", dest="priority", action="store_false")
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")
    wrk = shutil.which("wrk")
    if wrk is None:
        parser.error("needs wrk (apt-get install -y wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="cartback-ab-"))
    os.sched_setaffinity(0, {1})
    sides: list[Side] = []
    try:
        for label, rev in (("A", args.a), ("B", args.b)):
            tree = checkout(rev, tmp / f"tree-{label}")
            sides.append(Side(label, tree, tmp / f"run-{label}", wrk, args.priority))
            print(f"{label}: {rev or 'working tree'} on port {sides[-1].server.port}", flush=True)
        for side in sides:  # warm-up
            for row in rows:
                side.measure(row, 2)
        cpu: dict[tuple[str, str], list[float]] = {(s.label, r): [] for s in sides for r in rows}
        for n in range(args.rounds):
            for row in rows:
                results: dict[str, Any] = {}

                def run(side: Side, row: str, results: dict[str, Any]) -> None:
                    results[side.label] = side.measure(row, args.duration)

                threads = [threading.Thread(target=run, args=(s, row, results)) for s in sides]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if len(results) < 2:
                    raise SystemExit(f"round {n + 1}, {row}: a measurement failed (see above)")
                a, b = results["A"].cpu_us, results["B"].cpu_us
                cpu[("A", row)].append(a)
                cpu[("B", row)].append(b)
                print(f"round {n + 1}/{args.rounds} {row:10s} A {a:6.0f}  B {b:6.0f}  B-A {b - a:+5.0f} µs CPU/req",
                      flush=True)
        print()
        print(f"{'row':10s} {'A µs':>7s} {'B µs':>7s}  B-A: median of rounds (range)")
        for row in rows:
            a, b = cpu[("A", row)], cpu[("B", row)]
            diffs = sorted(y - x for x, y in zip(a, b, strict=True))
            print(f"{row:10s} {statistics.median(a):7.0f} {statistics.median(b):7.0f}  "
                  f"{statistics.median(diffs):+5.0f} µs ({diffs[0]:+.0f} .. {diffs[-1]:+.0f})")
        return 0
    finally:
        for side in sides:
            side.server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

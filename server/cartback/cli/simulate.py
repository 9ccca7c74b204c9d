"""`python -m cartback.simulate`: a simulated quarter sent to a running widget server, with progress
on stderr and the summary on stdout."""

from __future__ import annotations

import argparse
import sys

from ..simulate import __doc__ as package_doc
from ..simulate.client import SimulationError
from ..simulate.planner import load_products
from ..simulate.runner import run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cartback.simulate", description=(package_doc or "").split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8000", help="widget server; default %(default)s")
    p.add_argument("--shop", default="demo")
    p.add_argument("--key", required=True, help="the shop's API key")
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--visitors", type=int, default=3000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--catalog", help="JSON lines with id, price, category, in_stock; default: the demo catalog")
    args = p.parse_args(argv)

    def progress(done: int, total: int) -> None:
        print(f"\r  simulating: day {done}/{total}", end="", file=sys.stderr, flush=True)

    try:
        summary = run(args.url, args.shop, args.key, args.days, args.visitors, args.seed,
                      concurrency=args.concurrency, products=load_products(args.catalog), progress=progress)
    except SimulationError as exc:
        print(f"\n{p.prog}: error: the simulation failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nSimulated {summary}")
    return 0

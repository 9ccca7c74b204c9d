"""Running a simulation: the plan's sessions sent day by day through worker threads (`run`), and
`cartback demo --simulate`'s run in another process once the server answers (`start_in_background`).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .client import Client, SimulationError
from .planner import DAY, Counts, Rates, Return, Visitor, load_products, plan, totals
from .visits import first_visit, return_visit


@dataclass
class Summary(Counts):
    visitors: int = 0
    sessions: int = 0
    clicks: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (f"{self.visitors} visitors, {self.sessions} visits, {self.blocks} blocks served "
                f"({self.no_block} empty carts without a block), {self.impressions} impressions, "
                f"{self.clicks} clicks, {self.restores} carts restored, {self.orders} orders; "
                f"{self.requests} requests in {self.seconds:.1f} s")



def run(widget_url: str, shop: str, api_key: str, days: int = 90, visitors: int = 3000, seed: int = 1, *,
        concurrency: int = 4, rates: Rates | None = None, products: list[dict[str, Any]] | None = None,
        now: float | None = None, progress: Callable[[int, int], None] | None = None) -> Summary:
    """Simulate `days` days of `visitors` shoppers against a running widget server; blocks until done.

    `concurrency` requests are in flight at once (one keep-alive connection each). Safe to call
    from a thread that runs an event loop (it starts threads of its own, never a loop).
    """
    if days < 1 or visitors < 0 or concurrency < 1:
        raise ValueError("days and concurrency must be at least 1, visitors not negative")
    rates = rates or Rates()
    products = products if products is not None else load_products()
    prices = {p["id"]: float(p["price"]) for p in products if p.get("price") is not None}
    now = now or time.time()
    started = time.monotonic()
    people = plan(visitors, days, seed, now, products, rates)

    # Sessions by calendar day; one visitor has at most one session a day, so a day's sessions
    # can run concurrently while each visitor's sessions stay in order.
    by_day: dict[int, list[tuple[float, Visitor, Return | None]]] = {}
    for v in people:
        if v.first:
            by_day.setdefault(int(v.first[0]["ts"] // DAY), []).append((v.first[0]["ts"], v, None))
        for ret in v.returns:
            by_day.setdefault(int(ret.ts // DAY), []).append((ret.ts, v, ret))

    client = Client(widget_url, shop, api_key, concurrency, rates, prices, seed, now)

    def one(session: tuple[float, Visitor, Return | None]) -> None:
        _, v, ret = session
        if ret is None:
            first_visit(client, v)
        elif v.token is not None:
            return_visit(client, v, ret)

    try:
        with concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="cartback-sim") as pool:
            for done, day in enumerate(sorted(by_day), start=1):
                sessions = sorted(by_day[day], key=lambda s: (s[0], s[1].n))
                for _ in pool.map(one, sessions):  # re-raises the first error
                    pass
                if progress:
                    progress(done, len(by_day))
    finally:
        client.close()
    counts = totals(people)
    counts["orders"] += sum(1 for v in people for e in v.first if e["type"] == "purchase")
    return Summary(visitors=visitors, sessions=sum(len(s) for s in by_day.values()),
                   clicks=sum(v.clicked for v in people), seconds=time.monotonic() - started, **counts)


def _wait_healthy(widget_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(widget_url.rstrip("/") + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SimulationError(f"the widget server at {widget_url} did not start")
        time.sleep(0.1)


def _run_in_child(widget_url: str, shop: str, api_key: str, days: int, visitors: int, seed: int) -> Summary:
    return run(widget_url, shop, api_key, days, visitors, seed)


def start_in_background(widget_url: str, shop: str, api_key: str | None, *, days: int = 90,
                        visitors: int = 3000, seed: int = 1, dashboard_url: str | None = None,
                        out: Callable[[str], None]) -> threading.Thread | None:
    """For `cartback demo --simulate`: once the server answers, simulate in another process (the
    server keeps this one's core) and tell `out` a line when done. Returns the watching thread."""
    if not api_key:
        out("--simulate: the demo shop already existed, and its API key (needed to send past events) is "
            "printed only when it is created. Start with a new database, e.g. --db cartback-demo2.db.")
        return None

    def work() -> None:
        try:
            _wait_healthy(widget_url)
            out(f"Simulating {days} days of shoppers ({visitors} visitors) through {widget_url} …")
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                summary = pool.submit(_run_in_child, widget_url, shop, api_key, days, visitors, seed).result()
        except Exception as exc:  # noqa: BLE001 - the demo keeps running without the simulated quarter
            out(f"Simulation stopped: {exc}")
            return
        # The quarter needed a control group; the person trying the demo now should always see the
        # block. The simulated control visitors stay in the report's holdout comparison.
        try:
            httpx.patch(f"{widget_url}/v1/shops/{shop}/settings", json={"holdout_share": 0}, timeout=10,
                        headers={"authorization": f"Bearer {api_key}"}).raise_for_status()
        except httpx.HTTPError as exc:
            out(f"Could not switch the holdout off after the simulation ({exc}); "
                f"run: cartback shop set {shop} holdout_share=0")
        out(f"Simulated {summary}. The holdout group (10%) covers the simulated quarter; live demo visitors now "
            f"always see the block." + (f"\nSee the results: {dashboard_url}" if dashboard_url else ""))

    thread = threading.Thread(target=work, name="cartback-simulate", daemon=True)
    thread.start()
    return thread



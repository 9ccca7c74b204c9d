"""Simulated shoppers for the demo shop, sent through the real HTTP API.

`cartback demo --simulate` (or `python -m cartback.simulate`) fills a shop with a quarter of
traffic so the dashboard has something realistic to show. Nothing is written to the database
directly: every visitor talks to a running widget server the way the snippet would, and the
shop's API key (`Authorization: Bearer …`) makes the server trust each event's past `ts`.

The story of one simulated visitor:

1. A first visit on some day of the period: views a few related products, adds one or two to the
   cart, sometimes marks a favourite; some check out at once (shop orders without the block).
2. The shop clears the cart after 24 hours (`cart: []`).
3. One or more returns, days later: the empty cart asks `GET /v1/empty-cart`. When a block comes
   back (treatment visitors with something to show; the holdout group gets 204), most blocks are
   seen (`impression`), a few visitors click a product (~2.5 % of those reached) and about a
   quarter of those buy it afterwards. Every returning visitor also buys at a small base rate
   without the block, so the holdout comparison has two honest groups.

Deterministic for a seed: every visitor's choices come from their own random stream, drawn
before the server answers, and days are sent in order (a visitor's sessions never overlap). What
the server decides stays its own: visitor ids, and so who falls in the holdout group.
Block timestamps: each GET carries `ts` (the simulated moment) with the merchant key, and the
server records the render at that moment, so daily charts and the holdout cohort are right.

Speed: about 3.7 requests per visitor (events batched per visit), `concurrency` keep-alive
connections from worker threads. `--simulate 30000` gives the case's scale (35,000+ block views,
20,000+ visitors reached); the default 3,000 keeps the demo quick.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import html as htmlmod
import json
import math
import multiprocessing
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .config import asset_dir

DAY = 86400.0
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0 Safari/537.36 CartbackSimulation/1.0")
DEFAULT_CATALOG = asset_dir("demo_site") / "catalog.jsonl"
MAX_EVENTS = 100  # the server's per-request limit
WARMUP_DAYS = 10
GOLDEN = 0.6180339887498949

_BLOCK_ID = re.compile(r'data-cartback-block="([^"]+)"')
_SECTION = re.compile(r'data-section="(\w+)"(.*?)</section>', re.S)
_PRODUCT = re.compile(r'data-cartback-product="([^"]+)"')


class SimulationError(RuntimeError):
    pass


@dataclass
class Rates:
    """Behaviour of the simulated shoppers (the defaults reproduce the case's proportions)."""
    buy_first_visit: float = 0.22     # check out on the first visit (orders the block never saw)
    favorite: float = 0.15
    extra_returns: float = 0.5        # chance of each further return after the first
    max_returns: int = 5
    return_after_purchase: float = 0.35
    impression: float = 0.9           # a served block is seen (≥ 50 % visible)
    click: float = 0.024              # visitors reached who click a product
    second_click: float = 0.12
    buy_after_click: float = 0.31     # clickers who buy the clicked product
    buy_base: float = 0.035           # per return, with or without the block
    restore: float = 0.08             # visitors shown a restore button who press it
    buy_after_restore: float = 0.3
    english: float = 0.15


@dataclass
class Summary:
    visitors: int = 0
    sessions: int = 0
    requests: int = 0
    blocks: int = 0
    no_block: int = 0
    impressions: int = 0
    clicks: int = 0
    orders: int = 0
    restores: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (f"{self.visitors} visitors, {self.sessions} visits, {self.blocks} blocks served "
                f"({self.no_block} empty carts without a block), {self.impressions} impressions, "
                f"{self.clicks} clicks, {self.restores} carts restored, {self.orders} orders; "
                f"{self.requests} requests in {self.seconds:.1f} s")


@dataclass
class Return:
    ts: float
    locale: str
    u_impression: float
    u_pick: float
    u_base: float
    base_items: list[tuple[str, int]]
    delays: tuple[float, float, float]


@dataclass
class Visitor:
    n: int
    first: list[dict[str, Any]]
    returns: list[Return]
    clicker: bool
    second_click: bool
    buys_after_click: bool
    extra_item: str | None
    qty: int
    token: str | None = None
    clicked: int = 0
    orders: int = 0
    requests: int = 0
    blocks: int = 0
    no_block: int = 0
    impressions: int = 0
    restores: int = 0


def load_products(path: Path | str | None = None) -> list[dict[str, Any]]:
    with open(path or DEFAULT_CATALOG, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _day_weights(days: int, start: float) -> list[float]:
    # More traffic at weekends and a gentle growth over the period: charts that look like a shop.
    weights = []
    for d in range(days):
        weekday = time.gmtime(start + d * DAY).tm_wday
        weights.append((1.3 if weekday >= 5 else 1.0) * (0.85 + 0.3 * d / max(days - 1, 1)))
    return weights


def _moment(rng: random.Random, day_start: float) -> float:
    # Shoppers are awake: mostly 08:00-24:00 Turkish time (UTC+3).
    hour = rng.choices(range(24), weights=[1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 7, 8, 9, 10, 10, 9, 6, 3, 2, 1, 1, 1])[0]
    return day_start + hour * 3600 + rng.uniform(0, 3599)


def plan(n_visitors: int, days: int, seed: int, now: float, products: list[dict[str, Any]],
         rates: Rates) -> list[Visitor]:
    """Every visitor's choices, drawn up front from their own random stream."""
    start = math.floor(now / DAY) * DAY - (days - 1) * DAY   # midnight UTC, `days` calendar days ago
    # Shoppers who first came shortly before the period return during its first days: the period
    # opens with the block already at work rather than ramping up from nothing.
    warmup = min(WARMUP_DAYS, days)
    weights = [0.6] * warmup + _day_weights(days, start)
    day_range = range(-warmup, days)
    buyable = [p for p in products if p.get("in_stock", True)] or products
    by_category: dict[str, list[dict[str, Any]]] = {}
    for p in products:
        by_category.setdefault(p.get("category") or "", []).append(p)
    categories = sorted(by_category)
    orders = order_prefix(seed, now)
    visitors = []
    for n in range(n_visitors):
        rng = random.Random(f"{seed}:{n}")
        day = rng.choices(day_range, weights=weights)[0]
        ts = _moment(rng, start + day * DAY)
        # Interest: one category mostly, sometimes something else too.
        home = by_category[rng.choice(categories)]
        seen = rng.sample(home, k=min(len(home), rng.randint(1, 4)))
        if rng.random() < 0.4:
            seen.append(rng.choice(products))
        seen = list({p["id"]: p for p in seen}.values())
        events: list[dict[str, Any]] = []
        for p in seen:
            ts += rng.uniform(20, 200)
            events.append({"type": "view", "product": p["id"], "ts": ts})
        in_stock_seen = [p for p in seen if p.get("in_stock", True)] or [rng.choice(buyable)]
        carted = rng.sample(in_stock_seen, k=min(len(in_stock_seen), rng.choice([1, 1, 1, 2, 2, 3])))
        cart = []
        for p in carted:
            ts += rng.uniform(10, 90)
            qty = rng.choice([1, 1, 1, 2])
            cart.append((p, qty))
            events.append({"type": "add", "product": p["id"], "qty": qty, "ts": ts})
        if rng.random() < rates.favorite:
            ts += rng.uniform(5, 60)
            events.append({"type": "favorite", "product": rng.choice(seen)["id"], "ts": ts})
        bought_first = rng.random() < rates.buy_first_visit
        if bought_first:
            ts += rng.uniform(60, 900)
            events.append(_purchase(f"{orders}-{n}-0", [(p["id"], q, p["price"]) for p, q in cart], ts))
        # Returns: after the shop cleared the cart (24 h), on later days only.
        returns: list[Return] = []
        will_return = rng.random() < (rates.return_after_purchase if bought_first else 1.0)
        moment = ts
        if will_return:
            # The shop clears the cart after 24 hours and tells nobody, as the case's shop did: the
            # server learns it when the returning visitor's page shows the empty cart.
            count = 1
            while count < rates.max_returns and rng.random() < rates.extra_returns:
                count += 1
            for _ in range(count):
                gap = rng.choices([1, 2, 3, 4, 5, 6, 7, 9, 12, 16, 21],
                                  weights=[9, 8, 7, 6, 5, 4, 4, 3, 2, 2, 1])[0]
                day_start = math.floor(moment / DAY) * DAY + gap * DAY
                moment = _moment(rng, day_start)
                if not returns and moment < ts + DAY:
                    moment += DAY  # the cart is cleared 24 hours after the first visit
                base = [(p["id"], q) for p, q in cart] if rng.random() < 0.6 else [(rng.choice(buyable)["id"], 1)]
                returns.append(Return(
                    ts=moment, locale="en" if rng.random() < rates.english else "tr",
                    u_impression=rng.random(), u_pick=rng.random(), u_base=rng.random(), base_items=base,
                    delays=(rng.uniform(2, 40), rng.uniform(30, 600), rng.uniform(600, 36 * 3600)),
                ))
        # Within the period only: a warm-up shopper's early return would fall before the dashboard's
        # default "last N days" and leave blocks outside it.
        returns = [r for r in returns if start <= r.ts < now - 60]
        visitors.append(Visitor(
            n=n, first=[e for e in events if e["ts"] < now - 60], returns=returns,
            clicker=False, second_click=rng.random() < rates.second_click, buys_after_click=False,
            extra_item=rng.choice(buyable)["id"] if rng.random() < 0.35 else None,
            qty=rng.choice([1, 1, 1, 2]),
        ))
    # Who clicks, and which clickers buy: spread evenly (a golden-ratio sequence from a seeded
    # start) rather than drawn one by one, so even a few thousand visitors show the intended rates
    # instead of a lucky or unlucky draw.
    quota = random.Random(f"{seed}:quota")
    start_click, start_buy = quota.random(), quota.random()
    returning = [v for v in visitors if v.returns]
    for i, v in enumerate(returning):
        v.clicker = (start_click + i * GOLDEN) % 1.0 < rates.click
    for i, v in enumerate(v for v in returning if v.clicker):
        v.buys_after_click = (start_buy + i * GOLDEN) % 1.0 < rates.buy_after_click
    return visitors


def order_prefix(seed: int, now: float) -> str:
    # Unique per run: a second simulation on the same shop adds shoppers, it does not collide
    # with the first one's order ids (which the server would drop as repeats).
    return f"SIM{seed}-{int(now):x}"


def _purchase(order_id: str, items: list[tuple[str, int, float]], ts: float) -> dict[str, Any]:
    total = round(sum(q * price for _, q, price in items), 2)
    return {"type": "purchase", "order_id": order_id, "total": total, "currency": "TRY", "ts": ts,
            "items": [{"id": pid, "qty": q, "price": price} for pid, q, price in items]}


def parse_block(html: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The block id and the (section, product id) cards of an empty-cart fragment."""
    m = _BLOCK_ID.search(html)
    cards = [(key, pid) for key, body in _SECTION.findall(html) for pid in _PRODUCT.findall(body)]
    return (m.group(1) if m else None), cards


_RESTORE = re.compile(r'data-cartback-restore="([^"]+)"')


def restore_lines(html: str) -> list[dict[str, Any]]:
    """What the block's restore button would put back in the cart (none without a button)."""
    m = _RESTORE.search(html)
    return json.loads(htmlmod.unescape(m.group(1))) if m else []


def _pick(cards: list[tuple[str, str]], u: float) -> tuple[str, str]:
    # People click what they already wanted more often than a suggestion.
    weight = {"cart": 4.0, "viewed": 2.5, "favorites": 2.0, "similar": 1.5}
    weights = [weight.get(s, 1.0) / (1 + i * 0.15) for i, (s, _) in enumerate(cards)]
    target, acc = u * sum(weights), 0.0
    for card, w in zip(cards, weights):
        acc += w
        if target < acc:
            return card
    return cards[-1]


class _Client:
    """One httpx client (keep-alive, `concurrency` connections) shared by the worker threads.

    Threads and the synchronous client rather than asyncio: per request, httpx's async stack costs
    the simulation about half again as much CPU, and the server under test shares the machine.
    """

    def __init__(self, widget_url: str, shop: str, api_key: str, concurrency: int, rates: Rates,
                 prices: dict[str, float], seed: int, now: float) -> None:
        self.shop = shop
        self.rates = rates
        self.prices = prices
        self.seed = seed
        self.now = now
        self.orders = order_prefix(seed, now)
        self.http = httpx.Client(
            base_url=widget_url.rstrip("/"), timeout=30, trust_env=False,
            headers={"authorization": f"Bearer {api_key}", "user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def post(self, v: Visitor, events: list[dict[str, Any]]) -> None:
        for i in range(0, max(len(events), 1), MAX_EVENTS):
            body = {"shop": self.shop, "vid": v.token, "events": events[i:i + MAX_EVENTS]}
            r = self._send(v, "POST", "/v1/events", json=body)
            v.token = r.json()["vid"]

    def block(self, v: Visitor, ret: Return) -> httpx.Response:
        params = {"shop": self.shop, "vid": v.token or "", "locale": ret.locale, "ts": f"{ret.ts:.3f}"}
        return self._send(v, "GET", "/v1/empty-cart", params=params)

    def _send(self, v: Visitor, method: str, url: str, **kw: Any) -> httpx.Response:
        for attempt in range(5):
            try:
                r = self.http.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt == 4:
                    raise SimulationError(f"the widget server did not answer: {exc!r}") from None
                time.sleep(0.2 * (attempt + 1))
                continue
            v.requests += 1
            if r.status_code == 429 or r.status_code >= 500:
                if attempt == 4:
                    break
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status_code in (401, 403):
                raise SimulationError(f"the server refused the API key for shop {self.shop!r} ({r.status_code})")
            if r.status_code >= 400:
                raise SimulationError(f"{method} {url} → {r.status_code}: {r.text[:300]}")
            return r
        raise SimulationError(f"{method} {url} kept failing ({r.status_code}: {r.text[:200]})")

    def close(self) -> None:
        self.http.close()


def _first_visit(client: _Client, v: Visitor) -> None:
    client.post(v, v.first)


def _return(client: _Client, v: Visitor, ret: Return) -> None:
    prices = client.prices
    r = client.block(v, ret)
    events: list[dict[str, Any]] = []
    ts = ret.ts
    if r.status_code == 200:
        v.blocks += 1
        block_id, cards = parse_block(r.text)
        if block_id and cards and ret.u_impression < client.rates.impression:
            ts += ret.delays[0]
            events.append({"type": "impression", "block": block_id, "ts": ts})
            v.impressions += 1
            if v.clicker and v.clicked < (2 if v.second_click else 1):
                section, pid = _pick(cards, ret.u_pick)
                ts += ret.delays[1]
                events.append({"type": "click", "block": block_id, "id": pid, "section": section, "ts": ts})
                events.append({"type": "view", "product": pid, "ts": ts + 1})
                v.clicked += 1
                if v.buys_after_click and v.clicked == 1 and pid in prices:
                    items = [(pid, v.qty, prices[pid])]
                    if v.extra_item and v.extra_item != pid and v.extra_item in prices:
                        items.append((v.extra_item, 1, prices[v.extra_item]))
                    buy_ts = ts + ret.delays[2]
                    if buy_ts < client.now - 60:
                        v.orders += 1
                        events.append(_purchase(f"{client.orders}-{v.n}-{v.orders}", items, buy_ts))
        lines = restore_lines(r.text) if block_id and v.clicked == 0 else []
        # Its own draw, so the rest of the seeded quarter stays as it was.
        u_restore, u_buy = random.Random(f"{client.seed}:{v.n}:{ret.ts}").random(), ret.u_base
        if lines and ret.u_impression < client.rates.impression and u_restore < client.rates.restore:
            ts += ret.delays[1]
            events.append({"type": "restore", "block": block_id, "ts": ts,
                           "items": [{"id": line["id"], "qty": line["qty"]} for line in lines]})
            v.restores += 1
            items = [(line["id"], line["qty"], prices[line["id"]]) for line in lines if line["id"] in prices]
            buy_ts = ts + ret.delays[2]
            if items and u_buy < client.rates.buy_after_restore and buy_ts < client.now - 60:
                v.orders += 1
                events.append(_purchase(f"{client.orders}-{v.n}-{v.orders}", items, buy_ts))
    elif r.status_code == 204:
        v.no_block += 1
    if ret.u_base < client.rates.buy_base:
        items = [(pid, q, prices[pid]) for pid, q in ret.base_items if pid in prices]
        buy_ts = ret.ts + 1800 + ret.delays[1]
        if items and buy_ts < client.now - 60:
            v.orders += 1
            events.append(_purchase(f"{client.orders}-{v.n}-{v.orders}", items, buy_ts))
    if events:
        events.sort(key=lambda e: e["ts"])
        client.post(v, events)


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

    client = _Client(widget_url, shop, api_key, concurrency, rates, prices, seed, now)

    def one(session: tuple[float, Visitor, Return | None]) -> None:
        _, v, ret = session
        if ret is None:
            _first_visit(client, v)
        elif v.token is not None:
            _return(client, v, ret)

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
    return Summary(
        visitors=visitors, sessions=sum(len(s) for s in by_day.values()),
        requests=sum(v.requests for v in people), blocks=sum(v.blocks for v in people),
        no_block=sum(v.no_block for v in people), impressions=sum(v.impressions for v in people),
        clicks=sum(v.clicked for v in people), restores=sum(v.restores for v in people),
        orders=sum(v.orders for v in people) + sum(1 for v in people for e in v.first if e["type"] == "purchase"),
        seconds=time.monotonic() - started,
    )


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
                        out: Callable[[str], None] | None = None) -> threading.Thread | None:
    """For `cartback demo --simulate`: once the server answers, simulate in another process (the
    server keeps this one's core) and print a line when done. Returns the watching thread."""
    out = out or (lambda line: print(line, flush=True))
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
        except Exception as exc:  # the demo keeps running without the simulated quarter
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cartback.simulate", description=__doc__.split("\n\n")[0])
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The simulated shoppers' plan: every visitor's choices, drawn up front from their own seeded random
stream (pure: no server, no clock but the `now` given), so a seed gives the same quarter every time.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..config import asset_dir

DAY = 86400.0
DEFAULT_CATALOG = asset_dir("demo_site") / "catalog.jsonl"
WARMUP_DAYS = 10
GOLDEN = 0.6180339887498949


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
class Return:
    ts: float
    locale: str
    u_impression: float
    u_pick: float
    u_base: float
    base_items: list[tuple[str, int]]
    delays: tuple[float, float, float]


@dataclass(kw_only=True)
class Counts:
    """What a visitor's sessions met and did on the server; a run's `Summary` adds them up."""
    requests: int = 0
    blocks: int = 0
    no_block: int = 0
    impressions: int = 0
    restores: int = 0
    orders: int = 0


@dataclass
class Visitor(Counts):
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
            events.append(purchase(f"{orders}-{n}-0", [(p["id"], q, p["price"]) for p, q in cart], ts))
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


def purchase(order_id: str, items: list[tuple[str, int, float]], ts: float) -> dict[str, Any]:
    total = round(sum(q * price for _, q, price in items), 2)
    return {"type": "purchase", "order_id": order_id, "total": total, "currency": "TRY", "ts": ts,
            "items": [{"id": pid, "qty": q, "price": price} for pid, q, price in items]}


def totals(people: list[Visitor]) -> dict[str, int]:
    """Every counter of `Counts`, summed over the visitors."""
    return {f.name: sum(getattr(v, f.name) for v in people) for f in fields(Counts)}

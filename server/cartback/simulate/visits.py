"""One simulated visitor's sessions against the server: the first visit's events, and each return's
empty cart, block, impression, click, restore and purchases as the plan drew them."""

from __future__ import annotations

import html as htmlmod
import json
import random
import re
from typing import Any

from .client import Client
from .planner import Return, Visitor, purchase

_BLOCK_ID = re.compile(r'data-cartback-block="([^"]+)"')
_SECTION = re.compile(r'data-section="(\w+)"(.*?)</section>', re.S)
_PRODUCT = re.compile(r'data-cartback-product="([^"]+)"')


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
    for card, w in zip(cards, weights, strict=True):
        acc += w
        if target < acc:
            return card
    return cards[-1]



def first_visit(client: Client, v: Visitor) -> None:
    client.post(v, v.first)


def return_visit(client: Client, v: Visitor, ret: Return) -> None:
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
                        events.append(purchase(f"{client.orders}-{v.n}-{v.orders}", items, buy_ts))
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
                events.append(purchase(f"{client.orders}-{v.n}-{v.orders}", items, buy_ts))
    elif r.status_code == 204:
        v.no_block += 1
    if ret.u_base < client.rates.buy_base:
        items = [(pid, q, prices[pid]) for pid, q in ret.base_items if pid in prices]
        buy_ts = ret.ts + 1800 + ret.delays[1]
        if items and buy_ts < client.now - 60:
            v.orders += 1
            events.append(purchase(f"{client.orders}-{v.n}-{v.orders}", items, buy_ts))
    if events:
        events.sort(key=lambda e: e["ts"])
        client.post(v, events)



"""What `cartback demo` writes to Cartback's database before serving: the shop `demo` (a Shopify shop
with SKUs), its catalog, and made-up earlier shoppers, so the block and the report have something
to show on the first visit."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .catalog import expand_urls, import_catalog, load_catalog

SHOP_ID = "demo"
SAMPLE_PREFIX = "sample-"

# The demo shop is a Shopify shop whose catalog (and JSON-LD) uses SKUs as ids: the Shopify adapter
# tracks the theme's own cart and reports SKUs, and the empty cart is found by Shopify's preset.
PLATFORM_SETTINGS: dict[str, Any] = {"platform": "shopify", "id_field": "sku"}
# A marketer previewing the block must always see it: no control group in the demo (one can still
# turn it on with `cartback shop set demo holdout_share=0.1`). `--simulate` keeps the default share,
# since its uplift report needs a holdout group.
DEMO_SETTINGS: dict[str, Any] = {"holdout_share": 0}


def shop_origins(host: str, shop_port: int) -> list[str]:
    hosts = [h for h in (host, "localhost", "127.0.0.1") if h not in ("0.0.0.0", "::", "")]
    return list(dict.fromkeys(f"http://{h}:{shop_port}" for h in hosts))


def ensure_shop(conn: sqlite3.Connection, origins: list[str],
                settings: dict[str, Any] | None = DEMO_SETTINGS) -> str | None:
    """Create the shop `demo` when missing (returns its new API key); otherwise make sure the
    current origins are allowed (the ports may differ from the last run) and return None.
    `settings` (and PLATFORM_SETTINGS, always) are applied at creation, and later only where the
    shop has no value of its own."""
    from ..connection import transaction
    from ..shops import create_shop, get_shop, normalize_origin, update_settings

    settings = {**PLATFORM_SETTINGS, **(settings or {})}
    shop = get_shop(conn, SHOP_ID)
    if shop is None:
        return transaction(conn, create_shop, SHOP_ID, origins, None, "tr", "TRY", settings)
    stored = json.loads(conn.execute("SELECT settings FROM shops WHERE id = ?", (SHOP_ID,)).fetchone()[0])
    missing_settings = {k: v for k, v in settings.items() if k not in stored}
    if missing_settings:
        transaction(conn, update_settings, SHOP_ID, missing_settings)
    wanted = [normalize_origin(o) for o in origins]
    missing = [o for o in wanted if o and o not in shop.origins]
    if missing:
        # shops.py has no origin editor yet; the demo only ever adds its own loopback origins.
        merged = sorted(set(shop.origins) | set(missing))
        transaction(conn, lambda c: c.execute("UPDATE shops SET origins = ? WHERE id = ?",
                                              (json.dumps(merged), SHOP_ID)))
    return None


# Shoppers who came before: they give "you may also like" something to learn from and the report
# something to show. Groups of products people tend to look at together.
_INTERESTS = [
    (["KB-1003", "KB-2001", "KB-4002", "KB-1004", "KB-3002"], 5),   # breakfast table
    (["KB-1001", "KB-1002", "KB-2002", "KB-1008"], 4),              # dark, strong honey
    (["KB-3001", "KB-3004", "KB-3002", "KB-1007", "KB-3003"], 3),   # health shelf
    (["KB-4001", "KB-4002", "KB-1005", "KB-1006"], 2),              # gifts
]


def seed_sample_shoppers(conn: sqlite3.Connection, shop_id: str, products: list[dict[str, Any]], *,
                         visitors: int = 90, days: int = 14, seed: int = 7, now: float | None = None) -> int:
    """Browsing histories of made-up earlier visitors (vid `sample-NNN`), written through the same
    ingest code as real events. Runs once per database; returns the number of events written."""
    from ..connection import transaction
    from ..ingest import apply_events
    from ..shops import get_shop
    from ..validation import parse_event

    if conn.execute("SELECT 1 FROM visitors WHERE shop = ? AND vid LIKE ? LIMIT 1",
                    (shop_id, SAMPLE_PREFIX + "%")).fetchone():
        return 0
    shop = get_shop(conn, shop_id)
    assert shop is not None
    rng = random.Random(seed)
    now = now or time.time()
    price = {p["id"]: p["price"] for p in products}
    product_ids = list(price)
    known = set(product_ids)
    groups = [([p for p in ids if p in known], w) for ids, w in _INTERESTS]
    groups = [(ids, w) for ids, w in groups if ids]
    weights = [w for _, w in groups]

    def write_all(c: sqlite3.Connection) -> int:
        count = 0
        for n in range(visitors):
            ids = rng.choices(groups, weights)[0][0]
            seen = rng.sample(ids, k=min(len(ids), rng.randint(2, 4)))
            if rng.random() < 0.3:
                seen.append(rng.choice(product_ids))
            ts = now - rng.uniform(3600, days * 86400)
            raw: list[dict[str, Any]] = []
            for pid in dict.fromkeys(seen):
                ts += rng.uniform(20, 240)
                raw.append({"type": "view", "product": pid, "ts": ts})
            carted = {e["product"]: rng.choice([1, 1, 1, 2]) for e in raw if rng.random() < 0.4}
            for pid, qty in carted.items():
                ts += rng.uniform(10, 60)
                raw.append({"type": "add", "product": pid, "qty": qty, "ts": ts})
            if raw and rng.random() < 0.2:
                ts += 30
                raw.append({"type": "favorite", "product": raw[0]["product"], "ts": ts})
            if carted and rng.random() < 0.35:
                ts += rng.uniform(60, 600)
                items = [{"id": pid, "qty": qty, "price": price[pid]} for pid, qty in carted.items()]
                raw.append({"type": "purchase", "order_id": f"SAMPLE-{n:04d}", "currency": "TRY", "ts": ts,
                            "total": round(sum(i["price"] * i["qty"] for i in items), 2), "items": items})
            events = [parse_event(r, f"sample[{i}]", shop, []) for i, r in enumerate(raw)]
            apply_events(c, shop_id, f"{SAMPLE_PREFIX}{n:03d}", events, ts, new_visitor=True, trust_ts=True)
            count += len(events)
        return count

    return transaction(conn, write_all)


@dataclass
class Seeded:
    """What `prepare` did, for the command's messages."""
    api_key: str | None           # the new shop's key (None: the shop existed)
    catalog: list[dict[str, Any]]  # the products with absolute URLs on the shop's origin
    imported: int
    sampled: int                  # sample shoppers' events written (0: they were there already)


def prepare(db_path: str, origins: list[str], shop_url: str, *, simulate: bool) -> Seeded:
    """The shop, its catalog and the sample shoppers in `db_path` (created when missing). A shop
    made for `--simulate` keeps the default holdout share, which the simulated report needs."""
    from ..connection import connect_sync

    conn = connect_sync(db_path)
    try:
        api_key = ensure_shop(conn, origins, {} if simulate else DEMO_SETTINGS)
        catalog = expand_urls(load_catalog(), shop_url)
        imported = import_catalog(conn, SHOP_ID, catalog)
        sampled = seed_sample_shoppers(conn, SHOP_ID, catalog)
    finally:
        conn.close()
    return Seeded(api_key, catalog, imported, sampled)

"""The demo shop's products: `demo_site/catalog.jsonl`, and its import as the shop's Cartback catalog."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import asset_dir

SITE_DIR = Path(os.environ.get("CARTBACK_DEMO_SITE") or asset_dir("demo_site"))

# What the merchant's product feed carries. The catalog file also holds each product's Shopify
# `product_id` and `variant_id`, which only the shop's own cart uses: the feed's id is the SKU.
FEED_FIELDS = ("id", "name", "price", "currency", "url", "image", "category", "in_stock")


def load_catalog(path: Path | None = None) -> list[dict[str, Any]]:
    """The demo products as stored: relative `url` and `image` paths."""
    path = path or SITE_DIR / "catalog.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def expand_urls(products: Iterable[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    """Absolute `url` and `image` on the demo shop's origin (what a real feed carries)."""
    origin = origin.rstrip("/")
    out = []
    for p in products:
        q = dict(p)
        for key in ("url", "image"):
            if q.get(key, "").startswith("/"):
                q[key] = origin + q[key]
        out.append(q)
    return out


def import_catalog(conn: sqlite3.Connection, shop: str, products: list[dict[str, Any]]) -> int:
    """Import the demo products as the shop's catalog, through the merchant's import path
    (`cartback.catalog.import_stream`, JSON lines, full feed: a product dropped from the file becomes
    unavailable). Returns the number of products imported."""
    from ..catalog import import_stream

    feed = "".join(json.dumps({k: p[k] for k in FEED_FIELDS if k in p}, ensure_ascii=False) + "\n"
                   for p in products).encode("utf-8")
    result = import_stream(conn, shop, io.BytesIO(feed), fmt="jsonl", full=True)
    if result.rejected:
        raise RuntimeError(f"demo catalog rejected: {result.rejections}")
    return result.created + result.updated

"""Serving "you may also like" (`similar_products`, on a reader connection inside the block's read):
the visitor's recent products vote through the model's neighbours, the category reorders and fills,
the shop's popular products come last and only when nothing else did."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..products import CONFIRMED_SQL, SHOWABLE_SQL, product_dict, products_of, recommendable
from .model import SIGNAL_WEIGHTS, model_of

HISTORY = 5             # the visitor's most recent products that vote
CATEGORY_BOOST = 0.5    # a candidate in the visitor's recent categories counts up to 1.5 times
CATEGORIES = 3          # categories that fill in when neighbours run short

# The fills read only what `recommendable` passes, so out-of-stock, nameless or browser-reported
# products never take the places of ones that can be shown.
_RECOMMENDABLE = f"{SHOWABLE_SQL} AND {CONFIRMED_SQL}"


_DETAILS = "p.id, p.name, p.price, p.currency, p.url, p.image, p.category, p.in_stock, p.restocked_at, p.source"


def _categories_sql(n: int) -> str:
    return f"SELECT id, category FROM products WHERE shop = ? AND id IN ({','.join('?' * n)})"


def _fills_sql(n_categories: int, popular: bool) -> str:
    """The fills: popular in each category (tags 1..), popular overall; rows (tag, popularity,
    then the product's display fields)."""
    parts = []
    for i in range(n_categories):
        parts.append(f"""SELECT * FROM (SELECT {i + 1}, r.popularity, {_DETAILS} FROM rec_products r
        JOIN products p ON p.shop = r.shop AND p.id = r.product_id
        WHERE r.shop = ? AND r.category = ? AND p.category = r.category AND {_RECOMMENDABLE}
        ORDER BY r.popularity DESC LIMIT ?) AS fill{i + 1}""")
    if popular:
        parts.append(f"""SELECT * FROM (SELECT {n_categories + 1}, r.popularity, {_DETAILS}
        FROM rec_products r JOIN products p ON p.shop = r.shop AND p.id = r.product_id
        WHERE r.shop = ? AND {_RECOMMENDABLE} ORDER BY r.popularity DESC LIMIT ?) AS popular""")
    return "\nUNION ALL\n".join(parts)


def _weights(history: Sequence[tuple[str, float, str]]) -> dict[str, float]:
    """Each recent product's vote: the signal's weight, by recency (the last product counts most)."""
    weights: dict[str, float] = {}
    for p, (pid, _, signal) in enumerate(history):
        if pid not in weights:
            weights[pid] = SIGNAL_WEIGHTS.get(signal, 1.0) / (p + 1) ** 2
    return weights


def _taste(weights: dict[str, float], categories: dict[str, str | None]) -> dict[str, float]:
    """The weight of each category among the visitor's recent products."""
    taste: dict[str, float] = defaultdict(float)
    for source, weight in weights.items():
        category = categories.get(source)
        if category:
            taste[category] += weight
    return taste


def _top(scores: dict[str, float], n: int) -> list[str]:
    """The n best-scored ids, ties to the smaller id, without sorting them all."""
    if len(scores) <= n:
        return sorted(scores, key=lambda c: (-scores[c], c))
    threshold = heapq.nlargest(n, scores.values())[-1]
    best = [c for c, score in scores.items() if score >= threshold]
    best.sort(key=lambda c: (-scores[c], c))
    return best[:n]


def _choose(scores: dict[str, float], taste: dict[str, float], candidates: dict[str, dict[str, Any] | None],
            fills: Sequence[tuple[Any, ...]], exclude: set[str], k: int,
            popular_tag: int | None) -> list[dict[str, Any]]:
    """Showable candidates reranked by category, then the category fills, then (only when nothing
    else came) the shop's popular products. Pure."""
    all_taste = sum(taste.values()) or 1.0
    ranked: dict[str, float] = {}
    shown: dict[str, dict[str, Any]] = {}
    for pid, product in candidates.items():
        if product is not None and recommendable(product):
            ranked[pid] = scores[pid] * (1.0 + CATEGORY_BOOST * taste.get(product["category"], 0.0) / all_taste)
            shown[pid] = product
    chosen = sorted(ranked, key=lambda c: (-ranked[c], c))[:k]
    out = [shown[pid] for pid in chosen]
    seen = exclude | set(chosen)
    for tag, _, product in sorted(((tag, -popularity, product_dict(row)) for tag, popularity, *row in fills),
                                  key=lambda f: (f[0], f[1], f[2]["id"])):
        if len(out) >= k:
            break
        if tag == popular_tag:
            if out:
                break  # something better came: no shop-wide filler
            popular_tag = None  # nothing did: the shop's popular products, as many as fit
        if product["id"] not in seen:
            seen.add(product["id"])
            out.append(product)
    return out


def similar_products(conn: Any, shop: str, history: Sequence[tuple[str, float, str]], exclude: set[str], k: int,
                     categories: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """Up to k products for "you may also like", best first, as display dicts. history: (id,
    last_at, signal), newest first; `categories`: the categories of those products when the caller
    has them (saves a query)."""
    if k <= 0 or not history:
        return []
    recent = history[:HISTORY]
    weights = _weights(recent)
    if categories is None:
        ids = list(weights)
        categories = dict(conn.execute(_categories_sql(len(ids)), (shop, *ids)).fetchall())
    scores = model_of(conn).scores(conn, shop, weights, exclude)
    taste = _taste(weights, categories)
    # Twice what is asked for: some may turn out out of stock, and the category may reorder them.
    top = _top(scores, 2 * k)
    cats = sorted(taste, key=lambda c: (-taste[c], c))[:CATEGORIES] if len(top) < 2 * k else []
    popular = len(top) < k
    if not top and not cats and not popular:
        return []
    candidates = products_of(conn).get_many(conn, shop, top)
    fills: list[tuple[Any, ...]] = []
    if cats or popular:
        limit = k + len(exclude)
        params: list[Any] = []
        for category in cats:
            params += [shop, category, limit]
        if popular:
            params += [shop, limit]
        fills = conn.execute(_fills_sql(len(cats), popular), params).fetchall()
    return _choose(scores, taste, candidates, fills, exclude, k, len(cats) + 1 if popular else None)


def similar(conn: Any, shop: str, history: Sequence[tuple[str, float, str]], exclude: set[str], k: int) -> list[str]:
    """The ids of `similar_products`."""
    return [product["id"] for product in similar_products(conn, shop, history, exclude, k)]

""""You may also like": learned product neighbours, updated incrementally as events arrive.

Learning (`learn`, in the writer transaction, after `visitor_items` took the event). When a visitor
views, carts, favourites or buys product J, each of their WINDOW most recent other products I
(by `last_at`) is paired with J, and both directed neighbour scores grow:

    I -> J  by  w = signal(J) / gap / (1 + seconds_between / TIME_SCALE)
    J -> I  by  BACKWARD * w

`gap` is I's position in the visitor's recent items (1 = the product just before J), so products
viewed, carted and bought in sequence and together count most; `signal` weighs the event:
view 1, favourite 2, add to cart 3, purchase 4 (the data we measured on has only views, so these
four are a judgement call: stronger intent, stronger evidence, with no single cart or purchase
worth more than a handful of views). A repeated view of a product the visitor already viewed
teaches nothing new and is skipped (on the yoochoose sample that is worth +0.005 HR@8: re-views
mostly re-pair the same products). Each event also adds its signal weight to the product's
popularity (the last fallback).

Bounded: each product keeps at most PRUNE_AT neighbour rows; when an insertion passes that, the
list is cut back to its best KEEP (amortised: one cut per PRUNE_AT - KEEP new neighbours). An event
costs one read of the visitor's few most recent rows and one statement for its at most 2 x WINDOW
pairs, whatever the number of events stored.

Serving (`similar`, two queries): the visitor's HISTORY most recent products vote for their
neighbours (query 1: at most HISTORY x PRUNE_AT rows, read by primary key), each neighbour's score
normalised by its source's total (a product with many neighbours does not drown one with few) and
weighted by recency position 1/(p+1)^2 (the last product counts most) and by the strongest signal
the visitor gave that product. Query 2 reads the best candidates' details (only showable ones are
offered) and, when the neighbours run short, the fills. The second signal, category: a candidate in
the categories of the visitor's recent products counts up to CATEGORY_BOOST more, and the most
popular products of those categories fill in after the neighbours. The shop's most popular products
come only for a visitor none of whose recent products has a usable neighbour or a category. Never
random filler: a short list stays short.

Measured offline with bench/evaluate.py (the same code path, on real click logs); the parameters
below are the ones that measured best on the yoochoose sample, and the figures are flat around them.
"""

from __future__ import annotations

import contextlib
import heapq
import sqlite3
from collections import defaultdict
from typing import Any, Iterator, Sequence

SIGNAL_WEIGHTS = {"view": 1.0, "favorite": 2.0, "add": 3.0, "purchase": 4.0}
WINDOW = 5              # the visitor's recent products an event is paired with
BACKWARD = 0.7          # J -> I gets this share of I -> J (J is shown with I's neighbours too)
TIME_SCALE = 600.0      # seconds: a pair 10 minutes apart counts half
MIN_PAIR_WEIGHT = 0.01  # pairs weaker than this (about 16 hours apart) are not written
KEEP = 30               # neighbours kept per product after a cut
PRUNE_AT = 60           # cut when a product's neighbour rows pass this
HISTORY = 5             # the visitor's most recent products that vote
CATEGORY_BOOST = 0.5    # a candidate in the visitor's recent categories counts up to 1.5 times
CATEGORIES = 3          # categories that fill in when neighbours run short

_frozen = False


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Stop learning for a while (offline evaluation of a model trained up to a point)."""
    global _frozen
    before, _frozen = _frozen, True
    try:
        yield
    finally:
        _frozen = before


# -- learning (writer thread) -----------------------------------------------------------------------

_RECENT_SQL = """
SELECT product_id, last_at, views FROM visitor_items
WHERE shop = ? AND vid = ? ORDER BY last_at DESC LIMIT ?
"""

_VIEWS_SQL = "SELECT views FROM visitor_items WHERE shop = ? AND vid = ? AND product_id = ?"

_POPULARITY_SQL = """
INSERT INTO rec_products (shop, product_id, popularity, category)
VALUES (?1, ?2, ?3, (SELECT category FROM products WHERE shop = ?1 AND id = ?2))
ON CONFLICT (shop, product_id) DO UPDATE SET
    popularity = popularity + excluded.popularity,
    category = excluded.category
"""

_PAIRS_SQL = """
INSERT INTO rec_neighbours (shop, product_id, neighbour_id, score) VALUES {values}
ON CONFLICT (shop, product_id, neighbour_id) DO UPDATE SET score = score + excluded.score
RETURNING product_id, neighbour_id, score
"""
_COUNT_SQL = """
INSERT INTO rec_products (shop, product_id, neighbours) VALUES (?, ?, ?)
ON CONFLICT (shop, product_id) DO UPDATE SET neighbours = neighbours + excluded.neighbours
RETURNING neighbours
"""
_PRUNE_SQL = """
DELETE FROM rec_neighbours WHERE shop = ?1 AND product_id = ?2 AND neighbour_id IN (
    SELECT neighbour_id FROM rec_neighbours WHERE shop = ?1 AND product_id = ?2
    ORDER BY score DESC, neighbour_id LIMIT -1 OFFSET ?3)
"""
_SET_COUNT_SQL = """
UPDATE rec_products SET neighbours = (SELECT count(*) FROM rec_neighbours WHERE shop = ?1 AND product_id = ?2)
WHERE shop = ?1 AND product_id = ?2
"""


def learn(conn: sqlite3.Connection, shop: str, vid: str, product_id: str, signal: str, ts: float) -> None:
    """Pair the product the visitor just touched with their recent products (see the module doc)."""
    weight = SIGNAL_WEIGHTS.get(signal)
    if weight is None or _frozen:
        return
    rows = conn.execute(_RECENT_SQL, (shop, vid, WINDOW + 1)).fetchall()
    if signal == "view":
        views = next((r[2] for r in rows if r[0] == product_id), None)
        if views is None:
            row = conn.execute(_VIEWS_SQL, (shop, vid, product_id)).fetchone()
            views = row[0] if row else 1
        if views > 1:
            return
    conn.execute(_POPULARITY_SQL, (shop, product_id, weight))
    pairs: dict[tuple[str, str], float] = {}
    gap = 0
    for other, last_at, _ in rows:
        if other == product_id:
            continue
        gap += 1
        if gap > WINDOW:
            break
        w = weight / gap / (1.0 + max(0.0, ts - last_at) / TIME_SCALE)
        if w < MIN_PAIR_WEIGHT:
            break  # older products are further back and further apart: weaker still
        pairs[(other, product_id)] = w
        pairs[(product_id, other)] = BACKWARD * w
    if pairs:
        _add_pairs(conn, shop, pairs)


def _add_pairs(conn: sqlite3.Connection, shop: str, pairs: dict[tuple[str, str], float]) -> None:
    """Grow the pairs' scores in one statement; count the new rows; cut lists that grew too long."""
    params: list[Any] = []
    for (source, neighbour), w in pairs.items():
        params += (shop, source, neighbour, w)
    returned = conn.execute(_PAIRS_SQL.format(values=",".join(["(?, ?, ?, ?)"] * len(pairs))), params).fetchall()
    new: dict[str, int] = defaultdict(int)
    for source, neighbour, score in returned:
        # A row just inserted holds exactly the weight added; an updated one holds more (scores are > 0).
        if score == pairs[(source, neighbour)]:
            new[source] += 1
    for source, n in new.items():
        if conn.execute(_COUNT_SQL, (shop, source, n)).fetchall()[0][0] > PRUNE_AT:
            conn.execute(_PRUNE_SQL, (shop, source, KEEP))
            conn.execute(_SET_COUNT_SQL, (shop, source))


# -- serving (a reader connection, inside Database.read) ------------------------------------------

# The same "worth showing" rule as block.showable, so out-of-stock or nameless products do not
# take the places of showable ones.
_SHOWABLE = "p.in_stock = 1 AND p.name IS NOT NULL AND p.name != '' AND p.url IS NOT NULL AND p.url != ''"


def _neighbours_sql(n: int) -> str:
    """The neighbour rows of n products (a primary-key range each), and those products' categories."""
    marks = ",".join("?" * n)
    return f"""
SELECT product_id, neighbour_id, score FROM rec_neighbours WHERE shop = ? AND product_id IN ({marks})
UNION ALL
SELECT id, NULL, category FROM products WHERE shop = ? AND id IN ({marks})
"""


def _candidates_sql(n: int, n_categories: int, popular: bool) -> str:
    """Details of n candidates (tag 0), then the fills: popular in each category (tags 1..), popular overall."""
    parts = []
    if n:
        parts.append(f"SELECT p.id, 0, p.category, {_SHOWABLE}, 0 FROM products p "
                     f"WHERE p.shop = ? AND p.id IN ({','.join('?' * n)})")
    for i in range(n_categories):
        parts.append(f"""SELECT * FROM (SELECT r.product_id, {i + 1}, r.category, 1, r.popularity FROM rec_products r
        JOIN products p ON p.shop = r.shop AND p.id = r.product_id
        WHERE r.shop = ? AND r.category = ? AND p.category = r.category AND {_SHOWABLE}
        ORDER BY r.popularity DESC LIMIT ?)""")
    if popular:
        parts.append(f"""SELECT * FROM (SELECT r.product_id, {n_categories + 1}, r.category, 1, r.popularity
        FROM rec_products r JOIN products p ON p.shop = r.shop AND p.id = r.product_id
        WHERE r.shop = ? AND {_SHOWABLE} ORDER BY r.popularity DESC LIMIT ?)""")
    return "\nUNION ALL\n".join(parts)


def _score(history: Sequence[tuple[str, float, str]], rows: Sequence[tuple[Any, ...]],
           exclude: set[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Neighbour scores of the candidates, and the weight of each category in the visitor's recent products. Pure."""
    weights: dict[str, float] = {}
    for p, (pid, _, signal) in enumerate(history):
        if pid not in weights:
            weights[pid] = SIGNAL_WEIGHTS.get(signal, 1.0) / (p + 1) ** 2
    totals: dict[str, float] = defaultdict(float)
    taste: dict[str, float] = defaultdict(float)
    for source, neighbour, score in rows:
        if neighbour is not None:
            totals[source] += score
        elif score:  # a history product's category
            taste[score] += weights.get(source, 0.0)
    # Each source votes with its recency and signal weight, shared out in proportion to its scores.
    factor = {source: weights.get(source, 0.0) / total for source, total in totals.items() if total > 0}
    scores: dict[str, float] = {}
    get = scores.get
    for source, neighbour, score in rows:
        if neighbour is not None and neighbour not in exclude:
            scores[neighbour] = get(neighbour, 0.0) + factor.get(source, 0.0) * score
    return scores, taste


def _choose(scores: dict[str, float], taste: dict[str, float], rows: Sequence[tuple[Any, ...]],
            exclude: set[str], k: int, popular_tag: int | None) -> list[str]:
    """Showable candidates reranked by category, then the category fills, then (only when nothing
    else came) the shop's popular products. Pure."""
    all_taste = sum(taste.values()) or 1.0
    ranked: dict[str, float] = {}
    fills: list[tuple[int, float, str]] = []
    for pid, tag, category, showable, popularity in rows:
        if tag == 0:
            if showable and pid in scores:
                ranked[pid] = scores[pid] * (1.0 + CATEGORY_BOOST * taste.get(category, 0.0) / all_taste)
        else:
            fills.append((tag, -popularity, pid))
    out = sorted(ranked, key=lambda c: (-ranked[c], c))[:k]
    seen = exclude | set(out)
    for tag, _, pid in sorted(fills):
        if len(out) >= k:
            break
        if tag == popular_tag:
            if out:
                break  # something better came: no shop-wide filler
            popular_tag = None  # nothing did: the shop's popular products, as many as fit
        if pid not in seen:
            seen.add(pid)
            out.append(pid)
    return out


def similar(conn: sqlite3.Connection, shop: str, history: list[tuple[str, float, str]], exclude: set[str], k: int) -> list[str]:
    """Up to k product ids for "you may also like", best first (history: (id, last_at, signal), newest first)."""
    if k <= 0 or not history:
        return []
    recent = history[:HISTORY]
    ids = [pid for pid, _, _ in recent]
    scores, taste = _score(recent, conn.execute(_neighbours_sql(len(ids)), (shop, *ids, shop, *ids)).fetchall(), exclude)
    # Twice what is asked for: some may turn out out of stock, and the category may reorder them.
    top = heapq.nlargest(2 * k, scores, key=scores.__getitem__)
    categories = sorted(taste, key=lambda c: (-taste[c], c))[:CATEGORIES] if len(top) < 2 * k else []
    popular = len(top) < k
    if not top and not categories and not popular:
        return []
    limit = k + len(exclude)
    params: list[Any] = [shop, *top] if top else []
    for category in categories:
        params += [shop, category, limit]
    if popular:
        params += [shop, limit]
    rows = conn.execute(_candidates_sql(len(top), len(categories), popular), params).fetchall()
    return _choose(scores, taste, rows, exclude, k, len(categories) + 1 if popular else None)

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

Bounded: each product keeps at most PRUNE_AT neighbours; when an insertion passes that, the list
is cut back to its best KEEP (amortised: one cut per PRUNE_AT - KEEP new neighbours). The lists
live in memory (`Model`, checkpointed to `rec_neighbours`): an event costs one read of the
visitor's few most recent rows and a few dict updates, whatever the number of events stored.

Serving (`similar_products`): the visitor's HISTORY most recent products vote for their
neighbours (at most HISTORY x PRUNE_AT, from memory), each neighbour's score normalised by its
source's total (a product with many neighbours does not drown one with few) and weighted by
recency position 1/(p+1)^2 (the last product counts most) and by the strongest signal the visitor
gave that product. The best candidates' details come from the product cache (server/cartback/products.py;
only showable ones are offered); one query reads the fills, only when the neighbours run short.
The second signal, category: a candidate in
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
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

from .products import CONFIRMED, product_dict, products_of

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
SELECT product_id, last_at FROM visitor_items
WHERE shop = ? AND vid = ? ORDER BY last_at DESC, product_id LIMIT ?
"""
_VIEWS_SQL = "SELECT views FROM visitor_items WHERE shop = ? AND vid = ? AND product_id = ?"
RECENT = WINDOW + 1          # the product just touched is among a visitor's most recent ones
RECENT_VISITORS = 50_000     # visitors whose recent products are kept (~1 KB each); cleared when full


VOTE_WITH = 12  # neighbours a product votes for: HR@8 0.606-0.607 anywhere from 8 to 30 (bench/evaluate.py)


def _shares(neighbours: dict[str, float] | None) -> tuple[tuple[str, float], ...]:
    """A product's strongest VOTE_WITH neighbours, each with its share of the list's total score."""
    if not neighbours:
        return ()
    total = sum(neighbours.values())
    if total <= 0:
        return ()
    best = sorted(neighbours.items(), key=lambda kv: (-kv[1], kv[0]))[:VOTE_WITH]
    return tuple((neighbour, score / total) for neighbour, score in best)


def _best(scores: dict[str, float]) -> dict[str, float]:
    """The KEEP highest scores, ties by id: the order of sorting by (-score, id), with C-level keys
    (a cut sorts PRUNE_AT entries, and busy products are cut often)."""
    return dict(sorted(sorted(scores.items()), key=itemgetter(1), reverse=True)[:KEEP])


def _recency(item: tuple[str, float]) -> tuple[float, str]:
    return (-item[1], item[0])


def _newer(a: tuple[str, float], b: tuple[str, float]) -> bool:
    return _recency(a) < _recency(b)

_POPULARITY_SQL = """
INSERT INTO rec_products (shop, product_id, popularity, category)
VALUES (?1, ?2, ?3, (SELECT category FROM products WHERE shop = ?1 AND id = ?2))
ON CONFLICT (shop, product_id) DO UPDATE SET
    popularity = popularity + excluded.popularity,
    category = excluded.category
"""
_LOAD_SQL = "SELECT product_id, neighbour_id, score FROM rec_neighbours WHERE shop = ? AND product_id IN ({marks})"
# Products known to have no list (not held as empty dicts: invented ids would fill memory); cleared
# whole past this many.
_EMPTY_LIMIT = 100_000
_DELETE_SQL = "DELETE FROM rec_neighbours WHERE shop = ? AND product_id = ?"
_INSERT_SQL = "INSERT INTO rec_neighbours (shop, product_id, neighbour_id, score) VALUES (?, ?, ?, ?)"
_COUNT_SQL = """
INSERT INTO rec_products (shop, product_id, neighbours) VALUES (?, ?, ?)
ON CONFLICT (shop, product_id) DO UPDATE SET neighbours = excluded.neighbours
"""


class Model:
    """The learned neighbours of one database, in memory; `rec_neighbours` is their checkpoint.

    Why in memory: read and grown in SQL, the neighbours cost a query of ~200 rows per block and
    several upserts per event, the largest share of both endpoints' time (bench/README.md). Here
    an event changes a few dict entries and a block reads five dicts.

    Learning runs in one thread (the server's writer); readers (blocks) take the lock for the few
    microseconds they read. A product's list is loaded from `rec_neighbours` the first time it is
    used (never a whole shop at once: start-up costs the same with 100 products or a million). `flush(conn)` writes the lists that changed since the last flush, and the popularity
    earned, inside the caller's transaction: the server's writer writes the popularity whenever it
    runs out of work and at least every `cartback.db.POPULARITY_INTERVAL` seconds (the fills read it
    in SQL), and the lists at most every `cartback.db.FLUSH_INTERVAL` seconds (5) and on shut-down;
    `cartback.db.transaction()` (CLI, demo) writes both before each COMMIT. A flush whose
    transaction rolls back is written again (`rolled_back`). What a crash can cost is the learning
    of the last flush interval, never an event: the model is a statistic over the events, which
    are committed before they are acknowledged. One process per database file (the server's own
    rule) keeps memory and file the same. Memory: at most PRUNE_AT entries per product with
    neighbours, ~6 KB when full (60 MB for 10,000 such products).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[str, dict[str, dict[str, float]]] = {}
        self._empty: set[tuple[str, str]] = set()
        self._dirty: dict[str, set[str]] = defaultdict(set)
        self._popularity: dict[tuple[str, str], float] = defaultdict(float)
        self._recent: dict[tuple[str, str], tuple[list[tuple[str, float]], bool]] = {}
        # Per product, what it hands out when it votes: its VOTE_WITH strongest neighbours, each
        # as its share of the whole list's score. Made on first use, dropped when the list grows.
        self._votes: dict[tuple[str, str], tuple[tuple[str, float], ...]] = {}
        # Off while the writer replays calls that already learned once (cartback.db, _run_items).
        self.learning = True
        # What flush() wrote in the open transaction: put back to be written again if it rolls back.
        self._unconfirmed: list[tuple[list[tuple[str, str]], list[tuple[str, str, float]]]] = []

    def _shop(self, conn: Any, shop: str, pids: Any) -> dict[str, dict[str, float]]:
        """The shop's lists (caller holds the lock), with those of `pids` read from the checkpoint
        on first use: one product's rows at a time, so neither start-up nor a shop's first block
        costs more with the number of products the shop has (issue 12)."""
        lists = self._lists.get(shop)
        if lists is None:
            lists = self._lists[shop] = {}
        empty = self._empty
        missing = [pid for pid in pids if pid not in lists and (shop, pid) not in empty]
        if missing:
            for start in range(0, len(missing), 500):
                chunk = missing[start:start + 500]
                for source, neighbour, score in conn.execute(_LOAD_SQL.format(marks=",".join("?" * len(chunk))),
                                                             (shop, *chunk)):
                    lists.setdefault(source, {})[neighbour] = score
            if len(empty) >= _EMPTY_LIMIT:
                empty.clear()
            empty.update((shop, pid) for pid in missing if pid not in lists)
        return lists

    @property
    def dirty(self) -> bool:
        return bool(self._dirty or self._popularity)

    # -- each visitor's most recent products (what an event is paired with) --

    def touch(self, conn: Any, shop: str, vid: str, product_id: str, last_at: float) -> None:
        """visitor_items(shop, vid, product_id).last_at is now `last_at` (ingest calls this after
        every write that moves it). Keeps the visitor's RECENT most recent products in memory, so
        learning needs no query; a visitor not in memory is read once."""
        key = (shop, vid)
        window = self._recent.get(key)
        if window is None:
            rows = conn.execute(_RECENT_SQL, (shop, vid, RECENT + 1)).fetchall()
            if len(self._recent) >= RECENT_VISITORS:
                self._recent.clear()
            self._recent[key] = (rows[:RECENT], len(rows) > RECENT)
            return  # read after the write: already current
        items, truncated = window
        items = [item for item in items if item[0] != product_id]
        entry = (product_id, last_at)
        if truncated and len(items) >= RECENT and _newer(items[-1], entry):
            return  # older than everything kept: it stays out, as in the table
        items.append(entry)
        items.sort(key=_recency)
        if len(items) > RECENT:
            items, truncated = items[:RECENT], True
        self._recent[key] = (items, truncated)

    def recent(self, shop: str, vid: str) -> list[tuple[str, float]] | None:
        """The visitor's most recent (product, last_at), newest first, when held in memory."""
        window = self._recent.get((shop, vid))
        return None if window is None else list(window[0])

    def forget_visitor(self, shop: str, vid: str) -> None:
        self._recent.pop((shop, vid), None)

    def forget_visitors(self) -> None:
        """Drop every visitor's recent products (after retention deleted rows; after a rollback)."""
        self._recent.clear()

    def learn(self, conn: Any, shop: str, vid: str, product_id: str, signal: str, ts: float,
              views: int | None = None) -> None:
        """Pair the product the visitor just touched with their recent products (see the module
        doc). `touch` has seen the write; `views`: the visitor's views of it, for a view."""
        weight = SIGNAL_WEIGHTS.get(signal)
        if weight is None or _frozen or not self.learning:
            return
        if signal == "view":
            if views is None:
                row = conn.execute(_VIEWS_SQL, (shop, vid, product_id)).fetchone()
                views = row[0] if row else 1
            if views > 1:
                return
        window = self._recent.get((shop, vid))
        if window is None:  # not touched through this model (a caller outside ingest)
            self._recent[(shop, vid)] = window = (conn.execute(_RECENT_SQL, (shop, vid, RECENT)).fetchall(), True)
        rows = window[0]
        self._popularity[(shop, product_id)] += weight
        pairs: list[tuple[str, str, float]] = []
        gap = 0
        for other, last_at in rows:
            if other == product_id:
                continue
            gap += 1
            if gap > WINDOW:
                break
            w = weight / gap / (1.0 + max(0.0, ts - last_at) / TIME_SCALE)
            if w < MIN_PAIR_WEIGHT:
                break  # older products are further back and further apart: weaker still
            pairs.append((other, product_id, w))
            pairs.append((product_id, other, BACKWARD * w))
        if not pairs:
            return
        with self._lock:
            lists = self._shop(conn, shop, {source for source, _, _ in pairs})
            dirty = self._dirty[shop]
            votes = self._votes
            for source, neighbour, w in pairs:
                scores = lists.get(source)
                if scores is None:
                    scores = lists[source] = {}
                    self._empty.discard((shop, source))
                scores[neighbour] = scores.get(neighbour, 0.0) + w
                dirty.add(source)
                votes.pop((shop, source), None)
                if len(scores) > PRUNE_AT:
                    lists[source] = _best(scores)

    def scores(self, conn: Any, shop: str, weights: dict[str, float], exclude: set[str]) -> dict[str, float]:
        """Neighbour scores for a visitor whose recent products vote with `weights`: each source's
        vote is shared out in proportion to its neighbours' scores (so a product with many
        neighbours does not drown one with few); products in `exclude` are left out."""
        scores: dict[str, float] = {}
        with self._lock:
            lists = self._shop(conn, shop, weights)
            votes = self._votes
            for source, weight in weights.items():
                shares = votes.get((shop, source))
                if shares is None:
                    shares = votes[(shop, source)] = _shares(lists.get(source))
                if not shares:
                    continue
                if not scores:  # the first list: one comprehension instead of a loop of lookups
                    scores = {neighbour: weight * share for neighbour, share in shares}
                    continue
                get = scores.get
                for neighbour, share in shares:
                    scores[neighbour] = get(neighbour, 0.0) + weight * share
        for pid in exclude & scores.keys():
            del scores[pid]
        return scores

    @property
    def popularity_pending(self) -> bool:
        return bool(self._popularity)

    def flush(self, conn: Any, lists: bool = True) -> int:
        """Write the popularity earned and (unless `lists` is false) the lists changed since the
        last flush; returns the number of lists written. Runs inside the caller's transaction, in
        the learning thread."""
        with self._lock:
            changed = [(shop, pid, dict(self._lists[shop].get(pid) or {}))
                       for shop, pids in self._dirty.items() for pid in sorted(pids)] if lists else []
            popularity = [(shop, pid, w) for (shop, pid), w in self._popularity.items()]
            if lists:
                self._dirty = defaultdict(set)
            self._popularity = defaultdict(float)
        try:
            if changed:
                conn.executemany(_DELETE_SQL, [(shop, pid) for shop, pid, _ in changed])
                conn.executemany(_INSERT_SQL, [(shop, pid, n, score) for shop, pid, scores in changed
                                               for n, score in scores.items()])
                conn.executemany(_COUNT_SQL, [(shop, pid, len(scores)) for shop, pid, scores in changed])
            if popularity:
                conn.executemany(_POPULARITY_SQL, popularity)
        except BaseException:
            self._restore([(shop, pid) for shop, pid, _ in changed], popularity)  # the next flush tries again
            raise
        if changed or popularity:
            self._unconfirmed.append(([(shop, pid) for shop, pid, _ in changed], popularity))
        return len(changed)

    def committed(self) -> None:
        """The transaction that holds the last flushes committed: they are in the file."""
        self._unconfirmed.clear()

    def rolled_back(self) -> None:
        """The transaction that holds the last flushes rolled back: write their lists and
        popularity again with the next flush. Also drops the visitors' recent products, which may
        name rows the rollback removed."""
        for lists, popularity in self._unconfirmed:
            self._restore(lists, popularity)
        self._unconfirmed.clear()
        self._recent.clear()

    def _restore(self, lists: list[tuple[str, str]], popularity: list[tuple[str, str, float]]) -> None:
        with self._lock:
            for shop, pid in lists:
                self._dirty[shop].add(pid)
            for shop, pid, w in popularity:
                self._popularity[(shop, pid)] += w

    def forget_products(self, shop: str, ids: list[str]) -> None:
        """Products deleted from the file (server/cartback/caps.py): their lists and votes go too."""
        with self._lock:
            lists = self._lists.get(shop)
            dirty = self._dirty.get(shop)
            for pid in ids:
                if lists is not None:
                    lists.pop(pid, None)
                if dirty is not None:
                    dirty.discard(pid)
                self._votes.pop((shop, pid), None)
                self._popularity.pop((shop, pid), None)

    def forget(self) -> None:
        """Drop everything held in memory (tests; a restore of the database file)."""
        with self._lock:
            self._lists.clear()
            self._empty.clear()
            self._dirty = defaultdict(set)
            self._popularity = defaultdict(float)
            self._recent.clear()
            self._votes.clear()


def model_of(conn: Any) -> Model:
    """The model a connection learns into (db.connect_sync and Database give every connection one)."""
    model = getattr(conn, "model", None)
    if model is None:
        raise RuntimeError("this connection has no recommender model; open it with cartback.db.connect_sync")
    return model


def learn(conn: Any, shop: str, vid: str, product_id: str, signal: str, ts: float,
          views: int | None = None) -> None:
    model_of(conn).learn(conn, shop, vid, product_id, signal, ts, views)


def touch(conn: Any, shop: str, vid: str, product_id: str, last_at: float) -> None:
    model_of(conn).touch(conn, shop, vid, product_id, last_at)


# -- serving (a reader connection, inside Database.read) ------------------------------------------

# The same "worth showing" rule as block.showable, so out-of-stock or nameless products do not
# take the places of showable ones.
# Catalog products only: browser-reported details are for the reporting visitor's own cards (issue 12).
_SHOWABLE = ("p.in_stock = 1 AND p.name IS NOT NULL AND p.name != '' AND p.url IS NOT NULL AND p.url != '' "
             "AND p.source IN ('catalog', 'page')")


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
        WHERE r.shop = ? AND r.category = ? AND p.category = r.category AND {_SHOWABLE}
        ORDER BY r.popularity DESC LIMIT ?)""")
    if popular:
        parts.append(f"""SELECT * FROM (SELECT {n_categories + 1}, r.popularity, {_DETAILS}
        FROM rec_products r JOIN products p ON p.shop = r.shop AND p.id = r.product_id
        WHERE r.shop = ? AND {_SHOWABLE} ORDER BY r.popularity DESC LIMIT ?)""")
    return "\nUNION ALL\n".join(parts)


def _showable(product: dict[str, Any] | None) -> bool:
    # The same rule as block.showable and _SHOWABLE.
    return bool(product and product["name"] and product["url"] and product["in_stock"] == 1
                and product.get("source") in CONFIRMED)


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
    for pid, product in candidates.items():
        if _showable(product):
            assert product is not None
            ranked[pid] = scores[pid] * (1.0 + CATEGORY_BOOST * taste.get(product["category"], 0.0) / all_taste)
    chosen = sorted(ranked, key=lambda c: (-ranked[c], c))[:k]
    out = [candidates[pid] for pid in chosen]
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
    return out  # type: ignore[return-value]


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

"""The learned neighbours in memory (`Model`): learning from each event in the writer thread, each
visitor's recent products, each product's votes, and the checkpoint to `rec_neighbours` /
`rec_products` (see the package doc for the scores)."""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

SIGNAL_WEIGHTS = {"view": 1.0, "favorite": 2.0, "add": 3.0, "purchase": 4.0}
WINDOW = 5              # the visitor's recent products an event is paired with
BACKWARD = 0.7          # J -> I gets this share of I -> J (J is shown with I's neighbours too)
TIME_SCALE = 600.0      # seconds: a pair 10 minutes apart counts half
MIN_PAIR_WEIGHT = 0.01  # pairs weaker than this (about 16 hours apart) are not written
KEEP = 30               # neighbours kept per product after a cut
PRUNE_AT = 60           # cut when a product's neighbour rows pass this



class _Switch:
    """Process-wide: learning stopped by `frozen()`."""

    frozen = False


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Stop learning for a while (offline evaluation of a model trained up to a point)."""
    before, _Switch.frozen = _Switch.frozen, True
    try:
        yield
    finally:
        _Switch.frozen = before



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


def _weight(conn: Any, shop: str, vid: str, product_id: str, signal: str, views: int | None) -> float | None:
    """What the event teaches, by its signal; None when nothing (frozen, not a signal, a repeated view)."""
    weight = SIGNAL_WEIGHTS.get(signal)
    if weight is None or _Switch.frozen:
        return None
    if signal == "view":
        if views is None:
            row = conn.execute(_VIEWS_SQL, (shop, vid, product_id)).fetchone()
            views = row[0] if row else 1
        if views > 1:
            return None
    return weight


def _pairs(rows: list[tuple[str, float]], product_id: str, weight: float, ts: float) -> list[tuple[str, str, float]]:
    """(source, neighbour, score) for `product_id` touched at `ts` after the visitor's recent `rows`
    (newest first): each forward pair I -> J followed by its backward J -> I."""
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
    return pairs


_POPULARITY_SQL = """
INSERT INTO rec_products (shop, product_id, popularity, category)
VALUES (?1, ?2, ?3, (SELECT category FROM products WHERE shop = ?1 AND id = ?2))
ON CONFLICT (shop, product_id) DO UPDATE SET
    popularity = rec_products.popularity + excluded.popularity,  -- named: PostgreSQL finds it ambiguous
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


def write_lists(conn: Any, changed: list[tuple[str, str, dict[str, float]]]) -> None:
    """Replace the checkpoint of each (shop, product, its whole list)."""
    if changed:
        conn.executemany(_DELETE_SQL, [(shop, pid) for shop, pid, _ in changed])
        conn.executemany(_INSERT_SQL, [(shop, pid, n, score) for shop, pid, scores in changed
                                       for n, score in scores.items()])
        conn.executemany(_COUNT_SQL, [(shop, pid, len(scores)) for shop, pid, scores in changed])


class Model:
    """The learned neighbours of one database, in memory; `rec_neighbours` is their checkpoint.

    Why in memory: read and grown in SQL, the neighbours would cost a query of up to PRUNE_AT rows
    per voting product per block and several upserts per event; here an event changes a few dict
    entries and a block reads five dicts.

    Learning runs in one thread (the server's writer); readers (blocks) take the lock for the few
    microseconds they read. A product's list is loaded from `rec_neighbours` the first time it is
    used (never a whole shop at once: start-up costs the same with 100 products or a million).
    `flush(conn)` writes the lists that changed since the last flush, and the popularity
    earned, inside the caller's transaction: the server's writer writes the popularity whenever it
    runs out of work and at least every `cartback.db.POPULARITY_INTERVAL` seconds (the fills read it
    in SQL), and the lists at most every `cartback.db.FLUSH_INTERVAL` seconds (5) and on shut-down;
    `cartback.connection.transaction()` (CLI, demo) writes both before each COMMIT. A flush whose
    transaction rolls back is written again (`rolled_back`). What a crash can cost is the learning
    of the last flush interval, never an event: the model is a statistic over the events, which
    are committed before they are acknowledged. One process per database file (the server's own
    rule) keeps memory and file the same; with several, `learner.SharedModel` learns through a log
    that one of them applies. Memory: at most PRUNE_AT entries per product with
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
        # While the writer runs a call: its lessons, applied when it returns (`keep_lessons`) and
        # dropped when it raises, since the savepoint that undoes its rows cannot undo memory.
        self.lessons: list[tuple[Any, str, str, float, list[tuple[str, str, float]]]] | None = None
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
        if not self.learning:
            return
        weight = _weight(conn, shop, vid, product_id, signal, views)
        if weight is None:
            return
        window = self._recent.get((shop, vid))
        if window is None:  # not touched through this model (a caller outside ingest)
            self._recent[(shop, vid)] = window = (conn.execute(_RECENT_SQL, (shop, vid, RECENT)).fetchall(), True)
        pairs = _pairs(window[0], product_id, weight, ts)
        if self.lessons is not None:
            self.lessons.append((conn, shop, product_id, weight, pairs))
        else:
            self._teach(conn, shop, product_id, weight, pairs)

    def _teach(self, conn: Any, shop: str, product_id: str, weight: float, pairs: list[tuple[str, str, float]]) -> None:
        self._popularity[(shop, product_id)] += weight
        if pairs:
            self.add_pairs(conn, shop, pairs)

    def keep_lessons(self) -> None:
        """The call that learned them returned: apply its lessons, in order."""
        lessons, self.lessons = self.lessons, None
        for lesson in lessons or ():
            self._teach(*lesson)

    def add_pairs(self, conn: Any, shop: str, pairs: list[tuple[str, str, float]]) -> None:
        """Grow each (source, neighbour) score by its weight, in order, cutting lists past PRUNE_AT."""
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
            write_lists(conn, changed)
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
    """The model a connection learns into (connection.connect_sync and db.Database give every connection one)."""
    model: Model | None = getattr(conn, "model", None)
    if model is None:
        raise RuntimeError("this connection has no recommender model; open it with cartback.connection.connect_sync")
    return model


def learn(conn: Any, shop: str, vid: str, product_id: str, signal: str, ts: float,
          views: int | None = None) -> None:
    model_of(conn).learn(conn, shop, vid, product_id, signal, ts, views)


def touch(conn: Any, shop: str, vid: str, product_id: str, last_at: float) -> None:
    model_of(conn).touch(conn, shop, vid, product_id, last_at)

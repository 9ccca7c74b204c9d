"""Learned neighbours: what events teach, how lists stay bounded, how "you may also like" is ranked.

Events go through the real ingest (`apply_events` → `recommend.learn`) on a real migrated SQLite
file; `similar` reads through a connection wrapper that counts queries.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from cartback import recommend, store
from cartback.connection import connect_sync, transaction
from cartback.ingest import apply_events
from cartback.shops import create_shop, merged_settings
from cartback.validation import Event

from tests.conftest import UNIT_SHOP, new_database, sqlite_only

SHOP = UNIT_SHOP
T0 = 1_700_000_000.0


class Reader:
    """A plain connection that counts the queries run through it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.model = conn.model
        self.queries = 0

    def execute(self, sql, params=()):
        self.queries += 1
        return self.conn.execute(sql, params)


def catalog(conn, *ids, category=None, in_stock=True, named=True):
    def write(c):
        for pid in ids:
            c.execute(
                "INSERT INTO products (shop, id, name, url, category, in_stock, source, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'catalog', 0) ON CONFLICT (shop, id) DO UPDATE SET "
                "name = excluded.name, url = excluded.url, category = excluded.category, in_stock = excluded.in_stock",
                (SHOP, pid, pid.upper() if named else None, f"http://shop.test/{pid}", category, int(in_stock)))
    transaction(conn, write)


def events(conn, vid, *evs, start=T0, step=10.0):
    """evs: product ids (views) or (type, id) pairs, `step` seconds apart."""
    batch = []
    for n, e in enumerate(evs):
        kind, pid = ("view", e) if isinstance(e, str) else e
        if kind == "purchase":
            batch.append(Event(type="purchase", order_id=f"o-{vid}-{n}", total=1.0, currency="TRY",
                               items=[(pid, 1, 1.0, None)], ts=start + n * step))
        else:
            batch.append(Event(type=kind, product_id=pid, qty=1 if kind == "add" else None, ts=start + n * step))
    transaction(conn, apply_events, SHOP, vid, batch, start, True, True)


def score(conn, a, b):
    row = conn.execute("SELECT score FROM rec_neighbours WHERE shop = ? AND product_id = ? AND neighbour_id = ?",
                       (SHOP, a, b)).fetchone()
    return row[0] if row else None


def similar(conn, history, exclude=(), k=8):
    conn.model.scores(conn, SHOP, {}, set())  # the shop's one-time load into memory is not per block
    reader = Reader(conn)
    hist = [(pid, T0, "view") if isinstance(pid, str) else pid for pid in history]
    out = recommend.similar(reader, SHOP, hist, set(exclude) | {h[0] for h in hist}, k)
    # Bounded whatever the history: categories, the candidates' details, the fills (the server
    # passes the categories and caches details, so a block usually needs none of the three).
    assert reader.queries <= 3
    return out


# -- learning ---------------------------------------------------------------------------------------

def test_sequence_pairs_weighted_by_gap_time_and_direction(conn):
    events(conn, "v", "a", "b", "c", step=0.001)
    # c follows b directly (gap 1) and a at gap 2; the backward link gets BACKWARD of the forward one.
    assert score(conn, "b", "c") == pytest.approx(1.0, rel=1e-4)
    assert score(conn, "a", "c") == pytest.approx(0.5, rel=1e-4)
    assert score(conn, "c", "b") == pytest.approx(recommend.BACKWARD, rel=1e-4)
    assert score(conn, "a", "b") == pytest.approx(1.0, rel=1e-4)


def test_pairs_far_apart_in_time_count_less_and_a_day_apart_not_at_all(conn):
    events(conn, "v", "a", "b", step=600.0)
    assert score(conn, "a", "b") == pytest.approx(0.5)  # ten minutes apart: half
    events(conn, "w", "x", "y", step=86400.0)
    assert score(conn, "x", "y") is None


def test_stronger_signals_count_more(conn):
    events(conn, "v1", "a", "b", step=0.001)
    events(conn, "v2", "a", ("add", "c"), step=0.001)
    events(conn, "v3", "a", ("purchase", "d"), step=0.001)
    events(conn, "v4", "a", ("favorite", "e"), step=0.001)
    assert score(conn, "a", "d") > score(conn, "a", "c") > score(conn, "a", "e") > score(conn, "a", "b")


def test_repeated_view_teaches_nothing_new_but_a_cart_does(conn):
    events(conn, "v", "a", "b", "a", "b", "a", step=0.001)
    assert score(conn, "a", "b") == pytest.approx(1.0, rel=1e-4)
    events(conn, "v", ("add", "b"), start=T0 + 100)
    assert score(conn, "a", "b") > 1.0


def test_repeated_add_or_favourite_teaches_once_until_taken_back(conn):
    events(conn, "v", "a", ("add", "b"), ("favorite", "c"), step=0.001)
    once_b, once_c = score(conn, "a", "b"), score(conn, "a", "c")
    # One more jar of b, c favourited again (a shop calling favorite on every page): nothing new.
    events(conn, "v", ("add", "b"), ("favorite", "c"), ("add", "b"), start=T0 + 1)
    assert (score(conn, "a", "b"), score(conn, "a", "c")) == (once_b, once_c)
    qty, fav_at = conn.execute("SELECT cart_qty, fav_at FROM visitor_items WHERE vid = 'v' "
                               "AND product_id IN ('b', 'c') ORDER BY product_id").fetchall()
    assert qty[0] == 3 and fav_at[1] == pytest.approx(T0 + 0.002)  # the first favourite's moment stays
    # Taken back and chosen again: a new signal.
    events(conn, "v", ("remove", "b"), ("unfavorite", "c"), ("add", "b"), ("favorite", "c"), start=T0 + 2)
    assert score(conn, "a", "b") > once_b and score(conn, "a", "c") > once_c
    # The shop emptied the cart (after 24 hours): putting b back in counts again, from one jar.
    twice_b = score(conn, "a", "b")
    transaction(conn, apply_events, SHOP, "v", [Event(type="cart", items=[], ts=T0 + 3)], T0 + 3, False, True)
    events(conn, "v", ("add", "b"), start=T0 + 4)
    assert score(conn, "a", "b") > twice_b
    assert conn.execute("SELECT cart_qty FROM visitor_items WHERE vid = 'v' AND product_id = 'b'").fetchone() == (1,)


def test_learning_looks_at_a_bounded_window_of_the_visitor(conn):
    events(conn, "v", *[f"p{i}" for i in range(20)], "z", step=0.001)
    partners = {r[0] for r in conn.execute("SELECT product_id FROM rec_neighbours WHERE neighbour_id = 'z'")}
    assert partners == {f"p{i}" for i in range(20 - recommend.WINDOW, 20)}


def test_neighbour_lists_stay_bounded_and_keep_the_strongest(conn):
    # "hub" co-occurs with many products; "best" with it in many visits.
    for n in range(8):
        events(conn, f"best{n}", "hub", "best", step=0.001)
    for n in range(3 * recommend.PRUNE_AT):
        events(conn, f"v{n}", "hub", f"p{n}", step=0.001)
    count = conn.execute("SELECT count(*) FROM rec_neighbours WHERE shop = ? AND product_id = 'hub'",
                         (SHOP,)).fetchone()[0]
    assert recommend.KEEP <= count <= recommend.PRUNE_AT
    assert score(conn, "hub", "best") == pytest.approx(8.0, rel=1e-4)
    counted = conn.execute("SELECT neighbours FROM rec_products WHERE shop = ? AND product_id = 'hub'",
                           (SHOP,)).fetchone()[0]
    assert counted == count


def test_frozen_stops_learning(conn):
    with recommend.frozen():
        events(conn, "v", "a", "b", step=0.001)
    assert score(conn, "a", "b") is None
    events(conn, "w", "a", "b", step=0.001)
    assert score(conn, "a", "b") == pytest.approx(1.0, rel=1e-4)


def test_shops_learn_apart(conn):
    transaction(conn, create_shop, "s2", ["http://other.test"])
    events(conn, "v", "a", "b", step=0.001)
    transaction(conn, apply_events, "s2", "v", [Event(type="view", product_id="a", ts=T0),
                                                Event(type="view", product_id="c", ts=T0)], T0, True, True)
    assert {r[0] for r in conn.execute("SELECT neighbour_id FROM rec_neighbours WHERE shop = 's2'")} == {"a", "c"}
    assert score(conn, "a", "c") is None


# -- serving ----------------------------------------------------------------------------------------

def test_neighbours_of_the_most_recent_product_come_first(conn):
    catalog(conn, "a", "b", "x", "y")
    for n in range(3):
        events(conn, f"u{n}", "a", "x", step=0.001)
        events(conn, f"w{n}", "b", "y", step=0.001)
    # History newest first: b was looked at last, so its neighbour y leads.
    assert similar(conn, ["b", "a"]) == ["y", "x"]
    assert similar(conn, ["a", "b"]) == ["x", "y"]


def test_strong_signal_in_history_weighs_more(conn):
    catalog(conn, "a", "b", "x", "y")
    events(conn, "u", "a", "x", step=0.001)
    events(conn, "w", "b", "y", step=0.001)
    assert similar(conn, [("b", T0, "view"), ("a", T0, "purchase")]) == ["x", "y"]


def test_excluded_out_of_stock_and_unnamed_products_are_not_offered(conn):
    catalog(conn, "a", "x", "y")
    catalog(conn, "gone", in_stock=False)
    catalog(conn, "noname", named=False)
    for other in ("x", "y", "gone", "noname", "unknown"):
        events(conn, f"v-{other}", "a", other, step=0.001)
    assert sorted(similar(conn, ["a"], exclude={"y"})) == ["x"]


def test_category_is_a_second_signal_and_fills_in(conn):
    catalog(conn, "a", "x", category="honey")
    catalog(conn, "y", category="tea")
    catalog(conn, "h1", "h2", category="honey")
    events(conn, "u", "a", "y", step=0.001)   # y: a slightly stronger neighbour of a...
    events(conn, "w", "a", "x", step=5.0)   # ...x: in a's category
    for n in range(3):
        events(conn, f"h{n}", "h1", step=0.001)  # h1: popular honey, no neighbour of a
    events(conn, "h", "h2", step=0.001)
    assert similar(conn, ["a"], k=4) == ["x", "y", "h1", "h2"]


def test_popular_products_only_for_a_visitor_with_nothing_better(conn):
    catalog(conn, "a", "x", "lonely", "pop")
    events(conn, "u", "a", "x", step=0.001)
    events(conn, "u2", "a", step=0.001)
    for n in range(5):
        events(conn, f"p{n}", "pop", step=0.001)
    # a has a neighbour: no padding with popular products.
    assert similar(conn, ["a"]) == ["x"]
    # lonely has no neighbours and no category: the shop's popular products, most popular first.
    events(conn, "l", "lonely", step=0.001)
    assert similar(conn, ["lonely"], k=2) == ["pop", "a"]


def test_nothing_learned_nothing_offered(conn):
    assert similar(conn, ["a"]) == []
    assert similar(conn, []) == []


def test_block_shows_learned_neighbours_after_recently_viewed(conn):
    catalog(conn, "a", "b", "x")
    events(conn, "u", "a", "x", step=0.001)
    events(conn, "me", "b", "a", step=0.001)
    sections = store.compute_sections(conn, SHOP, "me", merged_settings({}))
    assert [(s.key, [p["id"] for p in s.products]) for s in sections] == [("viewed", ["a", "b"]), ("similar", ["x"])]


def test_products_entering_the_cart_by_snapshot_are_learned(tmp_path):
    from cartback.ingest import apply_events
    from cartback.validation import Event

    c = connect_sync(new_database(tmp_path, "snap.db"))
    transaction(c, create_shop, SHOP, ["http://shop.test"])
    for vid in ("v1", "v2"):
        carts = [Event(type="cart", items=[("a", 1, None, None)]),
                 Event(type="cart", items=[("a", 1, None, None), ("b", 1, None, None)])]
        transaction(c, apply_events, SHOP, vid, carts, T0, True)
    pairs = {(r[0], r[1]) for r in c.execute("SELECT product_id, neighbour_id FROM rec_neighbours WHERE shop = ?",
                                             (SHOP,))}
    assert ("a", "b") in pairs
    # Each snapshot that brings b in counts as an add (weight 3) towards its popularity.
    assert c.execute("SELECT popularity FROM rec_products WHERE shop = ? AND product_id = 'b'",
                     (SHOP,)).fetchone() == (6.0,)


# -- the model in memory and its checkpoint ---------------------------------------------------------

def _views_of(vid_products: list[str]) -> list[Event]:
    return [Event(type="view", product_id=pid, ts=T0 + n * 0.001) for n, pid in enumerate(vid_products)]


@sqlite_only  # direct mode; on PostgreSQL every server is in shared mode (test_recommend_learner.py)
def test_the_server_serves_what_it_learned_at_once_and_keeps_it_across_a_restart(tmp_path):
    from cartback.db import Database

    path = str(tmp_path / "model.db")
    setup = connect_sync(path)
    transaction(setup, create_shop, SHOP, ["http://shop.test"])
    catalog(setup, "a", "b", "x")
    setup.close()

    async def learn_then_serve() -> list[str]:
        db = Database(path)
        await db.start()
        try:
            await db.write(apply_events, SHOP, "u", _views_of(["a", "x"]), T0, True, True)
            await db.write(apply_events, SHOP, "me", _views_of(["b", "a"]), T0, True, True)
            sections = db.read_inline(store.compute_sections, SHOP, "me", merged_settings({}))
            return [p["id"] for s in sections if s.key == "similar" for p in s.products]
        finally:
            await db.close()

    async def serve_only() -> list[str]:
        db = Database(path)
        await db.start()
        try:
            sections = await db.read(store.compute_sections, SHOP, "me", merged_settings({}))
            return [p["id"] for s in sections if s.key == "similar" for p in s.products]
        finally:
            await db.close()

    import asyncio
    assert asyncio.run(learn_then_serve()) == ["x"]
    # Shut-down wrote the checkpoint: a new process starts from it.
    assert score(sqlite3.connect(path), "a", "x") == pytest.approx(1.0, rel=1e-4)
    assert asyncio.run(serve_only()) == ["x"]


@sqlite_only  # direct mode's checkpoint, as above
def test_a_quiet_writer_checkpoints_on_its_own(tmp_path):
    from cartback.db import Database

    path = str(tmp_path / "quiet.db")
    setup = connect_sync(path)
    transaction(setup, create_shop, SHOP, ["http://shop.test"])
    setup.close()

    async def scenario() -> float | None:
        db = Database(path, flush_interval=0.3)
        await db.start()
        try:
            await db.write(apply_events, SHOP, "u", _views_of(["a", "b"]), T0, True, True)
            # No more writes: the writer flushes within its interval, not only at shut-down.
            deadline = time.monotonic() + 30 * db.flush_interval
            while time.monotonic() < deadline:
                found = score(sqlite3.connect(path), "a", "b")
                if found is not None:
                    return found
                await asyncio.sleep(0.05)
            return None
        finally:
            await db.close()

    import asyncio
    assert asyncio.run(scenario()) == pytest.approx(1.0, rel=1e-4)


def test_a_failed_checkpoint_is_written_by_the_next_one(conn, tmp_path):
    model = recommend.Model()
    conn.model = model
    conn.execute("BEGIN IMMEDIATE")
    apply_events(conn, SHOP, "v", _views_of(["a", "b"]), T0, True, True)
    conn.execute("COMMIT")
    assert model.dirty
    broken = sqlite3.connect(str(tmp_path / "rec.db"))
    broken.execute("PRAGMA query_only=1")  # every write fails
    with pytest.raises(sqlite3.OperationalError):
        model.flush(broken)
    assert model.dirty
    transaction(conn, lambda c: None)  # transaction() flushes the connection's model
    assert not model.dirty
    assert score(conn, "a", "b") == pytest.approx(1.0, rel=1e-4)
    assert conn.execute("SELECT popularity FROM rec_products WHERE shop = ? AND product_id = 'b'",
                        (SHOP,)).fetchone() == (1.0,)


def test_a_checkpoint_whose_transaction_rolls_back_is_written_again(conn):
    model = recommend.Model()
    conn.model = model
    transaction(conn, apply_events, SHOP, "v", _views_of(["a", "b"]), T0, True, True)
    conn.execute("DELETE FROM rec_neighbours")
    conn.execute("DELETE FROM rec_products")
    apply_events(conn, SHOP, "w", _views_of(["c", "d"]), T0, True, True)  # dirty again
    conn.execute("BEGIN IMMEDIATE")
    model.flush(conn)
    conn.execute("ROLLBACK")
    model.rolled_back()
    assert model.dirty
    transaction(conn, lambda c: None)
    assert score(conn, "c", "d") == pytest.approx(1.0, rel=1e-4)
    assert conn.execute("SELECT popularity FROM rec_products WHERE shop = ? AND product_id = 'd'",
                        (SHOP,)).fetchone() == (1.0,)


def test_best_neighbours_kept_at_a_cut_are_the_highest_scores_ties_by_id():
    import random

    rng = random.Random(3)
    for _ in range(500):
        scores = {f"p{rng.randrange(200)}": rng.choice([0.5, 1.0, rng.random()]) for _ in range(rng.randrange(1, 90))}
        expected = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:recommend.KEEP]
        assert list(recommend._best(scores).items()) == expected


def test_recent_products_in_memory_match_the_table_whatever_the_order_of_events(conn):
    # Merchant back ends send past timestamps: a late event for an old product must not push it
    # into the window, and the memory must say what `ORDER BY last_at DESC` says.
    import random

    rng = random.Random(5)
    kinds = ["view", "view", "view", "add", "favorite", "purchase", "cart"]
    for round_ in range(60):
        vid = f"v{rng.randrange(4)}"
        batch = []
        for n in range(rng.randint(1, 4)):
            kind, pid = rng.choice(kinds), f"p{rng.randrange(12)}"
            ts = T0 + rng.uniform(-5000, 5000)
            if kind == "purchase":
                batch.append(Event(type="purchase", order_id=f"o{round_}-{n}", total=1.0, currency="TRY",
                                   items=[(pid, 1, 1.0, None)], ts=ts))
            elif kind == "cart":
                lines = [(pid, 1, None, None), (f"p{rng.randrange(12)}", 1, None, None)]
                batch.append(Event(type="cart", items=lines, ts=ts))
            else:
                batch.append(Event(type=kind, product_id=pid, qty=1 if kind == "add" else None, ts=ts))
        transaction(conn, apply_events, SHOP, vid, batch, T0, round_ < 4, True)
        for v in {f"v{i}" for i in range(4)}:
            held = conn.model.recent(SHOP, v)
            if held is None:
                continue
            table = conn.execute("SELECT product_id, last_at FROM visitor_items WHERE shop = ? AND vid = ? "
                                 "ORDER BY last_at DESC, product_id LIMIT ?", (SHOP, v, recommend.RECENT)).fetchall()
            assert held == table, v

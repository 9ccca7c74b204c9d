"""The block's read of one visitor's history: newest first, bounded, ties in a fixed order."""

from __future__ import annotations

from cartback import store
from cartback.connection import transaction
from cartback.ingest import apply_events
from cartback.validation import Event

from tests.conftest import UNIT_SHOP

SHOP = UNIT_SHOP
T0 = 1_700_000_000.0


def views(conn, vid, timed: list[tuple[str, float]]) -> None:
    batch = [Event(type="view", product_id=pid, ts=ts) for pid, ts in timed]
    transaction(conn, apply_events, SHOP, vid, batch, T0, True, True)


def test_newest_first_whatever_the_product_ids_and_equal_times_by_id(conn):
    # Ids sort the other way round from the times; "m" and "k" were viewed at the same moment.
    views(conn, "v", [("z", T0), ("y", T0 + 1), ("m", T0 + 2), ("k", T0 + 2), ("a", T0 + 3)])
    assert [i.product_id for i in store.load_history(conn, SHOP, "v")] == ["a", "k", "m", "y", "z"]


def test_a_visitor_past_the_limit_gets_the_newest_rows(conn):
    n = store.HISTORY_LIMIT + 50
    # p0000 is the newest and sorts first by id; p0249 the oldest. Read in id order and cut, the
    # answer would be the right rows by luck, so the times run against the ids in a second visitor too.
    views(conn, "v", [(f"p{i:04d}", T0 + n - i) for i in range(n)])
    views(conn, "w", [(f"p{i:04d}", T0 + i) for i in range(n)])
    newest_first = [i.product_id for i in store.load_history(conn, SHOP, "v")]
    assert newest_first == [f"p{i:04d}" for i in range(store.HISTORY_LIMIT)]
    oldest_first_ids = [i.product_id for i in store.load_history(conn, SHOP, "w")]
    assert oldest_first_ids == [f"p{i:04d}" for i in range(n - 1, n - 1 - store.HISTORY_LIMIT, -1)]


def test_one_row_below_or_at_the_limit_reads_it_all(conn):
    views(conn, "v", [(f"p{i:04d}", T0 + i) for i in range(store.HISTORY_LIMIT)])
    history = store.load_history(conn, SHOP, "v")
    assert len(history) == store.HISTORY_LIMIT
    assert history[0].product_id == f"p{store.HISTORY_LIMIT - 1:04d}" and history[-1].product_id == "p0000"


def test_another_visitor_or_shop_reads_nothing(conn):
    views(conn, "v", [("a", T0)])
    assert store.load_history(conn, SHOP, "someone-else") == []
    assert store.load_history(conn, "other-shop", "v") == []

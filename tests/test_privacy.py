"""Export and erase one visitor, the retention period, Global Privacy Control: nothing about an
erased visitor is left, and the report's figures do not move."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from cartback.connection import connect_sync
from cartback.privacy import run_retention
from cartback.stats import in_control_group

from tests.conftest import opened, query, table_names
from tests.test_endpoints_events import product, track
from tests.test_report import (
    DAY,
    SECTIONS_NO_SIMILAR,
    Client,
    add,
    at,
    catalog_rows,
    click,
    day_and_time,
    empty_cart,
    impression,
    purchase,
    shop_client,
    today,
    view,
)


def rows_mentioning(db_path, needle: str) -> list[tuple[str, tuple]]:
    """Every row of every table with `needle` in any of its values."""
    found = []
    with opened(db_path) as conn:
        for table in table_names(conn):
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():
                if any(needle in str(value) for value in row):
                    found.append((table, tuple(row)))
    return found


def without_time(export: dict) -> dict:
    return {k: v for k, v in export.items() if k != "exported_at"}


def test_export_then_erase_leaves_nothing_and_keeps_the_figures(api, make_shop, seed_catalog, cartback_server):
    cb = shop_client(api, make_shop, seed_catalog, holdout_share=0.5, sections=SECTIONS_NO_SIMILAR)
    shop = cb.shop
    d, t = day_and_time(5, 12)

    def visitor_in(control: bool, history: list[dict]) -> str:
        while True:
            token = cb.visitor([])
            if in_control_group(shop.id, token.split(".")[0], 0.5) == control:
                cb.send(token, history)
                return token

    # V (shown the block): clicks a, buys a and a product they never clicked ("f").
    v = visitor_in(False, [add("a", t - 600), view("c", t - 500), {"type": "favorite", "product": "e", "ts": t - 400},
                           empty_cart(t - 300)])
    status, block, sections, _ = cb.render(v, t)
    assert status == 200 and sections == {"cart": ["a"], "viewed": ["c"], "favorites": ["e"]}
    cb.send(v, [impression(block, t + 5), click(block, "a", t + 10, "cart"),
                purchase(f"{shop.id}-ORDER-V-1", t + 3600,
                         [{"id": "a", "price": 100, "qty": 1}, {"id": "f", "price": 300, "qty": 1}], 400)])
    # U (held out): eligible, buys without a total (the lines make it).
    u = visitor_in(True, [view("b", t - 600)])
    assert cb.render(u, t + 60)[0] == 204
    cb.send(u, [purchase(f"{shop.id}-ORDER-U-1", t + 7200, [{"id": "b", "price": 200, "qty": 2}])])
    # W stays.
    w = visitor_in(False, [view("d", t - 600)])
    status, w_block, _, _ = cb.render(w, t + 120)
    cb.send(w, [impression(w_block, t + 125), click(w_block, "d", t + 130)])

    before = cb.report(d, today())
    assert before["block"]["attributed_revenue"] == 100.0 and before["holdout"]["control"]["revenue"] == 400.0

    url = f"/v1/shops/{shop.id}/visitors/"
    vid = v.split(".")[0]
    by_token = api.get(url + v, headers=cb.auth)
    assert by_token.status_code == 200
    exported = by_token.json()
    assert exported["vid"] == vid and exported["found"] is True
    # Views are kept per product (the last one and how many), not as a row per view.
    assert [e["type"] for e in exported["events"]] == ["add", "favorite", "cart", "impression", "click", "purchase"]
    viewed = {i["product_id"]: i for i in exported["visitor_items"]}["c"]
    assert viewed["views"] == 1 and viewed["viewed_at"] == pytest.approx(t - 500)
    assert exported["events"][-1]["order_id"] == f"{shop.id}-ORDER-V-1"
    assert exported["events"][-1]["data"]["items"][1]["id"] == "f"
    assert {i["product_id"] for i in exported["visitor_items"]} == {"a", "c", "e", "f"}
    assert [b["id"] for b in exported["blocks"]] == [block]
    assert exported["visitor"]["first_eligible_at"] is not None
    assert without_time(api.get(url + vid, headers=cb.auth).json()) == without_time(exported)
    w_before = without_time(api.get(url + w, headers=cb.auth).json())

    for token in (v, u):
        r = api.delete(url + token, headers=cb.auth)
        assert r.status_code == 200 and r.json()["erased"] is True

    for token in (v, u):
        raw = token.split(".")[0]
        assert rows_mentioning(cartback_server.db_path, raw) == []
    assert rows_mentioning(cartback_server.db_path, f"{shop.id}-ORDER-V-1") == []
    assert rows_mentioning(cartback_server.db_path, f"{shop.id}-ORDER-U-1") == []
    # What V bought without clicking, and what their block listed besides the clicked card, is gone.
    leftovers = query(cartback_server.db_path, "SELECT data FROM events WHERE shop = ? AND type = 'purchase' "
                      "AND vid LIKE 'erased-%'", (shop.id,))
    assert '"f"' not in str(leftovers)
    erased_block = query(cartback_server.db_path, "SELECT vid, sections FROM blocks WHERE id = ?", (block,))[0]
    assert erased_block[0].startswith("erased-")
    assert erased_block[1] == '[{"key":"cart","ids":["a"]},{"key":"viewed","ids":[]},{"key":"favorites","ids":[]}]'

    # Every figure as before, holdout included.
    after = cb.report(d, today())
    assert after == before

    # Their token now names nobody: an empty export, no block, and new events start afresh.
    empty = api.get(url + v, headers=cb.auth).json()
    assert empty["found"] is False and empty["visitor"] is None
    assert empty["events"] == empty["visitor_items"] == empty["blocks"] == []
    assert api.get("/v1/empty-cart", params={"shop": shop.id, "vid": v}).status_code == 204
    cb.send(v, [view("c", time.time())])
    fresh = api.get(url + v, headers=cb.auth).json()
    assert fresh["events"] == [] and fresh["visitor"]["first_eligible_at"] is None
    assert [(i["product_id"], i["views"]) for i in fresh["visitor_items"]] == [("c", 1)]
    # Others are untouched.
    assert without_time(api.get(url + w, headers=cb.auth).json()) == w_before


def test_visitor_calls_are_for_the_merchant_and_refuse_forged_tokens(api, make_shop):
    shop, other = make_shop(), make_shop()
    cb = Client(api, shop)
    token = cb.visitor([view("a", time.time())])
    url = f"/v1/shops/{shop.id}/visitors/{token}"
    assert api.get(url).status_code == 401
    assert api.delete(url, headers={"authorization": f"Bearer {other.api_key}"}).status_code == 403
    forged = token.split(".")[0] + ".AAAAAA.forged"
    for method in (api.get, api.delete):
        r = method(f"/v1/shops/{shop.id}/visitors/{forged}", headers=cb.auth)
        assert r.status_code == 400 and r.json()["error"]["field"] == "vid"
    assert api.get(f"/v1/shops/{shop.id}/visitors/not%20an%20id", headers=cb.auth).status_code == 400
    # A token of this shop for the other shop's path names nobody there.
    r = api.get(f"/v1/shops/{other.id}/visitors/{token}", headers={"authorization": f"Bearer {other.api_key}"})
    assert r.status_code == 400


def test_global_privacy_control_stores_nothing(api, make_shop, cartback_server):
    shop = make_shop(settings={"holdout_share": 0, "sections": SECTIONS_NO_SIMILAR})
    r = api.post("/v1/events", json={"shop": shop.id, "events": [{"type": "view", "product": "a"}]},
                 headers={"sec-gpc": "1"})
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 0 and body["vid"] and body["ignored"][0]["field"] == "sec-gpc"
    conn = connect_sync(str(cartback_server.db_path))
    for table in ("events", "visitors", "visitor_items", "blocks"):
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE shop = ?", (shop.id,)).fetchone()[0] == 0, table
    # A visitor with history who turns GPC on still gets their block, but the render is not recorded.
    token = track(api, shop, [{"type": "view", "product": product("p1")}])
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": token}, headers={"sec-gpc": "1"})
    assert r.status_code == 200
    time.sleep(0.3)
    assert conn.execute("SELECT count(*) FROM blocks WHERE shop = ?", (shop.id,)).fetchone()[0] == 0
    assert api.get("/v1/empty-cart", params={"shop": shop.id, "vid": token}).status_code == 200
    deadline = time.monotonic() + 5
    while conn.execute("SELECT count(*) FROM blocks WHERE shop = ?", (shop.id,)).fetchone()[0] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    conn.close()


def set_retention(db_path, shop_id: str, days: int) -> None:
    """Retention is switched on only once the test data is in place, so the server's own daily run
    (a minute after it starts) never rolls up a day the test is still writing."""
    from cartback.connection import transaction
    from cartback.shops import update_settings

    conn = connect_sync(str(db_path))
    transaction(conn, update_settings, shop_id, {"retention_days": days})
    conn.close()


@pytest.fixture
def aged(api, make_shop, seed_catalog, cartback_server):
    """A shop keeping raw events 30 days, with activity 45 to 10 days ago (see the comments)."""
    shop = make_shop(settings={"holdout_share": 0, "retention_days": 3650, "sections": SECTIONS_NO_SIMILAR})
    seed_catalog(shop, catalog_rows())
    cb = Client(api, shop)
    day = today()

    def shown(token, when, pid, buy_at=None, order=None, price=100.0):
        status, block, sections, _ = cb.render(token, when)
        assert status == 200, sections
        cb.send(token, [impression(block, when + 5), click(block, pid, when + 10)])
        if buy_at is not None:
            cb.send(token, [purchase(order, buy_at, [{"id": pid, "price": price, "qty": 1}], price + 50)])
        return block

    # Va: everything 45 and 44 days ago (rolled up, then deleted).
    va = cb.visitor([view("a", at(day - timedelta(days=45), 9))])
    shown(va, at(day - timedelta(days=45), 10), "a", at(day - timedelta(days=44), 10), f"{shop.id}-OA")
    # Vb: click 32 days ago (deleted), purchase 27 days ago (inside the window; its day rolled up).
    vb = cb.visitor([view("b", at(day - timedelta(days=32), 9))])
    shown(vb, at(day - timedelta(days=32), 10), "b", at(day - timedelta(days=27), 10), f"{shop.id}-OB", 200.0)
    # Vc: click 25 days ago (kept raw), purchase 20 days ago (a raw day, attributed through it).
    vc = cb.visitor([view("c", at(day - timedelta(days=25), 9))])
    shown(vc, at(day - timedelta(days=25), 10), "c", at(day - timedelta(days=20), 10), f"{shop.id}-OC", 50.0)
    # Vd: first eligible 40 days ago (deleted), back at an empty cart 10 days ago and buying the next
    # day: still not a new holdout visitor (so not a conversion either; 40 days is past the window).
    vd = cb.visitor([view("d", at(day - timedelta(days=41), 9))])
    shown(vd, at(day - timedelta(days=40), 10), "d")
    assert cb.render(vd, at(day - timedelta(days=10), 10))[0] == 200
    cb.send(vd, [purchase(f"{shop.id}-OD", at(day - timedelta(days=9), 10), [{"id": "d", "price": 80, "qty": 1}], 80)])
    # An order without any block, 35 days ago.
    ve = cb.visitor([])
    cb.send(ve, [purchase(f"{shop.id}-OE", at(day - timedelta(days=35), 15),
                          [{"id": "e", "price": 120, "qty": 1}], 120)])
    # Va has not been back since: their visitor row ages out too.
    with opened(cartback_server.db_path) as conn:
        conn.execute("UPDATE visitors SET last_seen = ? WHERE shop = ? AND vid = ?",
                     (at(day - timedelta(days=44), 10), shop.id, va.split(".")[0]))
    return cb, {"va": va, "vb": vb, "vc": vc, "vd": vd}


def test_retention_deletes_old_raw_data_and_the_report_does_not_change(aged, cartback_server):
    cb, visitors = aged
    start, end = today() - timedelta(days=50), today()
    before = cb.report(start, end)
    assert before["block"]["attributed_orders"] == 3 and before["totals"]["orders"] == 5
    assert before["block"]["rendered"] == 5 and before["block"]["visitors_reached"] == 4
    assert before["holdout"]["treatment"] == {"visitors": 4, "converted": 3, "conversion_rate": 0.75,
                                              "revenue": 500.0, "revenue_per_visitor": 125.0}

    set_retention(cartback_server.db_path, cb.shop.id, 30)
    now = time.time()
    conn = connect_sync(str(cartback_server.db_path))
    result = run_retention(conn, now=now, shop=cb.shop.id)
    stats = result["shops"][cb.shop.id]
    cutoff = now - 30 * DAY
    for table in ("events", "blocks"):
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE shop = ? AND ts < ?",
                            (cb.shop.id, cutoff)).fetchone()[0] == 0, table
    assert conn.execute("SELECT count(*) FROM events WHERE shop = ?", (cb.shop.id,)).fetchone()[0] > 0
    assert conn.execute("SELECT count(*) FROM visitor_items WHERE shop = ? AND last_at < ?",
                        (cb.shop.id, cutoff)).fetchone()[0] == 0
    va = visitors["va"].split(".")[0]
    assert rows_mentioning(cartback_server.db_path, va) == []
    assert rows_mentioning(cartback_server.db_path, f"{cb.shop.id}-OA") == []
    # Rolled up: from the first day with data to attribution window + 1 day past the cut-off.
    rolled = [r[0] for r in conn.execute("SELECT day FROM daily_counts WHERE shop = ? AND scope = 'day' ORDER BY day",
                                         (cb.shop.id,))]
    assert rolled[0] == (today() - timedelta(days=45)).isoformat()
    assert rolled[-1] == (today() - timedelta(days=23)).isoformat()
    assert stats["retention_days"] == 30

    after = cb.report(start, end)
    assert after["notes"] and "daily counts" in after["notes"][0]
    assert {k: v for k, v in after.items() if k != "notes"} == {k: v for k, v in before.items() if k != "notes"}

    again = run_retention(conn, now=now, shop=cb.shop.id)["shops"][cb.shop.id]
    assert again["rolled_up_days"] == 0 and not any(again["deleted"].values())
    assert cb.report(start, end) == after
    conn.close()


def test_rolled_up_days_count_distinct_visitors_per_day(api, make_shop, seed_catalog, cartback_server):
    # The documented approximation: a visitor reached on two rolled-up days counts on each.
    shop = make_shop(settings={"holdout_share": 0, "retention_days": 3650, "sections": SECTIONS_NO_SIMILAR})
    seed_catalog(shop, catalog_rows())
    cb = Client(api, shop)
    day = today()
    token = cb.visitor([view("a", at(day - timedelta(days=40), 9))])
    for days_ago in (40, 39):
        _, block, _, _ = cb.render(token, at(day - timedelta(days=days_ago), 10))
        cb.send(token, [impression(block, at(day - timedelta(days=days_ago), 10) + 5)])
    start = day - timedelta(days=45)
    assert cb.report(start, day)["block"]["visitors_reached"] == 1
    set_retention(cartback_server.db_path, shop.id, 30)
    conn = connect_sync(str(cartback_server.db_path))
    run_retention(conn, shop=shop.id)
    conn.close()
    report = cb.report(start, day)
    assert report["block"]["impressions"] == 2 and report["block"]["visitors_reached"] == 2
    assert report["holdout"]["treatment"]["visitors"] == 1  # the holdout cohort stays exact

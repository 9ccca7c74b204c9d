"""The report against a running server: scripted visitors through the real API, every figure exact.

Events are placed in time with merchant-authenticated posts (trusted `ts`), and blocks with a
merchant-authenticated GET /v1/empty-cart carrying `ts`, so windows can be crossed on purpose.
The helpers here serve the other report tests too (test_report_*.py, test_cli_report.py, test_privacy.py).
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import query
from tests.test_endpoints_events import ORIGIN

DAY = 86400.0
SECTIONS_NO_SIMILAR = ["cart", "viewed", "favorites"]
CATALOG = {"a": 100.0, "b": 200.0, "c": 50.0, "d": 80.0, "e": 120.0, "f": 300.0}


def assert_close(actual: dict, expected: dict) -> None:
    """Numbers (and lists of them) approximately, everything else exactly: pytest 9.2's approx
    refuses mappings that hold lists."""
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            assert actual[key] == value, key
        else:
            assert actual[key] == pytest.approx(value), key


def catalog_rows() -> list[dict]:
    return [{"id": pid, "name": f"Bal {pid}", "price": price, "url": f"{ORIGIN}/p/{pid}"}
            for pid, price in CATALOG.items()]


def at(day: date, hour: float = 0.0) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + hour * 3600


def today() -> date:
    return datetime.now(UTC).date()


class Client:
    """One shop's merchant back end and its visitors."""

    def __init__(self, api, shop) -> None:
        self.api, self.shop = api, shop
        self.auth = {"authorization": f"Bearer {shop.api_key}"}

    def send(self, token: str | None, events: list[dict], **headers) -> dict:
        r = self.api.post("/v1/events", json={"shop": self.shop.id, "vid": token, "events": events},
                          headers={**self.auth, **headers})
        assert r.status_code == 200, r.text
        return r.json()

    def visitor(self, events: list[dict]) -> str:
        return self.send(None, events)["vid"]

    def render(self, token: str, ts: float | None = None, trusted: bool = True):
        """(status, block id, {section: [product ids]}, response)."""
        params = {"shop": self.shop.id, "vid": token}
        if ts is not None:
            params["ts"] = str(ts)
        r = self.api.get("/v1/empty-cart", params=params, headers=self.auth if trusted else {})
        if r.status_code != 200:
            return r.status_code, None, {}, r
        block = re.search(r'data-cartback-block="([^"]+)"', r.text).group(1)
        sections = {key: re.findall(r'data-cartback-product="([^"]+)"', body)
                    for key, body in re.findall(r'data-section="(\w+)">(.*?)</section>', r.text, re.S)}
        return 200, block, sections, r

    def report(self, start: date | str | None = None, end: date | str | None = None, **params) -> dict:
        r = self.report_response(start, end, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def report_response(self, start=None, end=None, headers=None, **params):
        if start is not None:
            params["from"] = str(start)
        if end is not None:
            params["to"] = str(end)
        return self.api.get(f"/v1/shops/{self.shop.id}/report", params=params,
                            headers=self.auth if headers is None else headers)


def shop_client(api, make_shop, seed_catalog, **settings) -> Client:
    """A new shop with the test catalog (CATALOG) and its merchant back end."""
    shop = make_shop(settings=settings)
    seed_catalog(shop, catalog_rows())
    return Client(api, shop)


def day_and_time(days_ago: int, hour: float) -> tuple[date, float]:
    """The UTC day `days_ago` before today, and its `hour` as a Unix time."""
    d = today() - timedelta(days=days_ago)
    return d, at(d, hour)


def view(pid, ts):
    return {"type": "view", "product": pid, "ts": ts}


def add(pid, ts):
    return {"type": "add", "product": pid, "ts": ts}


def empty_cart(ts):
    return {"type": "cart", "items": [], "ts": ts}


def impression(block, ts):
    return {"type": "impression", "block": block, "ts": ts}


def click(block, pid, ts, section="viewed"):
    # The browser's `section` is not trusted: the report takes the section from the served block.
    return {"type": "click", "block": block, "id": pid, "section": section, "ts": ts}


def purchase(order_id, ts, items, total=None):
    event = {"type": "purchase", "order_id": order_id, "ts": ts, "currency": "TRY", "items": items}
    if total is not None:
        event["total"] = total
    return event


def scope(rendered=0, impressions=0, reached=0, clicks=0, clicked=0, orders=0, purchased=0, revenue=0.0,
          order_revenue=0.0, confirmed=True) -> dict:
    # The scripted period posts its purchases with the shop's key, as a back end does: confirmed.
    return {
        "rendered": rendered, "impressions": impressions, "visitors_reached": reached,
        "clicks": clicks, "visitors_clicked": clicked,
        "ctr_visitors": clicked / reached if reached else 0.0,
        "ctr_impressions": clicks / impressions if impressions else 0.0,
        "attributed_orders": orders, "visitors_purchased": purchased,
        "click_to_purchase": purchased / clicked if clicked else 0.0,
        "attributed_revenue": revenue, "attributed_order_revenue": order_revenue,
        "attributed_orders_confirmed": orders if confirmed else 0,
        "attributed_revenue_confirmed": revenue if confirmed else 0.0,
    }


def assert_scope(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, abs=1e-9), key


def script_period(api, make_shop, seed_catalog):
    """(Client, D, tokens): eight visitors over ten days (D = today − 20, T = D 10:00 UTC); see the
    comments for each."""
    cb = shop_client(api, make_shop, seed_catalog, holdout_share=0, sections=SECTIONS_NO_SIMILAR)
    d, t = day_and_time(20, 10)
    before = t - 3600

    # V1: cart history b, a and a viewed c. Sees the block, clicks b (cart) and c (viewed); buys b×2
    # (+ d, not clicked) the next day, the order sent twice; buys c nine days after its click.
    v1 = cb.visitor([add("a", before), add("b", before + 1), view("c", before + 2), empty_cart(before + 3)])
    status, b1, sections, _ = cb.render(v1, t)
    assert status == 200 and sections == {"cart": ["b", "a"], "viewed": ["c"]}
    cb.send(v1, [impression(b1, t + 10), impression(b1, t + 15), click(b1, "b", t + 20, "cart"),
                 click(b1, "b", t + 25, "cart"), click(b1, "c", t + 30)])
    cb.send(v1, [impression(b1, t + DAY)])  # the same block seen again the next day: counted once
    o1 = purchase("O1", t + DAY, [{"id": "b", "price": 200, "qty": 2}, {"id": "d", "price": 80, "qty": 1}], 480)
    cb.send(v1, [o1])
    assert cb.send(v1, [{**o1, "ts": t + DAY + 60}])["duplicates"] == 1
    cb.send(v1, [purchase("O2", t + 9 * DAY, [{"id": "c", "price": 50, "qty": 1}], 50)])

    # V2: viewed f, e; clicks e; three days later buys e and f (only e was clicked).
    v2 = cb.visitor([view("e", before), view("f", before + 1)])
    status, b2, sections, _ = cb.render(v2, t + 3600)
    assert sections == {"viewed": ["f", "e"]}
    cb.send(v2, [impression(b2, t + 3605), click(b2, "e", t + 3610),
                 click(b2, "a", t + 3611)])  # a product the block did not show: not a click on the block
    cb.send(v2, [purchase("O3", t + 3600 + 3 * DAY, [{"id": "e", "price": 120, "qty": 1},
                                                      {"id": "f", "price": 300, "qty": 1}], 420)])

    # V3: a favourite. The block is rendered but never half visible (no impression); buys a anyway.
    v3 = cb.visitor([{"type": "favorite", "product": "a", "ts": before}])
    status, _, sections, _ = cb.render(v3, t + 2 * 3600)
    assert sections == {"favorites": ["a"]}
    cb.send(v3, [purchase("O4", t + 2 * 3600 + DAY, [{"id": "a", "price": 100, "qty": 1}], 100)])

    # V4: cart history d; clicks it and buys it 6 days 23 hours later (inside the 7 days), the
    # order sent without a total or a price (the catalog's 80 is used).
    v4 = cb.visitor([add("d", before), empty_cart(before + 1)])
    status, b4, sections, _ = cb.render(v4, t + 3 * 3600)
    assert sections == {"cart": ["d"]}
    cb.send(v4, [impression(b4, t + 3 * 3600 + 5), click(b4, "d", t + 3 * 3600 + 10, "cart")])
    cb.send(v4, [purchase("O5", t + 3 * 3600 + 6 * DAY + 23 * 3600, [{"id": "d", "qty": 1}])])

    # V5: never sees a block; buys f. A click on a block id that does not exist counts for nothing.
    v5 = cb.visitor([view("f", before)])
    cb.send(v5, [click("no-such-block", "f", t + 4000), purchase("O6", t + 5 * 3600, [{"id": "f", "price": 300,
                                                                                      "qty": 1}], 300)])

    # V7: viewed b; clicks it, buys nothing.
    v7 = cb.visitor([view("b", before)])
    status, b5, sections, _ = cb.render(v7, t + 4 * 3600)
    assert sections == {"viewed": ["b"]}
    cb.send(v7, [impression(b5, t + 4 * 3600 + 5), click(b5, "b", t + 4 * 3600 + 10)])

    # V8: viewed a; sees the block, no click.
    v8 = cb.visitor([view("a", before)])
    status, b6, sections, _ = cb.render(v8, t + 5 * 3600)
    assert sections == {"viewed": ["a"]}
    cb.send(v8, [impression(b6, t + 5 * 3600 + 5)])
    return cb, d, {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v7": v7, "v8": v8}


@pytest.fixture
def scripted(api, make_shop, seed_catalog):
    return script_period(api, make_shop, seed_catalog)


def test_every_figure_of_the_scripted_period(scripted):
    cb, d, _ = scripted
    report = cb.report(d, d + timedelta(days=10))
    assert report["shop"] == cb.shop.id and report["currency"] == "TRY"
    assert report["from"] == d.isoformat() and report["to"] == (d + timedelta(days=10)).isoformat()
    assert report["attribution_days"] == 7

    # Rendered 6 (V1 V2 V3 V4 V7 V8), viewable 5 (not V3's), clicks 5 (b c e d b), 4 clickers;
    # attributed: O1 (b 400 of 480), O3 (e 120 of 420), O5 (d 80 of 80). O2 is outside the window.
    assert_scope(report["block"], scope(rendered=6, impressions=5, reached=5, clicks=5, clicked=4, orders=3,
                                        purchased=3, revenue=600.0, order_revenue=980.0))
    assert_scope(report["sections"]["cart"], scope(rendered=2, impressions=2, reached=2, clicks=2, clicked=2,
                                                   orders=2, purchased=2, revenue=480.0, order_revenue=560.0))
    assert_scope(report["sections"]["viewed"], scope(rendered=4, impressions=4, reached=4, clicks=3, clicked=3,
                                                     orders=1, purchased=1, revenue=120.0, order_revenue=420.0))
    assert_scope(report["sections"]["favorites"], scope(rendered=1))
    assert_scope(report["sections"]["similar"], scope())
    assert list(report["sections"]) == ["cart", "viewed", "favorites", "similar"]
    assert report["block"]["ctr_visitors"] == 0.8 and report["block"]["ctr_impressions"] == 1.0
    assert report["block"]["click_to_purchase"] == 0.75

    # Six distinct orders (O1 sent twice), 480 + 50 + 420 + 100 + 80 + 300.
    assert report["totals"]["orders"] == 6
    assert report["totals"]["revenue"] == 1430.0
    assert report["totals"]["block_revenue_share"] == pytest.approx(600 / 1430)

    daily = {row["date"]: row for row in report["daily"]}
    assert len(report["daily"]) == 11 and list(daily) == [(d + timedelta(days=i)).isoformat() for i in range(11)]
    zero = {"rendered": 0, "impressions": 0, "clicks": 0, "attributed_orders": 0, "attributed_revenue": 0.0,
            "orders": 0, "revenue": 0.0}
    expected = {i: dict(zero) for i in range(11)}
    expected[0].update(rendered=6, impressions=5, clicks=5, orders=1, revenue=300.0)
    expected[1].update(attributed_orders=1, attributed_revenue=400.0, orders=2, revenue=580.0)
    expected[3].update(attributed_orders=1, attributed_revenue=120.0, orders=1, revenue=420.0)
    expected[7].update(attributed_orders=1, attributed_revenue=80.0, orders=1, revenue=80.0)
    expected[9].update(orders=1, revenue=50.0)
    for i, values in expected.items():
        assert daily[(d + timedelta(days=i)).isoformat()] == {"date": (d + timedelta(days=i)).isoformat(), **values}

    # Holdout off: every eligible visitor is in the treatment group. Converted within 7 days of the
    # first block: V1 (O1), V2 (O3), V3 (O4), V4 (O5); V7 and V8 did not buy.
    holdout = report["holdout"]
    assert holdout["share"] == 0.0
    assert holdout["treatment"] == {"visitors": 6, "converted": 4, "conversion_rate": pytest.approx(4 / 6),
                                    "revenue": 1080.0, "revenue_per_visitor": pytest.approx(180.0)}
    assert holdout["control"] == {"visitors": 0, "converted": 0, "conversion_rate": 0.0, "revenue": 0.0,
                                  "revenue_per_visitor": 0.0}
    assert holdout["conversion"]["ci95"] is None and holdout["conversion"]["significant"] is False
    assert "holdout is off" in holdout["verdict"]
    assert report["notes"] == []


def test_a_period_counts_what_happened_in_it_with_clicks_from_before(scripted):
    cb, d, _ = scripted
    # From D+2: no block activity, but O3 (clicked on D) and O5 (clicked on D) are attributed.
    later = cb.report(d + timedelta(days=2), d + timedelta(days=10))
    assert_scope(later["block"], scope(orders=2, purchased=2, revenue=200.0, order_revenue=500.0))
    assert later["totals"] == {"orders": 3, "revenue": 550.0, "block_revenue_share": pytest.approx(200 / 550),
                               "orders_confirmed": 3, "revenue_confirmed": 550.0}
    assert later["holdout"]["treatment"]["visitors"] == 0  # all were first eligible on D
    # D+1 alone: V1's second impression of the same block is not a new impression.
    next_day = cb.report(d + timedelta(days=1), d + timedelta(days=1))
    assert next_day["block"]["impressions"] == 0
    assert next_day["block"]["attributed_orders"] == 1 and next_day["block"]["attributed_revenue"] == 400.0
    # D alone: everything rendered, seen and clicked, no attributed purchase yet.
    first_day = cb.report(d, d)
    assert_scope(first_day["block"], scope(rendered=6, impressions=5, reached=5, clicks=5, clicked=4))
    assert first_day["totals"]["orders"] == 1


@pytest.mark.parametrize("params, status, field", [
    ({"from": "2026-13-01"}, 400, "from"),
    ({"from": "yesterday"}, 400, "from"),
    ({"to": "2026-02-30"}, 400, "to"),
    ({"from": "2026-03-02", "to": "2026-03-01"}, 400, "from"),
    ({"from": "2000-01-01", "to": "2026-01-01"}, 400, "to"),
    ({"format": "xml"}, 400, "format"),
])
def test_bad_periods_and_formats_are_refused_naming_the_field(api, make_shop, params, status, field):
    cb = Client(api, make_shop())
    r = api.get(f"/v1/shops/{cb.shop.id}/report", params=params, headers=cb.auth)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field and field in r.json()["error"]["message"]


def test_the_report_is_for_the_merchant_only(api, make_shop):
    shop, other = make_shop(), make_shop()
    cb = Client(api, shop)
    assert cb.report_response(headers={}).status_code == 401
    assert cb.report_response(headers={"authorization": f"Bearer {other.api_key}"}).status_code == 403
    r = api.get("/v1/shops/no-such-shop/report", headers=cb.auth)
    assert r.status_code == 404


def test_only_the_merchant_places_renders_in_time(api, make_shop, seed_catalog, cartback_server):
    shop = make_shop(settings={"sections": SECTIONS_NO_SIMILAR})
    seed_catalog(shop, catalog_rows())
    cb = Client(api, shop)
    token = cb.visitor([view("a", time.time())])
    past = time.time() - 5 * DAY
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": token, "ts": str(past)})  # a browser
    assert r.status_code == 200
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": token, "ts": "soon"}, headers=cb.auth)
    assert r.status_code == 400 and r.json()["error"]["field"] == "ts"
    assert cb.render(token, past)[0] == 200
    deadline = time.monotonic() + 5
    while True:
        times = sorted(row[0] for row in query(cartback_server.db_path, "SELECT ts FROM blocks WHERE shop = ?",
                                               (shop.id,)))
        if len(times) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert times[0] == past and times[1] > time.time() - 60


def test_a_dashboard_session_reads_its_own_shops_report_only(cartback_server, make_shop):
    import httpx

    shop, other = make_shop(), make_shop()
    with httpx.Client(base_url=cartback_server.url, timeout=10) as client:
        assert client.get(f"/v1/shops/{shop.id}/report").status_code == 401
        signed_in = client.post("/dashboard/login", data={"shop": shop.id, "key": shop.api_key},
                                headers={"origin": cartback_server.url})
        assert signed_in.status_code == 303
        mine = client.get(f"/v1/shops/{shop.id}/report")
        assert mine.status_code == 200 and mine.json()["shop"] == shop.id
        assert client.get(f"/v1/shops/{other.id}/report").status_code == 401


def test_restores_count_carts_items_and_the_orders_after_them(api, make_shop, seed_catalog):
    cb = shop_client(api, make_shop, seed_catalog, holdout_share=0, platform="shopify")
    d, t = day_and_time(10, 10)

    def restore(block, ts, items):
        return {"type": "restore", "block": block, "items": items, "ts": ts}

    # R1: restores two lines (3 items) and buys within the window: the order counts for restores.
    r1 = cb.visitor([add("a", t - 60), add("b", t - 50)])
    status, b1, sections, _ = cb.render(r1, t)
    assert status == 200 and sections["cart"] == ["b", "a"]
    cb.send(r1, [restore(b1, t + 5, [{"id": "a", "qty": 2}, {"id": "b", "qty": 1}]),
                 purchase("R1", t + 3600, [{"id": "a", "price": 100, "qty": 2}, {"id": "b", "price": 200, "qty": 1}],
                          400)])
    # R2: restores one line, buys eight days later (outside the 7-day window): not counted.
    r2 = cb.visitor([add("c", t - 60)])
    _, b2, _, _ = cb.render(r2, t)
    cb.send(r2, [restore(b2, t + 5, [{"id": "c", "qty": 1}]),
                 purchase("R2", t + 8 * DAY, [{"id": "c", "price": 50, "qty": 1}], 50)])
    # R3: buys without restoring: not counted either.
    r3 = cb.visitor([add("d", t - 60)])
    cb.send(r3, [purchase("R3", t + 60, [{"id": "d", "price": 80, "qty": 1}], 80)])

    report = cb.report(d, d + timedelta(days=9))
    assert report["restores"] == {"carts": 2, "items": 4, "orders": 1, "revenue": 400.0}
    assert report["totals"]["orders"] == 3
    rows = list(csv.DictReader(io.StringIO(cb.report_response(d, d + timedelta(days=9), format="csv").text)))
    row = next(r for r in rows if r["scope"] == "restores")
    assert (row["restored_carts"], row["restored_items"], row["total_orders"], row["total_revenue"]) == \
        ("2", "4", "1", "400.00")


def test_an_impression_dated_before_its_render_does_not_hide_the_valid_one(api, make_shop, seed_catalog):
    cb = shop_client(api, make_shop, seed_catalog, holdout_share=0, sections=SECTIONS_NO_SIMILAR)
    d, t = day_and_time(3, 12)
    token = cb.visitor([view("a", t - 600)])
    status, block, _, _ = cb.render(token, t)
    assert status == 200
    # A clock that ran behind sent one impression before the render; the real one follows.
    cb.send(token, [impression(block, t - 30), impression(block, t + 20)])
    report = cb.report(d, d)
    assert report["block"]["impressions"] == 1 and report["block"]["visitors_reached"] == 1
    assert [x["impressions"] for x in report["daily"]] == [1]

"""server/cartback/simulate/ (runner, client, visits): simulated shoppers through the real HTTP API of a
running server. The plan alone (no server) is tests/test_simulate_planner.py."""

from __future__ import annotations

import os
import time

import pytest
from cartback import simulate

from tests.conftest import add_shop, put_products, query

ORIGIN = "http://sim-shop.test"


def demo_products() -> list[dict]:
    return [dict(p, url=ORIGIN + p["url"], image=ORIGIN + p["image"]) for p in simulate.load_products()]


def last_wednesday_afternoon() -> float:
    now = time.time()
    day = 86400
    moment = now // day * day - (time.gmtime(now).tm_wday - 2) % 7 * day + 15 * 3600
    return moment if moment < now - 600 else moment - 7 * day


def test_a_short_simulation_fills_the_report(cartback_server, api):
    shop = add_shop(cartback_server.db_path, [ORIGIN], settings={"holdout_share": 0.3, "platform": "shopify"},
                    shop_id=f"sim{os.getpid()}")
    put_products(cartback_server.db_path, shop.id, demo_products())
    # Few visitors, so clicks, restores and purchases are made likelier than in a real shop. The
    # plan is pinned to last Wednesday 15:00 UTC: with `now` free, the plan changed with the hour and
    # weekday of the run and some runs drew no order after a click. Only the server's own choices
    # (visitor ids, hence the holdout group) still vary from run to run.
    rates = simulate.Rates(click=0.6, buy_after_click=0.9, restore=0.6, buy_after_restore=0.9)
    started = time.monotonic()
    summary = simulate.run(cartback_server.url, shop.id, shop.api_key, days=6, visitors=70, seed=5, rates=rates,
                           now=last_wednesday_afternoon())
    assert time.monotonic() - started < 60
    assert summary.blocks > 0 and summary.impressions > 0 and summary.clicks > 0 and summary.orders > 0
    assert summary.no_block > 0, "the holdout group got no block"

    r = api.get(f"/v1/shops/{shop.id}/report", headers={"authorization": f"Bearer {shop.api_key}"})
    assert r.status_code == 200, r.text
    report = r.json()
    block = report["block"]
    assert block["impressions"] == summary.impressions
    assert block["clicks"] > 0 and block["visitors_clicked"] > 0
    assert block["attributed_orders"] > 0 and block["attributed_revenue"] > 0
    assert report["totals"]["orders"] == summary.orders
    # The shop can restore (a platform with a cart API): some visitors pressed the button.
    assert summary.restores > 0 and report["restores"]["carts"] == summary.restores
    assert report["restores"]["items"] >= summary.restores and report["restores"]["orders"] > 0
    holdout = report["holdout"]
    assert holdout["control"]["visitors"] > 0 and holdout["treatment"]["visitors"] > 0

    # Spread over the simulated days (the block's render time too), not piled up on today.
    active = [d for d in report["daily"] if d["impressions"] or d["rendered"]]
    assert len(active) >= 4
    assert sum(d["rendered"] for d in report["daily"]) == block["rendered"]
    first = min(d["date"] for d in active)
    assert first < time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400))


def test_a_wrong_key_is_a_clear_error(cartback_server):
    shop = add_shop(cartback_server.db_path, [ORIGIN], shop_id=f"simkey{os.getpid()}")
    with pytest.raises(simulate.SimulationError, match="refused the API key"):
        simulate.run(cartback_server.url, shop.id, "cb_wrong", days=2, visitors=3, seed=1)


def test_a_simulated_quarter_fits_the_default_period(cartback_server, api):
    # The dashboard and `cartback report` default to the last 90 days: a demo's quarter shows whole.
    shop = add_shop(cartback_server.db_path, [ORIGIN], settings={"holdout_share": 0}, shop_id=f"simq{os.getpid()}")
    put_products(cartback_server.db_path, shop.id, demo_products())
    summary = simulate.run(cartback_server.url, shop.id, shop.api_key, days=90, visitors=150, seed=3)
    assert summary.blocks > 0
    report = api.get(f"/v1/shops/{shop.id}/report", headers={"authorization": f"Bearer {shop.api_key}"}).json()
    db = cartback_server.db_path
    stored = query(db, "SELECT count(*) FROM blocks WHERE shop = ? AND holdout = 0", (shop.id,))[0][0]
    assert report["block"]["rendered"] == stored == summary.blocks
    # Nobody told the server the carts were cleared: the blocks found out by themselves.
    emptied = query(db, "SELECT count(*) FROM events WHERE shop = ? AND type = 'cart'", (shop.id,))[0][0]
    told = query(db, "SELECT count(*) FROM events e WHERE shop = ? AND type = 'cart' AND NOT EXISTS ("
                 "SELECT 1 FROM blocks b WHERE b.shop = e.shop AND b.vid = e.vid AND b.ts = e.ts)", (shop.id,))[0][0]
    assert emptied > 0 and told == 0, "every emptied cart was learnt by a block request, none was sent"
    assert report["sections"]["cart"]["rendered"] > 0

"""The report as CSV (server/cartback/report/csv_export.py), through the API: one row per scope,
one per day."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.test_report import script_period


@pytest.fixture
def scripted(api, make_shop, seed_catalog):
    return script_period(api, make_shop, seed_catalog)


def test_the_csv_export_has_one_row_per_scope(scripted):
    cb, d, _ = scripted
    end = d + timedelta(days=10)
    report = cb.report(d, end)
    r = cb.report_response(d, end, format="csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == \
        f'attachment; filename="cartback-{cb.shop.id}-{d.isoformat()}-{end.isoformat()}.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["scope"] for row in rows] == [
        "block", "section:cart", "section:viewed", "section:favorites", "section:similar",
        "holdout:treatment", "holdout:control", "uplift:conversion", "uplift:revenue_per_visitor", "restores"]
    block = rows[0]
    assert block["shop"] == cb.shop.id and block["attribution_days"] == "7" and block["currency"] == "TRY"
    for key in ("rendered", "impressions", "visitors_reached", "clicks", "visitors_clicked", "attributed_orders",
                "visitors_purchased"):
        assert int(block[key]) == report["block"][key], key
    assert block["attributed_revenue"] == "600.00" and block["attributed_order_revenue"] == "980.00"
    assert block["ctr_visitors"] == "0.800000" and block["click_to_purchase"] == "0.750000"
    assert block["total_orders"] == "6" and block["total_revenue"] == "1430.00"
    assert rows[2]["attributed_revenue"] == "120.00" and rows[2]["click_to_purchase"] == "0.333333"
    assert rows[5]["visitors"] == "6" and rows[5]["converted"] == "4" and rows[5]["revenue"] == "1080.00"
    assert rows[7]["significant"] == "false" and rows[7]["ci95_low"] == ""

    daily = cb.report_response(d, end, format="csv", table="daily")
    assert daily.headers["content-disposition"].endswith(f'{end.isoformat()}-daily.csv"')
    days = list(csv.DictReader(io.StringIO(daily.text)))
    assert len(days) == 11 and days[1]["attributed_revenue"] == "400.00" and days[0]["rendered"] == "6"

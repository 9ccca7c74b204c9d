"""The holdout comparison (server/cartback/report/holdout.py): the verdict as a code and in words,
and the two groups measured the same way through the real API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cartback.connection import connect_sync
from cartback.report.holdout import (
    NOT_ENOUGH_TEXT,
    NOT_YET_TEXT,
    OFF_TEXT,
    VERDICT_CODES,
    verdict_code,
    verdict_text,
)
from cartback.stats import Comparison, Sample, in_control_group, two_proportions, welch

from tests.test_report import (
    DAY,
    SECTIONS_NO_SIMILAR,
    assert_close,
    day_and_time,
    impression,
    purchase,
    shop_client,
    view,
)


def group(visitors: int, converted: int = 0) -> dict:
    return {"visitors": visitors, "converted": converted}


def comparison(absolute: float | None, ci95: list[float] | None) -> dict:
    significant = ci95 is not None and (ci95[0] > 0 or ci95[1] < 0)
    return {"absolute": absolute, "relative": None, "ci95": ci95, "relative_ci95": None, "significant": significant}


NONE = comparison(None, None)


def holdout(share=0.1, treatment=100, control=100, conversion=NONE, rpv=NONE) -> dict:
    return {"share": share, "treatment": group(treatment), "control": group(control), "conversion": conversion,
            "revenue_per_visitor": rpv}


@pytest.mark.parametrize("case, code", [
    (None, "off"),
    ({}, "off"),
    (holdout(share=0, control=0), "off"),
    # The setting was switched off, but the period still has control visitors: still compared.
    (holdout(share=0, control=5, conversion=comparison(0.2, [0.1, 0.3])), "up"),
    (holdout(control=0), "not_enough"),
    (holdout(treatment=0), "not_enough"),
    (holdout(conversion=comparison(0.05, [0.01, 0.09])), "up"),
    (holdout(conversion=comparison(-0.05, [-0.09, -0.01])), "down"),
    # Conversion decides first, even against revenue per visitor.
    (holdout(conversion=comparison(0.05, [0.01, 0.09]), rpv=comparison(-3.0, [-5.0, -1.0])), "up"),
    (holdout(conversion=comparison(0.01, [-0.02, 0.04]), rpv=comparison(3.0, [1.0, 5.0])), "rpv_up"),
    (holdout(conversion=comparison(0.01, [-0.02, 0.04]), rpv=comparison(-3.0, [-5.0, -1.0])), "rpv_down"),
    (holdout(conversion=comparison(0.01, [-0.02, 0.04]), rpv=comparison(1.0, [-1.0, 3.0])), "not_yet_up"),
    (holdout(conversion=comparison(-0.01, [-0.04, 0.02])), "not_yet"),
    (holdout(conversion=comparison(0.0, [-0.04, 0.04])), "not_yet"),
])
def test_verdict_code(case, code):
    assert code in VERDICT_CODES
    assert verdict_code(case) == code


def test_verdict_code_reads_unusable_json_as_nothing_to_compare():
    assert verdict_code({"share": "lots", "control": [], "treatment": None}) == "off"
    assert verdict_code({"share": 0.1, "control": {"visitors": "x"}, "treatment": group(3)}) == "not_enough"
    assert verdict_code(holdout(conversion={"significant": True, "ci95": None})) == "not_yet"


def both(conversion: Comparison, rpv: Comparison, share: float = 0.5, treatment: int = 20,
         control: int = 20) -> tuple[str, str]:
    """(code, text) of one comparison, the JSON as the report writes it."""
    h = holdout(share, treatment, control, conversion.as_dict(), rpv.as_dict())
    return verdict_code(h), verdict_text(h, conversion, rpv)


def test_the_reports_words_follow_the_same_rules():
    empty = Comparison(None, None, None, None)
    assert both(empty, empty, share=0, control=0) == ("off", OFF_TEXT)
    assert both(empty, empty, control=0) == ("not_enough", NOT_ENOUGH_TEXT)

    unclear = two_proportions(10, 20, 8, 20)
    flat = welch(Sample.of([100.0] * 10 + [0.0] * 10), Sample.of([100.0] * 8 + [0.0] * 12))
    assert both(unclear, flat) == ("not_yet_up", NOT_YET_TEXT)
    assert both(two_proportions(8, 20, 10, 20), flat)[0] == "not_yet"

    clear = two_proportions(18, 20, 2, 20)
    rich = welch(Sample.of([100.0] * 18 + [0.0] * 2), Sample.of([100.0] * 2 + [0.0] * 18))
    code, text = both(clear, rich)
    assert code == "up"
    assert text == ("conversion is 80.00 points higher with the block (significant at 95 %); "
                    "revenue per visitor is 80.00 higher with the block (significant at 95 %)")
    code, text = both(two_proportions(2, 20, 18, 20), flat)
    assert code == "down" and text.startswith("conversion is 80.00 points lower with the block")
    assert text.endswith("revenue per visitor: not yet significant (the 95 % interval includes 0)")
    code, text = both(unclear, rich)
    assert code == "rpv_up"
    assert text.startswith("conversion: not yet significant") and "revenue per visitor is 80.00 higher" in text


def test_holdout_groups_are_measured_the_same_way(api, make_shop, seed_catalog, cartback_server):
    cb = shop_client(api, make_shop, seed_catalog, holdout_share=0.5, sections=SECTIONS_NO_SIMILAR)
    shop = cb.shop
    d, t = day_and_time(15, 9)

    def assigned(control: bool, count: int) -> list[str]:
        found = []
        while len(found) < count:
            token = cb.visitor([])
            if in_control_group(shop.id, token.split(".")[0], 0.5) == control:
                found.append(token)
        return found

    treatment, control = assigned(False, 4), assigned(True, 5)
    conn = connect_sync(str(cartback_server.db_path))

    # Everyone eligible viewed a product before reaching the empty cart.
    for i, token in enumerate(treatment[:3] + control[:4]):
        cb.send(token, [view("a", t - 600 + i)])
        status, block, _, r = cb.render(token, t + i)
        if token in control:
            # Held out: nothing shown, but the eligible moment is recorded like the shown ones.
            assert status == 204 and r.headers["x-cartback-group"] == "control"
            held = conn.execute("SELECT holdout, ts FROM blocks WHERE shop = ? AND vid = ?",
                                (shop.id, token.split(".")[0])).fetchall()
            assert held == [(1, t + i)]
        else:
            assert status == 200 and "x-cartback-group" not in r.headers
            cb.send(token, [impression(block, t + i + 5)])
    # A control visitor with nothing to show is not eligible: 204 and no row.
    status, *_ = cb.render(control[4], t)
    assert status == 204
    assert conn.execute("SELECT count(*) FROM blocks WHERE shop = ? AND vid = ?",
                        (shop.id, control[4].split(".")[0])).fetchone()[0] == 0
    # A treatment visitor first eligible before the period is not in the period's cohort.
    cb.send(treatment[3], [view("b", t - 5 * DAY - 60)])
    assert cb.render(treatment[3], t - 5 * DAY)[0] == 200
    assert cb.render(treatment[3], t + 100)[0] == 200
    cb.send(treatment[3], [purchase("T3", t + 200, [{"id": "b", "price": 200, "qty": 1}], 200)])

    # Purchases, the same for both groups: treatment 2 of 3 convert (100, 300); control 1 of 4 (200),
    # another control visitor buys 8 days after the eligible moment (outside the window).
    cb.send(treatment[0], [purchase("T0", t + 3600, [{"id": "a", "price": 100, "qty": 1}], 100)])
    cb.send(treatment[1], [purchase("T1", t + 2 * DAY, [{"id": "f", "price": 300, "qty": 1}], 300)])
    cb.send(control[0], [purchase("C0", t + 6 * DAY, [{"id": "b", "price": 200, "qty": 1}], 200)])
    cb.send(control[1], [purchase("C1", t + 8 * DAY, [{"id": "a", "price": 100, "qty": 1}], 100)])
    # A browser render (no trusted ts) for a held-out visitor answers the same way.
    r = api.get("/v1/empty-cart", params={"shop": shop.id, "vid": control[2]})
    assert r.status_code == 204 and r.headers["x-cartback-group"] == "control"

    report = cb.report(d, d + timedelta(days=9))
    holdout = report["holdout"]
    assert holdout["share"] == 0.5
    assert holdout["treatment"] == {"visitors": 3, "converted": 2, "conversion_rate": pytest.approx(2 / 3),
                                    "revenue": 400.0, "revenue_per_visitor": 133.33}  # money in cents
    assert holdout["control"] == {"visitors": 4, "converted": 1, "conversion_rate": 0.25, "revenue": 200.0,
                                  "revenue_per_visitor": 50.0}
    conversion = two_proportions(2, 3, 1, 4).as_dict()
    rpv = welch(Sample.of([100.0, 300.0, 0.0]), Sample.of([200.0, 0.0, 0.0, 0.0])).as_dict()
    assert_close(holdout["conversion"], conversion)
    # Money is in cents; the relative figures stay fractions.
    rpv_cents = {**rpv, "absolute": round(rpv["absolute"], 2), "ci95": [round(x, 2) for x in rpv["ci95"]]}
    assert_close(holdout["revenue_per_visitor"], rpv_cents)
    assert holdout["revenue_per_visitor"]["absolute"] == round(holdout["revenue_per_visitor"]["absolute"], 2)
    assert holdout["conversion"]["absolute"] == pytest.approx(2 / 3 - 1 / 4)
    assert holdout["conversion"]["relative"] == pytest.approx((2 / 3) / (1 / 4) - 1)
    assert holdout["conversion"]["significant"] is False
    assert "not yet significant" in holdout["verdict"]
    # The block figures count only what was shown: 3 treatment renders in the period + the early one
    # is outside it; the held-out renders are not "rendered".
    assert report["block"]["rendered"] == 4 and report["block"]["impressions"] == 3
    assert report["totals"]["orders"] == 5


def test_a_clear_uplift_is_called_significant(api, make_shop, seed_catalog):
    cb = shop_client(api, make_shop, seed_catalog, holdout_share=0.5, sections=SECTIONS_NO_SIMILAR)
    shop = cb.shop
    d, t = day_and_time(12, 9)
    groups = {False: [], True: []}
    while min(len(v) for v in groups.values()) < 20:
        token = cb.visitor([view("a", t - 600)])
        group = in_control_group(shop.id, token.split(".")[0], 0.5)
        if len(groups[group]) < 20:
            groups[group].append(token)
            cb.render(token, t)
    for i, token in enumerate(groups[False][:18]):  # 18 of 20 treatment visitors buy, 2 of 20 control
        cb.send(token, [purchase(f"T{i}", t + 60, [{"id": "a", "price": 100, "qty": 1}], 100)])
    for i, token in enumerate(groups[True][:2]):
        cb.send(token, [purchase(f"C{i}", t + 60, [{"id": "a", "price": 100, "qty": 1}], 100)])
    holdout = cb.report(d, d)["holdout"]
    assert holdout["conversion"]["absolute"] == pytest.approx(0.8)
    assert holdout["conversion"]["significant"] and holdout["revenue_per_visitor"]["significant"]
    assert "higher with the block" in holdout["verdict"] and "not yet" not in holdout["verdict"]

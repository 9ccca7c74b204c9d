"""/dashboard in a real Chromium: sign-in, the figures against the report API, charts, date ranges,
Turkish and English, the security headers. Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime as dt
import os
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cartback import simulate

from tests.conftest import REPO, add_shop, put_products

ARTIFACTS = REPO / "test-artifacts"
# The restore cards: carts restored, and orders after a restore (report["restores"]).
RESTORE_CARDS = {"restored_carts": "carts", "restore_orders": "orders"}
CARD_METRICS = {
    "impressions": "block", "visitors_reached": "block", "ctr_visitors": "block", "click_to_purchase": "block",
    "attributed_orders": "block", "attributed_revenue": "block", "block_revenue_share": "totals",
}


@pytest.fixture(scope="module")
def shop(cartback_server):
    """A shop with 35 days of simulated traffic (through the HTTP API), a holdout group included."""
    origin = "http://dashboard-shop.test"
    s = add_shop(cartback_server.db_path, [origin], settings={"holdout_share": 0.2, "platform": "shopify"},
                 shop_id=f"dash{os.getpid()}")
    products = [dict(p, url=origin + p["url"], image=origin + p["image"]) for p in simulate.load_products()]
    put_products(cartback_server.db_path, s.id, products)
    rates = simulate.Rates(click=0.2, buy_after_click=0.5, restore=0.3)
    summary = simulate.run(cartback_server.url, s.id, s.api_key, days=35, visitors=220, seed=11, rates=rates)
    assert summary.impressions > 0 and summary.clicks > 0 and summary.restores > 0
    return s


def report(server, shop, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    params = {"from": start.isoformat(), "to": end.isoformat()} if start else {}
    r = httpx.get(f"{server.url}/v1/shops/{shop.id}/report", params=params,
                  headers={"authorization": f"Bearer {shop.api_key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def sign_in(page, server, shop, lang: str = "en", key: str | None = None):
    page.goto(f"{server.url}/dashboard/login?lang={lang}")
    page.fill("#shop", shop.id)
    page.fill("#key", key or shop.api_key)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def number(text: str, decimal: str = ".") -> float:
    """'₺9,762.90' → 9762.9; '%2,46' (Turkish) with decimal=',' → 2.46."""
    group = "," if decimal == "." else "."
    cleaned = re.sub(r"[^\d" + re.escape(decimal) + "-]", "", text.replace(group, ""))
    return float(cleaned.replace(decimal, "."))


def cards(page) -> dict[str, tuple[float, str]]:
    out = {}
    for card in page.locator("article.card[data-metric]").all():
        out[card.get_attribute("data-metric")] = (float(card.get_attribute("data-value")),
                                                 card.locator("[data-shown]").inner_text())
    return out


def check_cards(page, rep: dict, decimal: str = ".") -> None:
    shown = cards(page)
    assert set(shown) == set(CARD_METRICS) | set(RESTORE_CARDS)
    for metric, key in RESTORE_CARDS.items():
        value, text = shown[metric]
        assert value == rep["restores"][key] and number(text, decimal) == rep["restores"][key], metric
    for metric, scope in CARD_METRICS.items():
        expected = rep[scope][metric]
        value, text = shown[metric]
        assert value == pytest.approx(expected, abs=1e-9), metric
        digits = {"ctr_visitors": 2, "click_to_purchase": 0, "block_revenue_share": 1}.get(metric)
        if digits is not None:  # shown as a percentage with that many decimals
            assert number(text, decimal) == pytest.approx(expected * 100, abs=0.51 / 10 ** digits), (metric, text)
        else:
            assert number(text, decimal) == pytest.approx(expected, abs=0.006), (metric, text)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# ---------------------------------------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_key_and_keeps_the_key_out_of_the_page(page, cartback_server, shop):
    page.goto(f"{cartback_server.url}/dashboard?lang=en")
    assert page.url.endswith("/dashboard/login"), "an anonymous visit goes to the sign-in form"

    sign_in(page, cartback_server, shop, key="cb_not-the-key")
    error = page.locator("#signin-error")
    assert "do not match" in error.inner_text()
    assert page.url.endswith("/dashboard/login?lang=en")
    assert not any(c["name"] == "cartback_session" for c in page.context.cookies())

    sign_in(page, cartback_server, shop)
    assert page.url.endswith("/dashboard")
    assert page.locator("article.card").count() == 9
    assert shop.api_key not in page.content()
    session = next(c for c in page.context.cookies() if c["name"] == "cartback_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["expires"] > 0
    assert shop.api_key not in session["value"]

    # Signing out takes a POST with the page's token; the session is gone afterwards.
    forged = page.request.post(f"{cartback_server.url}/dashboard/logout", form={"csrf": "guess"},
                               max_redirects=0)
    assert forged.status == 403
    page.click("form.signout button")
    page.wait_for_url("**/dashboard/login")
    page.goto(f"{cartback_server.url}/dashboard")
    assert page.url.endswith("/dashboard/login") or "/dashboard/login?" in page.url


def test_guessing_keys_is_slowed_and_then_locked(cartback_server, make_shop):
    target = make_shop()
    with httpx.Client(base_url=cartback_server.url, timeout=30) as client:
        started = dt.datetime.now()
        for i in range(5):
            r = client.post("/dashboard/login?lang=en", data={"shop": target.id, "key": f"cb_guess{i}"})
            assert r.status_code == 401 and "do not match" in r.text
        assert (dt.datetime.now() - started).total_seconds() >= 5 * 0.7, "each wrong key costs a delay"
        r = client.post("/dashboard/login?lang=en", data={"shop": target.id, "key": target.api_key})
        assert r.status_code == 429 and "Too many wrong attempts" in r.text


def test_someone_failing_on_purpose_cannot_lock_the_merchant_out(cartback_server, make_shop):
    target = make_shop()
    login = "/dashboard/login?lang=en"
    with httpx.Client(base_url=cartback_server.url, timeout=30) as merchant, \
            httpx.Client(base_url=cartback_server.url, timeout=30) as stranger:
        assert merchant.post(login, data={"shop": target.id, "key": target.api_key}).status_code == 303
        merchant.cookies.delete("cartback_session")  # a new day: the session is gone, the device cookie kept

        # 25 wrong keys at once from 25 addresses (the server trusts X-Forwarded-For from its local
        # proxy): the shop's sign-in is locked for every browser that never signed in to it.
        def guess(i: int) -> int:
            return stranger.post(login, data={"shop": target.id, "key": f"cb_x{i}"},
                                 headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code

        with ThreadPoolExecutor(25) as pool:
            statuses = list(pool.map(guess, range(25)))
        assert statuses.count(401) >= 20 and set(statuses) <= {401, 429}
        assert stranger.post(login, data={"shop": target.id, "key": target.api_key},
                             headers={"x-forwarded-for": "198.51.100.7"}).status_code == 429
        # The merchant's own address does not help a browser without the cookie.
        assert stranger.post(login, data={"shop": target.id, "key": target.api_key}).status_code == 429

        # The merchant's browser signed in before: it still can.
        assert merchant.post(login, data={"shop": target.id, "key": target.api_key}).status_code == 303
        # Its own wrong keys still count against it, and lock it after five.
        merchant.cookies.delete("cartback_session")
        for i in range(5):
            assert merchant.post(login, data={"shop": target.id, "key": f"cb_mine{i}"}).status_code == 401
        assert merchant.post(login, data={"shop": target.id, "key": target.api_key}).status_code == 429
        # A device cookie of another shop, or a forged one, counts for nothing.
        other = make_shop()
        assert stranger.post(login, data={"shop": other.id, "key": other.api_key}).status_code == 303
        assert stranger.cookies.get("cartback_device")
        assert stranger.post(login, data={"shop": target.id, "key": target.api_key}).status_code == 429
        stranger.cookies.clear()
        stranger.cookies.set("cartback_device", "eyJzIjoiYSJ9.forged.sig")
        assert stranger.post(login, data={"shop": target.id, "key": target.api_key}).status_code == 429


def test_cards_match_the_report_and_charts_have_a_point_per_day(page, cartback_server, shop):
    sign_in(page, cartback_server, shop)
    rep = report(cartback_server, shop)
    check_cards(page, rep)
    assert rep["block"]["impressions"] > 0 and rep["block"]["clicks"] > 0 and rep["block"]["attributed_orders"] > 0
    days = (dt.date.fromisoformat(rep["to"]) - dt.date.fromisoformat(rep["from"])).days + 1
    assert page.locator("[data-period]").get_attribute("data-period") == f"{rep['from']}/{rep['to']}"

    charts = page.locator("figure.chart")
    assert charts.count() == 4
    daily = {row["date"]: row for row in rep["daily"]}
    for key in ("impressions", "clicks", "attributed_orders", "attributed_revenue"):
        chart = page.locator(f"figure.chart[data-chart='{key}']")
        points = chart.locator("svg .point")
        assert points.count() == days, key
        values = [float(v) for v in points.evaluate_all("els => els.map(e => e.getAttribute('data-value'))")]
        assert sum(values) == pytest.approx(sum(row[key] for row in daily.values()), abs=0.01), key
        box = chart.locator("svg.chart__svg").bounding_box()
        assert box["width"] > 300 and box["height"] > 90
    # Drawn, not just present: the line has a real path and the bars have height.
    assert len(page.locator("figure[data-chart='impressions'] path.chart__line").first.get_attribute("d")) > 100
    heights = page.locator("figure[data-chart='clicks'] rect.chart__bar").evaluate_all(
        "els => els.map(e => e.getBBox().height)")
    assert max(heights) > 10

    # The attribution window is next to every attributed figure.
    window = f"{rep['attribution_days']}-day window"
    for metric in ("click_to_purchase", "attributed_orders", "attributed_revenue", "block_revenue_share"):
        assert window in page.locator(f"article[data-metric='{metric}'] .badge").inner_text()
    for key in ("attributed_orders", "attributed_revenue"):
        assert window in page.locator(f"figure[data-chart='{key}'] .badge").inner_text()

    # Per section and holdout.
    rows = page.locator("table[data-table='sections'] tbody tr")
    assert rows.count() == len(rep["sections"])
    cart_row = page.locator("table[data-table='sections'] tr[data-section='cart'] td").all_inner_texts()
    assert number(cart_row[0]) == rep["sections"]["cart"]["impressions"]
    holdout = page.locator("table[data-table='holdout'] tbody tr").first.locator("td").all_inner_texts()
    groups = rep["holdout"]
    assert [number(x) for x in holdout] == [groups["control"]["visitors"], groups["treatment"]["visitors"]]
    assert rep["holdout"]["control"]["visitors"] > 0
    verdict = page.locator("[data-verdict]").inner_text()
    significant = groups["conversion"]["significant"] or groups["revenue_per_visitor"]["significant"]
    assert ("Not certain yet" in verdict) != significant


def test_changing_the_date_range_changes_the_figures(page, cartback_server, shop):
    sign_in(page, cartback_server, shop)
    ninety = cards(page)["impressions"][0]
    page.click("a[data-preset='7']")
    page.wait_for_url("**/dashboard?days=7")
    end = today()
    rep7 = report(cartback_server, shop, end - dt.timedelta(days=6), end)
    check_cards(page, rep7)
    assert cards(page)["impressions"][0] != ninety
    assert page.locator("figure[data-chart='impressions'] svg .point").count() == 7
    assert page.locator("a[data-preset='7']").get_attribute("aria-current") == "true"

    start, stop = end - dt.timedelta(days=20), end - dt.timedelta(days=5)
    page.fill("input[name=from]", start.isoformat())
    page.fill("input[name=to]", stop.isoformat())
    with page.expect_navigation():
        page.click(".range button[type=submit]")
    assert f"from={start.isoformat()}" in page.url
    check_cards(page, report(cartback_server, shop, start, stop))
    assert page.locator("figure[data-chart='clicks'] svg .point").count() == 16
    assert page.locator("input[name=from]").input_value() == start.isoformat()


def test_turkish_and_english_with_screenshots(page, cartback_server, shop):
    ARTIFACTS.mkdir(exist_ok=True)
    rep = report(cartback_server, shop)

    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, cartback_server, shop, lang="en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Cartback results"
    assert page.locator("article[data-metric='impressions'] .card__label").inner_text() == "Block views"
    check_cards(page, rep, decimal=".")
    page.screenshot(path=str(ARTIFACTS / "dashboard-en-1366x768.png"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-en-full.png"), full_page=True)

    page.set_viewport_size({"width": 1440, "height": 900})
    page.click(".langs a[hreflang='tr']")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "tr"
    assert page.locator("h1").inner_text() == "Cartback sonuçları"
    assert page.locator("article[data-metric='impressions'] .card__label").inner_text() == "Blok görüntülenmesi"
    check_cards(page, rep, decimal=",")
    ctr = page.locator("article[data-metric='ctr_visitors'] [data-shown]").inner_text()
    assert ctr.startswith("%"), "Turkish writes the percent sign first"
    assert "günlük pencere" in page.locator("article[data-metric='attributed_revenue'] .badge").inner_text()
    page.screenshot(path=str(ARTIFACTS / "dashboard-tr-1440x900.png"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-tr-full.png"), full_page=True)

    # Remembered: the next visit without ?lang stays Turkish.
    page.goto(f"{cartback_server.url}/dashboard")
    assert page.locator("html").get_attribute("lang") == "tr"

    # A chart tooltip on hover.
    column = page.locator("figure[data-chart='impressions'] .chart__col").nth(20)
    column.hover()
    tip = page.locator("figure[data-chart='impressions'] .chart__tip")
    assert tip.is_visible() and tip.inner_text().strip()
    page.locator("figure[data-chart='impressions']").screenshot(path=str(ARTIFACTS / "dashboard-tooltip-tr.png"))

    page.goto(f"{cartback_server.url}/dashboard/login?lang=tr")
    assert page.url.endswith("/dashboard")  # already signed in


def test_sign_in_page_screenshots_and_turkish_error(page, cartback_server, shop):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{cartback_server.url}/dashboard/login?lang=tr")
    page.screenshot(path=str(ARTIFACTS / "dashboard-signin-tr.png"))
    sign_in(page, cartback_server, shop, lang="tr", key="yanlis")
    assert "eşleşmiyor" in page.locator("#signin-error").inner_text()
    page.goto(f"{cartback_server.url}/dashboard/login?lang=en")
    page.screenshot(path=str(ARTIFACTS / "dashboard-signin-en.png"))


def test_strict_csp_no_inline_script_and_no_console_errors(page, cartback_server, shop):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(f"{cartback_server.url}/dashboard/login")
    for headers in (response.headers,):
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    sign_in(page, cartback_server, shop)
    html = page.content()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline scripts"
    assert " style=" not in html, "no inline styles"
    assets = page.locator("script[src], link[href], img[src]").evaluate_all(
        "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))")
    assert assets and all(a.startswith("/static/dashboard/") for a in assets), assets
    page.locator("figure[data-chart='clicks'] .chart__col").nth(3).hover()
    assert problems == []
    # The preview link and the CSV export.
    assert page.locator("a[data-preview]").get_attribute("href").startswith("http://dashboard-shop.test")
    csv = page.request.get(f"{cartback_server.url}/dashboard/export.csv?days=30")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text().splitlines()[0].startswith("shop,")
    anonymous = httpx.get(f"{cartback_server.url}/dashboard/export.csv", follow_redirects=False)
    assert anonymous.status_code == 303


def test_the_holdout_panel_compares_the_groups_the_period_has(page, cartback_server):
    # The holdout ran, then the merchant switched it off: the period still has a control group.
    origin = "http://holdout-shop.test"
    s = add_shop(cartback_server.db_path, [origin], settings={"holdout_share": 0.3}, shop_id=f"hold{os.getpid()}")
    products = [dict(p, url=origin + p["url"], image=origin + p["image"]) for p in simulate.load_products()]
    put_products(cartback_server.db_path, s.id, products)
    simulate.run(cartback_server.url, s.id, s.api_key, days=10, visitors=80, seed=4)
    r = httpx.patch(f"{cartback_server.url}/v1/shops/{s.id}/settings", json={"holdout_share": 0},
                    headers={"authorization": f"Bearer {s.api_key}"})
    assert r.status_code == 200
    rep = report(cartback_server, s)
    assert rep["holdout"]["share"] == 0 and rep["holdout"]["control"]["visitors"] > 0
    assert rep["holdout"]["changed_at"][:10] == today().isoformat()

    sign_in(page, cartback_server, s)
    panel = page.locator("#holdout")
    assert panel.locator("[data-holdout-note='now-off']").is_visible()
    assert today().strftime("%Y") in panel.locator("[data-holdout-note='changed']").inner_text()
    control = panel.locator("table[data-table='holdout'] tbody tr").first.locator("td").all_inner_texts()
    groups = rep["holdout"]
    assert [number(x) for x in control] == [groups["control"]["visitors"], groups["treatment"]["visitors"]]
    assert page.locator("[data-metric='verdict'] .card__value").inner_text() != ""
    assert "switched off for this shop, so there is no control group" not in panel.inner_text()


@pytest.mark.parametrize("lang", ["tr", "en"])
@pytest.mark.parametrize("size", [(1366, 800), (390, 844)], ids=["laptop", "phone"])
def test_the_dashboard_fits_laptops_and_phones(page, cartback_server, shop, lang, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, cartback_server, shop, lang=lang)
    # Nothing spills out of the page sideways; a wide table scrolls inside its own box.
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{'laptop' if size[0] > 500 else 'phone'}-{lang}.png"),
                    full_page=True)
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.table-wrap'))
        .map(e => e.tagName + '.' + e.className).slice(0, 8)""")
    assert wide == []
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    spilled = page.evaluate("""() => [...document.querySelectorAll('.card [data-shown], input, select, button')]
        .filter(e => { const r = e.getBoundingClientRect(), p = e.closest('.card, form, .panel') || document.body;
                       const b = p.getBoundingClientRect();
                       return r.width > 0 && (r.right > b.right + 1 || r.left < b.left - 1) })
        .map(e => e.outerHTML.slice(0, 80))""")
    assert spilled == []
    # Date fields in the reader's order: Turkish gg.aa.yyyy, never mm/dd/yyyy.
    shown = page.locator("input[name=to]").input_value()
    assert shown == (today().strftime("%d.%m.%Y") if lang == "tr" else today().isoformat())


def test_turkish_dates_are_typed_day_first(page, cartback_server, shop):
    sign_in(page, cartback_server, shop, lang="tr")
    start, stop = today() - dt.timedelta(days=20), today() - dt.timedelta(days=5)
    page.fill("input[name=from]", start.strftime("%-d.%-m.%Y"))
    page.fill("input[name=to]", stop.strftime("%d.%m.%Y"))
    with page.expect_navigation():
        page.click(".range button[type=submit]")
    assert page.locator(".toolbar__period").get_attribute("data-period") == f"{start.isoformat()}/{stop.isoformat()}"
    assert page.locator("input[name=from]").input_value() == start.strftime("%d.%m.%Y")
    check_cards(page, report(cartback_server, shop, start, stop), decimal=",")

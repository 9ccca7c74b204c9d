"""The dashboard's pages (cartback.dashboard.views), in process: figures in each language, the
holdout's verdict, a report that fails, the CSV export, error pages, the language cookie, the shop
link."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
from cartback.dashboard import views
from cartback.dashboard.pages import LANG_COOKIE
from cartback.errors import ApiError

from tests.dashboard_app import DashboardApp

HOLDOUT = {
    "share": 0.2, "changed_at": None,
    "treatment": {"visitors": 64, "converted": 16, "conversion_rate": 0.25, "revenue": 13182.9},
    "control": {"visitors": 21, "converted": 1, "conversion_rate": 0.0476, "revenue": 289.9},
    "conversion": {"absolute": 0.2024, "relative": 4.25, "ci95": [0.0626, 0.3422], "significant": True},
    "revenue_per_visitor": {"absolute": 192.18, "relative": 13.92, "ci95": [68.14, 316.22], "significant": True},
}
REPORT = {
    "currency": "TRY", "attribution_days": 7,
    "block": {"rendered": 104, "impressions": 35412, "visitors_reached": 63, "clicks": 16, "visitors_clicked": 15,
              "ctr_visitors": 0.2381, "click_to_purchase": 0.4667, "attributed_orders": 7,
              "attributed_revenue": 3709.2},
    "totals": {"orders": 51, "revenue": 45618.1, "block_revenue_share": 0.0813},
    "restores": {"carts": 2, "items": 3, "orders": 1, "revenue": 120.0},
    "sections": {"cart": {"impressions": 85, "clicks": 9, "attributed_revenue": 3419.3},
                 "similar": {"impressions": 40, "clicks": 7, "attributed_revenue": 289.9}},
    "holdout": HOLDOUT, "daily": [], "notes": [],
}


@pytest.fixture
def dash(tmp_path):
    app = DashboardApp(tmp_path)
    yield app
    app.close()


@pytest.fixture
def report(monkeypatch):
    """The report the pages show: REPORT, or a copy the test changes (None: the report fails)."""
    shown = {"report": copy.deepcopy(REPORT)}

    async def load_report(request, shop, period):
        if shown["report"] is None:
            raise RuntimeError("the report failed")
        return {**shown["report"], "shop": shop.id, "from": period.start.isoformat(), "to": period.end.isoformat()}

    monkeypatch.setattr(views, "load_report", load_report)
    return shown


def card(page: str, metric: str) -> str:
    return re.search(rf'data-metric="{metric}".*?data-shown[^>]*>([^<]+)<', page, re.S).group(1)


def test_the_figures_in_each_language(dash, report):
    browser = dash.browser()
    browser.sign_in()
    tr, en = browser.get("/dashboard?lang=tr").text, browser.get("/dashboard?lang=en").text
    assert (card(tr, "impressions"), card(en, "impressions")) == ("35.412", "35,412")
    assert (card(tr, "attributed_revenue"), card(en, "attributed_revenue")) == ("₺3.709,20", "₺3,709.20")
    assert "Bloğun bölümlerine göre" in tr and "By section of the block" in en
    assert "Sepetinizdeydi" in tr and "Was in the cart" in en and "Favourites" not in en, "sections the report has"
    assert '<html lang="tr">' in tr and '<html lang="en">' in en


def test_the_verdict_in_plain_words(dash, report):
    browser = dash.browser()
    browser.sign_in()
    page = browser.get("/dashboard?lang=en").text
    assert 'data-verdict="yes"' in page
    assert "Visitors who see the block buy more, and the difference is too large to be chance" in page
    assert "+20.2 points" in page and "95% range: +6.3 to +34.2" in page
    report["report"]["holdout"] = dict(HOLDOUT, share=0, changed_at=dt.date.today().isoformat() + "T09:00:00")
    page = browser.get("/dashboard?lang=en").text
    assert 'data-holdout-note="now-off"' in page and 'data-holdout-note="changed"' in page
    report["report"]["holdout"] = {"share": 0}
    page = browser.get("/dashboard?lang=tr").text
    assert "Bu mağazada kontrol grubu testi kapalı" in page and "%95 aralık" not in page


def test_a_report_that_fails_still_gives_a_page(dash, report, caplog):
    browser = dash.browser()
    browser.sign_in()
    report["report"] = None
    r = browser.get("/dashboard?lang=en")
    assert r.status_code == 200 and "The report could not be computed right now" in r.text
    assert "dashboard report failed for dash" in caplog.text


def test_an_empty_shop_reads_no_data_yet(dash):
    browser = dash.browser()
    browser.sign_in()
    page = browser.get("/dashboard?lang=en&days=7").text
    assert page.count("No data in this period yet.") == 4, "each of the four charts"
    assert card(page, "impressions") == "0"


def test_the_csv_export(dash, report):
    browser = dash.browser()
    assert browser.get("/dashboard/export.csv").headers["location"] == "/dashboard/login"
    browser.sign_in()
    today = dt.datetime.now(dt.UTC).date()
    r = browser.get("/dashboard/export.csv?days=7&table=daily")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    start = (today - dt.timedelta(days=6)).isoformat()
    assert r.headers["content-disposition"] == f'attachment; filename="cartback-dash-{start}-{today}-daily.csv"'


def test_errors_at_dashboard_addresses_are_pages_in_the_readers_language(dash, report, monkeypatch):
    browser = dash.browser()
    r = browser.get("/dashboard/no-such-page?lang=en")
    assert (r.status_code, r.headers["content-type"]) == (404, "text/html; charset=utf-8")
    assert "There is no such page" in r.text and 'href="/dashboard"' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "Böyle bir sayfa yok" in browser.get("/dashboard/no-such-page?lang=tr").text
    # The API's addresses keep answering JSON.
    assert browser.get("/no-such-page").json()["error"]["code"] == "not_found"

    browser.sign_in()

    async def unavailable(request, shop, period):
        raise ApiError(503, "storage_unavailable", "database: cannot read (the database is gone)", "database")

    monkeypatch.setattr(views, "load_report", unavailable)
    r = browser.get("/dashboard/export.csv?lang=tr")
    assert (r.status_code, r.headers["content-type"]) == (503, "text/html; charset=utf-8")
    assert "Panel şu anda kullanılamıyor" in r.text
    assert "503 · database: cannot read (the database is gone)" in r.text


def test_the_language_asked_for_is_remembered(dash):
    browser = dash.browser()
    r = browser.get("/dashboard?lang=en")
    assert r.headers["location"] == "/dashboard/login" and browser.cookies[LANG_COOKIE] == "en"
    login = browser.get("/dashboard/login")
    assert "Sign in to your results" in login.text
    browser.sign_in()
    assert "Cartback results" in browser.get("/dashboard").text, "the cookie wins over the shop's Turkish"
    other = dash.browser("192.0.2.30")
    assert "Sonuçlarınıza giriş yapın" in other.get("/dashboard/login", headers={"accept-language": "de"}).text
    assert "Sign in to your results" in other.get("/dashboard/login", headers={"accept-language": "en-GB"}).text


class _Shop:
    def __init__(self, shop_id: str, origins: list[str]) -> None:
        self.id, self.origins = shop_id, origins


def test_the_shop_link_goes_to_the_demo_shops_cart_or_the_shop():
    assert views._demo_link({"demo_shop_url": "http://demo.test/"}, _Shop("s", [])) == (
        "http://demo.test/sepet", "preview")
    assert views._demo_link({}, _Shop("demo", ["http://127.0.0.1:8001"])) == (
        "http://127.0.0.1:8001/sepet", "preview")
    assert views._demo_link({}, _Shop("s", ["https://shop.test"])) == ("https://shop.test/", "open_shop")
    assert views._demo_link({}, _Shop("s", [])) == (None, "open_shop")


def test_orders_the_shops_own_system_confirmed_are_named_when_there_are_any(dash, report):
    browser = dash.browser()
    browser.sign_in()
    assert "confirmed by the shop" not in browser.get("/dashboard?lang=en").text
    report["report"]["block"]["attributed_orders_confirmed"] = 3
    en, tr = browser.get("/dashboard?lang=en").text, browser.get("/dashboard?lang=tr").text
    assert "of 51 orders tracked in total; 3 confirmed by the shop&#39;s own system" in en
    assert "toplam 51 siparişin içinde; 3 tanesi mağazanın kendi sisteminden onaylı" in tr

"""Dashboard sign-in (cartback.dashboard.auth): sessions, the lockout against guessed keys, device
cookies, sign-out. In process: the real app over a real SQLite file, no server."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from cartback.dashboard import auth
from cartback.dashboard.auth import (
    DEVICE_COOKIE,
    FAIL_WINDOW,
    MAX_FAILS_PER_ADDRESS,
    MAX_FAILS_PER_DEVICE,
    MAX_FAILS_PER_SHOP,
    SESSION_COOKIE,
    _Attempts,
)

from tests.dashboard_app import DashboardApp


@pytest.fixture
def dash(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "FAIL_DELAY", 0)  # each wrong key waits 0.75 s in earnest
    app = DashboardApp(tmp_path)
    yield app
    app.close()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# --- the lockout, as a table ------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """The lockout's clock, moved by hand."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock.now)
    return clock


def test_one_address_is_locked_out_of_one_shop_for_the_window(clock):
    attempts = _Attempts()
    for _ in range(MAX_FAILS_PER_ADDRESS - 1):
        attempts.fail("192.0.2.1", "shop")
    assert attempts.locked_for("192.0.2.1", "shop") == 0
    attempts.fail("192.0.2.1", "shop")
    assert attempts.locked_for("192.0.2.1", "shop") == pytest.approx(FAIL_WINDOW)
    assert attempts.locked_for("192.0.2.1", "other") == 0
    assert attempts.locked_for("192.0.2.2", "shop") == 0
    clock.now += FAIL_WINDOW / 2
    assert attempts.locked_for("192.0.2.1", "shop") == pytest.approx(FAIL_WINDOW / 2)
    clock.now += FAIL_WINDOW / 2 + 1
    assert attempts.locked_for("192.0.2.1", "shop") == 0
    assert attempts.fails == {}, "expired failures are forgotten"


def test_failures_from_everywhere_lock_the_shop_but_not_a_known_device(clock):
    attempts = _Attempts()
    for i in range(MAX_FAILS_PER_SHOP):
        attempts.fail(f"198.51.100.{i}", "shop")
    assert attempts.locked_for("192.0.2.1", "shop") > 0
    assert attempts.locked_for("192.0.2.1", "shop", device="merchant") == 0
    for _ in range(MAX_FAILS_PER_DEVICE):
        attempts.fail("192.0.2.1", "shop", device="merchant")
    assert attempts.locked_for("192.0.2.1", "shop", device="merchant") > 0
    assert attempts.locked_for("192.0.2.1", "shop", device="laptop") == 0


def test_a_sign_in_clears_its_address_count_but_not_the_shops(clock):
    attempts = _Attempts()
    for i in range(MAX_FAILS_PER_SHOP - 1):
        attempts.fail("192.0.2.1" if i < MAX_FAILS_PER_ADDRESS - 1 else f"198.51.100.{i}", "shop")
    attempts.success("192.0.2.1", "shop")
    attempts.fail("192.0.2.1", "shop")
    assert attempts.locked_for("192.0.2.1", "shop") > 0, "the shop-wide count reached its limit"
    assert "a:192.0.2.1:shop" in attempts.fails and len(attempts.fails["a:192.0.2.1:shop"]) == 1


# --- signing in, through the app ---------------------------------------------------------------------

def test_signing_in_gives_a_session_cookie_not_the_key(dash):
    browser = dash.browser()
    r = browser.sign_in()
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Max-Age=43200" in session
    assert dash.shop.api_key not in " ".join(cookies)
    assert any(c.startswith(DEVICE_COOKIE + "=") and "Path=/dashboard/login" in c for c in cookies)
    page = browser.get("/dashboard")
    assert page.status_code == 200 and "Cartback sonuçları" in page.text, "in the shop's language"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert dash.shop.api_key not in page.text
    assert browser.get("/dashboard/login").headers["location"] == "/dashboard", "already signed in"


def test_wrong_keys_are_refused_then_locked_in_the_readers_language(dash):
    browser = dash.browser()
    r = browser.sign_in(key="cb_guess", lang="tr")
    assert r.status_code == 401 and "Mağaza kimliği ile API anahtarı eşleşmiyor" in r.text
    assert 'value="dash"' in r.text, "the shop id stays in the form"
    for i in range(MAX_FAILS_PER_ADDRESS - 1):
        assert browser.sign_in(key=f"cb_guess{i}").status_code == 401
    r = browser.sign_in()
    assert r.status_code == 429 and "Please wait 15 minutes" in r.text, "even the right key waits"
    assert dash.browser("192.0.2.99").sign_in().status_code == 303, "another address is not locked"


def test_a_browser_that_signed_in_before_is_not_locked_out_by_others(dash):
    merchant = dash.browser("192.0.2.10")
    assert merchant.sign_in().status_code == 303
    merchant.cookies.delete(SESSION_COOKIE)
    for i in range(MAX_FAILS_PER_SHOP):
        dash.browser(f"198.51.100.{i}").sign_in(key="cb_guess")
    assert dash.browser("192.0.2.11").sign_in().status_code == 429, "the shop is locked for new browsers"
    assert merchant.sign_in().status_code == 303, "the device cookie is judged by its own failures"


def test_unknown_shops_and_foreign_forms_are_refused(dash):
    browser = dash.browser()
    assert browser.sign_in(shop="nosuchshop").status_code == 401
    assert browser.sign_in(shop="Not A Shop!").status_code == 401
    r = browser.post("/dashboard/login?lang=en", data={"shop": "dash", "key": dash.shop.api_key},
                     headers={"origin": "http://evil.test"})
    assert r.status_code == 400 and "The form could not be read" in r.text
    assert SESSION_COOKIE not in browser.cookies


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(dash):
    browser = dash.browser()
    browser.sign_in()
    copy = dash.browser("192.0.2.20")
    copy.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE])
    assert copy.get("/dashboard").status_code == 200
    page = browser.get("/dashboard").text
    assert browser.post("/dashboard/logout", data={"csrf": "guess"}).status_code == 403
    r = browser.post("/dashboard/logout", data={"csrf": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login"
    gone = copy.get("/dashboard")
    assert gone.status_code == 303 and gone.headers["location"] == "/dashboard/login?expired=1"
    assert "Your session has ended" in copy.get("/dashboard/login?expired=1&lang=en").text


def test_a_forged_session_cookie_is_no_session(dash):
    browser = dash.browser()
    browser.cookies.set(SESSION_COOKIE, "eyJzIjoiZGFzaCJ9.forged.signature")
    r = browser.get("/dashboard")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login?expired=1"

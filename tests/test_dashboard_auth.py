"""Dashboard sign-in (cartback.dashboard.auth): sessions, the lockout against guessed keys
(dashboard/lockout.py), device cookies, sign-out. In process: the real app over the suite's real
database, no server."""

from __future__ import annotations

import re

import pytest
from cartback.connection import transaction
from cartback.dashboard import auth, lockout
from cartback.dashboard.auth import DEVICE_COOKIE, SESSION_COOKIE
from cartback.dashboard.lockout import FAIL_WINDOW, MAX_FAILS_PER_ADDRESS, MAX_FAILS_PER_DEVICE, MAX_FAILS_PER_SHOP

from tests.conftest import query
from tests.dashboard_app import DashboardApp


@pytest.fixture
def dash(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "FAIL_DELAY", 0)  # each wrong key waits 0.75 s in earnest
    app = DashboardApp(tmp_path)
    yield app
    app.close()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# --- the lockout (lockout.py), on a real database -------------------------------------------------

T0 = 1_800_000_000.0


def attempt(address: str, shop: str = "shop", device: str | None = None) -> lockout.Attempt:
    return lockout.Attempt.of("the server's secret", shop, address, device)


def fail(conn, who: lockout.Attempt, now: float = T0) -> None:
    transaction(conn, lockout.fail, who, now)


def rows(conn) -> int:
    return conn.execute("SELECT count(*) FROM sign_in_failures").fetchone()[0]


def test_one_address_is_locked_out_of_one_shop_for_the_window(conn):
    for _ in range(MAX_FAILS_PER_ADDRESS - 1):
        fail(conn, attempt("192.0.2.1"))
    assert lockout.locked_for(conn, attempt("192.0.2.1"), T0) == 0
    fail(conn, attempt("192.0.2.1"))
    assert lockout.locked_for(conn, attempt("192.0.2.1"), T0) == pytest.approx(FAIL_WINDOW)
    assert lockout.locked_for(conn, attempt("192.0.2.1", "other"), T0) == 0
    assert lockout.locked_for(conn, attempt("192.0.2.2"), T0) == 0
    assert lockout.locked_for(conn, attempt("192.0.2.1"), T0 + FAIL_WINDOW / 2) == pytest.approx(FAIL_WINDOW / 2)
    later = T0 + FAIL_WINDOW + 1
    assert lockout.locked_for(conn, attempt("192.0.2.1"), later) == 0
    fail(conn, attempt("192.0.2.2"), later)
    assert rows(conn) == 1, "expired failures are forgotten"


def test_failures_from_everywhere_lock_the_shop_but_not_a_known_device(conn):
    for i in range(MAX_FAILS_PER_SHOP):
        fail(conn, attempt(f"198.51.100.{i}"))
    assert lockout.locked_for(conn, attempt("192.0.2.1"), T0) > 0
    assert lockout.locked_for(conn, attempt("192.0.2.1", device="merchant"), T0) == 0
    for _ in range(MAX_FAILS_PER_DEVICE):
        fail(conn, attempt("192.0.2.1", device="merchant"))
    assert lockout.locked_for(conn, attempt("192.0.2.1", device="merchant"), T0) > 0
    assert lockout.locked_for(conn, attempt("192.0.2.1", device="laptop"), T0) == 0


def test_a_sign_in_clears_its_address_count_but_not_the_shops(conn):
    for i in range(MAX_FAILS_PER_SHOP - 1):
        fail(conn, attempt("192.0.2.1" if i < MAX_FAILS_PER_ADDRESS - 1 else f"198.51.100.{i}"))
    transaction(conn, lockout.succeed, attempt("192.0.2.1"))
    fail(conn, attempt("192.0.2.1"))
    assert lockout.locked_for(conn, attempt("192.0.2.1"), T0) > 0, "the shop-wide count reached its limit"
    assert lockout.locked_for(conn, attempt("192.0.2.1", "other"), T0) == 0
    mine = conn.execute("SELECT count(*) FROM sign_in_failures WHERE address = ?",
                        (attempt("192.0.2.1").address,)).fetchone()[0]
    assert mine == 1


def test_the_table_keeps_no_client_address(conn):
    fail(conn, attempt("192.0.2.1"))
    stored = conn.execute("SELECT shop, address, device FROM sign_in_failures").fetchall()
    assert len(stored) == 1 and "192.0.2" not in " ".join(map(str, stored[0]))
    assert attempt("192.0.2.1").address != lockout.Attempt.of("another secret", "shop", "192.0.2.1", None).address


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
    for i in range(MAX_FAILS_PER_SHOP + 1):
        assert browser.sign_in(shop=f"nosuchshop{i % 2}").status_code == 401, "never locked: nothing to open"
    assert browser.sign_in(shop="Not A Shop!").status_code == 401
    assert query(dash.settings.db_path, "SELECT count(*) FROM sign_in_failures") == [(0,)], \
        "random shop ids cannot fill the lockout's table"
    assert browser.sign_in().status_code == 303, "nor lock the address out of a real shop"
    browser.cookies.delete(SESSION_COOKIE)
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

"""The block's "Restore my cart" button, in a real Chromium against the real server: the shop's
restore_url template fetched line by line against a fake cart API on the shop's origin, or a
platform adapter's restore; the restore event the server records; a reload when every line went
back, the names of the missing products when some did not, a retry when none did."""

from __future__ import annotations

import json
import time

from cartback import i18n

from tests.conftest import query

TEMPLATE = "/cart/add?id={variant}&quantity={qty}"
BUTTON = ".cartback [data-cartback-restore]"
STATUS = ".cartback [data-cartback-status]"


def cart_history(shop, traffic, *lines: tuple[dict, int]) -> None:
    """The visitor put these (product, qty) in the cart, then the cart was emptied."""
    shop.open("blank.html")
    shop.page.evaluate("ls => { ls.forEach(([p, q]) => cartback('add', p, q)); cartback('cart', []); }",
                       [list(line) for line in lines])
    shop.wait_token()
    traffic.wait(lambda: traffic.events_of("cart"), what="the cart event")
    traffic.settle()


def open_block(shop, page) -> tuple[str, list[dict]]:
    """The empty cart with its block; the block id and the lines its button offers."""
    shop.open("slot.html")
    button = page.wait_for_selector(BUTTON)
    block_id = page.get_attribute(".cartback", "data-cartback-block")
    return block_id, json.loads(button.get_attribute("data-cartback-restore"))


def stored_restores(db_path, shop_id: str, timeout: float = 10.0) -> list[tuple[str, dict]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = query(db_path, "SELECT block_id, data FROM events WHERE shop = ? AND type = 'restore' ORDER BY id",
                     (shop_id,))
        if rows or time.monotonic() > deadline:
            return [(block, json.loads(data)) for block, data in rows]
        time.sleep(0.05)


def test_every_line_goes_back_and_the_page_reloads(storefront, static_site, cartback_server, traffic, page,
                                                   page_errors):
    static_site.cart_calls.clear()
    static_site.cart_refuses.clear()
    shop = storefront(settings={"restore_url": TEMPLATE})
    cart_history(shop, traffic, (shop.product("r1", variant="V1"), 2), (shop.product("r2", variant="V2"), 1))
    page.context.add_cookies([{"name": "session", "value": "s-42", "url": static_site.url}])
    block_id, lines = open_block(shop, page)
    assert sorted((line["id"], line["variant"], line["qty"]) for line in lines) == [("r1", "V1", 2), ("r2", "V2", 1)]
    assert any(r.url.startswith(shop.widget + "/snippet/restore.js") for r in traffic.requests)

    with page.expect_navigation():  # the reload
        page.click(BUTTON)
    # One add per line, in the button's order, with the visitor's cookies, on the shop's origin.
    assert [(c["path"], c["query"]) for c in static_site.cart_calls] == [
        ("/cart/add", {"id": line["variant"], "quantity": str(line["qty"])}) for line in lines]
    assert all("session=s-42" in c["cookie"] for c in static_site.cart_calls)
    added = [{"id": line["id"], "qty": line["qty"]} for line in lines]
    assert traffic.wait_events(1, "restore") == [{"type": "restore", "block": block_id, "items": added}]
    assert stored_restores(cartback_server.db_path, shop.shop.id) == [(block_id, {"items": added})]
    page.wait_for_selector(".cartback")  # the reloaded page works as before
    assert not page_errors


def test_a_partial_restore_names_the_missing_products(storefront, static_site, cartback_server, traffic, page,
                                                      page_errors):
    static_site.cart_calls.clear()
    static_site.cart_refuses.clear()
    static_site.cart_refuses.add("V2")
    shop = storefront(settings={"restore_url": TEMPLATE})
    cart_history(shop, traffic, (shop.product("p1", variant="V1"), 1), (shop.product("p2", variant="V2"), 3))
    block_id, _ = open_block(shop, page)
    page.evaluate("window.__same_page = 1")
    page.click(BUTTON)
    expected = i18n.TEXTS["tr"]["restore_partial"].replace("{names}", "Bal p2")
    page.wait_for_function("t => document.querySelector('.cartback [data-cartback-status]').textContent === t",
                           arg=expected)
    assert page.is_disabled(BUTTON)  # pressing again would add p1 twice
    assert page.evaluate("window.__same_page") == 1  # no reload
    assert len(static_site.cart_calls) == 2
    restore = traffic.wait_events(1, "restore")
    assert restore == [{"type": "restore", "block": block_id, "items": [{"id": "p1", "qty": 1}]}]
    assert stored_restores(cartback_server.db_path, shop.shop.id) == [(block_id, {"items": [{"id": "p1", "qty": 1}]})]
    assert not page_errors


def test_when_nothing_goes_back_the_visitor_may_try_again(storefront, static_site, traffic, page, page_errors):
    static_site.cart_calls.clear()
    static_site.cart_refuses.clear()
    static_site.cart_refuses.update({"F1", "F2"})
    shop = storefront(settings={"restore_url": TEMPLATE}, locale="en")
    cart_history(shop, traffic, (shop.product("f1", variant="F1"), 1), (shop.product("f2", variant="F2"), 1))
    open_block(shop, page)
    page.click(BUTTON)
    page.wait_for_function("t => document.querySelector('.cartback [data-cartback-status]').textContent === t",
                           arg=i18n.TEXTS["en"]["restore_failed"])
    assert page.is_enabled(BUTTON)
    static_site.cart_refuses.clear()
    with page.expect_navigation():  # the second try works
        page.click(BUTTON)
    assert len(static_site.cart_calls) == 4
    assert len(traffic.events_of("restore")) == 1
    assert not page_errors


def test_a_platform_adapter_restores_instead_of_the_template(storefront, static_site, traffic, page, page_errors):
    static_site.cart_calls.clear()
    static_site.cart_refuses.clear()
    shop = storefront(settings={"platform": "shopify"})
    adapter_url = static_site.url + "/restore-adapter.js"

    # The config names our stand-in adapter (the server names only adapters it has built).
    def config(route):
        answer = route.fetch()
        body = answer.json()
        route.fulfill(response=answer, json={**body, "adapter": adapter_url})

    page.route(shop.widget + "/v1/config*", config)
    cart_history(shop, traffic, (shop.product("a1", variant="4711"), 2), (shop.product("a2", variant="4712"), 1))
    assert page.evaluate("window.__adapterSawConfig.platform") == "shopify"
    seen = len(traffic.requests)
    block_id, lines = open_block(shop, page)
    page.evaluate("window.__refuse = ['a2']")
    page.click(BUTTON)
    page.wait_for_function("document.querySelector('.cartback [data-cartback-status]').textContent !== ''")
    assert page.evaluate("window.__restoreCalls") == [lines]  # the lines as the button lists them
    assert page.evaluate("window.__adapterRuns") == 1  # loaded once
    assert page.text_content(STATUS) == i18n.TEXTS["tr"]["restore_partial"].replace("{names}", "Bal a2")
    assert static_site.cart_calls == []  # no template: the adapter did it
    assert traffic.wait_events(1, "restore") == [
        {"type": "restore", "block": block_id, "items": [{"id": "a1", "qty": 2}]}]
    assert len([r for r in traffic.requests[seen:] if r.url == adapter_url]) == 1  # once per page
    assert not page_errors


def test_a_block_without_the_button_loads_no_restore_code(storefront, traffic, page, page_errors):
    shop = storefront()  # no platform, no restore_url: the shop cannot restore
    cart_history(shop, traffic, (shop.product("n1"), 1))
    shop.open("slot.html")
    page.wait_for_selector(".cartback [data-section=cart]")
    assert page.locator(BUTTON).count() == 0
    page.wait_for_timeout(100)
    assert not [r for r in traffic.requests if "/snippet/restore.js" in r.url]
    assert not page_errors

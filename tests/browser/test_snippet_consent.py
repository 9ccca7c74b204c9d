"""Consent: `data-consent="pending"` sends and stores nothing until cartback('consent', true);
consent(false) forgets the visitor and stays silent on later pages; Global Privacy Control counts
as consent(false)."""

from __future__ import annotations

import json

GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true, configurable: true});"
BLOCK_LOCAL_STORAGE = """
Object.defineProperty(window, 'localStorage', {
  get() { throw new DOMException('The operation is insecure.', 'SecurityError'); }
});
"""


def storage(page) -> dict:
    return page.evaluate("() => { try { return {...localStorage} } catch (e) { return {} } }")


def assert_silent(page, traffic, widget: str) -> None:
    """The snippet ran (page.goto waited for the load event, which waits for async scripts) and,
    given time for its timers, asked nothing of the widget host."""
    page.wait_for_timeout(300)
    assert traffic.to(widget) == []


def test_pending_consent_sends_and_stores_nothing_until_granted(storefront, traffic, page, page_errors):
    shop = storefront()
    shop.open("queue.html", consent="pending")  # eight calls queued before the snippet loaded
    assert any("/snippet.js" in r.url for r in traffic.requests)
    assert_silent(page, traffic, shop.widget)
    page.evaluate("cartback('view', 'too-early'); cartback('render', 'body')")
    assert_silent(page, traffic, shop.widget)
    assert storage(page) == {} and page.context.cookies() == []

    page.evaluate("cartback('consent', true); cartback('view', 'granted')")
    # Calls made before consent were dropped, not held back.
    assert traffic.wait_events(1) == [{"type": "view", "product": "granted"}]
    token = shop.wait_token()
    assert list(storage(page)) == [shop.token_key] and token
    assert page.context.cookies() == []
    assert not page_errors


def test_json_ld_view_waits_for_consent(storefront, traffic, page):
    shop = storefront()
    ld = {"@context": "https://schema.org", "@type": "Product", "sku": "p-ld", "name": "Lavanta Balı"}
    shop.open("product.html", consent="pending", ld=json.dumps(ld))
    assert_silent(page, traffic, shop.widget)
    page.evaluate("cartback('consent', true)")
    assert traffic.wait_events(1) == [{"type": "view", "product": {"id": "p-ld", "name": "Lavanta Balı",
                                                                   "url": page.url}}]


def test_withdrawn_consent_forgets_the_visitor_and_stays_silent(storefront, traffic, page, page_errors):
    shop = storefront()
    shop.browse(shop.product("f1"))
    page.evaluate("cartback('consent', false); cartback('view', 'after-withdrawal')")
    assert shop.token() is None
    assert storage(page) == {f"{shop.token_key}.optout": "1"}  # only the opt-out marker
    posts = len(traffic.posts())
    page.wait_for_timeout(200)
    assert len(traffic.posts()) == posts

    # Later pages stay silent too, block included.
    traffic.log.clear()
    shop.open("slot.html")
    assert_silent(page, traffic, shop.widget)
    page.evaluate("cartback('view', 'still-no')")
    assert_silent(page, traffic, shop.widget)

    # Granting again starts afresh: a new visitor, and the marker is gone.
    page.evaluate("cartback('consent', true); cartback('view', 'again')")
    traffic.wait_events(1)
    assert "vid" not in traffic.body(traffic.posts()[0])
    shop.wait_token()
    assert list(storage(page)) == [shop.token_key]
    assert not page_errors


def test_withdrawn_consent_removes_the_fallback_cookie(storefront, traffic, page):
    page.context.add_init_script(BLOCK_LOCAL_STORAGE)
    shop = storefront()
    shop.open("blank.html")
    page.evaluate("cartback('view', 'k1')")
    traffic.wait(page.context.cookies, what="the visitor cookie")
    page.evaluate("cartback('consent', false)")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies == {f"cartback_{shop.shop.id}.optout": "1"}
    traffic.log.clear()
    shop.open("blank.html")
    page.evaluate("cartback('view', 'k2')")
    assert_silent(page, traffic, shop.widget)


def test_global_privacy_control_means_no_tracking(storefront, traffic, page, page_errors):
    shop = storefront()
    shop.browse(shop.product("g1"))
    page.context.add_init_script(GPC)
    traffic.log.clear()
    shop.open("queue.html")
    assert page.evaluate("navigator.globalPrivacyControl") is True
    assert_silent(page, traffic, shop.widget)
    assert shop.token() is None  # forgotten, as with consent(false)
    assert not page_errors

"""A dead or silent widget server, or odd calls, never break the shop's page: the DOM stays as it
was and nothing is thrown into the page."""

from __future__ import annotations

SNAPSHOT_DOM = """
document.addEventListener('DOMContentLoaded', () => { window.__dom = document.documentElement.outerHTML; });
"""


def returning_visitor(page, shop_id: str) -> None:
    """A stored token, so the snippet goes as far as asking for the block."""
    page.context.add_init_script(f"localStorage.setItem('cartback:{shop_id}', 'stale.token.sig');"
                                 + SNAPSHOT_DOM)


def assert_page_untouched(page) -> None:
    assert page.evaluate("document.documentElement.outerHTML === window.__dom")
    assert page.locator(".cartback, link[rel=stylesheet]").count() == 0


def test_dead_server_leaves_the_page_alone(storefront, traffic, page, page_errors, dead_endpoint):
    shop = storefront()
    returning_visitor(page, shop.shop.id)
    shop.open("slot.html", endpoint=dead_endpoint)
    page.evaluate("cartback('view', 'd1'); cartback('add', 'd1')")
    failed = traffic.wait(lambda: {r.url.split("?")[0] for k, r in traffic.log if k == "failed"} >= {
        dead_endpoint + "/v1/config", dead_endpoint + "/v1/empty-cart", dead_endpoint + "/v1/events"},
        what="config, block and events requests to fail")
    assert failed
    page.wait_for_timeout(100)
    assert_page_untouched(page)
    assert traffic.to(shop.widget) == []  # data-endpoint wins over the script's origin
    assert not page_errors


def test_silent_server_is_given_up_on(storefront, traffic, page, page_errors, silent_endpoint):
    shop = storefront()
    returning_visitor(page, shop.shop.id)
    shop.open("slot.html", endpoint=silent_endpoint)
    # Once the block is being asked for, a call makes a POST that hangs alongside it.
    traffic.wait(traffic.block_requests, what="the block request")
    page.evaluate("cartback('view', 's1')")
    # The page stays usable while the widget host hangs.
    assert page.evaluate("1 + 1") == 2
    aborted = traffic.wait(
        lambda: {r.url.split("?")[0] for k, r in traffic.log if k == "failed"} >= {
            silent_endpoint + "/v1/config", silent_endpoint + "/v1/empty-cart", silent_endpoint + "/v1/events"},
        timeout=12, what="the hanging requests to be aborted")
    assert aborted
    assert_page_untouched(page)
    assert not page_errors


def test_odd_calls_never_throw(storefront, traffic, page, page_errors):
    shop = storefront()
    shop.open("blank.html")
    results = page.evaluate("""() => {
        const odd = [
            ['view', {get id() { throw new Error('getter'); }}],
            ['view', (() => { const o = {id: 'cyc'}; o.self = o; return o; })()],
            ['add', Symbol('x')],
            ['cart', 'not-a-list'],
            ['cart', [null]],
            ['purchase', null],
            ['render', 42],
            ['render', '###bad selector'],
            ['render', '#missing'],
            ['__proto__'], ['constructor', 1], ['toString'],
        ];
        return odd.map(args => { try { cartback(...args); return 'ok'; } catch (e) { return String(e); } });
    }""")
    assert set(results) == {"ok"}
    page.evaluate("cartback('view', 'fine')")
    traffic.wait(lambda: [e for e in traffic.events() if e.get("product") == "fine"], what="a normal call")
    traffic.settle()
    assert all(r.response().status == 200 for r in traffic.posts())
    assert not page_errors

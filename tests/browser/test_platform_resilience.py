"""Each adapter on a page that is not what the shop's platform setting says (a wrong setting, a
theme without the platform's globals): it loads, finds nothing of its platform, and the page's
own requests and errors stay the page's."""

from __future__ import annotations

import pytest

from tests.browser.platform_site import Flow, PlatformSite, Site


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "magento", "prestashop", "ga4"])
def test_an_adapter_on_a_foreign_page_breaks_nothing(platform, page, traffic, cartback_server, make_shop,
                                                      seed_catalog, page_errors):
    def api(site, r):
        return (200, {"ok": r.path}) if r.path == "/api/ping" else None

    with PlatformSite(Site(api=api)) as site:
        shop = Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, platform, {})
        shop.make()
        shop.goto("plain.html")
        shop.traffic.wait(lambda: any(f"/snippet/{platform}.js" in r.url and traffic.finished(r)
                                      for r in traffic.requests), what="the adapter")
        page.wait_for_timeout(200)  # let it run whatever it runs at load
        answers = page.evaluate("""async () => [
            await (await fetch('/api/ping')).json(),
            (await fetch('/nothing')).status,
            await new Promise(done => { const x = new XMLHttpRequest(); x.open('GET', '/api/ping');
                                        x.onload = () => done(JSON.parse(x.responseText)); x.send(); }),
        ]""")
        assert answers == [{"ok": "/api/ping"}, 404, {"ok": "/api/ping"}]
        # The page's own API keeps working, and nothing of the adapter's reached the page's errors.
        page.evaluate("cartback('view', {id: 'x1', name: 'X'})")
        assert traffic.wait_events(1, "view")[0]["product"]["id"] == "x1"
        assert not page_errors

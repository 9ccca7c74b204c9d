"""The GA4 adapter on a shop of no particular platform whose only integration is its GA4
e-commerce tagging: gtag.js's arguments form (a view pushed before the snippet loaded) and GTM's
`{event, ecommerce}` form, each entry read once. GA4 knows no cart API: no restore button."""

from __future__ import annotations

import json

import pytest

from tests.browser.platform_site import Flow, PlatformSite, Site

PRODUCTS = {"G1": ("Çam Balı", 249.9), "G2": ("Kestane Balı", 319.9), "G3": ("Çiçek Balı", 199.9),
            "G4": ("Kekik Balı", 279.9)}


@pytest.fixture
def shop(page, traffic, cartback_server, make_shop, seed_catalog):
    with PlatformSite(Site(api=lambda site, r: None)) as site:
        yield Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, "ga4", PRODUCTS)


def product_page(shop: Flow, pid: str, qty: int = 1, ld: str = "") -> None:
    name, price = PRODUCTS[pid]
    shop.goto("ga4-product.html", id=pid, name=name, price=str(price), qty=str(qty), ld=ld)
    shop.adapter_ready("dataLayer.push !== Array.prototype.push")


def click(shop: Flow, button: str) -> None:
    shop.page.evaluate("document.getElementById('done').hidden = true")
    shop.page.click(button)
    shop.page.wait_for_selector("#done", state="visible")


def test_a_ga4_tagged_shop_gets_the_block_from_its_data_layer(shop, page, traffic, page_errors):
    shop.make(selector=".cart-empty")  # GA4 has no empty-cart preset: the shop names its own
    product_page(shop, "G3")
    view = traffic.wait_events(1, "view")[0]["product"]
    # Pushed before the adapter loaded, read once, with the page as its URL.
    assert (view["id"], view["name"], view["price"], view["category"]) == ("G3", "Çiçek Balı", 199.9, "Bal")
    assert view["url"].startswith(f"{shop.site.url}/ga4-product.html")

    product_page(shop, "G2")
    click(shop, "#wish")
    assert traffic.wait_events(1, "favorite")[0]["product"]["id"] == "G2"

    product_page(shop, "G1", qty=2)
    click(shop, "#add")
    add = traffic.wait_events(1, "add")[0]
    assert (add["product"]["id"], add["qty"], add["product"]["currency"]) == ("G1", 2, "TRY")
    # A page that also has a JSON-LD Product: the core counts that view, GA4's would be a second.
    product_page(shop, "G4", ld=json.dumps({"@context": "https://schema.org", "@type": "Product", "sku": "G4",
                                            "name": "Kekik Balı",
                                            "offers": {"price": "279.9", "priceCurrency": "TRY"}}))
    click(shop, "#add")
    click(shop, "#remove")
    assert traffic.wait_events(1, "remove")[0]["id"] == "G4"
    shop.sent()
    # Each view once: G1..G3 from GA4 (pushed before load, not again on later pushes), G4 from JSON-LD.
    assert sorted(e["product"]["id"] for e in traffic.events_of("view")) == ["G1", "G2", "G3", "G4"]
    assert len(traffic.events_of("add")) == 2

    shop.goto("ga4-cart.html")
    block = shop.wait_block()
    assert shop.section_ids("cart") == ["G1"]
    assert shop.section_ids("favorites") == ["G2"]
    assert sorted(shop.section_ids("viewed")) == ["G3", "G4"]
    assert block.locator(".cartback__restore-button").count() == 0
    assert not page_errors

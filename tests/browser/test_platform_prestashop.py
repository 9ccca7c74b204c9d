"""The PrestaShop adapter on a fake classic-theme shop: the `prestashop` object every page prints
(cart, currency, static token, urls), the theme's jQuery add-to-cart that announces `updateCart`
with the new cart, a wishlist module and the order confirmation tagged for GA4. Restore posts the
cart controller with the static token, one product (and combination) a request."""

from __future__ import annotations

import pytest

from tests.browser.platform_site import Flow, PlatformSite, Site

PRODUCTS = {"1001": ("Çam Balı", 249.9), "1002": ("Kestane Balı", 319.9), "1003": ("Çiçek Balı", 199.9)}


def presented_cart(site: Site) -> dict:
    """CartPresenter::present, the parts an adapter reads."""
    products = []
    for (pid, attr), qty in site.cart.items():
        name, price = PRODUCTS[pid]
        products.append({"id_product": pid, "id_product_attribute": attr, "quantity": qty, "price_amount": price,
                         "price": f"₺{price}", "name": name, "reference": f"REF-{pid}",
                         "url": f"{site.url}/products/{pid}#/{attr}",
                         "cover": {"medium": {"url": f"{site.url}/img/{pid}.svg"}}})
    return {"products": products, "products_count": sum(site.cart.values())}


def page_state(site: Site) -> dict:
    return {"cart": presented_cart(site), "currency": {"iso_code": "TRY", "sign": "₺"}, "static_token": "st-1",
            "token": "t-2", "urls": {"base_url": site.url + "/", "pages": {"cart": site.url + "/cart"}}}


def ps_api(site: Site, r) -> tuple | None:
    if r.method == "POST" and r.path == "/cart":
        form = r.form()
        if form.get("token") != "st-1" or form.get("add") != "1" or form.get("action") != "update":
            return 200, {"hasError": True, "errors": ["Invalid token"]}
        pid = form["id_product"]
        attr = form.get("id_product_attribute") or form.get("group[1]") or "0"
        if pid not in PRODUCTS or pid in site.extra.get("sold_out", ()):
            return 200, {"hasError": True, "errors": ["The item is no longer available."], "quantity": 0}
        site.cart[(pid, attr)] = site.cart.get((pid, attr), 0) + int(form.get("qty") or 1)
        return 200, {"success": True, "id_product": pid, "id_product_attribute": attr, "id_customization": 0,
                     "quantity": site.cart[(pid, attr)], "cart": presented_cart(site), "errors": ""}
    return None


@pytest.fixture
def shop(page, traffic, cartback_server, make_shop, seed_catalog):
    with PlatformSite(Site(api=ps_api, cart={}, page_state=page_state)) as site:
        yield Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, "prestashop", PRODUCTS)


def product_page(shop: Flow, pid: str, qty: int = 1, attr: str = "0") -> None:
    name, price = PRODUCTS[pid]
    shop.goto("ps-product.html", id=pid, attr=attr, name=name, price=str(price), qty=str(qty),
              url=f"{shop.site.url}/products/{pid}", image=f"{shop.site.url}/img/{pid}.svg")
    shop.adapter_ready("dataLayer.push !== Array.prototype.push")


def test_update_cart_and_ga4_favourites_come_back_and_restore_posts_the_cart_controller(shop, page, traffic,
                                                                                         page_errors):
    shop.make()
    product_page(shop, "1003")
    traffic.wait_events(1, "view")
    product_page(shop, "1002")
    page.click(".wishlist-button-add")
    assert traffic.wait_events(1, "favorite")[0]["product"]["id"] == "1002"

    product_page(shop, "1001", qty=2, attr="7")  # a combination (size 500 g)
    page.click("[data-button-action=add-to-cart]")
    page.wait_for_selector("#added", state="visible")
    add = traffic.wait_events(1, "add")[0]
    assert (add["product"]["id"], add["product"]["variant"], add["qty"]) == ("1001", "1001:7", 2)
    assert add["product"]["price"] == 249.9 and add["product"]["currency"] == "TRY"

    shop.site.cart.clear()
    shop.goto("ps-cart.html")
    block = shop.wait_block()
    assert page.locator(".cart-overview .no-items + .cartback").count() == 1
    assert shop.section_ids("cart") == ["1001"]
    assert shop.section_ids("favorites") == ["1002"]
    assert shop.section_ids("viewed") == ["1003"]
    # The empty cart as the page printed it.
    traffic.wait(lambda: {"type": "cart", "items": []} in traffic.events(), what="the empty cart")

    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    posted = shop.site.calls("POST", "/cart")[-1].form()
    assert posted == {"add": "1", "action": "update", "ajax": "1", "id_product": "1001", "id_product_attribute": "7",
                      "qty": "2", "token": "st-1"}
    assert shop.site.cart == {("1001", "7"): 2}
    page.wait_for_selector(".cart-overview .cart-item")
    assert not page_errors


def test_a_purchase_tagged_before_the_snippet_loaded_is_read_once(shop, page, traffic, page_errors):
    shop.make()
    shop.goto("ps-order-confirmation.html")
    shop.adapter_ready("dataLayer.push !== Array.prototype.push")
    purchase = traffic.wait_events(1, "purchase")[0]
    assert purchase == {"type": "purchase", "order_id": "ORD-7", "total": 499.8, "currency": "TRY",
                        "items": [{"id": "1001", "qty": 2, "price": 249.9}]}
    page.evaluate("dataLayer.push({event: 'page_view'})")  # a later push makes the reader look again
    shop.sent()
    page.wait_for_timeout(200)
    assert len(traffic.events_of("purchase")) == 1
    assert not page_errors

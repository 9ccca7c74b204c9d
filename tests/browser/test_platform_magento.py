"""The Magento adapter on a fake Luma store: customer-data sections loaded by jQuery and kept in
localStorage['mage-cache-storage'], catalog-add-to-cart's $.ajax, the wishlist section, the
checkout-cart-index page with its .cart-empty. Restore posts /checkout/cart/add with the form_key
cookie, one product a request, and learns what went in from the cart section."""

from __future__ import annotations

import pytest

from tests.browser.platform_site import Flow, PlatformSite, Site

PRODUCTS = {"1001": ("Çam Balı", 249.9), "1002": ("Kestane Balı", 319.9), "1003": ("Çiçek Balı", 199.9),
            "1004": ("Kekik Balı", 279.9)}


def section_item(site: Site, pid: str, qty: int) -> dict:
    name, price = PRODUCTS[pid]
    return {"item_id": f"9{pid}", "product_id": pid, "product_sku": f"SKU-{pid}", "product_name": name,
            "product_url": f"{site.url}/products/{pid}", "qty": qty, "product_price_value": price,
            "product_price": f'<span class="price">₺{price}</span>', "product_type": "simple",
            "product_image": {"src": f"{site.url}/img/{pid}.svg", "alt": name, "width": 78, "height": 78}}


def magento_api(site: Site, r) -> tuple | None:
    cart, wishlist = site.cart, site.extra.setdefault("wishlist", [])
    if r.method == "GET" and r.path.rstrip("/") == "/customer/section/load":
        wanted = r.query.get("sections", "cart,wishlist").split(",")
        sections = {
            "cart": {"summary_count": sum(qty for _, qty in cart), "items": [section_item(site, p, q) for p, q in cart],
                     "data_id": 1700000000},
            "wishlist": {"counter": f"{len(wishlist)} items" if wishlist else None, "data_id": 1700000000,
                         "items": [{**section_item(site, p, 1), "image": {"src": f"{site.url}/img/{p}.svg"}}
                                   for p in wishlist[-3:]]},
        }
        return 200, {k: v for k, v in sections.items() if k in wanted}
    if r.method == "POST" and r.path.startswith("/checkout/cart/add"):
        form = r.form()
        if form.get("form_key") != "fk-1":
            return 302, "", {"Location": "/"}
        pid, qty = form["product"], int(form.get("qty") or 1)
        if pid not in PRODUCTS or pid in site.extra.get("sold_out", ()):
            # Checkout\Controller\Cart\Add: an error message in the session and, for AJAX, back to
            # the product page; still a 200.
            return 200, {"backUrl": f"{site.url}/products/{pid}"}
        for i, (p, q) in enumerate(cart):
            if p == pid:
                cart[i] = (p, q + qty)
                break
        else:
            cart.append((pid, qty))
        return 200, []
    if r.method == "POST" and r.path.startswith("/wishlist/index/add"):
        wishlist.append(r.form()["product"])
        return 200, {}
    return None


@pytest.fixture
def shop(page, traffic, cartback_server, make_shop, seed_catalog):
    site = Site(api=magento_api, cart=[],
                page_state=lambda s: {"items": [section_item(s, p, q) for p, q in s.cart]})
    with PlatformSite(site):
        yield Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, "magento", PRODUCTS)


def product_page(shop: Flow, pid: str, qty: int = 1) -> None:
    name, price = PRODUCTS[pid]
    shop.goto("magento-product.html", id=pid, sku=f"SKU-{pid}", name=name, price=str(price), qty=str(qty),
              url=f"{shop.site.url}/products/{pid}", image=f"{shop.site.url}/img/{pid}.svg")
    shop.adapter_ready()


def add(shop: Flow, pid: str, qty: int) -> None:
    product_page(shop, pid, qty)
    shop.page.click("#product-addtocart-button")
    shop.page.wait_for_selector("#added", state="visible")


def test_sections_tell_the_cart_and_the_wishlist_and_restore_posts_each_product(shop, page, traffic, page_errors):
    shop.make()
    product_page(shop, "1003")
    traffic.wait_events(1, "view")
    product_page(shop, "1002")
    page.click(".towishlist")
    page.wait_for_selector("#wished", state="visible")
    fav = traffic.wait_events(1, "favorite")[0]["product"]
    assert fav["id"] == "1002" and fav["url"] == f"{shop.site.url}/products/1002"

    add(shop, "1001", 2)
    adds = traffic.wait_events(1, "add")
    # Seen in the cart section that customer-data loaded by XHR after the add.
    assert [(a["product"]["id"], a["product"]["variant"], a["qty"], a["product"]["price"]) for a in adds] == \
        [("1001", "1001", 2, 249.9)]
    line = traffic.wait_events(1, "cart")[-1]["items"][0]
    assert (line["id"], line["qty"]) == ("1001", 2)

    shop.site.cart.clear()
    shop.goto("magento-cart.html")
    block = shop.wait_block()
    assert page.locator(".cart-empty + .cartback").count() == 1
    assert shop.section_ids("cart") == ["1001"]
    assert shop.section_ids("favorites") == ["1002"]
    assert shop.section_ids("viewed") == ["1003"]

    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    posted = shop.site.calls("POST", "/checkout/cart/add")
    assert [p.form() for p in posted][-1:] == [{"product": "1001", "qty": "2", "form_key": "fk-1", "isAjax": "1"}]
    assert shop.site.cart == [("1001", 2)]
    page.wait_for_selector("#shopping-cart-table .item-info")
    assert not page_errors


def test_magento_answers_200_for_a_failed_add_so_the_cart_section_decides(shop, page, traffic, page_errors):
    shop.make()
    add(shop, "1001", 1)
    traffic.wait_events(1, "add")
    add(shop, "1004", 2)
    traffic.wait_events(2, "add")
    shop.site.cart.clear()
    shop.site.extra["sold_out"] = {"1004"}

    shop.goto("magento-cart.html")
    block = shop.wait_block()
    assert sorted(shop.section_ids("cart")) == ["1001", "1004"]
    block.locator(".cartback__restore-button").click()
    page.wait_for_function("document.querySelector('[data-cartback-status]').textContent.length > 0")
    status = block.locator("[data-cartback-status]").text_content()
    assert "Kekik Balı" in status and "Çam Balı" not in status
    # One product a request, each with the form key; then the cart section was asked.
    added = shop.site.calls("POST", "/checkout/cart/add")[2:]
    assert sorted((p.form()["product"], p.form()["qty"]) for p in added) == [("1001", "1"), ("1004", "2")]
    assert shop.site.cart == [("1001", 1)]
    assert traffic.wait_events(1, "restore")[0]["items"] == [{"id": "1001", "qty": 1}]
    assert not page_errors

"""The WooCommerce adapter on a fake WordPress shop: a classic theme (jQuery, add-to-cart.js's
`added_to_cart`, the classic cart page), the Cart/Checkout blocks (Store API calls by fetch, the
Cart block rendered after load), and a shop so old it has no Store API. The pages carry only the
install tag and WooCommerce's own markup and scripts."""

from __future__ import annotations

import pytest

from tests.browser.platform_site import Flow, PlatformSite, Site

PRODUCTS = {"1001": ("Çam Balı", 249.9), "1002": ("Kestane Balı", 319.9), "1003": ("Çiçek Balı", 199.9)}
NONCE, TOKEN = "nonce-2", "cart-token-1"


def item(site: Site, pid: str, qty: int) -> dict:
    name, price = PRODUCTS[pid]
    return {"key": f"k{pid}", "id": int(pid), "type": "simple", "quantity": qty, "name": name, "sku": f"SKU-{pid}",
            "permalink": f"{site.url}/products/{pid}", "images": [{"id": 1, "src": f"{site.url}/img/{pid}.svg"}],
            "variation": [], "prices": {"price": str(round(price * 100)), "regular_price": str(round(price * 100)),
                                        "currency_code": "TRY", "currency_minor_unit": 2}}


def add(site: Site, pid: str, qty: int) -> bool:
    if pid not in PRODUCTS or pid in site.extra.get("sold_out", ()):
        return False
    old = next((i for i in site.cart if i["id"] == int(pid)), None)
    if old:
        old["quantity"] += qty
    else:
        site.cart.append(item(site, pid, qty))
    return True


def woo_api(site: Site, r) -> tuple | None:
    store = "/wp-json/wc/store/v1/cart"
    if r.path.startswith(store):
        if site.extra.get("no_store_api"):
            return 404, {"code": "rest_no_route", "message": "No route was found matching the URL and request method."}
        # Every Store API answer carries a fresh nonce and the cart's token.
        headers = {"Nonce": NONCE, "Cart-Token": TOKEN}
        if r.method == "GET" and r.path == store:
            return 200, {"items": site.cart, "items_count": len(site.cart)}, headers
        if r.method == "POST" and r.path == store + "/add-item":
            if r.headers.get("nonce") not in ("nonce-1", NONCE):
                return 401, {"code": "woocommerce_rest_missing_nonce", "message": "Missing the Nonce header."}
            body = r.json()
            if not add(site, str(body["id"]), int(body.get("quantity", 1))):
                return 400, {"code": "woocommerce_rest_product_out_of_stock", "message": "Out of stock."}, headers
            return 201, {"items": site.cart, "items_count": len(site.cart)}, headers
        if r.method == "POST" and r.path == store + "/remove-item":
            site.cart[:] = [i for i in site.cart if i["key"] != r.json()["key"]]
            return 200, {"items": site.cart, "items_count": len(site.cart)}, headers
    if r.method == "POST" and r.path == "/wp-json/wc/store/v1/batch":
        responses = []
        for sub in r.json()["requests"]:  # only update-item here
            line = next(i for i in site.cart if i["key"] == sub["body"]["key"])
            line["quantity"] = sub["body"]["quantity"]
            responses.append({"status": 200, "body": {"items": site.cart}, "headers": {}})
        return 207, {"responses": responses}, {"Nonce": NONCE}
    if r.method == "POST" and r.path == "/" and r.query.get("wc-ajax") == "add_to_cart":
        form = r.form()
        if not add(site, form["product_id"], int(form.get("quantity", 1))):
            return 200, {"error": True, "product_url": f"{site.url}/products/{form['product_id']}"}
        return 200, {"fragments": {"div.widget_shopping_cart_content": "<div></div>"}, "cart_hash": "h1"}
    return None


@pytest.fixture
def shop(page, traffic, cartback_server, make_shop, seed_catalog):
    with PlatformSite(Site(api=woo_api, cart=[], page_state=lambda s: {"items": s.cart})) as site:
        yield Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, "woocommerce", PRODUCTS)


def view(shop: Flow, pid: str, sku: str | None = None) -> None:
    """A product page; WooCommerce's JSON-LD says the SKU as `sku`, or the product id when it has none."""
    name, price = PRODUCTS[pid]
    shop.goto("woo-product.html", id=pid, sku=sku or pid, name=name, price=str(price),
                            url=f"{shop.site.url}/products/{pid}", image=f"{shop.site.url}/img/{pid}.svg")


def test_classic_theme_add_and_the_cart_page_restore_through_the_store_api(shop, page, traffic, page_errors):
    shop.make(catalog_id=lambda pid: f"SKU-{pid}", id_field="sku")  # the catalog and the JSON-LD use SKUs
    view(shop, "1003", sku="SKU-1003")
    assert traffic.wait_events(1, "view")[0]["product"]["id"] == "SKU-1003"

    shop.goto("woo-shop.html", qty="2")
    shop.adapter_ready("window.jQuery && jQuery._data(document.body, 'events')?.added_to_cart?.length >= 1")
    page.click(".ajax_add_to_cart")
    page.wait_for_selector(".ajax_add_to_cart.added")
    add = traffic.wait_events(1, "add")[0]
    # No Store API read on this page before: the button says what went in, by SKU.
    assert (add["product"]["id"], add["product"]["variant"], add["qty"]) == ("SKU-1001", "1001", 2)
    cart = traffic.wait_events(1, "cart")[-1]
    assert cart["items"][0]["id"] == "SKU-1001" and cart["items"][0]["qty"] == 2
    assert [(i["id"], i["quantity"]) for i in shop.site.cart] == [(1001, 2)]

    shop.site.cart.clear()
    shop.goto("woo-cart.html")
    block = shop.wait_block()
    assert shop.section_ids("cart") == ["SKU-1001"] and shop.section_ids("viewed") == ["SKU-1003"]

    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    posted = shop.site.calls("POST", "/add-item")
    # The product id (the line's handle), not the SKU; the nonce the cart read at load brought.
    assert [p.json() for p in posted] == [{"id": 1001, "quantity": 2}]
    assert posted[0].headers["nonce"] == NONCE and posted[0].headers["cart-token"] == TOKEN
    page.wait_for_selector(".woocommerce-cart-form .cart_item")
    assert not page_errors


def test_blocks_add_and_the_cart_block_restore(shop, page, traffic, page_errors):
    shop.make()
    view(shop, "1003")
    traffic.wait_events(1, "view")
    shop.goto("woo-blocks-product.html", qty="3")
    shop.adapter_ready()
    # The first read of the page (at load, blocks on it) is the baseline; the button's Store API
    # answer is the cart with the product in it: an add of 3.
    traffic.wait(lambda: traffic.events_of("cart"), what="the cart read at load")
    page.click(".add_to_cart_button")
    page.wait_for_selector("#added", state="visible")
    add = traffic.wait_events(1, "add")[0]
    assert add["product"]["id"] == "1002" and add["qty"] == 3 and add["product"]["price"] == 319.9
    assert add["product"]["url"] == f"{shop.site.url}/products/1002"

    shop.site.cart.clear()
    shop.goto("woo-blocks-cart.html")
    block = shop.wait_block()
    assert block.locator(".cartback__restore-button").count() == 1
    assert page.locator(".wp-block-woocommerce-empty-cart-block + .cartback").count() == 1
    assert shop.section_ids("cart") == ["1002"] and shop.section_ids("viewed") == ["1003"]
    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    posted = shop.site.calls("POST", "/add-item")[1:]  # the first was the visitor's own add
    assert [p.json() for p in posted] == [{"id": 1002, "quantity": 3}]
    assert posted[0].headers["nonce"] == NONCE
    page.wait_for_selector(".wc-block-cart-items__row")
    assert not page_errors


def test_a_shop_without_the_store_api_restores_through_wc_ajax(shop, page, traffic, page_errors):
    shop.make()
    shop.site.extra["no_store_api"] = True
    shop.goto("woo-shop.html", qty="1")
    shop.adapter_ready("window.jQuery && jQuery._data(document.body, 'events')?.added_to_cart?.length >= 1")
    page.click(".ajax_add_to_cart")
    assert traffic.wait_events(1, "add")[0]["product"]["id"] == "1001"
    shop.sent()

    shop.site.cart.clear()
    shop.goto("woo-cart.html")
    block = shop.wait_block()
    assert shop.section_ids("cart") == ["1001"]
    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    assert [p.form() for p in shop.site.calls("POST", "/") if p.query.get("wc-ajax") == "add_to_cart"][-1] == \
        {"product_id": "1001", "quantity": "1"}
    assert [(i["id"], i["quantity"]) for i in shop.site.cart] == [(1001, 1)]
    assert not page_errors


def test_the_cart_blocks_line_changes_become_adds_and_removes(shop, page, traffic, page_errors):
    shop.make()
    add(shop.site, "1001", 1)
    add(shop.site, "1002", 1)
    shop.goto("woo-blocks-cart.html")
    shop.adapter_ready()
    page.wait_for_selector(".wc-block-cart-items__row")
    traffic.wait(lambda: traffic.events_of("cart"), what="the cart read at load")
    assert traffic.events_of("add") == []  # already in the cart: no new add

    page.click("[data-key=k1001] .plus")  # 1 -> 3, through /batch
    add_event = traffic.wait_events(1, "add")[0]
    assert (add_event["product"]["id"], add_event["qty"]) == ("1001", 2)
    page.click("[data-key=k1002] .wc-block-cart-item__remove-link")
    assert traffic.wait_events(1, "remove")[0]["id"] == "1002"
    traffic.wait(lambda: [(i["id"], i["qty"]) for i in traffic.events_of("cart")[-1]["items"]] == [("1001", 3)],
                 what="the cart after both changes")
    assert not page_errors

"""The Shopify adapter on a fake Dawn storefront: the page carries only the install tag and the
theme's own markup and scripts; the shop names its platform and nothing else. The theme adds to
the cart by its own fetch to /cart/add (FormData), a wishlist app tags add_to_wishlist for GA4,
and the block on the empty cart offers the cart back through /cart/add.js."""

from __future__ import annotations

import json

import pytest

from tests.browser.platform_site import PlatformSite, Site
from tests.browser.platform_site import Flow

# product id -> (variant id, name, price in cents)
PRODUCTS = {"1001": (5001, "Çam Balı", 24990), "1002": (5002, "Kestane Balı", 31990),
            "1003": (5003, "Çiçek Balı", 19990), "1004": (5004, "Kekik Balı", 27990)}
BY_VARIANT = {v[0]: pid for pid, v in PRODUCTS.items()}


def line(site: Site, variant: int, qty: int) -> dict:
    pid = BY_VARIANT[variant]
    _, name, cents = PRODUCTS[pid]
    return {"id": variant, "variant_id": variant, "product_id": int(pid), "sku": f"SKU-{pid}", "quantity": qty,
            "price": cents, "product_title": name, "title": name, "url": f"/products/{pid}?variant={variant}",
            "image": f"{site.url}/img/{pid}.svg", "handle": pid}


def add_lines(site: Site, wanted: list[tuple[int, int]]):
    """Shopify's /cart/add: all or nothing; a sold-out variant refuses the whole request with 422."""
    if any(v in site.extra.get("sold_out", ()) or v not in BY_VARIANT for v, _ in wanted):
        return 422, {"status": 422, "message": "Cart Error", "description": "The product is already sold out."}
    added = []
    for variant, qty in wanted:
        old = next((x for x in site.cart if x["variant_id"] == variant), None)
        if old:
            old["quantity"] += qty
        else:
            site.cart.append(line(site, variant, qty))
        added.append(line(site, variant, qty))
    return 200, added


def shopify_api(site: Site, r) -> tuple | None:
    if r.method == "GET" and r.path == "/cart.js":
        return 200, {"token": "c1", "currency": "TRY", "item_count": sum(x["quantity"] for x in site.cart),
                     "items": site.cart}
    if r.method == "POST" and r.path in ("/cart/add", "/cart/add.js"):
        if "json" in r.headers.get("content-type", ""):
            body = r.json()
            items = body.get("items") or [body]
            wanted = [(int(i["id"]), int(i.get("quantity", 1))) for i in items]
        else:
            form = r.form()
            wanted = [(int(form["id"]), int(form.get("quantity", 1)))]
        status, added = add_lines(site, wanted)
        # One item posted alone is answered as that item; several as {items}.
        return status, added[0] if status == 200 and len(added) == 1 and "items" not in r.body.decode() else (
            {"items": added} if status == 200 else added)
    return None


@pytest.fixture
def shop(page, traffic, cartback_server, make_shop, seed_catalog):
    with PlatformSite(Site(api=shopify_api, cart=[], page_state=lambda s: {"items": s.cart})) as site:
        flow = Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, "shopify",
                    {pid: (name, cents / 100) for pid, (_, name, cents) in PRODUCTS.items()})
        yield flow


def product_page(shop: Flow, pid: str, qty: int = 1) -> str:
    variant, name, cents = PRODUCTS[pid]
    return shop.url("shopify-product.html", id=pid, variant=str(variant), name=name, price=str(cents / 100),
                    qty=str(qty), url=f"{shop.site.url}/products/{pid}", image=f"{shop.site.url}/img/{pid}.svg")


def add_through_the_theme(shop: Flow, pid: str, qty: int) -> None:
    shop.page.goto(product_page(shop, pid, qty))
    shop.page.click("button[name=add]")
    shop.page.wait_for_selector("#added", state="visible")


def test_views_favourites_and_the_theme_cart_come_back_on_the_empty_cart(shop, page, traffic, page_errors):
    shop.make()
    page.goto(product_page(shop, "1003"))  # viewed only (JSON-LD)
    traffic.wait_events(1, "view")
    page.goto(product_page(shop, "1002"))
    shop.adapter_ready()
    page.click("#wishlist")  # the wishlist app's GA4 tag
    assert traffic.wait_events(1, "favorite")[0]["product"]["id"] == "1002"

    add_through_the_theme(shop, "1001", 2)
    add = traffic.wait_events(1, "add")[0]
    # Read from /cart.js after the theme's own request: product id, the variant, the price in TRY.
    assert (add["product"]["id"], add["product"]["variant"], add["qty"]) == ("1001", 5001, 2)
    assert add["product"]["price"] == 249.9 and add["product"]["url"] == f"{shop.site.url}/products/1001?variant=5001"
    assert traffic.wait_events(1, "cart")[-1]["items"][-1]["id"] == "1001"
    # The theme got Shopify's answer untouched.
    assert page.locator("#added").is_visible()

    shop.site.cart.clear()  # the cart expired on Shopify's side
    page.goto(shop.url("shopify-cart.html"))
    block = shop.wait_block()
    assert shop.section_ids("cart") == ["1001"]
    assert shop.section_ids("favorites") == ["1002"]
    assert shop.section_ids("viewed") == ["1003"]
    # The cart as Shopify reported it on this page: empty.
    traffic.wait(lambda: {"type": "cart", "items": []} in traffic.events(), what="the empty cart")

    before = len(shop.site.calls("POST", "/cart/add.js"))
    with page.expect_navigation():  # all back: the page reloads and shows the cart
        block.locator(".cartback__restore-button").click()
    posted = shop.site.calls("POST", "/cart/add.js")[before:]
    assert [p.json() for p in posted] == [{"items": [{"id": 5001, "quantity": 2}]}]
    assert [(x["variant_id"], x["quantity"]) for x in shop.site.cart] == [(5001, 2)]
    page.wait_for_selector("cart-items:not(.is-empty) .cart-item")
    assert not page_errors


def test_a_sold_out_product_is_named_and_the_rest_goes_back(shop, page, traffic, page_errors):
    shop.make()
    add_through_the_theme(shop, "1001", 1)
    traffic.wait_events(1, "add")
    add_through_the_theme(shop, "1004", 3)
    traffic.wait_events(2, "add")
    shop.site.cart.clear()
    shop.site.extra["sold_out"] = {5004}  # sold out since, though the catalog still says in stock

    page.goto(shop.url("shopify-cart.html"))
    block = shop.wait_block()
    assert sorted(shop.section_ids("cart")) == ["1001", "1004"]
    block.locator(".cartback__restore-button").click()
    status = block.locator("[data-cartback-status]")
    status.wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-cartback-status]').textContent.length > 0")
    assert "Kekik Balı" in status.text_content() and "Çam Balı" not in status.text_content()
    assert block.locator(".cartback__restore-button").is_disabled()
    # All at once (refused with 422), then one by one to learn which one failed.
    bodies = [p.json() for p in shop.site.calls("POST", "/cart/add.js")]
    assert bodies[0] == {"items": [{"id": 5004, "quantity": 3}, {"id": 5001, "quantity": 1}]} or \
        bodies[0] == {"items": [{"id": 5001, "quantity": 1}, {"id": 5004, "quantity": 3}]}
    assert sorted(json.dumps(b) for b in bodies[1:]) == sorted(
        json.dumps({"items": [i]}) for i in bodies[0]["items"])
    assert [(x["variant_id"], x["quantity"]) for x in shop.site.cart] == [(5001, 1)]
    restore = traffic.wait_events(1, "restore")[0]
    assert restore["items"] == [{"id": "1001", "qty": 1}]
    assert not page_errors

"""The Shopify adapter on a fake Dawn storefront: the page carries only the install tag and the
theme's own markup and scripts; the shop names its platform and nothing else. The theme adds to
the cart by its own fetch to /cart/add (FormData), a wishlist app tags add_to_wishlist for GA4,
and the block on the empty cart offers the cart back through /cart/add.js."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.browser.platform_site import Flow, PlatformSite, Site

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
    site.extra.setdefault("paths", []).append(r.path)
    r.path = r.path.removeprefix("/en")  # a localized storefront's routes
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
        status, answer = add_lines(site, wanted)
        if status == 200:
            # A form or a single {id, quantity} is answered with the line; {items: [...]} with {items}.
            answer = {"items": answer} if "items" in r.body.decode() else answer[0]
        return status, answer
    return None


@pytest.fixture
def shop(page, traffic, cartback_server, make_shop, seed_catalog):
    with PlatformSite(Site(api=shopify_api, cart=[], page_state=lambda s: {"items": s.cart})) as site:
        flow = Flow(page, traffic, site, cartback_server.url, make_shop, seed_catalog, "shopify",
                    {pid: (name, cents / 100) for pid, (_, name, cents) in PRODUCTS.items()})
        yield flow


def product_page(shop: Flow, pid: str, qty: int = 1, root: str = "/") -> None:
    """The product page, once the adapter has run and its first read of /cart.js is back.

    That first read is the adapter's baseline (a cart already full when the page opened is no new
    add). A change the page makes before it is back may be in it, and then shows only as the cart;
    a visitor is slower than that, a test must wait for it."""
    def reads():
        return [r for r in shop.traffic.requests if urlsplit(r.url).path.endswith("/cart.js")]
    before = len(reads())
    variant, name, cents = PRODUCTS[pid]
    shop.goto("shopify-product.html", root=root, id=pid, variant=str(variant), name=name, price=str(cents / 100),
                    qty=str(qty), url=f"{shop.site.url}/products/{pid}", image=f"{shop.site.url}/img/{pid}.svg")
    shop.adapter_ready()
    shop.traffic.wait(lambda: len(reads()) > before and shop.traffic.finished(reads()[before]),
                      what="the adapter's first read of the cart")


def add_through_the_theme(shop: Flow, pid: str, qty: int, root: str = "/") -> None:
    product_page(shop, pid, qty, root)
    shop.page.click("button[name=add]")
    shop.page.wait_for_selector("#added", state="visible")


def test_views_favourites_and_the_theme_cart_come_back_on_the_empty_cart(shop, page, traffic, page_errors):
    shop.make()
    product_page(shop, "1003")  # viewed only (JSON-LD)
    traffic.wait_events(1, "view")
    product_page(shop, "1002")
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
    shop.goto("shopify-cart.html")
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
    # A storefront in English under /en/: Dawn's routes and Shopify.routes.root carry the prefix.
    add_through_the_theme(shop, "1001", 1, root="/en/")
    traffic.wait_events(1, "add")
    add_through_the_theme(shop, "1004", 3, root="/en/")
    traffic.wait_events(2, "add")
    shop.site.cart.clear()
    shop.site.extra["sold_out"] = {5004}  # sold out since, though the catalog still says in stock

    shop.goto("shopify-cart.html", root="/en/")
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
    # The adapter's reads and the restore went to the localized routes, as the theme's calls did.
    assert {p for p in shop.site.extra["paths"] if "/cart" in p} == {"/en/cart/add", "/en/cart.js", "/en/cart/add.js"}
    restore = traffic.wait_events(1, "restore")[0]
    assert restore["items"] == [{"id": "1001", "qty": 1}]
    assert not page_errors


def test_the_themes_own_requests_get_what_they_would_without_the_adapter(shop, page, traffic, page_errors):
    shop.make()
    shop.site.extra["sold_out"] = {5004}
    product_page(shop, "1001")
    seen = page.evaluate("""async () => {
        const out = {};
        // fetch: the same status, headers and body, read by the page as usual; an Error when the
        // network fails, as before.
        const r = await fetch('/cart/add.js', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify({id: 5004, quantity: 1})});
        out.fetch = [r.status, r.headers.get('content-type'), (await r.json()).description];
        try { await fetch('http://127.0.0.1:9/cart/add.js', {method: 'POST'}); out.offline = 'resolved' }
        catch (e) { out.offline = e.name }
        // XHR (jQuery-era themes): the same responseText and events.
        out.xhr = await new Promise(done => {
            const x = new XMLHttpRequest();
            x.open('POST', '/cart/add.js');
            x.setRequestHeader('Content-Type', 'application/json');
            x.onload = () => done([x.status, JSON.parse(x.responseText).variant_id]);
            x.send(JSON.stringify({id: 5002, quantity: 1}));
        });
        return out;
    }""")
    assert seen == {"fetch": [422, "application/json", "The product is already sold out."], "offline": "TypeError",
                    "xhr": [200, 5002]}
    # The XHR add was seen: the cart read after it reports the new line.
    add = traffic.wait_events(1, "add")[0]
    assert (add["product"]["id"], add["qty"]) == ("1002", 1)
    assert not page_errors


def test_a_cart_api_that_answers_garbage_breaks_nothing(shop, page, traffic, page_errors):
    shop.make()
    shop.site.api = lambda site, r: (200, "<html>Maintenance</html>", {"Content-Type": "text/html"})
    product_page(shop, "1001")
    # The adapter's read at load got HTML; so does the one after this add, and the page its text.
    assert page.evaluate("fetch('/cart/add.js', {method: 'POST', body: '{}'}).then(r => r.text())") == \
        "<html>Maintenance</html>"
    page.wait_for_timeout(300)
    shop.sent()
    assert traffic.events_of("add") == [] and traffic.events_of("cart") == []
    assert not page_errors


def test_a_catalog_keyed_by_variant_gets_variant_ids(shop, page, traffic, page_errors):
    shop.make(catalog_id=lambda pid: str(PRODUCTS[pid][0]), id_field="variant")
    add_through_the_theme(shop, "1004", 1)
    add = traffic.wait_events(1, "add")[0]
    assert (add["product"]["id"], add["product"]["variant"]) == ("5004", 5004)
    assert [i["id"] for i in traffic.wait_events(1, "cart")[-1]["items"]] == ["5004"]
    shop.site.cart.clear()
    shop.goto("shopify-cart.html")
    block = shop.wait_block()
    assert shop.section_ids("cart") == ["5004"]
    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    assert shop.site.calls("POST", "/cart/add.js")[-1].json() == {"items": [{"id": 5004, "quantity": 1}]}
    assert not page_errors


def test_a_cart_filled_before_the_adapter_looked_comes_back_with_its_variant(shop, page, traffic, page_errors):
    """A classic theme's form post (a page load), or a cart from an earlier visit: the adapter's
    first look at /cart.js sees the line already there, so only the `cart` event carries its
    variant, and the restore needs it (the product id is no Shopify cart handle)."""
    shop.make()
    add_lines(shop.site, [(5002, 2)])
    product_page(shop, "1003")
    line = traffic.wait_events(1, "cart")[-1]["items"][0]
    assert (line["id"], line["qty"]) == ("1002", 2) and traffic.events_of("add") == []
    assert line.get("variant") == 5002, "the snippet core drops the variant of cart lines"

    shop.site.cart.clear()
    shop.goto("shopify-cart.html")
    block = shop.wait_block()
    assert shop.section_ids("cart") == ["1002"]
    with page.expect_navigation():
        block.locator(".cartback__restore-button").click()
    assert shop.site.calls("POST", "/cart/add.js")[-1].json() == {"items": [{"id": 5002, "quantity": 2}]}
    assert not page_errors

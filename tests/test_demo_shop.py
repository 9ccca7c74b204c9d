"""The demo shop as a Shopify shop: its AJAX cart API answers with Shopify's shapes, the cart lives on
the shop's server and expires there after 24 hours on the shop's clock, and its pages carry only
Cartback's install tag. In-process through httpx's ASGI transport: no browser, no sockets."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from cartback import demo

from tests.conftest import FakeClock

ORIGIN = "http://testserver"
CATALOG = demo.expand_urls(demo.load_catalog(), ORIGIN)
BY_SKU = {p["id"]: p for p in CATALOG}
CAM, KESTANE, ANZER = BY_SKU["KB-1001"], BY_SKU["KB-1002"], BY_SKU["KB-1008"]  # Anzer is sold out
JS = {"Accept": "application/javascript", "X-Requested-With": "XMLHttpRequest"}
HOUR = 3600.0


@pytest.fixture
def clock():
    return FakeClock()


class ShopClient:
    """A blocking face on httpx.AsyncClient: one event loop for the test, cookies kept like a browser's."""

    def __init__(self, app) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.client.cookies

    def get(self, url: str, **kw) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(url, **kw))

    def post(self, url: str, **kw) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(url, **kw))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture
def shop(clock):
    client = ShopClient(demo.create_demo_app(CATALOG, widget_port=8000, clock=clock))
    yield client
    client.close()


def add(shop, product, quantity=1):
    r = shop.post("/cart/add.js", json={"items": [{"id": product["variant_id"], "quantity": quantity}]})
    assert r.status_code == 200, r.text
    return r.json()


def cart(shop):
    r = shop.get("/cart.js")
    assert r.status_code == 200
    return r.json()


def lines(shop):
    return [(i["variant_id"], i["quantity"]) for i in cart(shop)["items"]]


# ---------------------------------------------------------------- the cart API's shapes


def test_every_product_has_a_stable_numeric_variant_and_its_sku():
    variants = [p["variant_id"] for p in CATALOG]
    assert all(isinstance(v, int) for v in variants) and len(set(variants)) == len(variants)
    assert all(re.fullmatch(r"KB-\d{4}", p["id"]) for p in CATALOG)


def test_a_new_visitor_has_an_empty_cart(shop):
    body = cart(shop)
    assert body["item_count"] == 0 and body["items"] == [] and body["total_price"] == 0
    assert body["currency"] == "TRY"


def test_add_js_with_items_then_cart_js(shop):
    answer = add(shop, CAM, 2)
    assert shop.cookies.get("cart"), "the cart's token lives in Shopify's `cart` cookie"
    (line,) = answer["items"]
    assert (line["id"], line["variant_id"], line["quantity"]) == (CAM["variant_id"], CAM["variant_id"], 2)
    add(shop, KESTANE)

    body = cart(shop)
    assert body["token"] == shop.cookies["cart"]
    assert body["item_count"] == 3
    assert body["total_price"] == 2 * 24990 + 31990  # cents
    newest, older = body["items"]  # Shopify lists the newest line first
    assert newest["sku"] == KESTANE["id"] and older["sku"] == CAM["id"]
    assert older == {**older, "id": CAM["variant_id"], "variant_id": CAM["variant_id"],
                     "product_id": CAM["product_id"], "sku": "KB-1001", "title": "Çam Balı 850 g",
                     "product_title": "Çam Balı 850 g", "quantity": 2, "price": 24990, "line_price": 49980,
                     "url": f"/products/cam-bali-850g?variant={CAM['variant_id']}",
                     "image": ORIGIN + "/static/img/cam-bali.svg", "handle": "cam-bali-850g"}
    # Adding what is already there raises its quantity instead of a second line.
    add(shop, CAM)
    assert lines(shop) == [(KESTANE["variant_id"], 1), (CAM["variant_id"], 3)]


def test_dawns_product_form_post(shop):
    """Dawn sends the product form as FormData to /cart/add (no .js) asking for javascript."""
    r = shop.post("/cart/add", headers=JS, data={"form_type": "product", "id": str(CAM["variant_id"]), "quantity": "2"},
                  files={"unused": ("", b"", "application/octet-stream")})  # forces multipart, as FormData is
    assert r.status_code == 200, r.text
    assert r.json()["variant_id"] == CAM["variant_id"] and r.json()["quantity"] == 2
    # urlencoded to add.js too, and a form without a script lands on the cart page.
    assert shop.post("/cart/add.js", data={"id": KESTANE["variant_id"]}).json()["sku"] == KESTANE["id"]
    r = shop.post("/cart/add", data={"id": KESTANE["variant_id"], "quantity": "1"})
    assert (r.status_code, r.headers["location"]) == (302, "/cart")
    assert lines(shop) == [(KESTANE["variant_id"], 2), (CAM["variant_id"], 2)]


@pytest.mark.parametrize("variant", [ANZER["variant_id"], 123, "nope"])
def test_sold_out_or_unknown_variant_is_a_422_cart_error(shop, variant):
    add(shop, CAM)
    r = shop.post("/cart/add.js", json={"items": [{"id": CAM["variant_id"], "quantity": 1},
                                                  {"id": variant, "quantity": 1}]})
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and body["message"] == "Cart Error" and body["description"]
    if variant == ANZER["variant_id"]:
        assert "sold out" in body["description"]
    assert lines(shop) == [(CAM["variant_id"], 1)], "a refused add changes nothing"
    r = shop.post("/cart/add", headers=JS, data={"id": str(variant), "quantity": "1"})
    assert r.status_code == 422 and r.json()["status"] == 422


def test_change_update_and_clear(shop):
    add(shop, CAM)
    add(shop, KESTANE)
    # Dawn's cart.js: JSON {line, quantity} to /cart/change, line 1-based over cart.items.
    r = shop.post("/cart/change", headers={"Accept": "application/json"}, json={"line": 1, "quantity": 3})
    assert r.status_code == 200 and r.json()["item_count"] == 4
    assert lines(shop) == [(KESTANE["variant_id"], 3), (CAM["variant_id"], 1)]
    r = shop.post("/cart/change.js", json={"id": str(CAM["variant_id"]), "quantity": 0})
    assert [i["sku"] for i in r.json()["items"]] == [KESTANE["id"]]
    assert shop.post("/cart/change.js", json={"line": 5, "quantity": 1}).status_code == 400

    r = shop.post("/cart/update.js", json={"updates": {str(CAM["variant_id"]): 2, str(KESTANE["variant_id"]): 0}})
    assert r.status_code == 200 and r.json()["item_count"] == 2
    assert lines(shop) == [(CAM["variant_id"], 2)]
    r = shop.post("/cart/update.js", data={f"updates[{KESTANE['variant_id']}]": "1"})
    assert r.json()["item_count"] == 3

    r = shop.post("/cart/clear.js")
    assert r.status_code == 200 and r.json()["item_count"] == 0 and r.json()["items"] == []
    assert cart(shop)["items"] == []


# ---------------------------------------------------------------- expiry on the shop's server


def test_the_cart_expires_24_hours_later_on_the_shops_clock(shop, clock):
    add(shop, CAM)
    clock.now += 23 * HOUR
    assert lines(shop) == [(CAM["variant_id"], 1)]
    clock.now += 1 * HOUR
    assert cart(shop)["items"] == [], "a cart untouched for 24 hours is gone"
    assert cart(shop)["item_count"] == 0


def test_the_demo_toolbar_moves_the_shops_clock(shop):
    add(shop, CAM)
    page = shop.get("/cart").text
    assert 'class="cart-page"' in page and "CartItem-1" in page

    r = shop.post("/demo/forward", data={"next": "/cart"})
    assert (r.status_code, r.headers["location"]) == (303, "/cart")
    page = shop.get("/cart").text
    # Dawn's empty cart, which the `shopify` selector preset finds; the notice says why.
    assert re.search(r'<cart-items class="[^"]*\bis-empty\b', page)
    assert re.search(r'<div class="cart__warnings">.*?<h1 class="cart__empty-text">Sepetiniz boş</h1>', page, re.S)
    assert "Sepetinizin süresi doldu (24 saat)." in page
    assert "+24 saat" in page
    assert cart(shop)["items"] == []
    # A new cart after the shift starts its own 24 hours.
    add(shop, KESTANE)
    assert lines(shop) == [(KESTANE["variant_id"], 1)]

    r = shop.post("/demo/reset", data={"next": "/"})
    # A page that forgets the browser's visitor, then goes on to the page the reset came from.
    assert r.status_code == 200 and "location.replace(\"/\")" in r.text and "snippet.js" not in r.text
    crafted = shop.post("/demo/reset", data={"next": "/</script><script>alert(1)//"}).text
    assert "</script><script>alert" not in crafted
    assert "cart" not in shop.cookies and "kovan_clock" not in shop.cookies
    assert "Demo sıfırlandı" in shop.get("/").text
    assert cart(shop)["items"] == []


# ---------------------------------------------------------------- pages


def test_pages_carry_only_the_install_tag(shop):
    stub = "<script>window.cartback=window.cartback||function(){(cartback.q=cartback.q||[]).push(arguments)}</script>"
    add(shop, CAM)
    for path in ("/", CAM["url"], "/cart", "/favoriler"):
        html = shop.get(path).text
        assert html.count(stub) == 1, path
        assert 'src="http://testserver:8000/snippet.js" data-shop="demo" data-locale="tr"' in html, path
        assert "cartback(" not in html.replace(stub, ""), f"{path} calls Cartback itself"
        assert 'data-cartback="empty-cart"' not in html, path
    script = (demo.SITE_DIR / "static" / "shop.js").read_text("utf-8")
    assert not re.search(r"cartback\s*\(|cartback\.apply|window\.cartback", script)


def test_product_page_json_ld_and_ga4_view_item(shop):
    html = shop.get(CAM["url"]).text
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert ld["sku"] == CAM["id"] and ld["offers"]["price"] == "249.90"
    push = json.loads(re.search(r"window\.dataLayer\.push\((\{\"event\": \"view_item\".*?)\);", html).group(1))
    assert push["ecommerce"]["currency"] == "TRY" and push["ecommerce"]["value"] == 249.9
    assert push["ecommerce"]["items"] == [{"item_id": "KB-1001", "item_name": "Çam Balı 850 g",
                                           "item_variant": str(CAM["variant_id"]), "item_category": "Bal",
                                           "price": 249.9, "quantity": 1}]
    form = re.search(r'<form method="post" action="/cart/add".*?</form>', html, re.S).group(0)
    assert f'name="id" value="{CAM["variant_id"]}"' in form
    assert shop.get("/products/cam-bali-850g.js").json()["variants"][0]["sku"] == "KB-1001"
    assert shop.get("/p/cam-bali-850g").headers["location"] == "/products/cam-bali-850g"


def test_checkout_pushes_purchase_once_and_empties_the_cart(shop):
    add(shop, CAM, 2)
    add(shop, KESTANE)
    r = shop.post("/checkout")
    assert r.status_code == 303
    thanks = r.headers["location"]
    html = shop.get(thanks).text
    push = json.loads(re.search(r"window\.dataLayer\.push\((\{\"event\": \"purchase\".*?)\);", html).group(1))
    order = push["ecommerce"]
    assert order["transaction_id"] == thanks.rsplit("/", 1)[1]
    assert order["currency"] == "TRY" and order["value"] == round(2 * 249.9 + 319.9, 2)
    assert [(i["item_id"], i["quantity"]) for i in order["items"]] == [("KB-1002", 1), ("KB-1001", 2)]
    assert cart(shop)["items"] == []
    assert '"event": "purchase"' not in shop.get(thanks).text, "a reload must not count the order twice"


# ---------------------------------------------------------------- language and origin


def test_lang_switch_is_kept_in_a_cookie_and_leaves_a_clean_url(shop):
    r = shop.get("/favoriler?lang=en&x=1")
    assert (r.status_code, r.headers["location"]) == (303, "/favoriler?x=1")
    assert shop.cookies.get("kovan_lang") == "en"
    assert '<html lang="en"' in shop.get("/").text
    assert shop.get("/?lang=xx").status_code == 200, "an unknown language is ignored"


def test_a_loopback_alias_redirects_to_the_catalogs_origin(clock):
    app = demo.create_demo_app(CATALOG, widget_port=8000, canonical_origin="http://127.0.0.1:8001/", clock=clock)
    client = ShopClient(app)
    try:
        r = client.get("http://localhost:8001/cart?x=1")
        assert (r.status_code, r.headers["location"]) == (307, "http://127.0.0.1:8001/cart?x=1")
        assert client.get("http://127.0.0.1:8001/cart").status_code == 200
    finally:
        client.close()

"""`cartback demo` end to end: the real command, both servers, real Chromium.

The demo shop is what marketers preview the block on, and it behaves like a Shopify shop on the Dawn
theme: its cart lives on the shop's server behind Shopify's AJAX cart API and expires there, and its
pages carry only Cartback's install tag. So these tests walk it as a shopper does, through the
shop's own buttons only: product pages (JSON-LD views), the product form, the wishlist heart, the
"24 hours later" control (the shop's server drops the cart), the empty cart with the block, a click
in the block, restoring the cart from the block, removing the last item without a reload, and the
English switch. What Cartback learns, it learns from the snippet and its Shopify adapter alone.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from cartback.i18n import TEXTS

from tests.conftest import REPO, Demo, new_database

CATALOG = [json.loads(line) for line in (REPO / "demo_site" / "catalog.jsonl").read_text("utf-8").splitlines()
           if line.strip()]
OUT_OF_STOCK = {p["id"] for p in CATALOG if not p["in_stock"]}
SKUS = {p["id"] for p in CATALOG}

CAM, KESTANE, PETEK, PROPOLIS, ANZER = "KB-1001", "KB-1002", "KB-2001", "KB-3001", "KB-1008"
SLUG = {p["id"]: p["url"] for p in CATALOG}
VARIANT = {p["id"]: p["variant_id"] for p in CATALOG}
STUB = "<script>window.cartback=window.cartback||function(){(cartback.q=cartback.q||[]).push(arguments)}</script>"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    # On the suite's PostgreSQL run, the demo runs on a PostgreSQL schema (`--db postgresql://…`).
    d = Demo(new_database(tmp_path_factory.mktemp("demo"), "cartback-demo.db"))
    yield d
    d.stop()
    assert d.proc.returncode == 0, "cartback demo did not stop cleanly on SIGTERM:\n" + "\n".join(d.lines)


@pytest.fixture(autouse=True)
def patient(page):
    """Two servers, a browser and the test share a small machine: allow for a busy moment."""
    page.context.set_default_timeout(20_000)


# ---------------------------------------------------------------- helpers

WAIT = 20.0  # seconds, for the traffic helpers


def settle(page, traffic, kind: str | None = None, count: int = 1) -> None:
    """Wait until the snippet has sent `count` events of `kind` and every request has finished, and
    the visitor has a token: what a shopper's next page load relies on."""
    if kind:
        traffic.wait_events(count, kind, timeout=WAIT)
    traffic.settle(timeout=WAIT)
    page.wait_for_function("() => !!localStorage.getItem('cartback:demo')")


def visit(page, traffic, demo, pid: str) -> None:
    views = len(traffic.events_of("view"))
    page.goto(demo.shop + SLUG[pid])
    settle(page, traffic, "view", views + 1)
    assert traffic.events_of("view")[-1]["product"]["id"] == pid


def carted(traffic, pid: str) -> bool:
    """Cartback was told that `pid` is in the cart: an add, or a whole cart holding it."""
    return any(e["product"]["id"] == pid for e in traffic.events_of("add")) or any(
        any(i["id"] == pid for i in e["items"]) for e in traffic.events_of("cart"))


def add_to_cart(page, traffic, pid: str) -> None:
    """The product page's own button: Dawn's product form, sent with fetch to the shop's /cart/add."""
    with page.expect_response(lambda r: r.url.endswith("/cart/add") and r.request.method == "POST") as added:
        page.locator("main").get_by_role("button", name=re.compile("^(Sepete ekle|Add to cart)$")).click()
    assert added.value.status == 200 and added.value.json()["sku"] == pid
    page.locator("#toast.toast--on").wait_for()
    # Nothing on the page calls Cartback: the Shopify adapter sees the cart change by itself.
    traffic.wait(lambda: carted(traffic, pid), WAIT, f"Cartback to learn that {pid} was carted")
    settle(page, traffic)


def favourite(page, traffic, pid: str) -> None:
    favs = len(traffic.events_of("favorite"))
    heart = page.locator(f'li[data-product="{pid}"] button[data-fav]')
    heart.click()
    assert heart.get_attribute("aria-pressed") == "true"
    # The wishlist app is GA4-tagged; Cartback's adapter reads that push.
    pushed = page.evaluate("dataLayer.filter(e => e && e.event === 'add_to_wishlist').pop()")
    assert pushed["ecommerce"]["items"][0]["item_id"] == pid
    settle(page, traffic, "favorite", favs + 1)
    assert traffic.events_of("favorite")[-1]["product"]["id"] == pid


def shop_cart(page) -> list[tuple[int, int]]:
    """The shop's own cart, from its server: (variant id, quantity) per line."""
    cart = page.evaluate("fetch('/cart.js').then(r => r.json())")
    return [(i["variant_id"], i["quantity"]) for i in cart["items"]]


def forward_24_hours(page, label: str = "Demo: 24 saat sonra →") -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=label).click()


def block_sections(page) -> list[tuple[str, list[str]]]:
    return page.eval_on_selector_all(
        ".cartback [data-section]",
        "els => els.map(s => [s.dataset.section,"
        " [...s.querySelectorAll('[data-cartback-product]')].map(a => a.dataset.cartbackProduct)])",
    )


def tracked_ids(traffic) -> set[str]:
    ids = set()
    for e in traffic.events():
        if isinstance(e.get("product"), dict):
            ids.add(e["product"]["id"])
        ids.update(i["id"] for i in e.get("items", []))
        if isinstance(e.get("id"), str) and e["type"] in ("remove", "unfavorite"):
            ids.add(e["id"])
    return ids


# ---------------------------------------------------------------- tests


def test_journey_to_the_block_a_click_and_restore(page, traffic, page_errors, demo):
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic, CAM)
    visit(page, traffic, demo, KESTANE)
    add_to_cart(page, traffic, KESTANE)

    # Favourite a product from the home grid, without opening it.
    page.goto(demo.shop + "/")
    favourite(page, traffic, PETEK)

    visit(page, traffic, demo, PROPOLIS)
    visit(page, traffic, demo, ANZER)  # out of stock: must never be shown

    # The cart: both items, in the shop's own cart, and no block while it has items.
    page.goto(demo.shop + "/cart")
    assert page.locator(".cart-line").count() == 2
    assert shop_cart(page) == [(VARIANT[KESTANE], 1), (VARIANT[CAM], 1)]
    settle(page, traffic)
    assert page.locator(".cartback").count() == 0
    assert traffic.block_requests() == []

    # 24 hours later the shop's server has dropped the cart, and told no one; the returning visitor
    # sees Dawn's empty cart, and the block after it.
    forward_24_hours(page)
    block = page.locator(".cartback")
    block.wait_for()
    assert page.get_by_role("heading", name="Sepetiniz boş").is_visible()
    assert page.locator("#demo-notice").inner_text().startswith("Sepetinizin süresi doldu")
    assert shop_cart(page) == []
    assert page.locator("#cart-count").inner_text() == "0"
    assert block.get_attribute("lang") == "tr"
    assert block.locator(".cartback__title").inner_text() == TEXTS["tr"]["title"]

    sections = block_sections(page)
    assert [key for key, _ in sections] == ["cart", "viewed", "favorites", "similar"]
    by_key = dict(sections)
    assert by_key["cart"] == [KESTANE, CAM]  # newest first
    assert by_key["viewed"] == [PROPOLIS]
    assert by_key["favorites"] == [PETEK]
    assert by_key["similar"], "sample shoppers should give 'you may also like' something"
    shown = [pid for _, ids in sections for pid in ids]
    assert len(shown) == len(set(shown)), f"a product in two sections: {sections}"
    assert not OUT_OF_STOCK & set(shown)
    assert not {CAM, KESTANE, PETEK, PROPOLIS, ANZER} & set(by_key["similar"])
    headings = block.locator(".cartback__heading").all_inner_texts()
    assert headings == [TEXTS["tr"][k] for k in ("cart", "viewed", "favorites", "similar")]
    assert block.locator(f'[data-cartback-product="{CAM}"] .cartback__price').inner_text() == "₺249,90"
    # The adapter reported the catalog's ids (SKUs), never Shopify's variant or product numbers.
    assert tracked_ids(traffic) <= SKUS, tracked_ids(traffic) - SKUS

    # A click in the block is reported, then the browser follows the link.
    served = block.get_attribute("data-cartback-block")
    card = block.locator(f'[data-section="viewed"] [data-cartback-product="{PROPOLIS}"]')
    with page.expect_navigation():
        card.click()
    page.wait_for_url(demo.shop + SLUG[PROPOLIS])
    click = traffic.wait_events(1, "click", timeout=WAIT)[-1]
    assert click == {"type": "click", "block": served, "id": PROPOLIS, "section": "viewed"}
    assert page.get_by_role("heading", level=1).inner_text() == "Propolis Damla 20 ml"

    # Back on the empty cart, "Restore my cart" puts both jars back in the shop's own cart.
    page.goto(demo.shop + "/cart")
    restore = page.locator(".cartback [data-section='cart'] .cartback__restore-button")
    restore.wait_for()
    assert restore.inner_text() == TEXTS["tr"]["restore"]
    with page.expect_navigation():
        restore.click()
    assert sorted(shop_cart(page)) == sorted([(VARIANT[CAM], 1), (VARIANT[KESTANE], 1)])
    page.locator(".cart-line").first.wait_for()
    assert page.locator(".cart-line").count() == 2
    assert page.locator("#cart-count").inner_text() == "2"
    restored = traffic.wait_events(1, "restore", timeout=WAIT)[-1]
    assert sorted(i["id"] for i in restored["items"]) == [CAM, KESTANE]
    assert page_errors == []


def test_removing_the_last_item_shows_the_block_without_reload(page, traffic, page_errors, demo):
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic, CAM)
    visit(page, traffic, demo, KESTANE)

    page.goto(demo.shop + "/cart")
    assert page.locator(".cart-line").count() == 1
    settle(page, traffic)
    page.evaluate("window.__sameDocument = true")

    # Dawn's cart script: /cart/change with {line, quantity: 0}, then is-empty on <cart-items>.
    page.get_by_role("button", name="Çam Balı 850 g ürününü sepetten kaldır").click()
    block = page.locator(".cartback")
    block.wait_for()
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert page.get_by_role("heading", name="Sepetiniz boş").is_visible()
    assert page.locator("#cart-count").inner_text() == "0"
    assert shop_cart(page) == []

    sections = dict(block_sections(page))
    # An explicit removal leaves the cart history; both products are still recently viewed.
    assert "cart" not in sections
    assert sections["viewed"] == [KESTANE, CAM]
    assert page_errors == []


def test_english_switch(page, traffic, demo):
    visit(page, traffic, demo, CAM)
    assert page.locator("html").get_attribute("lang") == "tr"
    assert page.locator(".product__price").inner_text() == "₺249,90"

    with page.expect_navigation():
        page.get_by_role("link", name="EN").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator('script[src$="/snippet.js"]').get_attribute("data-locale") == "en"
    assert page.locator(".product__price").inner_text() == "₺249.90"
    add_to_cart(page, traffic, CAM)
    assert page.get_by_role("button", name="Demo: 24 hours later →").is_visible()

    # Remembered on the next page, and the block comes in English.
    page.goto(demo.shop + "/cart")
    assert page.get_by_role("heading", level=1).inner_text() == "My cart"
    forward_24_hours(page, "Demo: 24 hours later →")
    block = page.locator(".cartback")
    block.wait_for()
    assert page.get_by_role("heading", name="Your cart is empty").is_visible()
    # Nothing above the block says the visitor never added anything: it shows what they added.
    assert "haven't added" not in page.locator(".cart__warnings").inner_text()
    assert block.get_attribute("lang") == "en"
    assert block.locator(".cartback__title").inner_text() == TEXTS["en"]["title"]
    assert block.locator(".cartback__heading").first.inner_text() == TEXTS["en"]["cart"]
    assert block.locator(f'[data-cartback-product="{CAM}"] .cartback__price').inner_text() == "₺249.90"
    assert "locale=en" in traffic.block_requests()[-1].url

    with page.expect_navigation():
        page.get_by_role("link", name="TR").click()
    assert page.locator("html").get_attribute("lang") == "tr"

    # A link with ?lang=en opened directly (shared, typed) shows English, and it sticks.
    page.goto(demo.shop + "/cart?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(demo.shop + "/")
    assert page.locator("html").get_attribute("lang") == "en"


def test_toolbar_on_every_page_and_reset_makes_a_new_visitor(page, traffic, demo):
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic, CAM)
    page.get_by_role("button", name=re.compile("Favorilere ekle")).click()
    token = page.evaluate("localStorage.getItem('cartback:demo')")

    for path in ("/", SLUG[KESTANE], "/cart", "/favoriler", "/no-such-page"):
        page.goto(demo.shop + path)
        bar = page.locator(".demo-bar")
        assert bar.get_by_role("button", name="Demo: 24 saat sonra →").is_visible(), path
        assert bar.get_by_role("button", name="Demoyu sıfırla").is_visible(), path
        assert bar.get_by_role("link", name=re.compile("Panel")).get_attribute("href") == demo.dashboard, path
    assert page.locator("#fav-count").inner_text() == "1"
    assert page.locator("#cart-count").inner_text() == "1"

    page.get_by_role("button", name="Demoyu sıfırla").click()
    page.wait_for_url(demo.shop + "/no-such-page")  # through the page that forgets the visitor
    page.wait_for_load_state()
    assert page.evaluate("localStorage.getItem('kovan:favs')") is None
    # The snippet on the page after the reset may already hold a token: a new visitor's.
    fresh = page.evaluate("localStorage.getItem('cartback:demo')")
    assert fresh is None or fresh.split(".")[0] != token.split(".")[0]
    assert page.locator("#demo-notice").inner_text() == "Demo sıfırlandı: artık yeni bir ziyaretçisiniz."
    assert page.locator("#cart-count").inner_text() == "0"
    assert page.locator("#fav-count").inner_text() == "0"
    assert shop_cart(page) == []

    visit(page, traffic, demo, KESTANE)
    assert page.evaluate("localStorage.getItem('cartback:demo')").split(".")[0] != token.split(".")[0]


def test_product_pages_carry_json_ld_and_only_the_install_tag(demo):
    with httpx.Client(base_url=demo.shop, timeout=10) as http:
        html = http.get(SLUG[ANZER]).text
        ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
        assert ld["@type"] == "Product" and ld["sku"] == ANZER
        assert ld["url"] == demo.shop + SLUG[ANZER]
        assert ld["image"].startswith(demo.shop + "/static/img/")
        assert ld["offers"]["availability"] == "https://schema.org/OutOfStock"
        assert ld["offers"]["priceCurrency"] == "TRY"
        assert f'<script async src="{demo.widget}/snippet.js" data-shop="demo" data-locale="tr"></script>' in html
        assert html.count(STUB) == 1
        assert "cartback(" not in html.replace(STUB, "")
        assert http.get("/products/no-such-honey").status_code == 404
        for p in CATALOG:
            img = http.get(p["image"])
            assert img.status_code == 200 and img.headers["content-type"].startswith("image/svg"), p["image"]
            assert len(img.content) < 4096


@pytest.mark.parametrize("lang", ["tr", "en"])
@pytest.mark.parametrize("size", [(1366, 800), (390, 844)], ids=["laptop", "phone"])
def test_the_returning_visitors_cart_page_at_laptop_and_phone_size(page, traffic, demo, lang, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{demo.shop}/?lang={lang}")
    visit(page, traffic, demo, KESTANE)
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic, CAM)
    page.goto(demo.shop + "/cart")
    forward_24_hours(page, "Demo: 24 saat sonra →" if lang == "tr" else "Demo: 24 hours later →")
    block = page.locator(".cartback")
    block.wait_for()
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    assert dict(block_sections(page))["cart"] == [CAM]
    assert block.locator(".cartback__restore-button").is_visible()
    assert block.get_attribute("lang") == lang
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    name = "laptop" if size[0] > 500 else "phone"
    page.screenshot(path=str(artifacts / f"demo-cart-{name}-{lang}.png"), full_page=True)

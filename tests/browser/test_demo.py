"""`cartback demo` end to end: the real command, both servers, real Chromium.

The demo shop is what marketers preview the block on, so these tests walk it as a shopper does:
product pages (JSON-LD views), cart, favourites, the "24 hours later" control, the empty cart with
the block, a click in the block, removing the last item without a reload, and the English switch.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from cartback.i18n import TEXTS
from tests.conftest import REPO, Demo

CATALOG = [json.loads(line) for line in (REPO / "demo_site" / "catalog.jsonl").read_text("utf-8").splitlines()
           if line.strip()]
OUT_OF_STOCK = {p["id"] for p in CATALOG if not p["in_stock"]}

CAM, KESTANE, PETEK, PROPOLIS, ANZER = "KB-1001", "KB-1002", "KB-2001", "KB-3001", "KB-1008"
SLUG = {p["id"]: p["url"] for p in CATALOG}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = Demo(tmp_path_factory.mktemp("demo") / "cartback-demo.db")
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


def add_to_cart(page, traffic) -> None:
    adds = len(traffic.events_of("add"))
    page.locator("main").get_by_role("button", name=re.compile("^(Sepete ekle|Add to cart)$")).click()
    settle(page, traffic, "add", adds + 1)


def block_sections(page) -> list[tuple[str, list[str]]]:
    return page.eval_on_selector_all(
        ".cartback [data-section]",
        "els => els.map(s => [s.dataset.section,"
        " [...s.querySelectorAll('[data-cartback-product]')].map(a => a.dataset.cartbackProduct)])",
    )


# ---------------------------------------------------------------- tests


def test_journey_to_the_block_and_a_click(page, traffic, page_errors, demo):
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic)
    visit(page, traffic, demo, KESTANE)
    add_to_cart(page, traffic)

    # Favourite a product from the home grid, without opening it.
    page.goto(demo.shop + "/")
    heart = page.locator(f'li[data-product="{PETEK}"] button[data-fav]')
    heart.click()
    settle(page, traffic, "favorite")
    assert heart.get_attribute("aria-pressed") == "true"
    assert traffic.events_of("favorite")[-1]["product"]["id"] == PETEK

    visit(page, traffic, demo, PROPOLIS)
    visit(page, traffic, demo, ANZER)  # out of stock: must never be shown

    # The cart: both items, and no block while it has items.
    page.goto(demo.shop + "/sepet")
    settle(page, traffic, "cart")
    assert traffic.events_of("cart")[-1]["items"] == [{"id": CAM, "qty": 1}, {"id": KESTANE, "qty": 1}]
    assert page.locator(".cart-line").count() == 2
    assert page.locator(".cartback").count() == 0
    assert traffic.block_requests() == []

    # 24 hours later the shop has dropped the cart; the returning visitor sees the block.
    with page.expect_navigation():
        page.get_by_role("button", name="Demo: 24 saat sonra ⏩").click()
    block = page.locator(".cartback")
    block.wait_for()
    assert page.get_by_role("heading", name="Sepetiniz boş").is_visible()
    assert traffic.events_of("cart")[-1]["items"] == []
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

    # A click in the block is reported, then the browser follows the link.
    served = block.get_attribute("data-cartback-block")
    card = block.locator(f'[data-section="viewed"] [data-cartback-product="{PROPOLIS}"]')
    with page.expect_navigation():
        card.click()
    page.wait_for_url(demo.shop + SLUG[PROPOLIS])
    click = traffic.wait_events(1, "click", timeout=WAIT)[-1]
    assert click == {"type": "click", "block": served, "id": PROPOLIS, "section": "viewed"}
    assert page.get_by_role("heading", level=1).inner_text() == "Propolis Damla 20 ml"
    assert page_errors == []


def test_removing_the_last_item_shows_the_block_without_reload(page, traffic, page_errors, demo):
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic)
    visit(page, traffic, demo, KESTANE)

    page.goto(demo.shop + "/sepet")
    settle(page, traffic, "cart")
    assert page.locator(".cart-line").count() == 1
    page.evaluate("window.__sameDocument = true")

    page.get_by_role("button", name="Çam Balı 850 g ürününü sepetten kaldır").click()
    block = page.locator(".cartback")
    block.wait_for()
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert page.get_by_role("heading", name="Sepetiniz boş").is_visible()
    assert page.locator("#cart-count").inner_text() == "0"

    remove = traffic.events_of("remove")
    assert remove == [{"type": "remove", "id": CAM}]
    # The removal was sent before the block was asked for (and, as the sections show, committed).
    post = next(r for r in traffic.posts() if any(e["type"] == "remove" for e in traffic.body(r)["events"]))
    assert traffic.index("request", post) < traffic.index("request", traffic.block_requests()[0])
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
    assert page.evaluate("localStorage.getItem('kovan:locale')") == "en"
    assert page.locator('script[src$="/snippet.js"]').get_attribute("data-locale") == "en"
    assert page.locator(".product__price").inner_text() == "₺249.90"
    add_to_cart(page, traffic)
    assert page.get_by_role("button", name="Demo: 24 hours later ⏩").is_visible()

    # Remembered on the next page, and the block comes in English.
    page.goto(demo.shop + "/sepet")
    assert page.get_by_role("heading", level=1).inner_text() == "My cart"
    with page.expect_navigation():
        page.get_by_role("button", name="Demo: 24 hours later ⏩").click()
    block = page.locator(".cartback")
    block.wait_for()
    assert page.get_by_role("heading", name="Your cart is empty").is_visible()
    assert block.get_attribute("lang") == "en"
    assert block.locator(".cartback__title").inner_text() == TEXTS["en"]["title"]
    assert block.locator(".cartback__heading").first.inner_text() == TEXTS["en"]["cart"]
    assert block.locator(f'[data-cartback-product="{CAM}"] .cartback__price').inner_text() == "₺249.90"
    assert "locale=en" in traffic.block_requests()[-1].url

    with page.expect_navigation():
        page.get_by_role("link", name="TR").click()
    assert page.locator("html").get_attribute("lang") == "tr"
    assert page.evaluate("localStorage.getItem('kovan:locale')") == "tr"


def test_toolbar_on_every_page_and_reset_makes_a_new_visitor(page, traffic, demo):
    visit(page, traffic, demo, CAM)
    add_to_cart(page, traffic)
    page.get_by_role("button", name=re.compile("Favorilere ekle")).click()
    settle(page, traffic, "favorite")
    token = page.evaluate("localStorage.getItem('cartback:demo')")

    for path in ("/", SLUG[KESTANE], "/sepet", "/favoriler", "/no-such-page"):
        page.goto(demo.shop + path)
        bar = page.locator(".demo-bar")
        assert bar.get_by_role("button", name="Demo: 24 saat sonra ⏩").is_visible(), path
        assert bar.get_by_role("button", name="Demoyu sıfırla").is_visible(), path
        assert bar.get_by_role("link", name=re.compile("Panel")).get_attribute("href") == demo.dashboard, path
    assert page.locator("#fav-count").inner_text() == "1"

    with page.expect_navigation():
        page.get_by_role("button", name="Demoyu sıfırla").click()
    stored = page.evaluate("Object.keys(localStorage)")
    assert not [k for k in stored if k.startswith("cartback") or k in ("kovan:cart", "kovan:favs", "kovan:offset")]
    assert page.locator("#cart-count").inner_text() == "0"
    assert page.locator("#fav-count").inner_text() == "0"

    visit(page, traffic, demo, KESTANE)
    assert page.evaluate("localStorage.getItem('cartback:demo')").split(".")[0] != token.split(".")[0]


def test_product_pages_carry_json_ld_and_absolute_urls(demo):
    with httpx.Client(base_url=demo.shop, timeout=10) as http:
        html = http.get(SLUG[ANZER]).text
        ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
        assert ld["@type"] == "Product" and ld["sku"] == ANZER
        assert ld["url"] == demo.shop + SLUG[ANZER]
        assert ld["image"].startswith(demo.shop + "/static/img/")
        assert ld["offers"]["availability"] == "https://schema.org/OutOfStock"
        assert ld["offers"]["priceCurrency"] == "TRY"
        assert f'src="{demo.widget}/snippet.js" data-shop="demo" data-locale="tr"' in html
        assert "window.cartback=window.cartback||function(){(cartback.q=cartback.q||[]).push(arguments)}" in html
        assert http.get("/p/no-such-honey").status_code == 404
        for p in CATALOG:
            img = http.get(p["image"])
            assert img.status_code == 200 and img.headers["content-type"].startswith("image/svg"), p["image"]
            assert len(img.content) < 4096

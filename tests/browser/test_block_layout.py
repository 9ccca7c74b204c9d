"""How the block looks where shoppers see it: a full row of cards per section on a laptop, a
swipeable row on a phone, names that break cleanly. Screenshots (laptop 1366×800 and phone 390×844,
Turkish and English) are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NAMES = ["Çiçek Balı 850 g", "Kestane Balı Süzme 460 g", "Karakovan Petek Balı 1 kg", "Polen 250 g",
         "Arı Sütü Karışımı 190 g", "Propolis Damla 20 ml", "Ayçiçek Balı 850 g", "Püren Balı 460 g"]


def show_block(storefront, page, locale: str, width: int, height: int):
    shop = storefront(locale=locale, settings={"max_per_section": {"viewed": 8, "cart": 4}, "max_block": 12})
    products = [shop.product(f"p{i}", name=name, price=120 + 35 * i) for i, name in enumerate(NAMES)]
    shop.browse(*products)
    # Stored before the cart page asks for its block (leaving the page would race the request).
    with page.expect_response(lambda r: r.url.endswith("/v1/events") and r.request.method == "POST") as added:
        page.evaluate("ps => ps.forEach(p => cartback('add', p, 2))", products[5:8])
    assert added.value.json()["accepted"] == 3
    page.set_viewport_size({"width": width, "height": height})
    shop.open("slot.html", locale=locale)
    page.wait_for_selector(".cartback .cartback__card")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    return page


def row_geometry(page, section: str) -> dict:
    return page.evaluate("""s => {
        const list = document.querySelector(`[data-section="${s}"] .cartback__list`);
        const l = list.getBoundingClientRect();
        const cards = [...list.querySelectorAll('.cartback__card')].map(c => c.getBoundingClientRect());
        const visible = cards.filter(c => c.left >= l.left - 1 && c.right <= l.right + 1);
        const names = [...list.querySelectorAll('.cartback__name')].map(n => {
            const lh = parseFloat(getComputedStyle(n).lineHeight);
            return Math.round(n.getBoundingClientRect().height / lh) });
        return {listWidth: l.width, tops: cards.map(c => Math.round(c.top)), widths: cards.map(c => c.width),
                visible: visible.length,
                lastVisibleRight: visible.length ? visible[visible.length - 1].right - l.left : 0,
                scrollable: list.scrollWidth > list.clientWidth + 1, lines: names};
    }""", section)


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_on_a_laptop_each_section_is_one_full_row(storefront, page, locale, page_errors):
    show_block(storefront, page, locale, 1366, 800)
    viewed = row_geometry(page, "viewed")
    # The five only-viewed products (three others went to the cart history) fill the row edge to edge.
    assert len(set(viewed["tops"])) == 1, "one row per section"
    assert viewed["visible"] == 5 and not viewed["scrollable"]
    assert viewed["lastVisibleRight"] >= viewed["listWidth"] - 6, "the row is filled, not left-aligned and narrow"
    assert min(viewed["widths"]) > 200
    assert max(viewed["lines"]) <= 2, "names are at most two lines"
    # Three products in the cart history: four columns' width each, not posters.
    cart = row_geometry(page, "cart")
    assert len(set(cart["tops"])) == 1 and cart["widths"][0] == pytest.approx((cart["listWidth"] - 4 - 36) / 4, abs=3)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"block-laptop-{locale}.png"), full_page=True)
    assert not page_errors


@pytest.mark.parametrize("locale", ["tr", "en"])
def test_on_a_phone_a_row_shows_two_cards_and_swipes(storefront, page, locale, page_errors):
    show_block(storefront, page, locale, 390, 844)
    viewed = row_geometry(page, "viewed")
    assert len(set(viewed["tops"])) == 1 and viewed["visible"] == 2 and viewed["scrollable"]
    assert min(viewed["widths"]) > 140
    # Nothing sticks out of the page sideways: the row scrolls inside the block.
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"block-phone-{locale}.png"), full_page=True)
    assert not page_errors

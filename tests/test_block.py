"""Section rules, pure: the complaints merchants have about other recommenders."""

from __future__ import annotations

from cartback.block import HistoryItem, build_sections, cart_line
from cartback.shops import DEFAULT_SETTINGS, merged_settings


def prod(pid: str, **kw) -> dict:
    return {"id": pid, "name": pid.upper(), "url": f"https://s/{pid}", "price": 10.0, "currency": "TRY",
            "image": None, "category": None, "in_stock": 1, **kw}


def item(pid: str, t: float, *, viewed=None, carted=None, in_cart=False, fav=None, bought=None, qty=None,
         variant=None, cart_price=None, **kw) -> HistoryItem:
    return HistoryItem(pid, viewed, 1 if viewed else 0, carted, in_cart, fav, bought, t, prod(pid, **kw),
                       qty, variant, cart_price)


def keys(sections) -> list[tuple[str, list[str]]]:
    return [(s.key, [p["id"] for p in s.products]) for s in sections]


def test_no_header_without_products_and_no_filler():
    assert build_sections([], [], DEFAULT_SETTINGS) == []
    assert build_sections([item("x", 1, viewed=1, in_stock=0)], [], DEFAULT_SETTINGS) == []


def test_bought_product_not_recommended_again_even_by_neighbours():
    history = [item("honey", 5, viewed=1, bought=5)]
    assert build_sections(history, [prod("honey"), prod("pollen")], DEFAULT_SETTINGS)[0].products[0]["id"] == "pollen"


def test_bought_then_viewed_again_is_back_in_recently_viewed():
    history = [item("honey", 9, viewed=9, bought=5)]
    assert keys(build_sections(history, [], DEFAULT_SETTINGS)) == [("viewed", ["honey"])]


def test_out_of_stock_hidden_and_nothing_twice():
    history = [item("a", 3, viewed=3, in_stock=0), item("b", 2, carted=2), item("c", 1, viewed=1)]
    similar = [prod("b"), prod("d", in_stock=0), prod("e")]
    assert keys(build_sections(history, similar, DEFAULT_SETTINGS)) == [("cart", ["b"]), ("viewed", ["c"]),
                                                                      ("similar", ["e"])]


def test_a_product_the_server_thought_in_the_cart_is_cart_history():
    # The block is asked for by a page showing an empty cart: the shop cleared it on its own.
    history = [item("b", 2, viewed=1, carted=2, in_cart=True, qty=3, variant="4711")]
    sections = build_sections(history, [], DEFAULT_SETTINGS)
    assert keys(sections) == [("cart", ["b"])]
    assert sections[0].products[0]["qty"] == 3 and sections[0].products[0]["variant"] == "4711"


def test_each_product_goes_to_the_section_of_its_strongest_signal():
    history = [
        item("fav_viewed", 5, viewed=5, fav=4),            # favourited on its own page, so viewed too
        item("all_three", 4, viewed=4, fav=3, carted=2),    # in the cart before beats a favourite
        item("viewed", 3, viewed=3),
        item("carted_viewed", 2, viewed=1, carted=2),
    ]
    got = dict(keys(build_sections(history, [], DEFAULT_SETTINGS)))
    assert got == {"cart": ["all_three", "carted_viewed"], "favorites": ["fav_viewed"], "viewed": ["viewed"]}
    # The shop's order decides only the order on screen, not which section a product lands in.
    reordered = merged_settings({"sections": ["viewed", "favorites", "cart"]})
    assert keys(build_sections(history, [], reordered)) == [
        ("viewed", ["viewed"]), ("favorites", ["fav_viewed"]), ("cart", ["all_three", "carted_viewed"])]


def test_a_signal_whose_section_the_shop_hides_falls_to_the_next():
    history = [item("x", 3, viewed=3, fav=2, carted=1)]
    no_cart = merged_settings({"sections": ["viewed", "favorites"]})
    assert keys(build_sections(history, [], no_cart)) == [("favorites", ["x"])]
    only_viewed = merged_settings({"sections": ["viewed"]})
    assert keys(build_sections(history, [], only_viewed)) == [("viewed", ["x"])]


def test_cart_card_says_why_now_price_fell_or_back_in_stock():
    fell = cart_line(item("a", 1, carted=100, cart_price=12.5, price=10.0))
    assert fell is not None and fell["was_price"] == 12.5
    same = cart_line(item("a", 1, carted=100, cart_price=10.0, price=10.0))
    rose = cart_line(item("a", 1, carted=100, cart_price=8.0, price=10.0))
    assert same is not None and "was_price" not in same and rose is not None and "was_price" not in rose
    back = cart_line(item("a", 1, carted=100, restocked_at=150.0))
    before = cart_line(item("a", 1, carted=100, restocked_at=50.0))
    assert back is not None and back["back_in_stock"] and before is not None and "back_in_stock" not in before
    # Out of stock today: no card at all (and so nothing for the restore button to put back).
    history = [item("gone", 1, carted=1, in_stock=0), item("here", 1, carted=1)]
    assert keys(build_sections(history, [], DEFAULT_SETTINGS)) == [("cart", ["here"])]


def test_block_total_and_section_caps():
    history = [item(f"v{i}", 100 - i, viewed=100 - i) for i in range(10)]
    similar = [prod(f"s{i}") for i in range(10)]
    got = keys(build_sections(history, similar, DEFAULT_SETTINGS))
    assert got == [("viewed", ["v0", "v1", "v2", "v3"]), ("similar", ["s0", "s1", "s2", "s3"])]
    small = merged_settings({"max_block": 5, "min_per_section": 2})
    # Only one slot left for "similar": below the minimum, so the section is hidden, not shown thin.
    assert keys(build_sections(history, similar, small)) == [("viewed", ["v0", "v1", "v2", "v3"])]


def test_min_block_hides_the_whole_block():
    history = [item("a", 1, viewed=1)]
    assert build_sections(history, [], merged_settings({"min_block": 2})) == []


def test_products_without_name_or_link_are_not_cards():
    history = [item("a", 2, viewed=2, name=None), item("b", 1, viewed=1, url=None)]
    assert build_sections(history, [], DEFAULT_SETTINGS) == []

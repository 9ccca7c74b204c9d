"""Section rules, pure: the complaints merchants have about other recommenders."""

from __future__ import annotations

from cartback.block import HistoryItem, build_sections
from cartback.shops import DEFAULT_SETTINGS, merged_settings


def prod(pid: str, **kw) -> dict:
    return {"id": pid, "name": pid.upper(), "url": f"https://s/{pid}", "price": 10.0, "currency": "TRY",
            "image": None, "category": None, "in_stock": 1, **kw}


def item(pid: str, t: float, *, viewed=None, carted=None, in_cart=False, fav=None, bought=None, **kw) -> HistoryItem:
    return HistoryItem(pid, viewed, 1 if viewed else 0, carted, in_cart, fav, bought, t, prod(pid, **kw))


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


def test_out_of_stock_hidden_and_in_cart_excluded_everywhere():
    history = [item("a", 3, viewed=3, in_stock=0), item("b", 2, carted=2, in_cart=True), item("c", 1, viewed=1)]
    similar = [prod("b"), prod("d", in_stock=0), prod("e")]
    assert keys(build_sections(history, similar, DEFAULT_SETTINGS)) == [("viewed", ["c"]), ("similar", ["e"])]


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

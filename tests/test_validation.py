"""validation.py: what a browser's batch becomes before anything is written, in pure calls.

The HTTP answers to the same refusals (status, code, the field in the message) are in
test_endpoints_events.py and test_hostile.py; here, the parsing itself: what is kept, what is dropped
and named, what refuses the whole batch.
"""

from __future__ import annotations

import pytest
from cartback.errors import ApiError
from cartback.shops import Shop
from cartback.validation import MAX_ITEMS, Product, decode_json, parse_batch, parse_event, surrogate_path

SHOP = Shop("s1", "", ["https://bal.example"], None, "tr", "TRY", {"image_origins": ["https://cdn.example"]})


def refused(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def event(raw: dict) -> tuple:
    ignored: list[dict[str, str]] = []
    parsed = parse_event(raw, "events[0]", SHOP, ignored)
    return parsed, [i["field"] for i in ignored]


# -- decoding ------------------------------------------------------------------------------------------

def test_a_bom_decodes_and_numbers_past_the_int_limit_become_floats_for_the_range_checks():
    assert decode_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    # Python refuses int() of more than 4,300 digits; here, inf, refused later by range, by name.
    assert decode_json(b'{"n": 1' + b"0" * 5000 + b"}")["n"] == float("inf")
    assert decode_json(b'{"n": NaN}')["n"] != decode_json(b'{"n": NaN}')["n"]  # NaN, for _number to refuse


@pytest.mark.parametrize("raw, message", [
    (b"", "body: empty; send a JSON object"),
    (b"  \n", "body: empty; send a JSON object"),
    (b"\xff\xfe", "body: not valid UTF-8"),
    (b'{"a": }', "body: not valid JSON (Expecting value at line 1 column 7)"),
    (b"[" * 100_000 + b"]" * 100_000, "body: JSON nested too deeply"),
])
def test_undecodable_bodies_name_the_body(raw, message):
    error = refused(decode_json, raw)
    assert (error.status, error.code, error.field) == (400, "invalid_json", "body")
    assert error.message == message


def test_a_lone_surrogate_is_refused_where_it_is():
    body = b'{"events": [{"product": {"name": "a\\ud800"}}]}'
    assert refused(decode_json, body).field == "events[0].product.name"
    assert refused(decode_json, b'{"ti\\udc00tle": 1}').field == "body"  # in a key: the object holding it
    assert refused(decode_json, b'{"titles": {"tr": "\\udfff"}}', "settings").field == "settings.titles.tr"
    assert refused(decode_json, b'"\\ud800"', "settings").field == "settings"


def test_surrogate_path_walks_any_depth_without_recursion():
    deep: object = "\ud800"
    for _ in range(50_000):
        deep = [deep]
    assert surrogate_path(deep) == "[0]" * 50_000
    assert surrogate_path({"a": [1, "ok", {"b": None}]}) is None


# -- events --------------------------------------------------------------------------------------------

def test_a_product_given_by_id_alone():
    parsed, ignored = event({"type": "view", "product": 42})
    assert parsed.product == Product(id="42") and parsed.product_id == "42" and ignored == []
    parsed, _ = event({"type": "favorite", "id": " p1 "})  # `id` for `product`; trimmed
    assert parsed.product_id == "p1"


def test_display_fields_that_fail_are_dropped_and_named_and_the_rest_kept():
    parsed, ignored = event({"type": "view", "product": {
        "id": "p", "name": "Çiçek balı", "price": "249,90", "currency": "try", "category": "Bal",
        "url": "https://BAL.example:443/p", "image": "https://cdn.example/p.jpg", "in_stock": False}})
    assert ignored == []
    assert parsed.product == Product(id="p", name="Çiçek balı", price=249.9, currency="TRY", category="Bal",
                                     url="https://BAL.example:443/p", image="https://cdn.example/p.jpg",
                                     in_stock=False)
    parsed, ignored = event({"type": "view", "product": {
        "id": "p", "name": "a\tb", "url": "https://cdn.example/p", "image": "/relative.jpg", "price": 1e9}})
    # A URL on the image CDN is no product page; a relative image is no absolute URL.
    assert ignored == ["events[0].product.name", "events[0].product.price", "events[0].product.url",
                       "events[0].product.image"]
    assert parsed.product == Product(id="p")


@pytest.mark.parametrize("raw, field", [
    ({"type": "view", "product": {"id": "p", "variant": "v" * 65}}, "events[0].product.variant"),
    ({"type": "view", "product": {"id": "  "}}, "events[0].product.id"),
    ({"type": "view", "product": {"id": "a\nb"}}, "events[0].product.id"),
    ({"type": "view", "product": True}, "events[0].product"),
    ({"type": "add", "product": "p", "qty": True}, "events[0].qty"),
    ({"type": "add", "product": "p", "qty": 10_000}, "events[0].qty"),
    ({"type": "remove"}, "events[0].id"),
    ({"type": "cart", "items": [None]}, "events[0].items[0]"),
    ({"type": "cart", "items": [{"id": "p", "qty": -1}]}, "events[0].items[0].qty"),
    ({"type": "cart", "items": ["p"] * (MAX_ITEMS + 1)}, "events[0].items"),
    ({"type": "purchase", "order_id": "o", "total": "lots"}, "events[0].total"),
    ({"type": "impression"}, "events[0].block"),
    ({"type": "click", "block": "b"}, "events[0].id"),
    ({"type": "view", "product": "p", "ts": -1}, "events[0].ts"),
    ({"type": "view", "product": "p", "ts": 1e14}, "events[0].ts"),
    ({"type": "x" * 1000}, "events[0].type"),
])
def test_structural_problems_refuse_the_event_naming_the_field(raw, field):
    error = refused(parse_event, raw, "events[0]", SHOP, [])
    assert (error.status, error.code, error.field) == (400, "bad_request", field)
    assert error.message.startswith(field + ": ") and len(error.message) < 300


def test_quantities_carts_and_orders():
    assert event({"type": "add", "product": "p"})[0].qty == 1
    assert event({"type": "add", "product": "p", "qty": 0})[0].qty == 1  # an add adds at least one
    assert event({"type": "add", "product": "p", "qty": 3.0})[0].qty == 3
    cart, _ = event({"type": "cart", "items": ["a", 7, {"id": "b", "qty": 2, "price": "10.5", "variant": 123}]})
    assert cart.items == [("a", 1, None, None), ("7", 1, None, None), ("b", 2, 10.5, "123")]
    assert event({"type": "cart"})[0].items == []
    order, _ = event({"type": "purchase", "order_id": 1001, "total": 99.5, "currency": " eur "})
    assert (order.order_id, order.total, order.currency) == ("1001", 99.5, "EUR")
    restore, _ = event({"type": "restore", "block": "b1", "items": [{"id": "a", "price": "not read"}]})
    assert restore.items == [("a", 1, None, None)]  # a restore's lines carry no price


def test_clicks_name_a_known_section_or_none():
    click, _ = event({"type": "click", "block": "b", "id": "p", "section": "similar"})
    assert (click.block, click.product_id, click.section) == ("b", "p", "similar")
    assert event({"type": "click", "block": "b", "id": "p"})[0].section is None
    assert refused(parse_event, {"type": "click", "block": "b", "id": "p", "section": "hero"}, "events[0]", SHOP,
                   []).field == "events[0].section"


def test_a_repeated_product_is_judged_from_memory_exactly_as_the_first_time():
    raw = {"type": "view", "product": {"id": "p", "url": "https://evil.example/p", "price": 5}}
    first = event(raw)
    second = event(dict(raw))
    assert first == second and first[1] == ["events[0].product.url"]
    # True and 1 are equal as keys but not as values: each gets its own verdict.
    assert event({"type": "view", "product": {"id": "p", "in_stock": True}})[1] == []
    assert event({"type": "view", "product": {"id": "p", "in_stock": 1}})[1] == ["events[0].product.in_stock"]
    # Another shop's origins are another verdict.
    other = Shop("s2", "", ["https://evil.example"], None, "tr", "TRY", {})
    kept = parse_event(raw, "events[0]", other, [])
    assert kept.product is not None and kept.product.url == "https://evil.example/p"


# -- batches -------------------------------------------------------------------------------------------

def test_a_batch_keeps_the_token_and_lists_what_was_ignored_in_order():
    batch = parse_batch({"vid": "tok", "events": [
        {"type": "view", "product": {"id": "a", "price": -1}},
        {"type": "view", "product": {"id": "b", "currency": "TL"}}]}, SHOP, 100)
    assert batch.token == "tok" and [e.product_id for e in batch.events] == ["a", "b"]
    assert [i["field"] for i in batch.ignored] == ["events[0].product.price", "events[1].product.currency"]
    assert parse_batch({}, SHOP, 100).events == []


def test_a_batch_refuses_too_many_events_before_reading_any():
    error = refused(parse_batch, {"events": [{"type": "teleport"}] * 11}, SHOP, 10)
    assert (error.code, error.field) == ("too_many_events", "events")
    assert error.message == "events: at most 10 per request (got 11)"

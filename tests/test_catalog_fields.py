"""One record's values as a products row (server/cartback/catalog/fields.py): prices, availability."""

from __future__ import annotations

import pytest
from cartback.catalog.fields import availability, money
from cartback.catalog.result import Reject


@pytest.mark.parametrize("text, amount, currency", [
    ("249.90 TRY", 249.90, "TRY"),
    ("TRY 249.90", 249.90, "TRY"),
    ("249,90 TL", 249.90, "TRY"),
    ("₺249,90", 249.90, "TRY"),
    ("1.249,90 TRY", 1249.90, "TRY"),
    ("1,249.90 usd", 1249.90, "USD"),
    ("12 EUR", 12.0, "EUR"),
    ("0", 0.0, None),
    ("  7.5  ", 7.5, None),
])
def test_money(text, amount, currency):
    assert money(text, "price") == (pytest.approx(amount), currency)


@pytest.mark.parametrize("text", ["abc", "12 $", "1e5 TRY", "TRY 1 TRY", "inf", "12.50.3", "--1"])
def test_money_rejects(text):
    with pytest.raises(Reject):
        money(text, "price")


@pytest.mark.parametrize("value, expected", [
    ("true", 1), ("FALSE", 0), ("1", 1), ("0", 0), ("yes", 1), ("No", 0), ("in_stock", 1),
    ("in stock", 1), ("out_of_stock", 0), ("out of stock", 0), ("preorder", 1), ("backorder", 1),
    ("https://schema.org/InStock", 1), ("http://schema.org/OutOfStock", 0), ("", 1), (None, 1),
    (True, 1), (False, 0), (1, 1), (0, 0),
])
def test_availability_values(value, expected):
    assert availability(value) == expected

"""Rendering: escaping, money formats, templates overridable by name, the card cache."""

from __future__ import annotations

from server.block import Section
from server.render import Renderer, format_price


def test_prices_follow_the_locale():
    assert format_price(249.9, "TRY", "tr") == "₺249,90"
    assert format_price(1249.9, "TRY", "en") == "₺1,249.90"
    assert format_price(12.5, "EUR", "tr") == "€12,50"
    assert format_price(12.5, "USD", "en") == "$12.50"


def test_everything_from_browsers_is_escaped():
    p = {"id": 'x"><script>', "name": "<script>alert(1)</script>", "url": 'https://s/"onmouseover="x',
         "image": None, "price": None, "currency": None}
    html = Renderer().block("shop", "b1", [Section("viewed", [p])], "tr")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'data-cartback-product="x&#34;&gt;&lt;script&gt;"' in html
    assert '"onmouseover="' not in html


def test_merchant_templates_override_by_name(tmp_path):
    (tmp_path / "cartback").mkdir()
    (tmp_path / "cartback" / "card.html").write_text('<li class="mine">{{ p.name }}</li>')
    shop_dir = tmp_path / "shops" / "special" / "cartback"
    shop_dir.mkdir(parents=True)
    (shop_dir / "block.html").write_text("<div id=special>{% for s in sections %}{{ s.cards|join }}{% endfor %}</div>")
    r = Renderer(str(tmp_path))
    products = [{"id": "a", "name": "Bal", "url": "https://s/a"}]
    assert '<li class="mine">Bal</li>' in r.block("plain", "b", [Section("viewed", products)], "tr")
    assert r.block("special", "b", [Section("viewed", products)], "tr") == '<div id=special><li class="mine">Bal</li></div>'


def test_card_cache_follows_product_changes():
    r = Renderer()
    p = {"id": "a", "name": "Bal", "url": "https://s/a", "price": 10.0, "currency": "TRY"}
    first = r.block("s", "b", [Section("viewed", [p])], "tr")
    changed = r.block("s", "b", [Section("viewed", [{**p, "price": 12.0}])], "tr")
    assert "₺10,00" in first and "₺12,00" in changed

"""Rendering: escaping, money formats, templates overridable by name, the card cache."""

from __future__ import annotations

from cartback.block import Section
from cartback.render import Renderer, format_price


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
    special = r.block("special", "b", [Section("viewed", products)], "tr")
    assert special == '<div id=special><li class="mine">Bal</li></div>'


def test_card_cache_follows_product_changes():
    r = Renderer()
    p = {"id": "a", "name": "Bal", "url": "https://s/a", "price": 10.0, "currency": "TRY"}
    first = r.block("s", "b", [Section("viewed", [p])], "tr")
    changed = r.block("s", "b", [Section("viewed", [{**p, "price": 12.0}])], "tr")
    assert "₺10,00" in first and "₺12,00" in changed


def _plain_render(r: Renderer, shop: str, name: str, **variables) -> str:
    """Jinja's own Template.render, for comparing with the renderer's cheaper context."""
    return r.env.select_template([f"shops/{shop}/cartback/{name}", f"cartback/{name}"]).render(**variables)


def test_the_block_is_what_jinjas_own_render_gives(tmp_path):
    from cartback import i18n
    from cartback.render import RenderedSection
    from markupsafe import Markup

    r = Renderer()
    p = {"id": "a", "name": "Çam balı <b>", "url": "https://s/a", "image": "https://s/a.jpg", "price": 249.9,
         "currency": "TRY"}
    html = r.block("s", "b1", [Section("cart", [p])], "tr")
    card = _plain_render(r, "s", "card.html", p=p, section="cart", locale="tr", position=0)
    sections = [RenderedSection("cart", i18n.text("tr", "cart"), [Markup(card)], Markup("      " + card))]
    assert html == _plain_render(r, "s", "block.html", block_id="b1", locale="tr", title=i18n.text("tr", "title"),
                                 sections=sections)
    assert "Çam balı &lt;b&gt;" in html and "₺249,90" in html


def test_merchant_templates_keep_jinjas_globals_and_error_lines(tmp_path):
    import pytest

    (tmp_path / "cartback").mkdir()
    # range, namespace and cycler are Jinja's globals: a merchant's template may use any of them.
    (tmp_path / "cartback" / "block.html").write_text(
        "{% set ns = namespace(n=0) %}{% set c = cycler('odd', 'even') %}"
        "{% for s in sections %}{% for i in range(s.cards|length) %}{% set ns.n = ns.n + 1 %}"
        "<i class={{ c.next() }}>{{ i }}</i>{% endfor %}{% endfor %}{{ ns.n }} {{ block_id }}")
    (tmp_path / "cartback" / "card.html").write_text("<li>\n{{ p.name }}\n{{ p.nope.deeper }}</li>")
    r = Renderer(str(tmp_path))
    products = [{"id": "a", "name": "Bal", "url": "https://s/a"}]
    with pytest.raises(Exception) as failure:
        r.block("s", "b", [Section("viewed", products)], "tr")
    # The traceback points into the merchant's template, at the line that failed (as render() does).
    assert any(entry.path.name == "card.html" and entry.lineno + 1 == 3 for entry in failure.traceback)
    (tmp_path / "cartback" / "card.html").write_text("<li>{{ p.name }}</li>")
    r = Renderer(str(tmp_path))
    assert r.block("s", "b7", [Section("viewed", products * 3)], "tr") == \
        "<i class=odd>0</i><i class=even>1</i><i class=odd>2</i>3 b7"
